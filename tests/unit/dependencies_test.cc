// Proves dependency semantics: dependents wait for all-completed (or all-resolved), a
// failed upstream blocks its whole cascade and every blocked task names the same root
// cause, and a rerun of the root can still unblock it.
#include <gtest/gtest.h>

#include "tests/testing/engine_fixtures.h"

namespace ithappens::testing {
namespace {

class DependencyTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  DependencyTest() : t_(GetParam()) {}
  std::string Create(uint32_t n, std::vector<std::string> deps = {},
                     Requires req = Requires::kAllCompleted) {
    TaskDefinition d = MakeTask(n, t_.clock().NowMs(), std::move(deps));
    d.requires_ = req;
    Status st = t_.q().CreateTask(d);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return d.task_id;
  }
  void Run(const std::string& id, bool ok) {
    Claim c = ClaimOne(t_.q(), "w1");
    ASSERT_EQ(c.task->task_id, id);
    Status st = ok ? t_.q().ReportCompleted(Ref(id, c.run_id, "w1"))
                   : t_.q().ReportFailed(Ref(id, c.run_id, "w1"));
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  TestQueue t_;
};

TEST_P(DependencyTest, DependentWaitsForAllDependencies) {
  std::string a = Create(1), b = Create(2);
  std::string c = Create(3, {a, b});
  EXPECT_EQ(t_.Status(c).state, TaskState::kUnscheduled);
  Run(a, true);
  EXPECT_EQ(t_.Status(c).state, TaskState::kUnscheduled);
  EXPECT_FALSE(t_.Status(c).blocked_by) << "waiting is not blocked";
  Run(b, true);
  EXPECT_EQ(t_.Status(c).state, TaskState::kPending);
}

TEST_P(DependencyTest, InvoiceCascadeNamesTheRootCauseOnce) {
  std::string aggregate = Create(1);
  std::string invoices = Create(2, {aggregate});
  std::string send = Create(3, {invoices});
  Run(aggregate, false);
  for (const auto& id : {invoices, send}) {
    TaskStatus s = t_.Status(id);
    EXPECT_EQ(s.state, TaskState::kUnscheduled) << "dependents never start";
    ASSERT_TRUE(s.blocked_by.has_value());
    EXPECT_EQ(*s.blocked_by, aggregate) << "the root, not the intermediate task";
  }
  EXPECT_FALSE(t_.Status(aggregate).blocked_by) << "the root is blamed on itself, not blocked";
  // At the deadline the cascade resolves as exception, still attributed to the root.
  t_.clock().AdvanceMs(25 * kHourMs);
  ASSERT_TRUE(t_.q().Tick().ok());
  TaskStatus s = t_.Status(send);
  EXPECT_EQ(s.state, TaskState::kException);
  ASSERT_TRUE(s.blocked_by.has_value());
  EXPECT_EQ(*s.blocked_by, aggregate);
}

TEST_P(DependencyTest, RerunOfRootUnblocksTheCascade) {
  std::string root = Create(1);
  std::string child = Create(2, {root});
  Run(root, false);
  ASSERT_TRUE(t_.q().RerunTask(root).ok());
  Run(root, true);
  TaskStatus s = t_.Status(child);
  EXPECT_EQ(s.state, TaskState::kPending);
  EXPECT_FALSE(s.blocked_by);
}

TEST_P(DependencyTest, AllResolvedRunsAfterAFailure) {
  std::string root = Create(1);
  std::string cleanup = Create(2, {root}, Requires::kAllResolved);
  Run(root, false);
  EXPECT_EQ(t_.Status(cleanup).state, TaskState::kPending);
}

TEST_P(DependencyTest, DependencyOnResolvedTaskIsSatisfiedAtCreate) {
  std::string root = Create(1);
  Run(root, true);
  std::string late = Create(2, {root});
  EXPECT_EQ(t_.Status(late).state, TaskState::kPending);
}

TEST_P(DependencyTest, RetriedDependencyDoesNotReleaseDependentsEarly) {
  std::string root = Create(1);
  std::string cleanup = Create(2, {root}, Requires::kAllResolved);
  Claim c = ClaimOne(t_.q(), "w1");
  ASSERT_TRUE(
      t_.q().ReportException(Ref(root, c.run_id, "w1"), ReasonResolved::kWorkerShutdown).ok());
  EXPECT_EQ(t_.Status(cleanup).state, TaskState::kUnscheduled)
      << "an exception that is retried does not resolve the task";
}

TEST_P(DependencyTest, BlockedStateSurvivesCrash) {
  std::string root = Create(1);
  std::string other = Create(2);
  std::string child = Create(3, {root, other});
  Run(root, true);
  t_.clock().AdvanceMs(1);
  ASSERT_TRUE(t_.q().RerunTask(root).ok());  // root pending again; child's edge stays satisfied
  t_.CrashAndReopen();
  Claim c = ClaimOne(t_.q(), "w1");  // other was pending first
  ASSERT_EQ(c.task->task_id, other);
  ASSERT_TRUE(t_.q().ReportCompleted(Ref(other, 0, "w1")).ok());
  EXPECT_EQ(t_.Status(child).state, TaskState::kPending)
      << "satisfaction by an earlier completion is not forgotten across a restart";
}

INSTANTIATE_TEST_SUITE_P(Stores, DependencyTest,
                         ::testing::Values(StoreKind::kMemory, StoreKind::kSqlite),
                         [](const auto& info) { return StoreKindName(info.param); });

}  // namespace
}  // namespace ithappens::testing
