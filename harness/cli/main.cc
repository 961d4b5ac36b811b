// The `ithappens` command (DESIGN.md, "CLI and outputs").
//
//   ithappens run SCENARIO.yaml… [--mode sim] [--seed N] [--load 5x] [--out DIR]
//                 [--engine-bug NAME]… [--self-check]
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
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "engine/bugs.h"
#include "engine/hash.h"
#include "harness/checker.h"
#include "harness/history/timeline.h"
#include "harness/load/workload.h"
#include "harness/scenario/scenario.h"
#include "harness/real/run.h"
#include "harness/sim/sim.h"
#include "reports/report.h"

using namespace ithappens;
using namespace ithappens::harness;

namespace {

constexpr int kExitValid = 0, kExitInvalid = 1, kExitUsage = 2, kExitHarness = 3;

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

// The output directory, or false after saying why: the environment's fault (a read-only
// or missing --out), exit 3, never an exception out of main.
bool MakeDirectory(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) {
    std::cerr << "ithappens: cannot create the output directory " << dir.string() << ": "
              << (ec ? ec.message() : "not a directory") << " (check --out)\n";
    return false;
  }
  return true;
}

int ExitFor(Validity v) {
  return v == Validity::kValid ? kExitValid : v == Validity::kInvalid ? kExitInvalid : kExitHarness;
}

std::string FileHash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(engine::StableHash(ss.str(), 0)));
  return buf;
}

// Fills the report model (reports/report.h) from the run and writes every report file.
// The multiplier as a user would type it: 1x, 10x, 0.25x (the shortest exact form).
std::string LoadText(double load) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, load);
  return (ec == std::errc() ? std::string(buf, end) : std::to_string(load)) + "x";
}

