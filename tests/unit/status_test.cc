// Proves the error type keeps its code through context, and that every enum's string form
// is Taskcluster's and round-trips.
#include "engine/status.h"

#include <gtest/gtest.h>

#include "engine/bugs.h"
#include "engine/task.h"

namespace ithappens::engine {
namespace {

TEST(Status, ContextKeepsCodeAndChainsMessages) {
  Status s = Status::Unavailable("disk I/O error").WithContext("commit").WithContext("createTask");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.ToString(), "UNAVAILABLE: createTask: commit: disk I/O error");
  EXPECT_TRUE(Status::Ok().WithContext("x").ok());
}

TEST(Status, ResultHoldsValueOrError) {
  Result<int> good = 7;
  Result<int> bad = Status::NotFound("taskId: nope");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good.value(), 7);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kNotFound);
}

TEST(Enums, StringFormsAreTaskclusters) {
  EXPECT_EQ(ToString(TaskState::kUnscheduled), "unscheduled");
  EXPECT_EQ(ToString(ReasonResolved::kClaimExpired), "claim-expired");
  EXPECT_EQ(ToString(ReasonResolved::kDeadlineExceeded), "deadline-exceeded");
  EXPECT_EQ(ToString(ReasonCreated::kTaskRetry), "task-retry");
  EXPECT_EQ(ToString(Requires::kAllResolved), "all-resolved");
  EXPECT_EQ(ToString(Priority::kVeryHigh), "very-high");
  for (int i = 0; i <= static_cast<int>(ReasonResolved::kIntermittentTask); ++i) {
    auto r = static_cast<ReasonResolved>(i);
    ReasonResolved back = ReasonResolved::kNone;
    if (r == ReasonResolved::kNone) continue;
    ASSERT_TRUE(Parse(ToString(r), &back)) << ToString(r);
    EXPECT_EQ(back, r);
  }
  TaskState s;
  EXPECT_FALSE(Parse("done", &s));
}

TEST(Slug, EncodesSixteenBytesAsValidSlug) {
  uint8_t bytes[16];
  for (int i = 0; i < 16; ++i) bytes[i] = static_cast<uint8_t>(i * 17);
  std::string s = EncodeSlug(bytes);
  EXPECT_EQ(s.size(), 22u);
  EXPECT_TRUE(IsValidSlug(s)) << s;
  EXPECT_FALSE(IsValidSlug(s.substr(0, 21)));
  EXPECT_FALSE(IsValidSlug("aaaaaaaaaaaaaaaaaaaaa+"));
  EXPECT_FALSE(IsValidSlug("aaaaaaaaaaaaaaaaaaaaaB"));  // last char must be one of AQgw
}

TEST(Slug, DeterministicIdsAreStableAndDistinct) {
  std::string a = DeterministicTaskId("reminders", 1'700'000'100'000, "patient-437");
  EXPECT_EQ(a, DeterministicTaskId("reminders", 1'700'000'100'000, "patient-437"));
  EXPECT_NE(a, DeterministicTaskId("reminders", 1'700'000'160'000, "patient-437"));
  EXPECT_NE(a, DeterministicTaskId("reminders", 1'700'000'100'000, "patient-438"));
  EXPECT_TRUE(IsValidSlug(a));
}

TEST(BugSwitches, ParseEveryNameAndRejectUnknown) {
  for (auto name : kBugSwitchNames) {
    BugSwitches b;
    ASSERT_TRUE(EnableBugSwitch(name, &b).ok()) << name;
    EXPECT_EQ(b.ToString(), name);
  }
  BugSwitches b;
  Status st = EnableBugSwitch("no-fencin", &b);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("no-fencing"), std::string::npos) << "lists the known switches";
  EXPECT_FALSE(b.any());
}

TEST(BugSwitches, EffectKeyIgnoresRunUnlessBugged) {
  BugSwitches ok, bug;
  bug.effect_key_per_run = true;
  EXPECT_EQ(EffectKey("T", 0, 2, ok), EffectKey("T", 3, 2, ok));
  EXPECT_NE(EffectKey("T", 0, 2, bug), EffectKey("T", 3, 2, bug));
}

}  // namespace
}  // namespace ithappens::engine
