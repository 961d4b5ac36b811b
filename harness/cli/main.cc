// The `ithappens` command (DESIGN.md, "CLI and outputs").
//
//   ithappens run SCENARIO.yaml… [--mode sim] [--seed N] [--load 5x] [--out DIR]
//                 [--engine-bug NAME]… [--self-check]
//   ithappens explore SCENARIO.yaml [--seeds N | --time 10m] [--jobs J] [--shard i/n]
//                 [--keep-going] [--engine-bug NAME]… [--load 5x] [--seed N] [--out DIR]
//                                    many seeds, drawn fault schedules, shrunk violations
//   ithappens merge DIR… [--out DIR]  join the shards of one exploration
//   ithappens check HISTORY.jsonl
//   ithappens list
//   ithappens report RUN_DIR         render report.html, summary.md, junit.xml again
//   ithappens bench SCENARIO.yaml --loads 1,5,50 [--seed N] [--out DIR]
//                                    the scenario at each load: wall time of the
//                                    simulation and of the checks, throughputs, verdicts
//
// Exit codes: 0 every property holds · 1 a property is violated · 2 bad usage or bad
// scenario (the message names file, line and field) · 3 the harness itself failed (it
// says so: that is our fault, not the target's).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "engine/bugs.h"
#include "engine/hash.h"
#include "harness/checker.h"
#include "harness/cli/explore_command.h"
#include "harness/cli/outputs.h"
#include "harness/history/timeline.h"
#include "harness/load/workload.h"
#include "harness/scenario/scenario.h"
#include "harness/real/run.h"
#include "harness/sim/heap.h"
#include "harness/sim/sim.h"
#include "reports/report.h"

using namespace ithappens;
using namespace ithappens::harness;

namespace {


void PrintResults(const std::vector<CheckResult>& results, std::ostream& os) {
  for (const auto& r : results) {
    os << "  "
       << (r.valid == Validity::kValid     ? "ok     "
           : r.valid == Validity::kInvalid ? "FAILED "
                                           : "UNKNOWN")
       << " " << r.checker << " " << r.counts.dump();
    if (!r.error.empty()) os << " (" << r.error << ")";
    os << "\n";
    for (const auto& c : r.counterexamples) {
      os << "          task " << c.task << ": " << c.explanation << " (events";
      for (auto i : c.events) os << " " << i;
      os << ")\n";
    }
  }
}

// A bench's row says only the verdict: under it, the properties that did not hold (and
// where the run's files are, when they are kept).
void PrintProblems(const std::vector<CheckResult>& results, const std::string& where) {
  std::vector<CheckResult> bad;
  for (const auto& r : results)
    if (r.valid != Validity::kValid) bad.push_back(r);
  if (bad.empty()) return;
  PrintResults(bad, std::cout);
  if (!where.empty()) std::cout << "          (the run: " << where << ")\n";
  std::cout.flush();
}

// Fault coverage: what each window met; a window that met nothing is said out loud.
void PrintCoverage(const Timeline& timeline, std::ostream& os) {
  for (const auto& f : timeline.faults) {
    os << "  fault  " << f.kind << (f.target.empty() ? "" : " " + f.target) << " " << f.start_s
       << "-" << f.end_s << " s: " << f.tasks_in_flight << " tasks in flight, " << f.requests
       << " requests touched";
    if (f.TouchedNothing()) os << "  WARNING: touched nothing, so it proves nothing";
    os << "\n";
  }
}

// Reads DIR/<file> with parse, writes the pages again with write; exit 0, 2 (not ours) or
// 3 (cannot write).
template <typename Parse, typename Write>
int RenderAgain(const std::string& dir, const char* file, const char* what, Parse parse,
                Write write) {
  std::ifstream in(std::filesystem::path(dir) / file);
  if (!in) {
    std::cerr << "ithappens: " << dir << "/" << file << ": cannot read\n";
    return kExitUsage;
  }
  try {
    const auto r = parse(nlohmann::json::parse(in));
    if (!write(r, dir)) {
      std::cerr << "ithappens: cannot write reports into " << dir << "\n";
      return kExitHarness;
    }
    std::cout << "rendered " << dir << "/report.html, summary.md, junit.xml (" << r.verdict
              << ")\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "ithappens: " << dir << "/" << file << " is not an ithappens " << what << ": "
              << e.what() << "\n";
    return kExitUsage;
  }
}

// `ithappens report RUN_DIR`: renders the reports again from RUN_DIR/report.json (a run)
// or RUN_DIR/explore.json (an exploration).
int Rerender(const std::string& dir) {
  if (!std::filesystem::exists(std::filesystem::path(dir) / "report.json") &&
      std::filesystem::exists(std::filesystem::path(dir) / "explore.json")) {
    return RenderAgain(dir, "explore.json", "exploration", reports::ExploreFromJson,
                       reports::WriteExplore);
  }
  return RenderAgain(
      dir, "report.json", "report", [](const nlohmann::json& j) { return reports::FromJson(j); },
      reports::WriteAll);
}

// The directory the ithappens binary is in: the engine's, worker's and sink's too.
std::string BinDir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "." : exe.parent_path().string();
}

