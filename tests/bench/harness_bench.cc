// Simulator and checker throughput: task lifecycles per wall-second and simulated seconds
// per wall-second at 10^4, 10^5 and 10^6 tasks, with and without faults; checker events/s over a
// recorded history. Reported as counters; the numbers belong in the issue notes, never in
// a test.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>

#include "harness/checker.h"
#include "harness/cli/explore.h"
#include "harness/history/history.h"
#include "harness/scenario/scenario.h"
#include "harness/sim/heap.h"
#include "harness/sim/sim.h"

namespace ithappens::harness {
namespace {

Scenario Make(int64_t tasks, bool faults) {
  Scenario s;
  s.name = "bench";
  s.workers = 50;
  s.capacity = 100;
  s.clients = 8;
  s.poll_ms = 100;
  s.claim_timeout_ms = 30'000;
  s.heal_ms = 3'600'000;
  WorkloadSpec w;
  w.kind = "batch";
  w.tasks = static_cast<int>(tasks);
  w.program = R"([{"sleep_ms":1000},{"effect":{"channel":"sms","to":"user-{i}"}},{"exit":0}])";
  s.workload.push_back(w);
  if (faults) {
    s.faults.push_back({FaultKindId::kWorkerCrash, "worker-0", 5'000, 60'000, 0});
    s.faults.push_back({FaultKindId::kPartition, "worker-1", 10'000, 60'000, 0});
    s.faults.push_back({FaultKindId::kEngineCrash, "", 20'000, 5'000, 0});
    s.faults.push_back({FaultKindId::kResponseLoss, "all", 1'000, 2'000, 0});
  }
  return s;
}

std::string TempHistory() {
  return (std::filesystem::temp_directory_path() /
          ("ithappens-bench-" + std::to_string(getpid()) + ".jsonl"))
      .string();
}

void SimLifecycles(benchmark::State& state) {
  Scenario s = Make(state.range(0), state.range(1) == 1);
  std::string path = TempHistory();
  int64_t tasks = 0, sim_ms = 0, events = 0;
  for (auto _ : state) {
    auto sum = RunSimulation(SimOptions{&s, 1, 1.0, {}, path, {}});
    if (!sum.ok()) {
      state.SkipWithError(sum.status().ToString().c_str());
      break;
    }
    tasks += sum->tasks;
    sim_ms += sum->sim_ms;
    events += sum->events;
  }
  // Memory: one more run, in a child process (this one's heap holds what earlier runs
  // freed, which a run reuses without growing the resident set).
  const int64_t grown = PeakGrowthInChild([&] {
    (void)RunSimulation(SimOptions{&s, 1, 1.0, {}, path, {}});
  });
  if (grown >= 0)
    state.counters["peak_kb_per_task"] =
        static_cast<double>(grown) / 1024 / static_cast<double>(state.range(0));
  std::filesystem::remove(path);
  state.counters["lifecycles_per_s"] =
      benchmark::Counter(static_cast<double>(tasks), benchmark::Counter::kIsRate);
  state.counters["sim_s_per_s"] = benchmark::Counter(sim_ms / 1000.0, benchmark::Counter::kIsRate);
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}

// Simulates the bench scenario of `tasks` tasks with faults into a history file, runs
// pass(path) once per iteration (false: stop) and reports events/s read. Skips on an error.
void OverBenchHistory(benchmark::State& state, int64_t tasks,
                      const std::function<bool(const std::string& path, std::string* error)>& pass) {
  Scenario s = Make(tasks, true);
  std::string path = TempHistory();
  auto sum = RunSimulation(SimOptions{&s, 1, 1.0, {}, path, {}});
  if (!sum.ok()) {
    state.SkipWithError(sum.status().ToString().c_str());
    return;
  }
  int64_t events = 0;
  for (auto _ : state) {
    std::string error;
    if (!pass(path, &error)) {
      state.SkipWithError(error.c_str());
      break;
    }
    events += sum->events;
  }
  std::filesystem::remove(path);
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}

void CheckerEvents(benchmark::State& state) {
  OverBenchHistory(state, state.range(0), [](const std::string& path, std::string* error) {
    auto results = CheckHistoryFile(path, error);
    benchmark::DoNotOptimize(results);
    return !results.empty();
  });
}

// The reader alone over the same history: events/s decoded with nothing observing them
// (CheckerEvents minus this is the checkers' own share).
void HistoryRead(benchmark::State& state) {
  OverBenchHistory(state, state.range(0), [](const std::string& path, std::string* error) {
    int64_t seen = 0;
    const bool ok = ReadEvents(path, [&](const EventView&) { ++seen; }, error);
    benchmark::DoNotOptimize(seen);
    return ok;
  });
}

// One standard checker (by its index in StandardCheckers()) with the reader: minus
// HistoryRead, that checker's own cost.
void CheckerAlone(benchmark::State& state) {
  OverBenchHistory(state, 100'000, [&](const std::string& path, std::string* error) {
    auto checkers = StandardCheckers();
    Checker& c = *checkers.at(static_cast<size_t>(state.range(0)));
    state.SetLabel(c.name());
    if (!ReadEvents(path, [&](const EventView& e) { c.Observe(e); }, error)) return false;
    benchmark::DoNotOptimize(c.Finish());
    return true;
  });
}

// `ithappens explore`'s pace: seeds per minute (each seed: draw its schedule, simulate,
// check), on a scenario of scenarios/ (0: smoke, 1: friday-batch), with `jobs` threads.
void ExploreSeeds(benchmark::State& state) {
  const char* names[] = {"smoke", "friday-batch"};
  auto s = LoadScenario(std::string(ITHAPPENS_SOURCE_DIR) + "/scenarios/" +
                        names[state.range(0)] + ".yaml");
  if (!s.ok()) {
    state.SkipWithError(s.status().ToString().c_str());
    return;
  }
  const std::filesystem::path scratch =
      std::filesystem::temp_directory_path() / ("ithappens-bench-explore-" + std::to_string(getpid()));
  std::filesystem::create_directories(scratch);
  int64_t seeds = 0, invalid = 0;
  uint64_t base = 1;
  double wall_s = 0;
  for (auto _ : state) {
    ExploreOptions o;
    o.scenario = &*s;
    o.base_seed = base;
    o.seeds = 20 * state.range(1);
    o.jobs = static_cast<int>(state.range(1));
    o.keep_going = true;
    o.scratch_dir = scratch.string();
    const ExploreRun run = Explore(o);
    wall_s += run.wall_s;
    seeds += static_cast<int64_t>(run.seeds.size());
    for (const auto& r : run.seeds) invalid += r.verdict != Validity::kValid;
    base += static_cast<uint64_t>(o.seeds);
  }
  std::filesystem::remove_all(scratch);
  if (invalid > 0) state.SkipWithError("a seed was not valid on the correct engine");
  state.counters["seeds_per_min"] = wall_s > 0 ? static_cast<double>(seeds) * 60 / wall_s : 0;
}

BENCHMARK(ExploreSeeds)
    ->ArgNames({"scenario", "jobs"})
    ->Args({0, 1})
    ->Args({0, 2})
    ->Args({1, 1})
    ->Args({1, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK(SimLifecycles)
    ->ArgNames({"tasks", "faults"})
    ->Args({10'000, 0})
    ->Args({10'000, 1})
    ->Args({100'000, 0})
    ->Args({100'000, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
// 10^6 tasks: one iteration each (about 40 s and 4 GB on the 2-core CI machine).
BENCHMARK(SimLifecycles)
    ->ArgNames({"tasks", "faults"})
    ->Args({1'000'000, 0})
    ->Args({1'000'000, 1})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(HistoryRead)
    ->ArgName("tasks")
    ->Arg(100'000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(CheckerAlone)->DenseRange(0, 11)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(CheckerEvents)
    ->ArgName("tasks")
    ->Arg(100'000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace ithappens::harness

// The simulator's heap as `ithappens` has it (harness/sim/heap.h), so SimLifecycles measures
// what a user's run gets.
int main(int argc, char** argv) {
  ithappens::harness::ReexecWithHugePageHeap(argv);
  benchmark::AddCustomContext("heap", ithappens::harness::HeapMode());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
