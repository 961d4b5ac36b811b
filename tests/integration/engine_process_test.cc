// Proves the engine over the wire with real processes: ithappens-engine (SQLite, fsync),
// ithappens-worker and ithappens-sink on loopback. A mixed workload resolves correctly
// with every effect delivered once; a SIGKILLed worker's task expires and completes
// elsewhere; twenty SIGKILLs of the engine lose no acknowledged task; every error path
// answers with the right gRPC status and a message naming the field or the bound.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "harness/real/supervisor.h"
#include "tests/integration/cluster.h"

namespace ithappens::testing {
namespace {

using engine::RunRef;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TaskDefinition Task(uint32_t n, std::string payload, std::vector<std::string> deps = {}) {
  TaskDefinition d = MakeTask(n, NowMs(), std::move(deps));
  d.payload = std::move(payload);
  return d;
}

std::string Effect(const std::string& channel, const std::string& to) {
  return R"({"effect":{"channel":")" + channel + R"(","to":")" + to + R"("}})";
}

bool Terminal(const engine::TaskStatus& s) { return engine::IsResolved(s.state); }

TEST(EngineProcess, MixedWorkloadResolvesAndEveryEffectIsDeliveredOnce) {
  Cluster c;
  c.StartEngine();
  c.StartSink();
  c.StartWorker("w1", {"--capacity", "8"});
  c.StartWorker("w2", {"--capacity", "8"});
  auto client = c.Client();

  std::vector<TaskDefinition> defs;
  std::map<std::string, std::string> expect;  // task id -> expected final state
  uint32_t n = 1;
  for (int i = 0; i < 140; ++i, ++n) {  // plain tasks with one SMS each
    defs.push_back(
        Task(n, "[" + Effect("sms", "patient-" + std::to_string(i)) + R"(,{"exit":0}])"));
    expect[defs.back().task_id] = "completed";
  }
  for (int i = 0; i < 20; ++i, ++n) {  // user failures
    defs.push_back(Task(n, R"([{"sleep_ms":5},{"exit":3}])"));
    expect[defs.back().task_id] = "failed";
  }
  for (int i = 0; i < 10; ++i, ++n) {  // intermittent: the first attempt asks for a retry
    defs.push_back(Task(
        n, "[{\"fail_if_attempt_below\":2}," + Effect("email", "ops-" + std::to_string(i)) + "]"));
    expect[defs.back().task_id] = "completed";
  }
  std::string prev;
  for (int i = 0; i < 10; ++i, ++n) {  // a dependency chain
    defs.push_back(
        Task(n, R"([{"exit":0}])",
             prev.empty() ? std::vector<std::string>{} : std::vector<std::string>{prev}));
    prev = defs.back().task_id;
    expect[prev] = "completed";
  }
  defs.push_back(Task(n++, R"([{"exit":1}])"));  // the invoice root cause
  std::string root = defs.back().task_id;
  expect[root] = "failed";
  std::vector<std::string> blocked;
  for (int i = 0; i < 9; ++i, ++n) {  // its cascade: must never run
    defs.push_back(Task(n, "[" + Effect("call", "never-" + std::to_string(i)) + "]",
                        {i == 0 ? root : blocked.back()}));
    blocked.push_back(defs.back().task_id);
  }
  defs.push_back(Task(n++, "not json"));
  std::string malformed = defs.back().task_id;
  expect[malformed] = "exception";
  ASSERT_EQ(defs.size(), 191u);
  for (int i = 0; i < 9; ++i)
    defs.push_back(Task(n++, R"([{"cpu_ms":2}])")), expect[defs.back().task_id] = "completed";

  std::vector<Status> results;
  ASSERT_TRUE(client.CreateTasks(defs, &results).ok());
  ASSERT_EQ(results.size(), 200u);
  for (size_t i = 0; i < results.size(); ++i)
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].ToString();