// The scenario of a run, or nullopt after saying why (exit 2): the file, then the size of
// the whole run at this load.
std::optional<Scenario> LoadForRun(const std::string& file, double load) {
  auto scenario = LoadScenario(file);
  if (!scenario.ok()) {
    std::cerr << "ithappens: " << scenario.status().message() << "\n";
    return std::nullopt;
  }
  if (auto st = CheckRunSize(*scenario, load); !st.ok()) {
    std::cerr << "ithappens: " << st.message() << "\n";
    return std::nullopt;
  }
  return std::move(scenario).value();
}

// A real run's time scale: the flag, else the scenario's own (real.time_scale), else real
// time; nullopt after saying why (exit 2) when real mode cannot run the scenario.
std::optional<double> RealTimeScale(const Scenario& s, std::optional<double> flag) {
  if (auto st = CheckRealScenario(s); !st.ok()) {
    std::cerr << "ithappens: " << st.message() << "\n";
    return std::nullopt;
  }
  return flag.value_or(s.real_time_scale > 0 ? static_cast<double>(s.real_time_scale) : 1.0);
}

// `--mode real`: the scenario against the real processes, judged like a simulated run.
int RunOneReal(const std::string& file, const std::string& out_root, double load,
               const engine::BugSwitches& bugs, const std::vector<std::string>& bug_names,
               std::optional<double> time_scale_flag, const std::string& bug_args) {
  const std::optional<Scenario> scenario = LoadForRun(file, load);
  if (!scenario) return kExitUsage;
  const Scenario& s = *scenario;
  const std::optional<double> wanted = RealTimeScale(s, time_scale_flag);
  if (!wanted) return kExitUsage;
  const double time_scale = *wanted;
  const std::filesystem::path dir = std::filesystem::path(out_root) / s.name;
  if (!MakeDirectory(dir / "logs")) return kExitHarness;
  RealOptions o{&s, load, bugs, bug_names, dir.string(), BinDir(), time_scale};
  auto real = RunReal(o);
  if (!real.ok()) {
    std::cerr << "ithappens: the harness failed (not the target): " << real.status().ToString()
              << "\n";
    return kExitHarness;
  }
  char scale[32];
  std::snprintf(scale, sizeof scale, "%g", time_scale);
  const std::string command = "ithappens run " + file + " --mode real --time-scale " + scale +
                              " --load " + LoadText(load) + " --out " + out_root + bug_args;
  const std::string history = (dir / "history.jsonl").string();
  std::string error;
  HistoryFacts facts;
  if (!ReadHistoryFacts(history, 40, &facts, &error)) {
    std::cerr << "ithappens: cannot read back the history: " << error << "\n";
    return kExitHarness;
  }
  const auto& results = facts.results;
  SimSummary sum;
  sum.events = real->events;
  sum.tasks = real->tasks;
  sum.sim_ms = real->scenario_ms;
  sum.requests = real->requests;
  if (!WriteReports(dir, s, "real", 0, load, bugs, sum, facts, command, &error, time_scale)) {
    std::cerr << "ithappens: the harness failed writing the reports: " << error << "\n";
    return kExitHarness;
  }
  const Validity v = Compose(results);
  std::cout << s.name << ": " << ToString(v) << " (real, time scale " << scale << ", "
            << real->tasks << " tasks, " << real->events << " events, "
            << real->scenario_ms / 1000 << " run s in " << real->wall_ms / 1000 << " wall s)\n";
  PrintResults(results, std::cout);
  std::cout << "report: " << (dir / "report.html").string() << "\n";
  if (v != Validity::kValid) std::cout << "reproduce: " << command << "\n";
  return ExitFor(v);
}

