// Proves cron hooks create tasks at their fire times with deterministic ids, never twice
// for one fire time (also across a restart), and skip missed fires instead of a herd.
#include <gtest/gtest.h>

#include "tests/testing/engine_fixtures.h"

namespace ithappens::testing {
namespace {

constexpr TimeMs kMinute = 60'000;

HookDefinition Reminder(std::string key = "patient-437") {
  HookDefinition h;
  h.hook_id = "appointment-reminders";
  h.schedule = "*/5 * * * *";
  h.key = std::move(key);
  h.task_template = MakeTask(0, 0);
  h.task_template.task_id.clear();
  h.task_template.task_group_id = TaskId(0);
  h.task_template.created_ms = 0;
  h.task_template.deadline_ms = kHourMs;  // relative to the fire time
  h.task_template.routes = {"notify.sms.patient-437.on-completed"};
  return h;
}

class HookTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  HookTest() : t_(GetParam()) {}
  // kStartMs is 22:13:20; the next */5 fire is 22:15:00.
  TimeMs FirstFire() { return kStartMs + 100'000; }
  TestQueue t_;
};

TEST_P(HookTest, FiresWithDeterministicTaskId) {
  ASSERT_TRUE(t_.q().CreateHook(Reminder()).ok());
  auto tick = t_.q().Tick();
  ASSERT_TRUE(tick.ok());
  EXPECT_EQ(tick->hook_tasks_created, 0) << "nothing is due yet";
  t_.clock().SetMs(FirstFire());
  tick = t_.q().Tick();
  ASSERT_TRUE(tick.ok());
  EXPECT_EQ(tick->hook_tasks_created, 1);
  std::string id = DeterministicTaskId("appointment-reminders", FirstFire(), "patient-437");
  TaskStatus s = t_.Status(id);
  EXPECT_EQ(s.state, TaskState::kPending);
  EXPECT_EQ(s.deadline_ms, FirstFire() + kHourMs);
  tick = t_.q().Tick();
  EXPECT_EQ(tick->hook_tasks_created, 0) << "the same fire time creates nothing twice";
}

TEST_P(HookTest, MissedFiresAreSkippedNotReplayed) {
  ASSERT_TRUE(t_.q().CreateHook(Reminder()).ok());
  t_.clock().SetMs(FirstFire() + 13 * kHourMs + 2 * kMinute);  // a 13-hour outage
  auto tick = t_.q().Tick();
  ASSERT_TRUE(tick.ok());
  EXPECT_EQ(tick->hook_tasks_created, 1) << "one reminder, not a thundering herd of 157";
  std::string id =
      DeterministicTaskId("appointment-reminders", FirstFire() + 13 * kHourMs, "patient-437");
  EXPECT_EQ(t_.Status(id).state, TaskState::kPending);
}

TEST_P(HookTest, FireRecordSurvivesRestart) {
  ASSERT_TRUE(t_.q().CreateHook(Reminder()).ok());
  t_.clock().SetMs(FirstFire());
  ASSERT_EQ(t_.q().Tick()->hook_tasks_created, 1);
  t_.CrashAndReopen();
  EXPECT_EQ(t_.q().Tick()->hook_tasks_created, 0);
  t_.clock().AdvanceMs(5 * kMinute);
  EXPECT_EQ(t_.q().Tick()->hook_tasks_created, 1);
}

TEST_P(HookTest, CreateIsIdempotentConflictAndRemove) {
  ASSERT_TRUE(t_.q().CreateHook(Reminder()).ok());
  ASSERT_TRUE(t_.q().CreateHook(Reminder()).ok());
  HookDefinition other = Reminder();
  other.schedule = "0 * * * *";
  EXPECT_EQ(t_.q().CreateHook(other).code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(t_.q().RemoveHook("appointment-reminders").ok());
  EXPECT_EQ(t_.q().RemoveHook("appointment-reminders").code(), StatusCode::kNotFound);
  t_.clock().SetMs(FirstFire());
  EXPECT_EQ(t_.q().Tick()->hook_tasks_created, 0);
  t_.CrashAndReopen();
  EXPECT_EQ(t_.q().Tick()->hook_tasks_created, 0) << "the removal is durable";
}

// A tick that finds no hook due before some time walks none until then; a hook created
// (or the engine reloaded) since still fires at its first fire time, and each of several
// hooks with different schedules fires at each of its own times, not one later.
TEST_P(HookTest, EveryHookFiresAtItsOwnTimesWhateverWasDueBefore) {
  HookDefinition hourly = Reminder("hourly");
  hourly.hook_id = "hourly";
  hourly.schedule = "0 * * * *";  // 23:00
  ASSERT_TRUE(t_.q().CreateHook(hourly).ok());
  EXPECT_EQ(t_.q().Tick()->hook_tasks_created, 0) << "the next fire is at 23:00";
  t_.clock().AdvanceMs(kMinute);  // 22:14:20
  EXPECT_EQ(t_.q().Tick()->hook_tasks_created, 0);
  // Created after a tick found nothing due before 23:00: fires at 22:15 all the same.
  ASSERT_TRUE(t_.q().CreateHook(Reminder()).ok());
  t_.clock().SetMs(FirstFire());
  EXPECT_EQ(t_.q().Tick()->hook_tasks_created, 1) << "the */5 hook at 22:15";
  EXPECT_EQ(
      t_.Status(DeterministicTaskId("appointment-reminders", FirstFire(), "patient-437")).state,
      TaskState::kPending);
  int fired = 0;
  for (int minute = 1; minute <= 50; ++minute) {  // to 23:05
    t_.clock().SetMs(FirstFire() + minute * kMinute);
    fired += t_.q().Tick()->hook_tasks_created;
    if (minute == 20) t_.CrashAndReopen();
  }
  EXPECT_EQ(fired, 11) << "ten */5 fires (22:20 to 23:05) and the hourly one at 23:00";
  EXPECT_EQ(t_.Status(DeterministicTaskId("hourly", FirstFire() + 45 * kMinute, "hourly")).state,
            TaskState::kPending);
}

TEST_P(HookTest, RejectsBadHookNamingTheField) {
  HookDefinition h = Reminder();
  h.schedule = "*/5 * * *";
  Status st = t_.q().CreateHook(h);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("schedule"), std::string::npos);
  h = Reminder();
  h.task_template.retries = 99;
  st = t_.q().CreateHook(h);
  EXPECT_NE(st.message().find("task.retries"), std::string::npos) << st.message();
  h = Reminder();
  h.task_template.deadline_ms = 0;
  st = t_.q().CreateHook(h);
  EXPECT_NE(st.message().find("task.deadline"), std::string::npos) << st.message();
}

INSTANTIATE_TEST_SUITE_P(Stores, HookTest,
                         ::testing::Values(StoreKind::kMemory, StoreKind::kSqlite),
                         [](const auto& info) { return StoreKindName(info.param); });

}  // namespace
}  // namespace ithappens::testing
