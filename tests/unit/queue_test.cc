// Proves the queue's Taskcluster semantics on both stores: idempotent create, claims and
// leases, fencing, retries only for platform exceptions, cancel, rerun, deadlines, groups,
// and that every acknowledged change survives a crash.
#include <gtest/gtest.h>

#include "tests/testing/engine_fixtures.h"

namespace ithappens::testing {
namespace {

class QueueTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  QueueTest() : t_(GetParam(), Options()) {}
  static QueueOptions Options() {
    QueueOptions o;
    o.claim_timeout_ms = 60'000;
    return o;
  }
  Queue& q() { return t_.q(); }
  TimeMs now() { return t_.clock().NowMs(); }
  std::string Create(uint32_t n, std::vector<std::string> deps = {}, int retries = 5) {
    TaskDefinition d = MakeTask(n, now(), std::move(deps));
    d.retries = retries;
    Status st = q().CreateTask(d);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return d.task_id;
  }
  TestQueue t_;
};

TEST_P(QueueTest, CreateIsIdempotentForSameDefinition) {
  TaskDefinition d = MakeTask(1, now());
  TaskStatus a, b;
  ASSERT_TRUE(q().CreateTask(d, &a).ok());
  t_.clock().AdvanceMs(20 * 60 * 1000);  // a late retry, past the created window, is still OK
  ASSERT_TRUE(q().CreateTask(d, &b).ok());
  EXPECT_EQ(a.state, TaskState::kPending);
  EXPECT_EQ(b.runs.size(), 1u) << "the retry created no second run";
  EXPECT_EQ(q().CountByState()[static_cast<int>(TaskState::kPending)], 1);
}

TEST_P(QueueTest, CreateWithDifferentDefinitionConflictsNamingTheField) {
  TaskDefinition d = MakeTask(1, now());
  ASSERT_TRUE(q().CreateTask(d).ok());
  d.payload = R"([{"exit":1}])";
  Status st = q().CreateTask(d);
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(st.message().find("payload"), std::string::npos) << st.message();
}

// A caller that keeps its definition (a cron filler) sends the same object again: answered
// without a comparison, and still refused when another object differs, and after a crash
// (nothing remembered: compared again).
TEST_P(QueueTest, CreateBySharedDefinitionIsIdempotentAndStillConflicts) {
  auto kept = std::make_shared<const TaskDefinition>(MakeTask(1, now()));
  TaskStatus a, b;
  ASSERT_TRUE(q().CreateTask(kept, &a).ok());
  ASSERT_TRUE(q().CreateTask(kept, &b).ok());
  EXPECT_EQ(b.task_id, kept->task_id);
  EXPECT_EQ(b.runs.size(), 1u) << "the repeat created no second run";
  EXPECT_EQ(q().CountByState()[static_cast<int>(TaskState::kPending)], 1);

  TaskDefinition other = *kept;
  other.payload = R"([{"exit":1}])";
  Status st = q().CreateTask(std::make_shared<const TaskDefinition>(other));
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(st.message().find("payload"), std::string::npos) << st.message();
  // An equal copy (another object) is compared and accepted.
  EXPECT_TRUE(q().CreateTask(std::make_shared<const TaskDefinition>(*kept)).ok());

  t_.CrashAndReopen();
  ASSERT_TRUE(q().CreateTask(kept, &b).ok());
  EXPECT_EQ(b.runs.size(), 1u);
  EXPECT_EQ(q().CreateTask(std::make_shared<const TaskDefinition>(other)).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(q().CreateTask(TaskDefinitionPtr()).code(), StatusCode::kInvalidArgument);
}

TEST_P(QueueTest, ClaimHandsOutHighestPriorityThenOldest) {
  TaskDefinition low = MakeTask(1, now());
  TaskDefinition high = MakeTask(2, now());
  high.priority = Priority::kHigh;
  TaskDefinition low2 = MakeTask(3, now());
  ASSERT_TRUE(q().CreateTask(low).ok());
  ASSERT_TRUE(q().CreateTask(high).ok());
  ASSERT_TRUE(q().CreateTask(low2).ok());
  std::vector<Claim> claims;
  ASSERT_TRUE(q().ClaimWork("group", "w1", 2, &claims).ok());
  ASSERT_EQ(claims.size(), 2u);
  EXPECT_EQ(claims[0].task->task_id, high.task_id);
  EXPECT_EQ(claims[1].task->task_id, low.task_id);
  EXPECT_EQ(claims[0].taken_until_ms, now() + 60'000);
  TaskStatus s = t_.Status(high.task_id);
  EXPECT_EQ(s.state, TaskState::kRunning);
  ASSERT_TRUE(s.runs[0].worker);
  EXPECT_EQ(s.runs[0].worker->id, "w1");
}

TEST_P(QueueTest, ClaimOnEmptyQueueReturnsNothing) {
  std::vector<Claim> claims;
  ASSERT_TRUE(q().ClaimWork("group", "w1", 5, &claims).ok());
  EXPECT_TRUE(claims.empty());
}

TEST_P(QueueTest, CompleteAndRepeatedReportIsIdempotent) {
  std::string id = Create(1);
  ClaimOne(q(), "w1");
  TaskStatus s;
  ASSERT_TRUE(q().ReportCompleted(Ref(id, 0, "w1"), &s).ok());
  EXPECT_EQ(s.state, TaskState::kCompleted);
  ASSERT_TRUE(q().ReportCompleted(Ref(id, 0, "w1"), &s).ok()) << "a repeat is OK";
  EXPECT_EQ(s.runs.size(), 1u);
  Status other = q().ReportFailed(Ref(id, 0, "w1"));
  EXPECT_EQ(other.code(), StatusCode::kFailedPrecondition) << "a different outcome is not a repeat";
}

TEST_P(QueueTest, ReportFromWrongWorkerIsFenced) {
  std::string id = Create(1);
  ClaimOne(q(), "w1");
  Status st = q().ReportCompleted(Ref(id, 0, "w2"));
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("claimed by group/w1"), std::string::npos) << st.message();
  EXPECT_EQ(t_.Status(id).state, TaskState::kRunning);
}

TEST_P(QueueTest, ReportForUnknownTaskOrRunIsNotFound) {
  std::string id = Create(1);
  ClaimOne(q(), "w1");
  EXPECT_EQ(q().ReportCompleted(Ref(TaskId(77), 0, "w1")).code(), StatusCode::kNotFound);
  Status st = q().ReportCompleted(Ref(id, 3, "w1"));
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("runId"), std::string::npos);
  EXPECT_EQ(q().ReportCompleted(Ref("bad", 0, "w1")).code(), StatusCode::kInvalidArgument);
}

TEST_P(QueueTest, ExpiredLeaseIsClaimExpiredAndRetriedAndStaleReportRejected) {
  std::string id = Create(1);
  ClaimOne(q(), "w1");
  t_.clock().AdvanceMs(60'000);
  auto tick = q().Tick();
  ASSERT_TRUE(tick.ok());
  EXPECT_EQ(tick->claims_expired, 1);
  TaskStatus s = t_.Status(id);
  ASSERT_EQ(s.runs.size(), 2u);
  EXPECT_EQ(s.runs[0].state, RunState::kException);
  EXPECT_EQ(s.runs[0].reason_resolved, ReasonResolved::kClaimExpired);
  EXPECT_EQ(s.runs[1].reason_created, ReasonCreated::kRetry);
  EXPECT_EQ(s.retries_left, 4);
  Status late = q().ReportCompleted(Ref(id, 0, "w1"));
  EXPECT_EQ(late.code(), StatusCode::kFailedPrecondition) << "fencing";
  Claim c = ClaimOne(q(), "w2");
  EXPECT_EQ(c.run_id, 1u);
  ASSERT_TRUE(q().ReportCompleted(Ref(id, 1, "w2")).ok());
}

TEST_P(QueueTest, ReclaimExtendsTheLease) {
  std::string id = Create(1);
  ClaimOne(q(), "w1");
  t_.clock().AdvanceMs(50'000);
  TimeMs until = 0;
  ASSERT_TRUE(q().ReclaimTask(Ref(id, 0, "w1"), &until).ok());
  EXPECT_EQ(until, now() + 60'000);
  t_.clock().AdvanceMs(50'000);  // past the first lease, within the second
  ASSERT_TRUE(q().Tick().ok());
  EXPECT_EQ(t_.Status(id).state, TaskState::kRunning);
  EXPECT_EQ(q().ReclaimTask(Ref(id, 0, "w9"), &until).code(), StatusCode::kFailedPrecondition);
}

TEST_P(QueueTest, UserFailureIsNeverRetried) {
  std::string id = Create(1);
  ClaimOne(q(), "w1");
  TaskStatus s;
  ASSERT_TRUE(q().ReportFailed(Ref(id, 0, "w1"), &s).ok());
  EXPECT_EQ(s.state, TaskState::kFailed);
  EXPECT_EQ(s.runs.size(), 1u);
  EXPECT_EQ(s.retries_left, 5);
}

TEST_P(QueueTest, WorkerShutdownRetriesUntilRetriesRunOut) {
  std::string id = Create(1, {}, /*retries=*/2);
  for (uint32_t run = 0; run < 3; ++run) {
    Claim c = ClaimOne(q(), "w1");
    ASSERT_EQ(c.run_id, run);
    ASSERT_TRUE(q().ReportException(Ref(id, run, "w1"), ReasonResolved::kWorkerShutdown).ok());
  }
  TaskStatus s = t_.Status(id);
  EXPECT_EQ(s.state, TaskState::kException);
  EXPECT_EQ(s.runs.size(), 3u);
  EXPECT_EQ(s.retries_left, 0);
}

TEST_P(QueueTest, IntermittentTaskIsTaskRetry) {
  std::string id = Create(1);
  ClaimOne(q(), "w1");
  ASSERT_TRUE(q().ReportException(Ref(id, 0, "w1"), ReasonResolved::kIntermittentTask).ok());
  TaskStatus s = t_.Status(id);
  ASSERT_EQ(s.runs.size(), 2u);
  EXPECT_EQ(s.runs[1].reason_created, ReasonCreated::kTaskRetry);
}

TEST_P(QueueTest, MalformedPayloadIsExceptionWithoutRetry) {
  std::string id = Create(1);
  ClaimOne(q(), "w1");
  ASSERT_TRUE(q().ReportException(Ref(id, 0, "w1"), ReasonResolved::kMalformedPayload).ok());
  TaskStatus s = t_.Status(id);
  EXPECT_EQ(s.state, TaskState::kException);
  EXPECT_EQ(s.runs.size(), 1u);
}

TEST_P(QueueTest, ReportExceptionRejectsEngineOnlyReasons) {
  std::string id = Create(1);
  ClaimOne(q(), "w1");
  Status st = q().ReportException(Ref(id, 0, "w1"), ReasonResolved::kClaimExpired);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("reason"), std::string::npos);
}

TEST_P(QueueTest, CancelIsIdempotentInEveryState) {
  std::string pending = Create(1);
  std::string running = Create(2);
  std::string blocked = Create(3, {running});
  std::vector<Claim> claims;
  ASSERT_TRUE(q().ClaimWork("group", "w1", 1, &claims).ok());  // claims task 1 (oldest)
  for (const auto& id : {pending, running, blocked}) {
    TaskStatus s;
    ASSERT_TRUE(q().CancelTask(id, &s).ok());
    EXPECT_EQ(s.state, TaskState::kException);
    EXPECT_EQ(s.runs.back().reason_resolved, ReasonResolved::kCanceled);
    size_t runs = s.runs.size();
    ASSERT_TRUE(q().CancelTask(id, &s).ok());
    EXPECT_EQ(s.runs.size(), runs) << "second cancel changes nothing";
  }
  EXPECT_EQ(t_.Status(blocked).runs[0].reason_created, ReasonCreated::kException);
  EXPECT_EQ(q().ReportCompleted(Ref(pending, 0, "w1")).code(), StatusCode::kFailedPrecondition)
      << "a canceled run cannot complete";
}

TEST_P(QueueTest, RerunAddsOneRunAndIsIdempotent) {
  std::string id = Create(1);
  ClaimOne(q(), "w1");
  ASSERT_TRUE(q().ReportFailed(Ref(id, 0, "w1")).ok());
  TaskStatus s;
  ASSERT_TRUE(q().RerunTask(id, &s).ok());
  ASSERT_TRUE(q().RerunTask(id, &s).ok());
  EXPECT_EQ(s.runs.size(), 2u);
  EXPECT_EQ(s.runs[1].reason_created, ReasonCreated::kRerun);
  EXPECT_EQ(s.state, TaskState::kPending);
}

TEST_P(QueueTest, RerunRefusesUnscheduledAndPastDeadline) {
  std::string root = Create(1);
  std::string child = Create(2, {root});
  Status st = q().RerunTask(child);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("unscheduled"), std::string::npos);
  ClaimOne(q(), "w1");
  ASSERT_TRUE(q().ReportFailed(Ref(root, 0, "w1")).ok());
  t_.clock().AdvanceMs(25 * kHourMs);
  st = q().RerunTask(root);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("deadline"), std::string::npos);
}

TEST_P(QueueTest, RerunStopsAtTheRunLimit) {
  std::string id = Create(1);
  Status st;
  for (int i = 0; i < kMaxRunsPerTask; ++i) {
    Claim c = ClaimOne(q(), "w1");
    ASSERT_TRUE(q().ReportFailed(Ref(id, c.run_id, "w1")).ok());
    st = q().RerunTask(id);
    if (!st.ok()) break;
  }
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(st.message().find("runs"), std::string::npos);
  EXPECT_NE(st.message().find("50"), std::string::npos);
}

TEST_P(QueueTest, DeadlineResolvesEveryUnresolvedState) {
  std::string running = Create(1);
  std::string pending = Create(2);
  std::string root = Create(3);
  std::string blocked = Create(4, {root});
  ASSERT_EQ(ClaimOne(q(), "w1").task->task_id, running);
  t_.clock().AdvanceMs(30'000);
  ASSERT_TRUE(q().ReclaimTask(Ref(running, 0, "w1"), nullptr).ok());
  t_.clock().AdvanceMs(24 * kHourMs);
  auto tick = q().Tick();
  ASSERT_TRUE(tick.ok());
  EXPECT_EQ(tick->deadlines_exceeded, 4);
  for (const auto& id : {pending, running, root, blocked}) {
    TaskStatus s = t_.Status(id);
    EXPECT_EQ(s.state, TaskState::kException) << id;
    EXPECT_EQ(s.runs.back().reason_resolved, ReasonResolved::kDeadlineExceeded) << id;
  }
  // The running task's lease ran out first (claim-expired, retried); then the deadline.
  EXPECT_EQ(t_.Status(running).runs[0].reason_resolved, ReasonResolved::kClaimExpired);
  ASSERT_TRUE(q().Tick().ok());
  EXPECT_EQ(t_.Status(running).runs.size(), 2u) << "deadline-exceeded is not retried";
  EXPECT_EQ(t_.Status(blocked).runs[0].reason_created, ReasonCreated::kException);
}

TEST_P(QueueTest, ListTaskGroupPagesInCreationOrder) {
  for (uint32_t n = 1; n <= 5; ++n) Create(n);
  auto page = q().ListTaskGroup(TaskId(0), "", 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->tasks.size(), 2u);
  EXPECT_EQ(page->tasks[0].task_id, TaskId(1));
  std::vector<std::string> seen;
  std::string cont;
  do {
    auto p = q().ListTaskGroup(TaskId(0), cont, 2);
    ASSERT_TRUE(p.ok());
    for (auto& s : p->tasks) seen.push_back(s.task_id);
    cont = p->continuation;
  } while (!cont.empty());
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen.back(), TaskId(5));
  EXPECT_EQ(q().ListTaskGroup(TaskId(0), "", 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(q().ListTaskGroup(TaskId(0), "zz", 2).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(q().ListTaskGroup(TaskId(42), "", 2).status().code(), StatusCode::kNotFound);
}

TEST_P(QueueTest, AcknowledgedChangesSurviveACrash) {
  std::string a = Create(1);
  std::string b = Create(2);
  std::string c = Create(3, {a});
  ClaimOne(q(), "w1");
  ASSERT_TRUE(q().ReportCompleted(Ref(a, 0, "w1")).ok());
  ClaimOne(q(), "w2");  // b, running
  t_.CrashAndReopen();
  EXPECT_EQ(t_.Status(a).state, TaskState::kCompleted);
  TaskStatus sb = t_.Status(b);
  EXPECT_EQ(sb.state, TaskState::kRunning);
  EXPECT_EQ(sb.runs[0].worker->id, "w2");
  EXPECT_EQ(t_.Status(c).state, TaskState::kPending);
  // The lease survives too: it expires and the task is retried after the restart.
  t_.clock().AdvanceMs(60'000);
  ASSERT_TRUE(q().Tick().ok());
  EXPECT_EQ(t_.Status(b).runs[0].reason_resolved, ReasonResolved::kClaimExpired);
  // Claim order survives: the oldest pending task (c, scheduled before b's retry) first.
  EXPECT_EQ(ClaimOne(q(), "w3").task->task_id, c);
}

TEST_P(QueueTest, CreateTasksAnswersPerItemInOneCommit) {
  std::vector<TaskDefinition> defs = {MakeTask(1, now()), MakeTask(2, now()), MakeTask(3, now())};
  defs[1].retries = 99;
  std::vector<Status> results;
  std::vector<TaskStatus> statuses;
  ASSERT_TRUE(q().CreateTasks(defs, &results, &statuses).ok());
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].code(), StatusCode::kInvalidArgument);
  EXPECT_NE(results[1].message().find("retries"), std::string::npos);
  EXPECT_TRUE(results[2].ok());
  EXPECT_EQ(statuses[2].state, TaskState::kPending);
  std::vector<TaskDefinition> too_many(kMaxBatchItems + 1, MakeTask(9, now()));
  Status st = q().CreateTasks(too_many, &results);
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(st.message().find("1001 items exceed the limit of 1000"), std::string::npos);
}

TEST_P(QueueTest, ReportCompletedBatchAnswersPerItem) {
  std::string a = Create(1), b = Create(2);
  std::vector<Claim> claims;
  ASSERT_TRUE(q().ClaimWork("group", "w1", 2, &claims).ok());
  std::vector<RunRef> runs = {Ref(a, 0, "w1"), Ref(b, 0, "intruder")};
  std::vector<Status> results;
  ASSERT_TRUE(q().ReportCompletedBatch(runs, &results).ok());
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(t_.Status(a).state, TaskState::kCompleted);
  EXPECT_EQ(t_.Status(b).state, TaskState::kRunning);
}

INSTANTIATE_TEST_SUITE_P(Stores, QueueTest,
                         ::testing::Values(StoreKind::kMemory, StoreKind::kSqlite),
                         [](const auto& info) { return StoreKindName(info.param); });

}  // namespace
}  // namespace ithappens::testing