int RunOne(const std::string& file, const std::string& out_root, std::optional<uint64_t> seed_flag,
           double load, const engine::BugSwitches& bugs, bool self_check,
           const std::string& bug_args) {
  const std::optional<Scenario> scenario = LoadForRun(file, load);
  if (!scenario) return kExitUsage;
  const Scenario& s = *scenario;
  const uint64_t seed = seed_flag.value_or(s.seed);
  const SimRun run = RunSimAndReport(s, file, out_root, seed, load, bugs, bug_args, self_check,
                                     /*show_progress=*/true);
  if (run.exit == kExitHarness) return kExitHarness;
  const Validity v = Compose(run.results);
  std::cout << s.name << ": " << ToString(v) << " (" << run.summary.tasks << " tasks, "
            << run.summary.events << " events, " << run.summary.sim_ms / 1000
            << " simulated s)\n";
  PrintResults(run.results, std::cout);
  PrintCoverage(run.timeline, std::cout);
  for (const auto& r : run.roots) {
    std::cout << "  root cause " << r.task << " kept " << r.blocked << " task(s) from running\n";
  }
  std::cout << "report: " << (run.dir / "report.html").string() << "\n";
  if (v != Validity::kValid) std::cout << "reproduce: " << run.command << "\n";
  return ExitFor(v);
}

// `ithappens bench`: the scenario at each load, measured with the wall clock (a
// measurement, never an input of the simulation): plain lines as each load finishes, a
// table in OUT/<scenario>/bench.json. Exit 1 if any load's history violates a property.
// The scenario of a bench, or nullopt after saying why (exit 2): the file, then the size
// of the run at every load.
std::optional<Scenario> LoadForBench(const std::string& file, const std::vector<double>& loads) {
  auto scenario = LoadScenario(file);
  if (!scenario.ok()) {
    std::cerr << "ithappens: " << scenario.status().message() << "\n";
    return std::nullopt;
  }
  for (double load : loads) {
    if (auto st = CheckRunSize(*scenario, load); !st.ok()) {
      std::cerr << "ithappens: " << st.message() << "\n";
      return std::nullopt;
    }
  }
  return std::move(scenario).value();
}

// One measured run of the simulator and the checkers (MeasureInChild's answer).
struct BenchRun {
  SimSummary sum;
  std::string history_hash;  // empty unless asked for
  Validity verdict = Validity::kValid;
  double sim_s = 0, check_s = 0;
  int64_t sim_peak_bytes = -1;  // the simulation's peak resident memory; -1: not measured
};

// v with `digits` decimals.
std::string Fixed(double v, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, v);
  return text;
}

// The child's half of MeasureInChild: runs, measures, writes the figures to `out_fd`.
int MeasureHere(const Scenario& s, uint64_t seed, double load, const std::string& history,
                const std::string& label, bool hash, int out_fd) {
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  SimOptions o{&s, seed, load, {}, history, ProgressPrinter(label)};
  // The simulation's memory: its peak resident set less what the process held before.
  const int64_t rss_before = ResetPeakResident() ? ResidentBytes() : -1;
  const auto t0 = Clock::now();
  auto sum = RunSimulation(o);
  const auto t1 = Clock::now();
  const int64_t sim_hwm = PeakResidentBytes();
  if (!sum.ok()) {
    std::cerr << "ithappens: the harness failed (not the target): " << sum.status().ToString()
              << "\n";
    return kExitHarness;
  }
  std::string error;
  auto results = CheckHistoryFile(history, &error);
  const auto t2 = Clock::now();
  if (results.empty()) {
    std::cerr << "ithappens: cannot read back the history: " << error << "\n";
    return kExitHarness;
  }
  PrintProblems(results, "");  // the history is not kept: say what failed now
  nlohmann::json out = {
      {"events", sum->events},
      {"tasks", sum->tasks},
      {"sim_ms", sum->sim_ms},
      {"hash", hash ? FileHash(history) : ""},
      {"verdict", static_cast<int>(Compose(results))},
      {"sim_s", seconds(t1 - t0)},
      {"check_s", seconds(t2 - t1)},
      {"sim_peak_bytes", rss_before >= 0 && sim_hwm >= rss_before ? sim_hwm - rss_before : -1}};
  std::filesystem::remove(history);
  const std::string text = out.dump();
  for (size_t off = 0; off < text.size();) {
    const ssize_t n = write(out_fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return kExitHarness;
    off += static_cast<size_t>(n);
  }
  return 0;  // RunInChild closes out_fd and flushes the streams
}

// One measured run in a child process of its own: each run starts from a fresh heap, as a
// user's `ithappens run` does (run in this process, a round after a larger load reused that
// load's heap and measured half its cost). The child sends its figures back on a pipe;
// nullopt (with the reason on stderr) if it failed.
std::optional<BenchRun> MeasureInChild(const Scenario& s, uint64_t seed, double load,
                                       const std::string& history, const std::string& label,
                                       bool hash) {
  const ChildRun run = RunInChild([&](int fd) {
    try {
      return MeasureHere(s, seed, load, history, label, hash, fd);
    } catch (const std::bad_alloc&) {
      std::cerr << "ithappens: out of memory (the harness failed, not the target)\n";
    } catch (const std::exception& e) {
      std::cerr << "ithappens: the harness failed (not the target): " << e.what() << "\n";
    }
    return kExitHarness;
  });
  if (!run.Succeeded() || run.out.empty()) {
    std::cerr << "ithappens: bench: the run at " << LoadText(load) << " in a child process "
              << run.How() << "\n";
    return std::nullopt;
  }
  const std::string& text = run.out;
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    std::cerr << "ithappens: bench: unreadable figures from the run at " << LoadText(load) << "\n";
    return std::nullopt;
  }
  BenchRun r;
  r.sum.events = j["events"];
  r.sum.tasks = j["tasks"];
  r.sum.sim_ms = j["sim_ms"];
  r.history_hash = j["hash"];
  r.verdict = static_cast<Validity>(j["verdict"].get<int>());
  r.sim_s = j["sim_s"];
  r.check_s = j["check_s"];
  r.sim_peak_bytes = j["sim_peak_bytes"];
  return r;
}

