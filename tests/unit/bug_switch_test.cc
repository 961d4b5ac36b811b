// Self-validation: for each engine bug switch, a scenario and a detector of the violation
// the bug causes. The detector must stay quiet on the correct engine and fire with the
// switch on — a detector that no bug can trip would prove nothing.
#include <gtest/gtest.h>

#include <functional>

#include "tests/testing/engine_fixtures.h"

namespace ithappens::testing {
namespace {

QueueOptions WithBug(std::string_view bug) {
  QueueOptions o;
  o.claim_timeout_ms = 60'000;
  if (!bug.empty()) {
    Status st = EnableBugSwitch(bug, &o.bugs);
    if (!st.ok()) throw std::runtime_error(st.ToString());
  }
  return o;
}

// Each scenario returns a description of the violation it saw, or "" if none.
using Scenario = std::function<std::string(std::string_view bug)>;

// An acknowledged task survives the store's power cut (MemoryStore::Crash drops what was
// not synced): ack-before-commit acknowledges before the write, fsync-off never syncs. (A
// SIGKILL of a SQLite engine keeps what the OS has; real mode's power-cut file system
// shows fsync-off there.)
std::string AcknowledgedTaskSurvivesAPowerCut(std::string_view bug) {
  TestQueue t(StoreKind::kMemory, WithBug(bug));
  TaskDefinition d = MakeTask(1, kStartMs);
  if (!t.q().CreateTask(d).ok()) return "";
  t.CrashAndReopen();
  TaskStatus s;
  return t.q().GetStatus(d.task_id, &s).ok() ? "" : "acknowledged task lost in a power cut";
}

std::string RandomTaskIds(std::string_view bug) {
  TestQueue t(StoreKind::kMemory, WithBug(bug));
  TaskDefinition d = MakeTask(1, kStartMs);
  (void)t.q().CreateTask(d);
  (void)t.q().CreateTask(d);  // the client's idempotent retry
  auto page = t.q().ListTaskGroup(d.task_group_id, "", 10);
  return page.ok() && page->tasks.size() == 1 ? "" : "a retried create made a second task";
}

std::string RetryUserFailures(std::string_view bug) {
  TestQueue t(StoreKind::kMemory, WithBug(bug));
  TaskDefinition d = MakeTask(1, kStartMs);
  (void)t.q().CreateTask(d);
  ClaimOne(t.q(), "w1");
  (void)t.q().ReportFailed(Ref(d.task_id, 0, "w1"));
  return t.Status(d.task_id).runs.size() == 1 ? "" : "a user failure was retried";
}

std::string BlameUserForPlatform(std::string_view bug) {
  TestQueue t(StoreKind::kMemory, WithBug(bug));
  TaskDefinition d = MakeTask(1, kStartMs);
  (void)t.q().CreateTask(d);
  ClaimOne(t.q(), "w1");
  t.clock().AdvanceMs(60'000);  // the worker died; its lease expires
  (void)t.q().Tick();
  const Run r = t.Status(d.task_id).runs[0];
  return r.state == RunState::kException ? "" : "a platform fault was recorded as failed";
}

std::string NoFencing(std::string_view bug) {
  TestQueue t(StoreKind::kMemory, WithBug(bug));
  TaskDefinition d = MakeTask(1, kStartMs);
  (void)t.q().CreateTask(d);
  ClaimOne(t.q(), "w1");
  t.clock().AdvanceMs(60'000);
  (void)t.q().Tick();
  ClaimOne(t.q(), "w2");
  Status late = t.q().ReportCompleted(Ref(d.task_id, 0, "w1"));
  return late.ok() ? "a stale worker's report was accepted" : "";
}

std::string EffectKeyPerRun(std::string_view bug) {
  QueueOptions o = WithBug(bug);
  // The same step of two runs of one task must share one idempotency key.
  return EffectKey(TaskId(1), 0, 3, o.bugs) == EffectKey(TaskId(1), 1, 3, o.bugs)
             ? ""
             : "a retried run would notify again";
}

std::string NoClaimExpiry(std::string_view bug) {
  TestQueue t(StoreKind::kMemory, WithBug(bug));
  TaskDefinition d = MakeTask(1, kStartMs);
  (void)t.q().CreateTask(d);
  ClaimOne(t.q(), "w1");
  t.clock().AdvanceMs(10 * 60'000);
  (void)t.q().Tick();
  return t.Status(d.task_id).state == TaskState::kRunning ? "a dead worker's claim never expired"
                                                          : "";
}

std::string LosePendingOnRestart(std::string_view bug) {
  TestQueue t(StoreKind::kSqlite, WithBug(bug));
  TaskDefinition d = MakeTask(1, kStartMs);
  (void)t.q().CreateTask(d);
  t.CrashAndReopen();
  std::vector<Claim> claims;
  (void)t.q().ClaimWork("group", "w1", 1, &claims);
  return claims.size() == 1 ? "" : "a pending task vanished on restart";
}

std::string ReclaimKeepsLease(std::string_view bug) {
  TestQueue t(StoreKind::kMemory, WithBug(bug));
  TaskDefinition d = MakeTask(1, kStartMs);
  (void)t.q().CreateTask(d);
  ClaimOne(t.q(), "w1");
  for (int k = 0; k < 4; ++k) {  // a long program, reclaimed every half lease
    t.clock().AdvanceMs(30'000);
    (void)t.q().ReclaimTask(Ref(d.task_id, 0, "w1"), nullptr);
  }
  return t.Status(d.task_id).state == TaskState::kRunning ? "" : "a reclaimed lease expired";
}

std::string RetriesOffByOne(std::string_view bug) {
  TestQueue t(StoreKind::kMemory, WithBug(bug));
  TaskDefinition d = MakeTask(1, kStartMs);
  d.retries = 1;
  (void)t.q().CreateTask(d);
  for (uint32_t run = 0; run < 3; ++run) {
    if (t.Status(d.task_id).state != TaskState::kPending) break;
    ClaimOne(t.q(), "w1");
    (void)t.q().ReportException(Ref(d.task_id, run, "w1"), ReasonResolved::kIntermittentTask);
  }
  return t.Status(d.task_id).runs.size() == 2 ? "" : "more runs than retries + 1";
}

std::string LaxConflicts(std::string_view bug) {
  TestQueue t(StoreKind::kMemory, WithBug(bug));
  TaskDefinition d = MakeTask(1, kStartMs);
  (void)t.q().CreateTask(d);
  d.retries += 1;
  return t.q().CreateTask(d).code() == StatusCode::kAlreadyExists
             ? ""
             : "a re-create with other retries was answered OK";
}

std::string ReportNotIdempotent(std::string_view bug) {
  TestQueue t(StoreKind::kMemory, WithBug(bug));
  TaskDefinition d = MakeTask(1, kStartMs);
  (void)t.q().CreateTask(d);
  ClaimOne(t.q(), "w1");
  (void)t.q().ReportCompleted(Ref(d.task_id, 0, "w1"));
  return t.q().ReportCompleted(Ref(d.task_id, 0, "w1")).ok() ? "" : "a repeated report was refused";
}

std::string CancelIgnoresUnscheduled(std::string_view bug) {
  TestQueue t(StoreKind::kMemory, WithBug(bug));
  TaskDefinition up = MakeTask(1, kStartMs);
  TaskDefinition down = MakeTask(2, kStartMs, {up.task_id});
  (void)t.q().CreateTask(up);
  (void)t.q().CreateTask(down);
  (void)t.q().CancelTask(down.task_id);
  return t.Status(down.task_id).state == TaskState::kException ? ""
                                                               : "a canceled blocked task lived on";
}

std::string NoDeadlineWhenBlocked(std::string_view bug) {
  TestQueue t(StoreKind::kMemory, WithBug(bug));
  TaskDefinition up = MakeTask(1, kStartMs);
  TaskDefinition down = MakeTask(2, kStartMs, {up.task_id});
  (void)t.q().CreateTask(up);
  (void)t.q().CreateTask(down);
  t.clock().AdvanceMs(down.deadline_ms - kStartMs + 1);
  (void)t.q().Tick();
  return t.Status(down.task_id).state == TaskState::kException
             ? ""
             : "a blocked task outlived its deadline";
}

std::string RequiresIgnored(std::string_view bug) {
  TestQueue t(StoreKind::kMemory, WithBug(bug));
  TaskDefinition up = MakeTask(1, kStartMs);
  TaskDefinition down = MakeTask(2, kStartMs, {up.task_id});
  down.requires_ = Requires::kAllResolved;
  (void)t.q().CreateTask(up);
  (void)t.q().CreateTask(down);
  ClaimOne(t.q(), "w1");
  (void)t.q().ReportFailed(Ref(up.task_id, 0, "w1"));
  return t.Status(down.task_id).state == TaskState::kPending
             ? ""
             : "an all-resolved dependent of a failed task never became pending";
}

std::string ClaimLowestFirst(std::string_view bug) {
  TestQueue t(StoreKind::kMemory, WithBug(bug));
  TaskDefinition low = MakeTask(1, kStartMs), high = MakeTask(2, kStartMs);
  low.priority = Priority::kLow;
  high.priority = Priority::kHigh;
  (void)t.q().CreateTask(low);
  (void)t.q().CreateTask(high);
  return ClaimOne(t.q(), "w1").task->task_id == high.task_id ? ""
                                                             : "a lower priority was served first";
}

std::string RetriesResetOnRestart(std::string_view bug) {
  TestQueue t(StoreKind::kSqlite, WithBug(bug));
  TaskDefinition d = MakeTask(1, kStartMs);
  d.retries = 1;
  (void)t.q().CreateTask(d);
  ClaimOne(t.q(), "w1");
  (void)t.q().ReportException(Ref(d.task_id, 0, "w1"), ReasonResolved::kIntermittentTask);
  t.CrashAndReopen();  // the one retry is used: run 1 is the last
  ClaimOne(t.q(), "w1");
  (void)t.q().ReportException(Ref(d.task_id, 1, "w1"), ReasonResolved::kIntermittentTask);
  return t.Status(d.task_id).runs.size() == 2 ? "" : "a restart gave back the used retries";
}

std::string ReclaimIgnoresWorker(std::string_view bug) {
  TestQueue t(StoreKind::kMemory, WithBug(bug));
  TaskDefinition d = MakeTask(1, kStartMs);
  (void)t.q().CreateTask(d);
  ClaimOne(t.q(), "w1");
  return t.q().ReclaimTask(Ref(d.task_id, 0, "w2"), nullptr).ok()
             ? "a worker that does not hold the run reclaimed it"
             : "";
}

std::string RerunUnscheduled(std::string_view bug) {
  TestQueue t(StoreKind::kMemory, WithBug(bug));
  TaskDefinition up = MakeTask(1, kStartMs);
  TaskDefinition down = MakeTask(2, kStartMs, {up.task_id});
  (void)t.q().CreateTask(up);
  (void)t.q().CreateTask(down);
  return t.q().RerunTask(down.task_id).ok() ? "an unscheduled task was rerun" : "";
}

std::string LateExpiry(std::string_view bug) {
  TestQueue t(StoreKind::kMemory, WithBug(bug));
  TaskDefinition d = MakeTask(1, kStartMs);
  (void)t.q().CreateTask(d);
  ClaimOne(t.q(), "w1");
  t.clock().AdvanceMs(60'000 + 1'000);  // the lease ended a second ago
  (void)t.q().Tick();
  return t.Status(d.task_id).runs[0].state == RunState::kException ? ""
                                                                   : "an expired lease lived on";
}

struct Case {
  std::string_view bug;
  Scenario scenario;
};

class BugSwitch : public ::testing::TestWithParam<Case> {};

TEST_P(BugSwitch, DetectorQuietOnCorrectEngineAndFiresOnBug) {
  EXPECT_EQ(GetParam().scenario(""), "") << "false alarm on the correct engine";
  EXPECT_NE(GetParam().scenario(GetParam().bug), "") << GetParam().bug << " went unnoticed";
}

const Case kCases[] = {
    {"ack-before-commit", AcknowledgedTaskSurvivesAPowerCut},
    {"random-task-ids", RandomTaskIds},
    {"retry-user-failures", RetryUserFailures},
    {"blame-user-for-platform", BlameUserForPlatform},
    {"no-fencing", NoFencing},
    {"effect-key-per-run", EffectKeyPerRun},
    {"no-claim-expiry", NoClaimExpiry},
    {"lose-pending-on-restart", LosePendingOnRestart},
    {"reclaim-keeps-lease", ReclaimKeepsLease},
    {"retries-off-by-one", RetriesOffByOne},
    {"lax-conflicts", LaxConflicts},
    {"report-not-idempotent", ReportNotIdempotent},
    {"cancel-ignores-unscheduled", CancelIgnoresUnscheduled},
    {"no-deadline-when-blocked", NoDeadlineWhenBlocked},
    {"requires-ignored", RequiresIgnored},
    {"claim-lowest-first", ClaimLowestFirst},
    {"retries-reset-on-restart", RetriesResetOnRestart},
    {"reclaim-ignores-worker", ReclaimIgnoresWorker},
    {"rerun-unscheduled", RerunUnscheduled},
    {"late-expiry", LateExpiry},
    {"fsync-off", AcknowledgedTaskSurvivesAPowerCut},
};

INSTANTIATE_TEST_SUITE_P(Engine, BugSwitch, ::testing::ValuesIn(kCases), [](const auto& info) {
  std::string n(info.param.bug);
  for (char& c : n) c = c == '-' ? '_' : c;
  return n;
});

TEST(BugSwitch, EverySwitchHasACase) {
  // Guards the list above against a switch added to bugs.h without a detector.
  for (std::string_view name : kBugSwitchNames) {
    bool found = false;
    for (const Case& c : kCases) found |= c.bug == name;
    EXPECT_TRUE(found) << name << " has no detector";
  }
  EXPECT_EQ(std::size(kCases), kBugSwitchNames.size());
}

}  // namespace
}  // namespace ithappens::testing
