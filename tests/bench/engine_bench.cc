// Engine throughput: createTask/s and create -> claim -> complete lifecycles/s on the
// MemoryStore (the simulator's budget) and the SqliteStore (real fsyncs, WAL, FULL sync),
// with group commit on and off, on 1, 2 and 8 client threads sharing one queue.
// Task definitions are built outside the timed region, in batches.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "engine/memory_store.h"
#include "engine/queue.h"
#include "engine/sqlite_store.h"

namespace ithappens::engine {
namespace {

constexpr TimeMs kStartMs = 1'700'000'000'000;
constexpr size_t kBatch = 4096;

struct Env {
  ManualClock clock{kStartMs};
  std::unique_ptr<Store> store;
  std::unique_ptr<Queue> queue;
  std::filesystem::path dir;
  ~Env() {
    queue.reset();
    store.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};
Env* g_env = nullptr;

void OpenQueue() {
  auto q = Queue::Open(g_env->store.get(), &g_env->clock);
  if (!q.ok()) throw std::runtime_error(q.status().ToString());
  g_env->queue = std::move(q).value();
}

void SetupMemory(const benchmark::State&) {
  g_env = new Env;
  g_env->store = std::make_unique<MemoryStore>();
  OpenQueue();
}

// range(0): group commit on (1) or off (0). The database lives on the build's disk, not a
// tmpfs, so every commit pays a real fsync.
void SetupSqlite(const benchmark::State& state) {
  g_env = new Env;
  g_env->dir = std::filesystem::current_path() / ("bench-db-" + std::to_string(getpid()));
  std::filesystem::remove_all(g_env->dir);
  std::filesystem::create_directories(g_env->dir);
  SqliteStoreOptions o;
  o.group_commit = state.range(0) == 1;
  auto s = SqliteStore::Open((g_env->dir / "bench.db").string(), o);
  if (!s.ok()) throw std::runtime_error(s.status().ToString());
  g_env->store = std::move(s).value();
  OpenQueue();
}

void Teardown(const benchmark::State&) {
  delete g_env;
  g_env = nullptr;
}

// Builds the next batch of definitions with ids unique per thread.
void Refill(std::vector<TaskDefinition>* defs, int thread, uint32_t* counter) {
  defs->clear();
  for (size_t i = 0; i < kBatch; ++i) {
    uint8_t bytes[16] = {0x62, 0x65, 0x6e, 0x63, static_cast<uint8_t>(thread)};
    uint32_t n = (*counter)++;
    for (int k = 0; k < 4; ++k) bytes[12 + k] = static_cast<uint8_t>(n >> (24 - 8 * k));
    TaskDefinition d;
    d.task_id = EncodeSlug(bytes);
    d.created_ms = kStartMs;
    d.deadline_ms = kStartMs + 3'600'000;
    d.payload = R"([{"exit":0}])";
    defs->push_back(std::move(d));
  }
}

// Hands out definitions, building them in batches outside the timed region.
class DefinitionFeed {
 public:
  explicit DefinitionFeed(benchmark::State& state) : state_(state) {}
  TaskDefinition Next() {
    if (next_ == defs_.size()) {
      state_.PauseTiming();
      Refill(&defs_, state_.thread_index(), &counter_);
      next_ = 0;
      state_.ResumeTiming();
    }
    return std::move(defs_[next_++]);
  }

 private:
  benchmark::State& state_;
  std::vector<TaskDefinition> defs_;
  size_t next_ = 0;
  uint32_t counter_ = 0;
};

void CreateTasks(benchmark::State& state) {
  Queue& q = *g_env->queue;
  DefinitionFeed feed(state);
  for (auto _ : state) {
    Status st = q.CreateTask(feed.Next());
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
}

void Lifecycles(benchmark::State& state) {
  Queue& q = *g_env->queue;
  const std::string worker = "worker-" + std::to_string(state.thread_index());
  DefinitionFeed feed(state);
  std::vector<Claim> claims;
  for (auto _ : state) {
    Status st = q.CreateTask(feed.Next());
    claims.clear();
    if (st.ok()) st = q.ClaimWork("bench", worker, 1, &claims);
    for (const Claim& c : claims) {
      if (st.ok()) st = q.ReportCompleted(RunRef{c.task->task_id, c.run_id, "bench", worker});
    }
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(CreateTasks)
    ->Name("Memory/CreateTask")
    ->Setup(SetupMemory)
    ->Teardown(Teardown)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();
BENCHMARK(Lifecycles)
    ->Name("Memory/Lifecycle")
    ->Setup(SetupMemory)
    ->Teardown(Teardown)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();
// Both SQLite benchmarks: group commit off and on, 1, 2 and 8 client threads.
void SqliteConfig(benchmark::internal::Benchmark* b) {
  b->ArgName("group_commit")->Arg(0)->Arg(1)->Setup(SetupSqlite)->Teardown(Teardown);
  b->Threads(1)->Threads(2)->Threads(8)->UseRealTime()->MinTime(1.0);
}
BENCHMARK(CreateTasks)->Name("Sqlite/CreateTask")->Apply(SqliteConfig);
BENCHMARK(Lifecycles)->Name("Sqlite/Lifecycle")->Apply(SqliteConfig);

}  // namespace
}  // namespace ithappens::engine

BENCHMARK_MAIN();