// `ithappens bench SCENARIO`: the simulator and the checkers at each load, `repeat` rounds
// of every load in turn (10x, 50x, 10x, 50x, ...), so that a slow phase of a shared host
// falls on every load alike; each load's figures are its fastest round (the run least
// disturbed: the host only ever adds time), with the spread (slowest / fastest) beside them.
// Every round of a load must write the same history (the seed determines it): a bench
// whose rounds differ stops with the harness's exit code.
int Bench(const std::string& file, const std::vector<double>& loads,
          std::optional<uint64_t> seed_flag, const std::string& out_root,
          const std::string& command, int repeat) {
  const std::optional<Scenario> scenario = LoadForBench(file, loads);
  if (!scenario) return kExitUsage;
  const Scenario& s = *scenario;
  const uint64_t seed = seed_flag.value_or(s.seed);
  const std::filesystem::path dir = std::filesystem::path(out_root) / s.name;
  if (!MakeDirectory(dir)) return kExitHarness;
  struct Measured {
    BenchRun first;                      // round 1: its history is every round's
    std::vector<double> sim_s, check_s;  // one per round
  };
  std::vector<Measured> measured(loads.size());
  std::printf("%s (seed %llu): wall-clock measurements of the simulator and the checkers, "
              "the fastest of %d rounds per load; heap: %s\n",
              s.name.c_str(), static_cast<unsigned long long>(seed), repeat, HeapMode().c_str());
  std::fflush(stdout);
  for (int round = 0; round < repeat; ++round) {
    for (size_t i = 0; i < loads.size(); ++i) {
      const double load = loads[i];
      const std::string history = (dir / ("bench-" + LoadText(load) + ".jsonl")).string();
      std::string label = s.name + " " + LoadText(load);
      if (repeat > 1) label += " round " + std::to_string(round + 1) + "/" + std::to_string(repeat);
      auto run = MeasureInChild(s, seed, load, history, label, repeat > 1);
      if (!run) return kExitHarness;
      Measured& m = measured[i];
      if (round == 0) {
        m.first = *run;
      } else if (run->history_hash != m.first.history_hash ||
                 run->sum.events != m.first.sum.events) {
        std::cerr << "ithappens: bench: seed " << seed << " at " << LoadText(load)
                  << " wrote history " << m.first.history_hash << " (" << m.first.sum.events
                  << " events) in round 1 and " << run->history_hash << " (" << run->sum.events
                  << " events) in round " << round + 1 << " (the harness is at fault)\n";
        return kExitHarness;
      }
      m.sim_s.push_back(run->sim_s);
      m.check_s.push_back(run->check_s);
    }
  }
  nlohmann::json rows = nlohmann::json::array();
  int worst = kExitValid;
  std::printf("%8s %9s %10s %10s %9s %7s %13s %9s %8s %13s %8s %8s %9s %13s  %s\n", "load", "tasks",
              "events", "sim s", "wall s", "spread", "lifecycles/s", "us/task", "x prev",
              "sim s/wall s", "sim MB", "KB/task", "check s", "events/s", "verdict");
  double prev_us = 0;
  for (size_t i = 0; i < loads.size(); ++i) {
    const Measured& m = measured[i];
    const SimSummary& sum = m.first.sum;
    worst = std::max(worst, ExitFor(m.first.verdict));
    const double sim_s = *std::min_element(m.sim_s.begin(), m.sim_s.end());
    const double check_s = *std::min_element(m.check_s.begin(), m.check_s.end());
    const double spread = *std::max_element(m.sim_s.begin(), m.sim_s.end()) / sim_s;
    // The simulator's cost per task, and its ratio to the previous load's: a flat cost
    // per task gives 1.0 whatever the load.
    const double us_per_task = sim_s * 1e6 / static_cast<double>(std::max<int64_t>(1, sum.tasks));
    const double vs_prev = prev_us > 0 ? us_per_task / prev_us : 1.0;
    prev_us = us_per_task;
    // Memory is the first round's (a seed's rounds hold the same things).
    const double peak_mb = static_cast<double>(m.first.sim_peak_bytes) / (1 << 20);
    const double kb_per_task = static_cast<double>(m.first.sim_peak_bytes) / 1024 /
                               static_cast<double>(std::max<int64_t>(1, sum.tasks));
    nlohmann::json row = {{"load", loads[i]},
                          {"tasks", sum.tasks},
                          {"events", sum.events},
                          {"simulated_s", sum.sim_ms / 1000.0},
                          {"sim_wall_s", sim_s},
                          {"sim_wall_s_rounds", m.sim_s},
                          {"sim_wall_spread", spread},
                          {"lifecycles_per_s", sum.tasks / sim_s},
                          {"us_per_task", us_per_task},
                          {"us_per_task_vs_previous_load", vs_prev},
                          {"simulated_s_per_wall_s", sum.sim_ms / 1000.0 / sim_s},
                          {"check_wall_s", check_s},
                          {"check_wall_s_rounds", m.check_s},
                          {"checked_events_per_s", sum.events / check_s},
                          {"sim_peak_bytes", m.first.sim_peak_bytes},
                          {"sim_peak_kb_per_task", m.first.sim_peak_bytes < 0 ? -1 : kb_per_task},
                          {"verdict", ToString(m.first.verdict)}};
    if (!m.first.history_hash.empty()) row["history_hash"] = m.first.history_hash;
    const std::string mem_mb = m.first.sim_peak_bytes < 0 ? "-" : Fixed(peak_mb, 1);
    const std::string mem_kb = m.first.sim_peak_bytes < 0 ? "-" : Fixed(kb_per_task, 2);
    std::printf(
        "%8s %9lld %10lld %10.0f %9.3f %7.2f %13.0f %9.1f %8.2f %13.0f %8s %8s %9.3f %13.0f  %s\n",
        LoadText(loads[i]).c_str(), static_cast<long long>(sum.tasks),
        static_cast<long long>(sum.events), sum.sim_ms / 1000.0, sim_s, spread, sum.tasks / sim_s,
        us_per_task, vs_prev, sum.sim_ms / 1000.0 / sim_s, mem_mb.c_str(), mem_kb.c_str(), check_s,
        sum.events / check_s, std::string(ToString(m.first.verdict)).c_str());
    rows.push_back(std::move(row));
  }
  nlohmann::json report = {{"scenario", s.name}, {"file", file},     {"seed", seed},
                           {"mode", "sim"},      {"repeat", repeat}, {"rows", rows},
                           {"heap", HeapMode()}, {"command", command}};
  std::ofstream(dir / "bench.json") << report.dump(2) << "\n";
  std::printf("bench: %s\n", (dir / "bench.json").string().c_str());
  return worst;
}