  std::vector<std::string> ids;
  for (const auto& [id, state] : expect) ids.push_back(id);
  auto statuses = AwaitTasks(client, ids, Terminal, 60'000);
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(std::string(engine::ToString(statuses[i].state)), expect[ids[i]]) << ids[i];
  }
  for (const auto& s : statuses) {
    if (s.state == TaskState::kFailed) {
      EXPECT_EQ(s.runs.size(), 1u) << "a user failure is never retried";
    }
    if (s.task_id == malformed) {
      EXPECT_EQ(s.runs[0].reason_resolved, ReasonResolved::kMalformedPayload);
    }
  }
  for (const auto& id : blocked) {
    engine::TaskStatus s;
    ASSERT_TRUE(client.GetStatus(id, &s).ok());
    EXPECT_EQ(s.state, TaskState::kUnscheduled);
    ASSERT_TRUE(s.blocked_by.has_value());
    EXPECT_EQ(*s.blocked_by, root) << "the cascade names its root cause";
  }

  std::vector<v1::Delivery> deliveries;
  ASSERT_TRUE(c.Sink().ListDeliveries(&deliveries).ok());
  std::map<std::string, int> delivered;
  for (const auto& d : deliveries) delivered[d.idempotency_key()] += d.delivered() ? 1 : 0;
  EXPECT_EQ(delivered.size(), 150u) << "140 SMS + 10 emails, no calls from the blocked cascade";
  for (const auto& [key, count] : delivered) EXPECT_EQ(count, 1) << key;
  std::ifstream jsonl(c.deliveries_path());
  std::string line;
  size_t lines = 0;
  while (std::getline(jsonl, line)) ++lines;
  EXPECT_EQ(lines, deliveries.size()) << "every attempt is in the JSONL file";
}

TEST(EngineProcess, KilledWorkersTaskExpiresAndCompletesOnAnotherWorker) {
  Cluster c;
  // A lease of 3 s: a loaded machine may stall the worker's reclaims for a second
  // without the lease running out before the kill (the test's subject).
  c.StartEngine({"--claim-timeout-ms", "3000"});
  c.StartSink();
  ChildProcess& doomed = c.StartWorker("doomed", {"--capacity", "1"});
  auto client = c.Client();
  TaskDefinition d = Task(1, R"([{"sleep_ms":4000},{"exit":0}])");
  ASSERT_TRUE(client.CreateTask(d).ok());
  auto running = AwaitTasks(
      client, {d.task_id}, [](const auto& s) { return s.state == TaskState::kRunning; }, 20'000);
  ASSERT_EQ(running[0].state, TaskState::kRunning);
  doomed.Signal(SIGKILL);
  EXPECT_EQ(doomed.Wait(), 128 + SIGKILL);
  c.StartWorker("rescuer", {"--capacity", "1"});
  auto done = AwaitTasks(client, {d.task_id}, Terminal, 30'000);
  const auto& s = done[0];
  ASSERT_EQ(s.state, TaskState::kCompleted);
  ASSERT_EQ(s.runs.size(), 2u);
  EXPECT_EQ(s.runs[0].reason_resolved, ReasonResolved::kClaimExpired);
  EXPECT_EQ(s.runs[0].worker->id, "doomed");
  EXPECT_EQ(s.runs[1].reason_created, ReasonCreated::kRetry);
  EXPECT_EQ(s.runs[1].worker->id, "rescuer");
}

// A worker places a call and dies before reporting; a second worker retries the run. Returns
// the two delivery attempts the sink saw. worker_flags go to both workers.
std::vector<v1::Delivery> CallThenCrashThenRetry(const std::vector<std::string>& worker_flags) {
  Cluster c;
  c.StartEngine({"--claim-timeout-ms", "3000"});  // outlasts a stalled reclaim
  c.StartSink();
  std::vector<std::string> flags = {"--capacity", "1"};
  flags.insert(flags.end(), worker_flags.begin(), worker_flags.end());
  ChildProcess& doomed = c.StartWorker("doomed", flags);
  auto client = c.Client();
  TaskDefinition d = Task(1, "[" + Effect("call", "patient-437") + R"(,{"sleep_ms":60000}])");
  EXPECT_TRUE(client.CreateTask(d).ok());
  auto sink = c.Sink();
  std::vector<v1::Delivery> deliveries;
  for (int i = 0; i < 2400 && deliveries.empty(); ++i) {
    EXPECT_TRUE(sink.ListDeliveries(&deliveries).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_EQ(deliveries.size(), 1u) << "the first run placed the call";
  doomed.Signal(SIGKILL);
  doomed.Wait();
  c.StartWorker("rescuer", flags);
  auto retried = AwaitTasks(
      client, {d.task_id},
      [](const auto& s) { return s.runs.size() >= 2 && s.runs[1].state == RunState::kRunning; },
      30'000);
  EXPECT_GE(retried[0].runs.size(), 2u);
  if (!retried[0].runs.empty()) {
    EXPECT_EQ(retried[0].runs[0].reason_resolved, ReasonResolved::kClaimExpired);
  }
  for (int i = 0; i < 2400 && deliveries.size() < 2; ++i) {
    EXPECT_TRUE(sink.ListDeliveries(&deliveries).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return deliveries;
}

TEST(EngineProcess, RetriedRunAfterAWorkerCrashDoesNotNotifyTwice) {
  auto deliveries = CallThenCrashThenRetry({});
  ASSERT_EQ(deliveries.size(), 2u) << "two attempts reached the sink";
  EXPECT_EQ(deliveries[0].idempotency_key(), deliveries[1].idempotency_key());
  EXPECT_TRUE(deliveries[0].delivered());
  EXPECT_FALSE(deliveries[1].delivered()) << "the patient got one call, not two";
}

TEST(EngineProcess, EffectKeyPerRunBugCallsThePatientTwice) {
  // Self-validation of the test above: with the bug switch the double call is visible.
  auto deliveries = CallThenCrashThenRetry({"--engine-bug", "effect-key-per-run"});
  ASSERT_EQ(deliveries.size(), 2u);
  EXPECT_NE(deliveries[0].idempotency_key(), deliveries[1].idempotency_key());
  EXPECT_TRUE(deliveries[0].delivered() && deliveries[1].delivered())
      << "two calls: the bug is caught";
}

// The limit is the kernel's: the leaking worker runs in a memory cgroup of 100 MiB (the
// supervisor's, as in real mode), leaks 40 MiB per task, and the OOM killer ends it
// (SIGKILL, counted by the group); its task is retried on another worker as the platform's.
TEST(EngineProcess, LeakingWorkerIsKilledByTheKernelAndItsTaskIsRetriedElsewhere) {
  Cluster c;
  c.StartEngine({"--claim-timeout-ms", "3000"});  // outlasts a stalled reclaim
  c.StartSink();
  harness::Supervisor sup(c.dir().path() / "logs");
  ASSERT_EQ(sup.limit_mechanism(), harness::LimitMechanism::kCgroupV1)
      << "this machine kind has a writable v1 memory cgroup";
  harness::ProcessSpec leaky{"leaky",
                             {BinPath("ithappens-worker"), "--engine", c.engine_address(),
                              "--sink", c.sink_address(), "--worker-id", "leaky", "--poll-ms",
                              "10", "--capacity", "1", "--leak-mb-per-task", "40"},
                             ""};
  leaky.memory_limit_bytes = 100 << 20;
  ASSERT_TRUE(sup.Start(leaky).ok());
  auto client = c.Client();
  std::vector<TaskDefinition> defs;
  for (uint32_t n = 1; n <= 6; ++n) defs.push_back(Task(n, R"([{"sleep_ms":20},{"exit":0}])"));
  std::vector<Status> results;
  ASSERT_TRUE(client.CreateTasks(defs, &results).ok());
  std::optional<harness::ExitRecord> ended;
  for (int i = 0; i < 600 && !(ended = sup.Ended("leaky")); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(ended.has_value()) << "the leaking worker outlived its limit";
  EXPECT_FALSE(ended->exited);
  EXPECT_EQ(ended->signal, SIGKILL) << "the OOM killer's: " << ended->ToString();
  EXPECT_GE(sup.OomKills("leaky"), 1) << "counted by its cgroup";
  c.StartWorker("healthy", {"--capacity", "2"});
  std::vector<std::string> ids;
  for (const auto& d : defs) ids.push_back(d.task_id);
  auto statuses = AwaitTasks(client, ids, Terminal, 30'000);
  int platform_exceptions = 0;
  for (const auto& s : statuses) {
    EXPECT_EQ(s.state, TaskState::kCompleted)
        << s.task_id << ": a platform leak is never the user's failure";
    for (const auto& r : s.runs) {
      EXPECT_NE(r.state, RunState::kFailed);
      if (r.state == RunState::kException) {
        EXPECT_EQ(r.reason_resolved, ReasonResolved::kClaimExpired);
        ++platform_exceptions;
      }
    }
  }
  EXPECT_LE(platform_exceptions, 1) << "capacity 1: at most the task in hand when it died";
}

TEST(EngineProcess, TwentyEngineKillsLoseNoAcknowledgedTask) {
  Cluster c;
  c.StartEngine();
  const int port = c.engine_port();
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> acked;
  std::thread writer([&] {
    // A fresh channel after a failure: gRPC's reconnect backoff (1 s and growing) would
    // otherwise set the pace, not the engine.
    // One attempt each (an unacknowledged create is simply not counted), on the port that
    // every restart keeps.
    rpc::RetryPolicy once;
    once.max_attempts = 1;
    once.attempt_deadline_ms = 2000;
    const std::string address = c.engine_address();
    auto connect = [&] {
      return std::make_unique<rpc::QueueClient>(rpc::Connect(address), once);
    };
    auto client = connect();
    for (uint32_t n = 1; !stop; ++n) {
      TaskDefinition d = Task(n, R"([{"exit":0}])");
      if (client->CreateTask(d).ok()) {
        std::lock_guard<std::mutex> lock(mu);
        acked.push_back(d.task_id);
      } else {
        client = connect();
      }
    }
  });
  // Each kill comes after the writer's next acknowledgement, however slow the machine:
  // progress is awaited, never assumed within a time (the test's own timeout bounds it).
  auto await_progress = [&] {
    size_t before;
    {
      std::lock_guard<std::mutex> lock(mu);
      before = acked.size();
    }
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (acked.size() > before) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };
  for (int i = 0; i < 20; ++i) {
    await_progress();
    c.KillEngine(SIGKILL);
    c.StartEngine({}, port);
    ASSERT_EQ(c.engine_port(), port);
  }
  await_progress();
  stop = true;
  writer.join();
  auto client = c.Client();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_GT(acked.size(), 20u) << "the writer made progress between the kills";
  size_t missing = 0;
  for (const auto& id : acked) {
    engine::TaskStatus s;
    if (!client.GetStatus(id, &s).ok()) ++missing;
  }
  EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged tasks";
  v1::HealthResponse h;
  ASSERT_TRUE(client.Health(&h).ok());
  EXPECT_GE(h.tasks(), static_cast<int64_t>(acked.size())) << "unacknowledged creates may land too";
}

TEST(EngineProcess, SigtermStopsGracefullyAndRestartRecovers) {
  Cluster c;
  c.StartEngine();
  auto client = c.Client();
  TaskDefinition d = Task(1, R"([{"exit":0}])");
  ASSERT_TRUE(client.CreateTask(d).ok());
  c.engine().Signal(SIGTERM);
  EXPECT_EQ(c.engine().Wait(), 0);
  c.StartEngine({}, c.engine_port());
  engine::TaskStatus s;
  ASSERT_TRUE(c.Client().GetStatus(d.task_id, &s).ok());
  EXPECT_EQ(s.state, TaskState::kPending);
}

TEST(EngineProcess, WorkerSigtermReportsWorkerShutdownAndTheTaskIsRetried) {
  Cluster c;
  c.StartEngine();
  c.StartSink();
  ChildProcess& w = c.StartWorker("leaving", {"--capacity", "1"});
  auto client = c.Client();
  TaskDefinition d = Task(1, R"([{"sleep_ms":2000},{"exit":0}])");
  ASSERT_TRUE(client.CreateTask(d).ok());
  auto running = AwaitTasks(
      client, {d.task_id}, [](const auto& s) { return s.state == TaskState::kRunning; }, 20'000);
  ASSERT_EQ(running[0].state, TaskState::kRunning);
  w.Signal(SIGTERM);
  EXPECT_EQ(w.Wait(), 0);
  engine::TaskStatus s;
  ASSERT_TRUE(client.GetStatus(d.task_id, &s).ok());
  ASSERT_EQ(s.runs.size(), 2u);
  EXPECT_EQ(s.runs[0].reason_resolved, ReasonResolved::kWorkerShutdown);
  EXPECT_EQ(s.runs[1].state, RunState::kPending) << "retried";
}

// ---- error paths: status code and message

class EngineErrors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new Cluster;
    cluster_->StartEngine({"--fiu-fifo", (cluster_->dir().path() / "fiu").string()});
  }
  static void TearDownTestSuite() { delete cluster_; }
  rpc::QueueClient Client() {
    rpc::RetryPolicy once;
    once.max_attempts = 1;  // see each answer as it is
    return cluster_->Client(once);
  }
  static void ExpectError(const Status& st, StatusCode code, const std::string& needle) {
    EXPECT_EQ(StatusCodeName(st.code()), StatusCodeName(code)) << st.ToString();
    EXPECT_NE(st.message().find(needle), std::string::npos) << st.message() << " lacks " << needle;
  }
  static Cluster* cluster_;
};
Cluster* EngineErrors::cluster_ = nullptr;

TEST_F(EngineErrors, DuplicateCreateIsOkAndConflictNamesTheField) {
  auto client = Client();
  TaskDefinition d = Task(100, R"([{"exit":0}])");
  ASSERT_TRUE(client.CreateTask(d).ok());
  EXPECT_TRUE(client.CreateTask(d).ok());
  d.retries = 2;
  ExpectError(client.CreateTask(d), StatusCode::kAlreadyExists, "retries");
}

TEST_F(EngineErrors, InvalidDefinitionNamesFieldAndBound) {
  auto client = Client();
  TaskDefinition d = Task(101, R"([{"exit":0}])");
  d.retries = 50;
  ExpectError(client.CreateTask(d), StatusCode::kInvalidArgument, "retries: 50 is outside 0..49");
  d = Task(102, std::string(70'000, 'x'));
  ExpectError(client.CreateTask(d), StatusCode::kInvalidArgument,
              "payload: 70000 bytes exceed the limit of 65536");
}

TEST_F(EngineErrors, StaleReportIsFailedPrecondition) {
  auto client = Client();
  TaskDefinition d = Task(103, R"([{"exit":0}])");
  ASSERT_TRUE(client.CreateTask(d).ok());
  std::vector<rpc::ClaimedTask> claims;
  ASSERT_TRUE(client.ClaimWork("g", "w1", 1, &claims).ok());
  ASSERT_EQ(claims.size(), 1u);
  std::string id = claims[0].task.task_id;
  ExpectError(client.ReportCompleted(RunRef{id, claims[0].run_id, "g", "w2"}),
              StatusCode::kFailedPrecondition, "claimed by g/w1");
  ASSERT_TRUE(client.ReportCompleted(RunRef{id, claims[0].run_id, "g", "w1"}).ok());
  EXPECT_TRUE(client.ReportCompleted(RunRef{id, claims[0].run_id, "g", "w1"}).ok())
      << "repeat is OK";
  ExpectError(client.ReportFailed(RunRef{id, claims[0].run_id, "g", "w1"}),
              StatusCode::kFailedPrecondition, "completed");
}

TEST_F(EngineErrors, NotFoundAndBadReason) {
  auto client = Client();
  engine::TaskStatus s;
  ExpectError(client.GetStatus(TaskId(999'999), &s), StatusCode::kNotFound, "does not exist");
  ExpectError(
      client.ReportException(RunRef{TaskId(999'999), 0, "g", "w"}, ReasonResolved::kClaimExpired),
      StatusCode::kInvalidArgument, "reason");
}

TEST_F(EngineErrors, LimitsAreResourceExhausted) {
  auto client = Client();
  std::vector<TaskDefinition> many;
  for (uint32_t i = 0; i < 1001; ++i) many.push_back(Task(200'000 + i, "[]"));
  std::vector<Status> results;
  ExpectError(client.CreateTasks(many, &results), StatusCode::kResourceExhausted,
              "tasks: 1001 items exceed the limit of 1000");
  // A request past the 8 MiB message limit is refused by gRPC itself.
  many.clear();
  for (uint32_t i = 0; i < 200; ++i) many.push_back(Task(300'000 + i, std::string(60'000, 'p')));
  Status st = client.CreateTasks(many, &results);
  EXPECT_EQ(StatusCodeName(st.code()), "RESOURCE_EXHAUSTED") << st.ToString();
  std::vector<rpc::ClaimedTask> claims;
  ExpectError(client.ClaimWork("g", "w", 1001, &claims), StatusCode::kInvalidArgument, "1..1000");
}

// A task as large as the engine accepts: a 64 KiB payload, 64 routes of 249 bytes, the
// longest metadata, 100 dependencies.
TaskDefinition Largest(uint32_t n, const std::vector<std::string>& deps) {
  TaskDefinition d = Task(n, std::string(engine::kMaxPayloadBytes, ' '), deps);
  d.payload[0] = '[';
  d.payload.back() = ']';
  for (size_t r = 0; r < engine::kMaxRoutes; ++r) {
    std::string route = "route." + std::to_string(r) + ".";
    d.routes.push_back(route + std::string(engine::kMaxRouteLength - route.size(), 'r'));
  }
  d.metadata.name = std::string(engine::kMaxMetadataNameLength, 'n');
  d.metadata.description = std::string(engine::kMaxMetadataDescriptionLength, 'd');
  d.metadata.owner = std::string(engine::kMaxMetadataOwnerLength, 'o');
  d.metadata.source = std::string(engine::kMaxMetadataSourceLength, 's');
  return d;
}

// Claims until nothing is pending; every claim of a call is delivered (none lost to an
// answer over the message cap). Returns the claims per call.
std::vector<size_t> ClaimAll(rpc::QueueClient& client, int n, std::set<std::string>* claimed) {
  std::vector<size_t> per_call;
  for (;;) {
    std::vector<rpc::ClaimedTask> claims;
    Status st = client.ClaimWork("g", "big", n, &claims);
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (!st.ok() || claims.empty()) return per_call;
    per_call.push_back(claims.size());
    for (const auto& c : claims) EXPECT_TRUE(claimed->insert(c.task.task_id).second);
  }
}

// The server's own limit, not the client's: 200 tasks of 60 KB fit a create of 100 at a
// time, but not one answer. ClaimWork(200) hands out what fits 8 MiB and leaves the rest
// pending: every task ends up claimed exactly once, and nothing is `running` that its
// worker did not receive.
TEST_F(EngineErrors, ClaimWorkAnswersFitTheMessageCapAndLeaveTheRestPending) {
  auto client = Client();
  std::vector<std::string> ids;
  for (int batch = 0; batch < 2; ++batch) {
    std::vector<TaskDefinition> defs;
    for (uint32_t i = 0; i < 100; ++i) {
      TaskDefinition d = Task(400'000 + batch * 100 + i, std::string(60'000, ' '));
      d.payload[0] = '[';
      d.payload.back() = ']';
      d.task_group_id = TaskId(400'000);
      d.priority = engine::Priority::kHighest;  // ahead of other tests' pending tasks
      ids.push_back(d.task_id);
      defs.push_back(std::move(d));
    }
    std::vector<Status> results;
    ASSERT_TRUE(client.CreateTasks(defs, &results).ok());
    for (const auto& r : results) ASSERT_TRUE(r.ok()) << r.ToString();
  }
  std::vector<rpc::ClaimedTask> first;
  ASSERT_TRUE(client.ClaimWork("g", "big", 200, &first).ok());
  ASSERT_GT(first.size(), 100u) << "8 MiB holds well over 100 of them";
  ASSERT_LT(first.size(), 200u) << "but not all 200";
  // What the engine holds as running is exactly what this call delivered.
  std::set<std::string> delivered;
  for (const auto& c : first) delivered.insert(c.task.task_id);
  size_t running = 0, pending = 0;
  for (const auto& id : ids) {
    engine::TaskStatus s;
    ASSERT_TRUE(client.GetStatus(id, &s).ok());
    if (s.state == TaskState::kRunning) {
      ++running;
      EXPECT_TRUE(delivered.count(id)) << id << " is running for a worker that never got it";
    }
    pending += s.state == TaskState::kPending;
  }
  EXPECT_EQ(running, first.size());
  EXPECT_EQ(pending, 200 - first.size()) << "the rest stay pending";
  std::set<std::string> claimed = delivered;
  ClaimAll(client, 200, &claimed);
  for (const auto& id : ids) EXPECT_TRUE(claimed.count(id)) << id << " was never handed out";
}

// The largest definitions the engine accepts (~117 KB each): claims of 1000 come in
// answers that fit, and a page of the group, too.
TEST_F(EngineErrors, TheLargestTasksAreClaimedAndListedInAnswersThatFit) {
  auto client = Client();
  std::vector<std::string> deps;
  for (uint32_t i = 0; i < engine::kMaxDependencies; ++i) {
    TaskDefinition d = Task(500'000 + i, "[]");
    d.task_group_id = TaskId(500'000);
    ASSERT_TRUE(client.CreateTask(d).ok());
    deps.push_back(d.task_id);
  }
  // Depending on tasks that never complete: the large ones stay unscheduled until the
  // small ones are claimed and completed below; no other test's claim takes them first.
  std::set<std::string> small;
  ClaimAll(client, 1000, &small);
  const int kLarge = 150;
  for (uint32_t i = 0; i < kLarge; i += 50) {
    std::vector<TaskDefinition> defs;
    for (uint32_t k = i; k < i + 50; ++k) {
      defs.push_back(Largest(510'000 + k, deps));
      defs.back().task_group_id = TaskId(510'000);
      defs.back().priority = engine::Priority::kHighest;
    }
    std::vector<Status> results;
    ASSERT_TRUE(client.CreateTasks(defs, &results).ok());
    for (const auto& r : results) ASSERT_TRUE(r.ok()) << r.ToString();
  }
  std::vector<std::string> group;
  std::string next;
  size_t pages = 0;
  do {
    std::vector<engine::TaskStatus> page;
    ASSERT_TRUE(client.ListTaskGroup(TaskId(510'000), next, 1000, &page, &next).ok());
    for (const auto& t : page) group.push_back(t.task_id);
    ++pages;
  } while (!next.empty());
  EXPECT_EQ(group.size(), static_cast<size_t>(kLarge));
  for (const auto& id : small) {
    engine::TaskStatus s;
    ASSERT_TRUE(client.GetStatus(id, &s).ok());
    ASSERT_FALSE(s.runs.empty());
    ASSERT_TRUE(client.ReportCompleted(RunRef{id, s.runs.back().run_id, "g", "big"}).ok());
  }
  std::set<std::string> claimed;
  auto per_call = ClaimAll(client, 1000, &claimed);
  for (const auto& id : group) EXPECT_TRUE(claimed.count(id)) << id << " was never handed out";
  ASSERT_GE(per_call.size(), 3u) << "150 x 117 KB is more than two answers of 8 MiB";
  for (size_t n : per_call) EXPECT_LE(n * 117'000, engine::kMaxMessageBytes);
}

// Sends one libfiu remote-control command to the running engine; returns libfiu's answer.
std::string FiuCommand(Cluster& c, const std::string& command) {
  std::string base = (c.dir().path() / ("fiu-" + std::to_string(c.engine().pid()))).string();
  {
    std::ofstream ctl(base + ".in");
    ctl << command << "\n";
  }
  std::ifstream reply(base + ".out");
  std::string answer;
  std::getline(reply, answer);
  return answer;
}

TEST_F(EngineErrors, DiskFaultIsUnavailableAndTheRetryLands) {
  // Switch the store's fsync point on in the running engine through libfiu's control fifo.
  ASSERT_EQ(FiuCommand(*cluster_, "enable name=engine/store/fsync"), "0");
  auto client = Client();
  TaskDefinition d = Task(104, R"([{"exit":0}])");
  ExpectError(client.CreateTask(d), StatusCode::kUnavailable, "not acknowledged");
  ASSERT_EQ(FiuCommand(*cluster_, "disable name=engine/store/fsync"), "0");
  engine::TaskStatus s;
  Status retry = client.CreateTask(d, &s);
  ASSERT_TRUE(retry.ok()) << "the engine reopened its store; the retry lands: " << retry.ToString();
  EXPECT_EQ(s.runs.size(), 1u);
}

// The sink's list of deliveries grows with the run: it comes in pages that each fit one
// message, and the client joins them (12 MB of deliveries, more than one 8 MiB answer).
TEST(EngineProcess, SinkListsDeliveriesInPagesThatFit) {
  Cluster c;
  c.StartSink();
  auto sink = c.Sink();
  const std::string to(4096, 'r');
  for (int i = 0; i < 3000; ++i) {
    v1::DeliverRequest req;
    req.set_idempotency_key("task-" + std::to_string(i) + "/0");
    req.set_channel("sms");
    req.set_recipient(to);
    req.set_task_id("task-" + std::to_string(i));
    bool delivered = false;
    ASSERT_TRUE(sink.Deliver(req, &delivered).ok());
    ASSERT_TRUE(delivered);
  }
  std::vector<v1::Delivery> all;
  ASSERT_TRUE(sink.ListDeliveries(&all).ok());
  ASSERT_EQ(all.size(), 3000u);
  for (int i = 0; i < 3000; ++i) EXPECT_EQ(all[i].task_id(), "task-" + std::to_string(i));
  v1::DeliverRequest big;
  big.set_idempotency_key("k/0");
  big.set_channel("sms");
  big.set_recipient(std::string(4097, 'r'));
  bool delivered = false;
  Status st = sink.Deliver(big, &delivered);
  EXPECT_EQ(StatusCodeName(st.code()), "INVALID_ARGUMENT");
  EXPECT_NE(st.message().find("recipient: 4097 bytes; the length must be 1..4096"),
            std::string::npos)
      << st.message();
}

TEST_F(EngineErrors, SinkRejectsBadChannel) {
  Cluster c;
  c.StartSink();
  v1::DeliverRequest req;
  req.set_idempotency_key("T/0");
  req.set_channel("fax");
  req.set_recipient("x");
  bool delivered = true;
  ExpectError(c.Sink().Deliver(req, &delivered), StatusCode::kInvalidArgument, "channel: 'fax'");
  req.set_channel("sms");
  ASSERT_TRUE(c.Sink().Deliver(req, &delivered).ok());
  EXPECT_TRUE(delivered);
  ASSERT_TRUE(c.Sink().Deliver(req, &delivered).ok());
  EXPECT_FALSE(delivered) << "the same key is dropped as a duplicate";
}

}  // namespace
}  // namespace ithappens::testing
