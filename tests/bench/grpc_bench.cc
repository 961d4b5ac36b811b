// End-to-end durable lifecycles over gRPC on loopback: a real ithappens-engine process
// (SQLite, WAL, synchronous=FULL, group commit), and client threads that each act as a
// producer+worker over a connection of its own: CreateTasks(B) -> ClaimWork(B) ->
// ReportCompletedBatch(B). Every change is acknowledged only after its fsync. Arguments:
// batch size B (1: unbatched, a call per task, as a worker claims); threads 1..16.
// scripts/bench.sh sets these figures beside beanstalkd's (../shared/peers).
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "engine/queue_client.h"

namespace ithappens {
namespace {

struct Engine {
  pid_t pid = -1;
  int port = 0;
  std::filesystem::path dir;
};
Engine* g_engine = nullptr;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void StartEngine(const benchmark::State&) {
  g_engine = new Engine;
  g_engine->dir = std::filesystem::current_path() / ("bench-grpc-" + std::to_string(getpid()));
  std::filesystem::remove_all(g_engine->dir);
  std::filesystem::create_directories(g_engine->dir);
  std::string port_file = (g_engine->dir / "port").string();
  std::string bin = std::string(ITHAPPENS_BIN_DIR) + "/ithappens-engine";
  g_engine->pid = fork();
  if (g_engine->pid == 0) {
    std::string db = (g_engine->dir / "q.db").string(),
                log = (g_engine->dir / "engine.log").string();
    execl(bin.c_str(), bin.c_str(), "--listen", "127.0.0.1:0", "--db", db.c_str(), "--log",
          log.c_str(), "--port-file", port_file.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 1000 && g_engine->port <= 0; ++i) {
    std::ifstream f(port_file);
    f >> g_engine->port;
    if (g_engine->port <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (g_engine->port <= 0) throw std::runtime_error("engine did not start");
}

void StopEngine(const benchmark::State&) {
  kill(g_engine->pid, SIGTERM);
  struct rusage ru {};
  wait4(g_engine->pid, nullptr, 0, &ru);
  // The engine's CPU over the whole benchmark (all its repetitions), for the CPU budget.
  std::fprintf(stderr, "engine cpu: user %.2f s, sys %.2f s\n",
               ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
               ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
  // The engine's last log line: transactions (fsyncs) for batches (durable calls).
  std::ifstream log(g_engine->dir / "engine.log");
  std::string line, last;
  while (std::getline(log, line))
    if (line.find("stopped:") != std::string::npos) last = line;
  std::fprintf(stderr, "%s\n", last.c_str());
  std::filesystem::remove_all(g_engine->dir);
  delete g_engine;
  g_engine = nullptr;
}

void DurableLifecycles(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  const std::string worker = "w" + std::to_string(state.thread_index());
  rpc::QueueClient client(
      rpc::Connect("127.0.0.1:" + std::to_string(g_engine->port), /*own_connection=*/true));
  uint32_t counter = 0;
  std::vector<engine::TaskDefinition> defs(batch);
  std::vector<engine::Status> results;
  std::vector<rpc::ClaimedTask> claims;
  std::vector<engine::RunRef> refs;
  int64_t done = 0;
  for (auto _ : state) {
    const int64_t now = NowMs();
    for (auto& d : defs) {
      uint8_t bytes[16] = {0x67, 0x72, 0x70, 0x63, static_cast<uint8_t>(state.thread_index())};
      uint32_t n = counter++;
      for (int k = 0; k < 4; ++k) bytes[12 + k] = static_cast<uint8_t>(n >> (24 - 8 * k));
      d.task_id = engine::EncodeSlug(bytes);
      d.created_ms = now;
      d.deadline_ms = now + 3'600'000;
      d.payload = R"([{"exit":0}])";
    }
    engine::Status st = client.CreateTasks(defs, &results);
    claims.clear();
    if (st.ok()) st = client.ClaimWork("bench", worker, batch, &claims);
    refs.clear();
    for (const auto& c : claims)
      refs.push_back(engine::RunRef{c.task.task_id, c.run_id, "bench", worker});
    if (st.ok() && !refs.empty()) st = client.ReportCompletedBatch(refs, &results);
    if (!st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
    done += static_cast<int64_t>(refs.size());
  }
  state.SetItemsProcessed(done);
}

// The transport's floor: Health reads nothing durable and commits nothing, so its calls/s
// bound what any three-call lifecycle can reach over this connection whatever the engine
// does (issue 13: at 16 connections it is the ceiling of unbatched lifecycles).
void HealthCalls(benchmark::State& state) {
  rpc::QueueClient client(
      rpc::Connect("127.0.0.1:" + std::to_string(g_engine->port), /*own_connection=*/true));
  v1::HealthResponse health;
  for (auto _ : state) {
    engine::Status st = client.Health(&health);
    if (!st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(HealthCalls)
    ->Name("Grpc/Health")
    ->Setup(StartEngine)
    ->Teardown(StopEngine)
    ->Threads(1)
    ->Threads(16)
    ->UseRealTime()
    ->MinTime(1.0);

BENCHMARK(DurableLifecycles)
    ->Name("Grpc/DurableLifecycle")
    ->ArgName("batch")
    ->Arg(1)
    ->Arg(10)
    ->Arg(100)
    ->Setup(StartEngine)
    ->Teardown(StopEngine)
    ->Threads(1)
    ->Threads(4)
    ->Threads(16)
    ->UseRealTime()
    ->MinTime(1.0);

}  // namespace
}  // namespace ithappens

BENCHMARK_MAIN();