// The progress of a long run on stderr (wall-clock paced; the run itself never reads the
// wall clock): on a terminal one line redrawn at most five times a second and erased at
// the end; elsewhere (CI) a plain line every 10 s, so short runs stay quiet.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(std::string name)
      : name_(std::move(name)), tty_(isatty(2) != 0), start_(Clock::now()), last_(start_) {}
  void operator()(const SimProgress& p) {
    const auto now = Clock::now();
    if (p.done) {
      if (tty_ && drawn_) std::fprintf(stderr, "\r\033[K");
      return;
    }
    if (now - last_ < (tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(10'000)))
      return;
    last_ = now;
    const double elapsed_s = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr,
                 tty_ ? "\r\033[K%s: simulated %lld of at most %lld s, %lld events (%.0f s)"
                      : "ithappens: %s: simulated %lld of at most %lld s, %lld events "
                        "after %.0f s\n",
                 name_.c_str(), static_cast<long long>(p.sim_ms / 1000),
                 static_cast<long long>(p.horizon_ms / 1000), static_cast<long long>(p.events),
                 elapsed_s);
    drawn_ = tty_;
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::string name_;
  bool tty_;
  bool drawn_ = false;
  Clock::time_point start_, last_;
};

bool WriteReports(const std::filesystem::path& dir, const Scenario& s, const std::string& mode,
                  uint64_t seed, double load, const engine::BugSwitches& bugs, const SimSummary& sum,
                  const std::vector<CheckResult>& results, const std::vector<RootCause>& roots,
                  const Timeline& timeline, const std::string& command, double time_scale = 0) {
  reports::Report r;
  r.scenario = s.name;
  r.file = s.file;
  r.mode = mode;
  r.seed = seed;
  r.load = load;
  r.engine_bugs = bugs.ToString();
  r.verdict = std::string(ToString(Compose(results)));
  r.counts = {{"events", sum.events},
              {"tasks", sum.tasks},
              {"sim_ms", sum.sim_ms},
              {"requests", sum.requests},
              {"engine_crashes", sum.engine_crashes},
              {"engine_restarts", sum.engine_restarts}};
  // Each counterexample with its context: when (its last event), the fault windows open
  // then, and its task's own events in order.
  std::vector<std::string> tasks;
  std::vector<int64_t> events;
  for (const auto& c : results) {
    for (const auto& ce : c.counterexamples) {
      if (!ce.task.empty()) tasks.push_back(ce.task);
      events.insert(events.end(), ce.events.begin(), ce.events.end());
    }
  }
  std::map<std::string, std::vector<TaskEvent>> task_events;
  std::map<int64_t, double> event_t_s;
  std::string error;
  if (!tasks.empty() || !events.empty()) {
    if (!CollectTaskEvents((dir / "history.jsonl").string(), tasks, events, 40, &task_events,
                           &event_t_s, &error))
      return false;
  }
  for (const auto& c : results) {
    reports::Property p{c.checker, std::string(ToString(c.valid)), c.counts, {}, c.error};
    for (const auto& ce : c.counterexamples) {
      reports::Counterexample out{ce.task, ce.events, ce.explanation, -1, {}, {}};
      for (int64_t i : ce.events) {
        auto it = event_t_s.find(i);
        if (it != event_t_s.end()) out.t_s = std::max(out.t_s, it->second);
      }
      for (const auto& f : timeline.faults) {
        if (out.t_s >= f.start_s && out.t_s <= f.end_s)
          out.faults_open.push_back(f.kind + (f.target.empty() ? "" : " " + f.target));
      }
      for (const TaskEvent& te : task_events[ce.task])
        out.timeline.push_back(
            reports::TimelineRow{te.i, te.t_s, te.proc, te.type, te.f, te.detail});
      p.counterexamples.push_back(std::move(out));
    }
    if (c.checker == "attribution" && c.counts.contains("matrix"))
      r.attribution = c.counts["matrix"].get<decltype(r.attribution)>();
    r.properties.push_back(std::move(p));
  }
  for (const auto& c : roots)
    r.root_causes.push_back(reports::RootCause{c.task, c.blocked, c.examples});
  for (const auto& f : timeline.faults) {
    r.faults.push_back(
        reports::FaultWindow{f.kind, f.target, f.start_s, f.end_s, f.tasks_in_flight, f.requests});
  }
  r.states.t_s = timeline.t_s;
  r.states.tasks = timeline.tasks;
  if (time_scale > 0) {
    // A real run: its calls' throughput and latency, in wall units (run time / K).
    Latency lat;
    if (!BuildLatency((dir / "history.jsonl").string(), 40, &lat, &error)) return false;
    r.time_scale = time_scale;
    r.ops_t_s = lat.t_s;
    const double wall_s = std::max(1e-3, static_cast<double>(sum.sim_ms) / 1000.0 / time_scale);
    for (const auto& [op, o] : lat.ops) {
      reports::OpStats st{op, o.calls, static_cast<double>(o.calls) / wall_s,
                          o.p50_ms / time_scale, o.p99_ms / time_scale, {}, {}, {}};
      for (double x : o.per_s) st.per_s_t.push_back(x * time_scale);
      for (double x : o.p50_ms_t) st.p50_ms_t.push_back(x / time_scale);
      for (double x : o.p99_ms_t) st.p99_ms_t.push_back(x / time_scale);
      r.ops.push_back(std::move(st));
    }
  }
  // Memory: the rss series (real mode) and the OOM kills with the recovery (both modes).
  Memory mem;
  if (!BuildMemory((dir / "history.jsonl").string(), &mem, &error)) return false;
  r.memory.mechanism = mem.mechanism;
  r.memory.worker_limit_mb = static_cast<double>(mem.worker_limit_bytes) / (1 << 20);
  r.memory.sink_limit_mb = static_cast<double>(mem.sink_limit_bytes) / (1 << 20);
  r.memory.t_s = mem.t_s;
  r.memory.oom_kills = mem.oom_kills;
  r.memory.back_to_work_s = mem.back_to_work_s;
  for (const auto& [proc, s] : mem.procs) {
    reports::RssLine line{proc, {}, static_cast<double>(s.peak_bytes) / (1 << 20),
                          s.slope_mb_per_min, s.mb_per_1000_tasks, s.growing, s.oom_kills};
    for (int64_t b : s.bytes) line.mb.push_back(static_cast<double>(b) / (1 << 20));
    r.memory.procs.push_back(std::move(line));
  }
  r.history_sha = FileHash((dir / "history.jsonl").string());
  r.reproduce = command;
  std::ofstream(dir / "command.txt") << command << "\n";
  return reports::WriteAll(r, dir.string());
}

// `ithappens report RUN_DIR`: renders the reports again from RUN_DIR/report.json.
int Rerender(const std::string& dir) {
  std::ifstream in(std::filesystem::path(dir) / "report.json");
  if (!in) {
    std::cerr << "ithappens: " << dir << "/report.json: cannot read\n";
    return kExitUsage;
  }
  try {
    reports::Report r = reports::FromJson(nlohmann::json::parse(in));
    if (!reports::WriteAll(r, dir)) {
      std::cerr << "ithappens: cannot write reports into " << dir << "\n";
      return kExitHarness;
    }
    std::cout << "rendered " << dir << "/report.html, summary.md, junit.xml (" << r.verdict
              << ")\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "ithappens: " << dir << "/report.json is not an ithappens report: " << e.what()
              << "\n";
    return kExitUsage;
  }
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
  auto results = CheckHistoryFile(history, &error);
  if (results.empty()) {
    std::cerr << "ithappens: cannot read back the history: " << error << "\n";
    return kExitHarness;
  }
  auto roots = RootCauses(history, &error);
  Timeline timeline;
  SimSummary sum;
  sum.events = real->events;
  sum.tasks = real->tasks;
  sum.sim_ms = real->scenario_ms;
  sum.requests = real->requests;
  if (!BuildTimeline(history, 200, &timeline, &error) ||
      !WriteReports(dir, s, "real", 0, load, bugs, sum, results, roots, timeline, command,
                    time_scale)) {
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
  uint64_t seed = seed_flag.value_or(s.seed);
  std::filesystem::path dir = std::filesystem::path(out_root) / s.name;
  if (!MakeDirectory(dir / "logs")) return kExitHarness;
  SimOptions o{&s, seed, load, bugs, (dir / "history.jsonl").string(), ProgressPrinter(s.name)};
  auto sum = RunSimulation(o);
  if (!sum.ok()) {
    std::cerr << "ithappens: the harness failed (not the target): " << sum.status().ToString()
              << "\n";
    return kExitHarness;
  }
  std::string command = "ithappens run " + file + " --mode sim --seed " + std::to_string(seed) +
                        " --load " + LoadText(load) + " --out " + out_root + bug_args;
  if (self_check) {
    std::string first = FileHash(o.history_path);
    SimOptions again = o;
    again.history_path = (dir / "history.again.jsonl").string();
    auto sum2 = RunSimulation(again);
    std::string second = sum2.ok() ? FileHash(again.history_path) : "failed";
    std::filesystem::remove(again.history_path);
    if (first != second) {
      std::cerr << "ithappens: determinism self-check FAILED: seed " << seed << " gave histories "
                << first << " and " << second << " (the harness is at fault)\n";
      return kExitHarness;
    }
    std::cout << "determinism self-check: two runs of seed " << seed << " gave history " << first
              << "\n";
  }
  std::string error;
  auto results = CheckHistoryFile(o.history_path, &error);
  if (results.empty()) {
    std::cerr << "ithappens: cannot read back the history: " << error << "\n";
    return kExitHarness;
  }
  auto roots = RootCauses(o.history_path, &error);
  Timeline timeline;
  if (!BuildTimeline(o.history_path, 200, &timeline, &error) ||
      !WriteReports(dir, s, "sim", seed, load, bugs, sum.value(), results, roots, timeline,
                    command)) {
    std::cerr << "ithappens: the harness failed writing the reports: " << error << "\n";
    return kExitHarness;
  }
  Validity v = Compose(results);
  std::cout << s.name << ": " << ToString(v) << " (" << sum->tasks << " tasks, " << sum->events
            << " events, " << sum->sim_ms / 1000 << " simulated s)\n";
  PrintResults(results, std::cout);
  PrintCoverage(timeline, std::cout);
  for (const auto& r : roots) {
    std::cout << "  root cause " << r.task << " kept " << r.blocked << " task(s) from running\n";
  }
  std::cout << "report: " << (dir / "report.html").string() << "\n";
  if (v != Validity::kValid) std::cout << "reproduce: " << command << "\n";
  return ExitFor(v);
}

// A multiplier like "5x", "0.5" or "50X"; false (with *why) outside (0, 1000].
bool ParseLoad(std::string text, double* load, std::string* why) {
  const std::string original = text;
  if (!text.empty() && (text.back() == 'x' || text.back() == 'X')) text.pop_back();
  try {
    size_t used = 0;
    *load = std::stod(text, &used);
    if (used != text.size()) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    *why = "'" + original + "' is not a multiplier like 5x";
    return false;
  }
  if (!(*load > 0 && *load <= 1000)) {
    *why = original + " is outside (0, 1000]x";
    return false;
  }
  return true;
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

int Bench(const std::string& file, const std::vector<double>& loads,
          std::optional<uint64_t> seed_flag, const std::string& out_root,
          const std::string& command) {
  const std::optional<Scenario> scenario = LoadForBench(file, loads);
  if (!scenario) return kExitUsage;
  const Scenario& s = *scenario;
  const uint64_t seed = seed_flag.value_or(s.seed);
  const std::filesystem::path dir = std::filesystem::path(out_root) / s.name;
  if (!MakeDirectory(dir)) return kExitHarness;
  nlohmann::json rows = nlohmann::json::array();
  int worst = kExitValid;
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  std::printf("%s (seed %llu): wall-clock measurements of the simulator and the checkers\n",
              s.name.c_str(), static_cast<unsigned long long>(seed));
  std::printf("%8s %9s %10s %10s %9s %13s %13s %9s %13s  %s\n", "load", "tasks", "events", "sim s",
              "wall s", "lifecycles/s", "sim s/wall s", "check s", "events/s", "verdict");
  for (double load : loads) {
    const std::string history = (dir / ("bench-" + LoadText(load) + ".jsonl")).string();
    SimOptions o{&s, seed, load, {}, history, ProgressPrinter(s.name + " " + LoadText(load))};
    const auto t0 = Clock::now();
    auto sum = RunSimulation(o);
    const auto t1 = Clock::now();
    if (!sum.ok()) {
      std::cerr << "ithappens: the harness failed (not the target): " << sum.status().ToString()
                << "\n";
      return kExitHarness;
    }
    std::string error;
    auto results = CheckHistoryFile(history, &error);
    const auto t2 = Clock::now();
    std::filesystem::remove(history);
    if (results.empty()) {
      std::cerr << "ithappens: cannot read back the history: " << error << "\n";
      return kExitHarness;
    }
    const Validity v = Compose(results);
    worst = std::max(worst, ExitFor(v));
    const double sim_s = seconds(t1 - t0), check_s = seconds(t2 - t1);
    nlohmann::json row = {{"load", load},
                          {"tasks", sum->tasks},
                          {"events", sum->events},
                          {"simulated_s", sum->sim_ms / 1000.0},
                          {"sim_wall_s", sim_s},
                          {"lifecycles_per_s", sum->tasks / sim_s},
                          {"simulated_s_per_wall_s", sum->sim_ms / 1000.0 / sim_s},
                          {"check_wall_s", check_s},
                          {"checked_events_per_s", sum->events / check_s},
                          {"verdict", ToString(v)}};
    std::printf("%8s %9lld %10lld %10.0f %9.3f %13.0f %13.0f %9.3f %13.0f  %s\n",
                LoadText(load).c_str(), static_cast<long long>(sum->tasks),
                static_cast<long long>(sum->events), sum->sim_ms / 1000.0, sim_s,
                sum->tasks / sim_s, sum->sim_ms / 1000.0 / sim_s, check_s, sum->events / check_s,
                std::string(ToString(v)).c_str());
    std::fflush(stdout);
    rows.push_back(std::move(row));
  }
  nlohmann::json report = {{"scenario", s.name}, {"file", file}, {"seed", seed},
                           {"mode", "sim"},      {"rows", rows}, {"command", command}};
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
    auto results = CheckHistoryFile(history, &error);
    Latency lat;
    if (results.empty() || !BuildLatency(history, 1, &lat, &error)) {
      std::cerr << "ithappens: cannot read back the history: " << error << "\n";
      return kExitHarness;
    }
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
  bench->add_option("--out", out, "output root; writes OUT/<scenario>/bench.json");
  std::string bench_mode = "sim";
  bench->add_option("--mode", bench_mode,
                    "sim (the simulator's speed), or real (the real processes at each load)");
  bench->add_option("--time-scale", time_scale,
                    "real mode: K scenario seconds per wall second (default: the scenario's)")
      ->check(CLI::Range(1.0, 100'000.0));

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
                          (seed ? " --seed " + std::to_string(*seed) : "") + " --out " + out;
    return Bench(bench_file, loads, seed, out, command);
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
