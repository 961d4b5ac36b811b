// Proves the engine's answer caps: the size bounds of engine/wire_size.h are at least the
// proto's encoded size (so an answer the queue let through always fits gRPC's cap) and not
// far above it (so the cap does not waste answers); a claim batch and a page of a task
// group stop at the budget, leave the rest pending or on the next page, and never drop a
// task.
#include <gtest/gtest.h>

#include <set>

#include "engine/wire_convert.h"
#include "engine/wire_size.h"
#include "tests/testing/engine_fixtures.h"

namespace ithappens::testing {
namespace {

TaskDefinition Largest(uint32_t n) {
  TaskDefinition d = MakeTask(n, kStartMs);
  d.payload = std::string(engine::kMaxPayloadBytes, 'p');
  for (size_t r = 0; r < engine::kMaxRoutes; ++r) d.routes.push_back(std::string(249, 'r'));
  for (uint32_t k = 0; k < engine::kMaxDependencies; ++k) d.dependencies.push_back(TaskId(k));
  d.metadata.name = std::string(255, 'n');
  d.metadata.description = std::string(32 * 1024, 'd');
  d.metadata.owner = std::string(255, 'o');
  d.metadata.source = std::string(4096, 's');
  d.priority = Priority::kVeryHigh;
  d.requires_ = Requires::kAllResolved;
  return d;
}

void ExpectBoundTight(size_t bound, size_t actual, const std::string& what) {
  EXPECT_GE(bound, actual) << what << ": the bound must never be under the encoded size";
  EXPECT_LE(bound, actual + actual / 4 + 512) << what << ": the bound is too loose";
}

TEST(WireSize, ClaimBoundCoversTheEncodedClaimOfSmallAndLargestTasks) {
  for (const TaskDefinition& d : {MakeTask(1, kStartMs), Largest(2)}) {
    v1::ClaimWorkResponse resp;
    auto* t = resp.add_tasks();
    rpc::ToProto(d, t->mutable_task());
    t->set_run_id(49);
    t->set_taken_until_ms(kStartMs + 1'000'000'000'000);
    ExpectBoundTight(engine::ClaimWireSizeBound(d), resp.ByteSizeLong(), d.task_id);
  }
}

TEST(WireSize, StatusBoundCoversAStatusOfFiftyRunsWithTheLongestWorkerIds) {
  TaskStatus s;
  s.task_id = TaskId(1);
  s.task_group_id = TaskId(2);
  s.state = TaskState::kException;
  s.retries_left = 49;
  s.deadline_ms = s.expires_ms = kStartMs * 3;
  s.blocked_by = TaskId(3);
  auto worker = std::make_shared<const engine::WorkerIdentity>(
      engine::WorkerIdentity{std::string(128, 'g'), std::string(128, 'w')});
  for (uint32_t r = 0; r < engine::kMaxRunsPerTask; ++r) {
    engine::Run run;
    run.run_id = r;
    run.state = RunState::kException;
    run.reason_created = ReasonCreated::kTaskRetry;
    run.reason_resolved = ReasonResolved::kResourceUnavailable;
    run.worker = worker;
    run.taken_until_ms = run.scheduled_ms = run.started_ms = run.resolved_ms = kStartMs * 3;
    s.runs.push_back(run);
  }
  v1::ListTaskGroupResponse resp;
  rpc::ToProto(s, resp.add_tasks());
  ExpectBoundTight(engine::StatusWireSizeBound(s), resp.ByteSizeLong(), "50 runs");
  EXPECT_GT(engine::kMaxListLimit * engine::StatusWireSizeBound(s), engine::kMaxMessageBytes)
      << "a full page of such statuses does not fit one answer: the page must be capped";
}

class AnswerCap : public ::testing::TestWithParam<StoreKind> {};

TEST_P(AnswerCap, ClaimsStopAtTheBudgetAndTheRestStayPending) {
  QueueOptions o;
  o.response_budget_bytes = 3 * engine::ClaimWireSizeBound(Largest(0)) + 10;
  TestQueue t(GetParam(), o);
  std::set<std::string> ids;
  for (uint32_t i = 0; i < 10; ++i) {
    TaskDefinition d = Largest(100 + i);
    d.dependencies.clear();
    ASSERT_TRUE(t.q().CreateTask(d).ok());
    ids.insert(d.task_id);
  }
  std::vector<Claim> claims;
  ASSERT_TRUE(t.q().ClaimWork("g", "w", 10, &claims).ok());
  EXPECT_EQ(claims.size(), 3u);
  EXPECT_EQ(t.q().CountByState()[static_cast<int>(TaskState::kRunning)], 3);
  EXPECT_EQ(t.q().CountByState()[static_cast<int>(TaskState::kPending)], 7);
  for (int call = 0; call < 3; ++call) ASSERT_TRUE(t.q().ClaimWork("g", "w", 10, &claims).ok());
  std::set<std::string> claimed;
  for (const auto& c : claims) EXPECT_TRUE(claimed.insert(c.task->task_id).second);
  EXPECT_EQ(claimed, ids) << "every task handed out once, in answers of at most 3";
}

TEST_P(AnswerCap, APageOfTheGroupEndsAtTheBudgetAndTheNextPageGoesOn) {
  QueueOptions o;
  TaskStatus probe;
  TestQueue sizing(GetParam());
  ASSERT_TRUE(sizing.q().CreateTask(MakeTask(1, kStartMs), &probe).ok());
  o.response_budget_bytes = 4 * engine::StatusWireSizeBound(probe) + 1;
  TestQueue t(GetParam(), o);
  for (uint32_t i = 1; i <= 10; ++i) ASSERT_TRUE(t.q().CreateTask(MakeTask(i, kStartMs)).ok());
  std::vector<std::string> listed;
  std::string next;
  int pages = 0;
  do {
    auto page = t.q().ListTaskGroup(TaskId(0), next, 1000);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_LE(page->tasks.size(), 4u);
    for (const auto& s : page->tasks) listed.push_back(s.task_id);
    next = page->continuation;
    ++pages;
  } while (!next.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(listed.size(), 10u);
  for (uint32_t i = 1; i <= 10; ++i) EXPECT_EQ(listed[i - 1], TaskId(i)) << "in creation order";
}

TEST_P(AnswerCap, OneItemGoesOutEvenOverTheBudget) {
  QueueOptions o;
  o.response_budget_bytes = 1;
  TestQueue t(GetParam(), o);
  ASSERT_TRUE(t.q().CreateTask(MakeTask(1, kStartMs)).ok());
  ASSERT_TRUE(t.q().CreateTask(MakeTask(2, kStartMs)).ok());
  std::vector<Claim> claims;
  ASSERT_TRUE(t.q().ClaimWork("g", "w", 10, &claims).ok());
  EXPECT_EQ(claims.size(), 1u);
  auto page = t.q().ListTaskGroup(TaskId(0), "", 10);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->tasks.size(), 1u);
  EXPECT_FALSE(page->continuation.empty());
}

INSTANTIATE_TEST_SUITE_P(Stores, AnswerCap, ::testing::Values(StoreKind::kMemory, StoreKind::kSqlite),
                         [](const auto& info) { return StoreKindName(info.param); });

}  // namespace
}  // namespace ithappens::testing