// `ithappens bench SCENARIO --mode real`: the scenario against the real processes at each
// load, one after the other (each run keeps its directory OUT/<scenario>/bench-<load>/:
// history, logs, reports). Per load: calls answered per wall second, p50/p99 wall latency
// of each operation, peak RSS per process, the time to drain after the last fault healed,
// the verdict; bench.json and bench.html (a scaling table and plot) in OUT/<scenario>/.
int BenchReal(const std::string& file, const std::vector<double>& loads,
              std::optional<double> time_scale_flag, const std::string& out_root,
              const std::string& command) {
  const std::optional<Scenario> scenario = LoadForBench(file, loads);
  if (!scenario) return kExitUsage;
  const Scenario& s = *scenario;
  const std::optional<double> wanted = RealTimeScale(s, time_scale_flag);
  if (!wanted) return kExitUsage;
  const double time_scale = *wanted;
  const std::filesystem::path dir = std::filesystem::path(out_root) / s.name;
  if (!MakeDirectory(dir)) return kExitHarness;
  nlohmann::json rows = nlohmann::json::array();
  int worst = kExitValid;
  std::printf("%s: the real processes at each load, time scale %g (wall units)\n",
              s.name.c_str(), time_scale);
  std::printf("%6s %7s %7s %9s %15s %15s %15s %8s %22s  %s\n", "load", "tasks", "wall s",
              "calls/s", "create p50/p99", "claim p50/p99", "report p50/p99", "drain s",
              "peak RSS MB eng/sink/wk", "verdict");
  for (double load : loads) {
    const std::filesystem::path run_dir = dir / ("bench-" + LoadText(load));
    if (!MakeDirectory(run_dir / "logs")) return kExitHarness;
    RealOptions o{&s, load, {}, {}, run_dir.string(), BinDir(), time_scale};
    auto real = RunReal(o);
    if (!real.ok()) {
      std::cerr << "ithappens: the harness failed (not the target): " << real.status().ToString()
                << "\n";
      return kExitHarness;
    }
    const std::string history = (run_dir / "history.jsonl").string();
    std::string error;
    LatencyBuilder answered;  // observes the checkers' own read
    auto results =
        CheckHistoryFile(history, &error, [&](const EventView& e) { answered.Observe(e); });
    if (results.empty()) {
      std::cerr << "ithappens: cannot read back the history: " << error << "\n";
      return kExitHarness;
    }
    Latency lat;
    answered.Finish(1, &lat);
    const Validity v = Compose(results);
    worst = std::max(worst, ExitFor(v));
    const double wall_s = std::max(1e-3, static_cast<double>(real->scenario_ms) / 1000.0 / time_scale);
    int64_t calls = 0;
    nlohmann::json ops = nlohmann::json::object();
    for (const auto& [op, series] : lat.ops) {
      calls += series.calls;
      ops[op] = {{"calls", series.calls},
                 {"per_s", static_cast<double>(series.calls) / wall_s},
                 {"p50_ms", series.p50_ms / time_scale},
                 {"p99_ms", series.p99_ms / time_scale}};
    }
    int64_t worker_peak = 0;
    nlohmann::json rss = nlohmann::json::object();
    for (const auto& [name, bytes] : real->peak_rss_bytes) {
      rss[name] = bytes;
      if (name.rfind("worker-", 0) == 0) worker_peak = std::max(worker_peak, bytes);
    }
    auto q = [&](const char* op, const char* which) {
      return ops.contains(op) ? ops[op][which].get<double>() : 0.0;
    };
    const double mb = 1024.0 * 1024.0;
    char latency[3][32];
    int k = 0;
    for (const char* op : {"create", "claim", "report-completed"}) {
      std::snprintf(latency[k++], sizeof latency[0], "%.1f/%.1f", q(op, "p50_ms"), q(op, "p99_ms"));
    }
    char peaks[64];
    std::snprintf(peaks, sizeof peaks, "%.0f/%.0f/%.0f",
                  real->peak_rss_bytes.count("engine") ? real->peak_rss_bytes.at("engine") / mb : 0,
                  real->peak_rss_bytes.count("sink") ? real->peak_rss_bytes.at("sink") / mb : 0,
                  worker_peak / mb);
    const double drain_s = real->drain_ms < 0 ? -1 : real->drain_ms / 1000.0 / time_scale;
    std::printf("%6s %7lld %7.1f %9.1f %15s %15s %15s %8.2f %22s  %s\n", LoadText(load).c_str(),
                static_cast<long long>(real->tasks), wall_s, static_cast<double>(calls) / wall_s,
                latency[0], latency[1], latency[2], drain_s, peaks,
                std::string(ToString(v)).c_str());
    std::fflush(stdout);
    PrintProblems(results, run_dir.string());
    rows.push_back({{"load", load},
                    {"tasks", real->tasks},
                    {"events", real->events},
                    {"wall_s", wall_s},
                    {"calls_per_s", static_cast<double>(calls) / wall_s},
                    {"ops", ops},
                    {"peak_rss_bytes", rss},
                    {"drain_wall_s", drain_s},
                    {"verdict", ToString(v)},
                    {"run_dir", run_dir.string()}});
  }
  nlohmann::json report = {{"scenario", s.name}, {"file", file},   {"mode", "real"},
                           {"time_scale", time_scale}, {"rows", rows}, {"command", command}};
  std::ofstream(dir / "bench.json") << report.dump(2) << "\n";
  std::ofstream(dir / "bench.html") << reports::RenderBenchHtml(report);
  std::printf("bench: %s, %s\n", (dir / "bench.json").string().c_str(),
              (dir / "bench.html").string().c_str());
  return worst;
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"ithappens: make the hardly-ever happen, and check what the platform did"};
  app.require_subcommand(1);

  auto* run = app.add_subcommand("run", "run scenarios and check their histories");
  std::vector<std::string> files;
  std::string mode = "sim", out = "out", load_text = "1x";
  std::optional<uint64_t> seed;
  std::vector<std::string> bug_names;
  bool self_check = false;
  run->add_option("scenarios", files, "scenario YAML files")->required()->check(CLI::ExistingFile);
  std::optional<double> time_scale;
  run->add_option("--mode", mode,
                  "sim, or real: the real engine, workers and sink as processes, each fault by "
                  "its real mechanism (no hooks or later calls yet)");
  run->add_option("--time-scale", time_scale,
                  "real mode: K scenario seconds per wall second (default: the scenario's "
                  "real.time_scale, else 1)")
      ->check(CLI::Range(1.0, 100'000.0));
  run->add_option("--seed", seed, "overrides the scenario's seed");
  run->add_option("--load", load_text, "load multiplier, e.g. 5x");
  run->add_option("--out", out, "output root; a run writes OUT/<scenario>/");
  run->add_option("--engine-bug", bug_names, "turn on an engine bug switch (self-validation)");
  run->add_flag("--self-check", self_check, "run the seed twice and compare the history hashes");

  auto* check = app.add_subcommand("check", "re-run the checkers on a recorded history");
  std::string history;
  check->add_option("history", history, "history.jsonl")->required()->check(CLI::ExistingFile);

  auto* list = app.add_subcommand(
      "list", "scenarios, workload kinds, fault kinds, properties, bug switches");

  auto* report = app.add_subcommand("report", "render the reports again from RUN_DIR/report.json");
  std::string run_dir;
  report->add_option("run_dir", run_dir, "OUT/<scenario>")
      ->required()
      ->check(CLI::ExistingDirectory);

  auto* bench = app.add_subcommand("bench", "run a scenario at several loads and measure it");
  std::string bench_file, bench_loads = "1,5,10";
  bench->add_option("scenario", bench_file, "scenario YAML file")
      ->required()
      ->check(CLI::ExistingFile);
  bench->add_option("--loads", bench_loads, "comma-separated multipliers, e.g. 1,5,50");
  bench->add_option("--seed", seed, "overrides the scenario's seed");
  int bench_repeat = 3;
  bench->add_option("--repeat", bench_repeat,
                    "sim: rounds of every load in turn; each load keeps its fastest (default 3)")
      ->check(CLI::Range(1, 50));
  bench->add_option("--out", out, "output root; writes OUT/<scenario>/bench.json");
  std::string bench_mode = "sim";
  bench->add_option("--mode", bench_mode,
                    "sim (the simulator's speed), or real (the real processes at each load)");
  bench->add_option("--time-scale", time_scale,
                    "real mode: K scenario seconds per wall second (default: the scenario's)")
      ->check(CLI::Range(1.0, 100'000.0));

  auto* explore = app.add_subcommand(
      "explore", "run a scenario under many seeds with drawn fault schedules; shrink violations");
  ExploreArgs ex;
  explore->add_option("scenario", ex.file, "scenario YAML file")->required()->check(CLI::ExistingFile);
  explore->add_option("--seeds", ex.seeds, "how many seeds (default 100)")
      ->check(CLI::Range(int64_t{1}, int64_t{10'000'000}));
  explore->add_option("--time", ex.time_text, "a time budget instead of --seeds: 90s, 10m, 1h");
  explore->add_option("--seed", ex.seed, "the first seed (default: the scenario's)");
  explore->add_option("--jobs", ex.jobs, "parallel simulations (default: every core)")
      ->check(CLI::Range(1, 256));
  explore->add_option("--shard", ex.shard_text,
                      "i/n: this machine's share of the seeds (seed indices k with k % n == i)");
  explore->add_flag("--keep-going", ex.keep_going,
                    "explore every seed (default: stop at the first violating seed)");
  explore->add_option("--engine-bug", ex.bug_names, "turn on an engine bug switch (self-validation)");
  explore->add_option("--load", ex.load_text, "load multiplier, baked into the counts, e.g. 5x");
  explore->add_option("--shrink-runs", ex.shrink_runs,
                      "at most this many runs to shrink each property's first violation "
                      "(default 300; 0: no shrinking)")
      ->check(CLI::Range(0, 100'000));
  explore->add_option("--out", ex.out, "output root; writes OUT/<scenario>/");

  auto* merge = app.add_subcommand("merge", "join the outputs of an exploration's shards");
  std::vector<std::string> merge_dirs;
  merge->add_option("dirs", merge_dirs, "each shard's OUT/<scenario> (or OUT)")
      ->required()
      ->check(CLI::ExistingDirectory);
  merge->add_option("--out", out, "output root; writes OUT/<scenario>/");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  if (*list) {
    std::cout << "workload kinds:\n";
    for (const auto& [k, why] : WorkloadKinds()) std::cout << "  " << k << ": " << why << "\n";
    std::cout << "fault kinds:\n";
    for (const auto& [k, why] : FaultKinds()) std::cout << "  " << k << ": " << why << "\n";
    std::cout << "properties:\n";
    for (const auto& c : StandardCheckers()) std::cout << "  " << c->name() << "\n";
    std::cout << "engine bug switches:\n";
    for (auto n : engine::kBugSwitchNames) std::cout << "  " << n << "\n";
    std::cout << "scenarios:\n";
    if (std::filesystem::exists("scenarios")) {
      for (const auto& f : std::filesystem::directory_iterator("scenarios")) {
        if (f.path().extension() == ".yaml") std::cout << "  " << f.path().string() << "\n";
      }
    }
    return 0;
  }

  if (*report) return Rerender(run_dir);
  if (*explore) return ExploreCommand(ex);
  if (*merge) return MergeCommand(merge_dirs, out);

  if (*bench) {
    std::vector<double> loads;
    std::stringstream items(bench_loads);
    for (std::string item; std::getline(items, item, ',');) {
      double load = 0;
      std::string why;
      if (!ParseLoad(item, &load, &why)) {
        std::cerr << "ithappens: --loads: " << why << "\n";
        return kExitUsage;
      }
      loads.push_back(load);
    }
    if (loads.empty() || loads.size() > 20) {
      std::cerr << "ithappens: --loads: " << loads.size() << " loads; give 1..20\n";
      return kExitUsage;
    }
    if (bench_mode == "real" && bench->count("--repeat") > 0) {
      std::cerr << "ithappens: --repeat: sim mode only (a real bench runs each load once)\n";
      return kExitUsage;
    }
    if (bench_mode == "real") {
      return BenchReal(bench_file, loads, time_scale, out,
                       "ithappens bench " + bench_file + " --mode real --loads " + bench_loads +
                           " --out " + out);
    }
    if (bench_mode != "sim") {
      std::cerr << "ithappens: --mode " << bench_mode << ": not sim or real\n";
      return kExitUsage;
    }
    std::string command = "ithappens bench " + bench_file + " --loads " + bench_loads +
                          (seed ? " --seed " + std::to_string(*seed) : "") + " --repeat " +
                          std::to_string(bench_repeat) + " --out " + out;
    return Bench(bench_file, loads, seed, out, command, bench_repeat);
  }

  if (*check) {
    std::string error;
    auto results = CheckHistoryFile(history, &error);
    if (results.empty()) {
      std::cerr << "ithappens: " << error << "\n";
      return kExitUsage;
    }
    Validity v = Compose(results);
    std::cout << history << ": " << ToString(v) << "\n";
    PrintResults(results, std::cout);
    return ExitFor(v);
  }

  // run
  if (mode != "sim" && mode != "real") {
    std::cerr << "ithappens: --mode " << mode << ": not sim or real\n";
    return kExitUsage;
  }
  double load = 0;
  if (std::string why; !ParseLoad(load_text, &load, &why)) {
    std::cerr << "ithappens: --load: " << why << "\n";
    return kExitUsage;
  }
  engine::BugSwitches bugs;
  std::string bug_args;
  for (const auto& b : bug_names) {
    if (auto st = engine::EnableBugSwitch(b, &bugs); !st.ok()) {
      std::cerr << "ithappens: " << st.message() << "\n";
      return kExitUsage;
    }
    bug_args += " --engine-bug " + b;
  }
  int worst = 0;
  for (const auto& f : files) {
    int rc = mode == "real" ? RunOneReal(f, out, load, bugs, bug_names, time_scale, bug_args)
                            : RunOne(f, out, seed, load, bugs, self_check, bug_args);
    worst = std::max(worst, rc);
  }
  return worst;
}

// Nothing escapes as an abort: input errors are answered inside Main with exit 2; what
// reaches here is the environment's or ours (out of memory, a full disk, a bug), exit 3
// with the cause.
int main(int argc, char** argv) {
  ithappens::harness::ReexecWithHugePageHeap(argv);  // harness/sim/heap.h
  try {
    return Main(argc, argv);
  } catch (const std::bad_alloc&) {
    std::cerr << "ithappens: out of memory (the harness failed, not the target); lower the "
                 "scenario's size or --load\n";
  } catch (const std::exception& e) {
    std::cerr << "ithappens: the harness failed (not the target): " << e.what() << "\n";
  }
  return kExitHarness;
}
