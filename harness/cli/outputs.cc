#include "harness/cli/outputs.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <system_error>
#include <thread>
#include <vector>

#include "harness/load/workload.h"
#include "harness/sim/heap.h"
#include "reports/report.h"

namespace ithappens::harness {

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

namespace {
// A file's hash, 8 bytes at a time in four independent lanes (a multiply and a rotate
// each; the structure of xxHash64, written here): about ten times FNV-1a's byte at a time,
// which was 13% of `ithappens bench` (each round's history is hashed) and 11% of a run.
// Only ever compared with itself (a bench's rounds, a run's self-check, reports of one
// build); the digests the checkers compare keep their function (engine::StableHash).
constexpr uint64_t kP1 = 0x9E3779B185EBCA87ULL, kP2 = 0xC2B2AE3D27D4EB4FULL,
                   kP3 = 0x165667B19E3779F9ULL, kP4 = 0x85EBCA77C2B2AE63ULL,
                   kP5 = 0x27D4EB2F165667C5ULL;
uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
uint64_t Lane(uint64_t acc, uint64_t in) { return Rotl(acc + in * kP2, 31) * kP1; }
uint64_t Word(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}
uint64_t WideHash(const char* p, size_t n, uint64_t seed) {
  const char* const end = p + n;
  uint64_t h;
  if (n >= 32) {
    uint64_t a = seed + kP1 + kP2, b = seed + kP2, c = seed, d = seed - kP1;
    for (; end - p >= 32; p += 32) {
      a = Lane(a, Word(p));
      b = Lane(b, Word(p + 8));
      c = Lane(c, Word(p + 16));
      d = Lane(d, Word(p + 24));
    }
    h = Rotl(a, 1) + Rotl(b, 7) + Rotl(c, 12) + Rotl(d, 18);
    for (uint64_t lane : {a, b, c, d}) h = (h ^ Lane(0, lane)) * kP1 + kP4;
  } else {
    h = seed + kP5;
  }
  h += static_cast<uint64_t>(n);
  for (; end - p >= 8; p += 8) h = Rotl(h ^ Lane(0, Word(p)), 27) * kP1 + kP4;
  for (; p < end; ++p) h = Rotl(h ^ (static_cast<unsigned char>(*p) * kP5), 11) * kP1;
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  return h ^ (h >> 32);
}
}  // namespace

std::string FileHash(const std::string& path) {
  // Chained over 1 MiB chunks: a history of gigabytes is never held in memory (it was, twice,
  // once read and once copied out of a stringstream).
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chunk(1 << 20);
  uint64_t h = 0;
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto n = static_cast<size_t>(in.gcount());
    if (n == 0) break;
    h = WideHash(chunk.data(), n, h);
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string LoadText(double load) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, load);
  return (ec == std::errc() ? std::string(buf, end) : std::to_string(load)) + "x";
}

bool ProgressPrinter::IsTerminal() { return isatty(2) != 0; }

void ProgressPrinter::operator()(const SimProgress& p) {
  if (p.done) {
    Line("", true);
    return;
  }
  char buf[256];
  std::snprintf(buf, sizeof buf, "simulated %lld of at most %lld s, %lld events",
                static_cast<long long>(p.sim_ms / 1000), static_cast<long long>(p.horizon_ms / 1000),
                static_cast<long long>(p.events));
  Line(buf, false);
}

void ProgressPrinter::Line(const std::string& text, bool done) {
  const auto now = Clock::now();
  if (done) {
    if (tty_ && drawn_) std::fprintf(stderr, "\r\033[K");
    drawn_ = false;
    return;
  }
  if (now - last_ < (tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(10'000)))
    return;
  last_ = now;
  const double elapsed_s = std::chrono::duration<double>(now - start_).count();
  std::fprintf(stderr, tty_ ? "\r\033[K%s: %s (%.0f s)" : "ithappens: %s: %s after %.0f s\n",
               name_.c_str(), text.c_str(), elapsed_s);
  drawn_ = tty_;
}

namespace {
// check(also) runs the checkers over the history, `also` seeing each event after them.
bool ReadFacts(
    const std::function<std::vector<CheckResult>(const std::function<void(const EventView&)>&)>&
        check,
    const std::string& name, int latency_buckets, HistoryFacts* out, std::string* error) {
  RootCauseCollector roots;
  TimelineBuilder timeline;
  MemoryBuilder memory;
  LatencyBuilder latency;
  std::string failed;  // a builder's exception: the read goes on for the checkers' sake
  out->results = check([&](const EventView& e) {
    if (!failed.empty()) return;
    try {
      roots.Observe(e);
      timeline.Observe(e);
      memory.Observe(e);
      if (latency_buckets > 0) latency.Observe(e);
    } catch (const std::exception& ex) {
      failed = "event " + std::to_string(e.i) + ": " + ex.what();
    }
  });
  if (out->results.empty()) return false;
  if (!failed.empty()) {
    *error = name + ": building the report's series: " + failed;
    return false;
  }
  out->roots = roots.Take();
  timeline.Finish(200, &out->timeline);
  memory.Finish(&out->memory);
  if (latency_buckets > 0) latency.Finish(latency_buckets, &out->latency);
  return true;
}
}  // namespace

bool ReadHistoryFacts(const std::string& history_path, int latency_buckets, HistoryFacts* out,
                      std::string* error) {
  return ReadFacts([&](const auto& also) { return CheckHistoryFile(history_path, error, also); },
                   history_path, latency_buckets, out, error);
}

bool ReadHistoryFacts(const ByteSource& read, const std::string& name, int latency_buckets,
                      HistoryFacts* out, std::string* error) {
  return ReadFacts([&](const auto& also) { return CheckHistory(read, name, error, also); }, name,
                   latency_buckets, out, error);
}

bool WriteReports(const std::filesystem::path& dir, const Scenario& s, const std::string& mode,
                  uint64_t seed, double load, const engine::BugSwitches& bugs,
                  const SimSummary& sum, const HistoryFacts& facts, const std::string& command,
                  std::string* error, double time_scale) {
  const std::vector<CheckResult>& results = facts.results;
  const Timeline& timeline = facts.timeline;
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
  if (!tasks.empty() || !events.empty()) {
    if (!CollectTaskEvents((dir / "history.jsonl").string(), tasks, events, 40, &task_events,
                           &event_t_s, error)) {
      *error = "collecting the counterexamples' events: " + *error;
      return false;
    }
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
  for (const auto& c : facts.roots)
    r.root_causes.push_back(reports::RootCause{c.task, c.blocked, c.examples});
  for (const auto& f : timeline.faults) {
    r.faults.push_back(
        reports::FaultWindow{f.kind, f.target, f.start_s, f.end_s, f.tasks_in_flight, f.requests});
  }
  r.states.t_s = timeline.t_s;
  r.states.tasks = timeline.tasks;
  if (time_scale > 0) {
    // A real run: its calls' throughput and latency, in wall units (run time / K).
    const Latency& lat = facts.latency;
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
  const Memory& mem = facts.memory;
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
  if (!reports::WriteAll(r, dir.string())) {
    *error = "cannot write the report files (report.json, junit.xml, summary.md, report.html) in " +
             dir.string();
    return false;
  }
  return true;
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

bool ReadDuringRun(double expected_tasks) {
  if (const char* set = std::getenv("ITHAPPENS_READ_DURING_RUN");
      set != nullptr && (std::strcmp(set, "0") == 0 || std::strcmp(set, "1") == 0))
    return set[0] == '1';
  constexpr double kReaderBytesPerTask = 1536;  // 1.1 KB measured at 10^6, with a margin
  const int64_t left = MemoryLeftBytes();
  return left < 0 || expected_tasks * kReaderBytesPerTask <= static_cast<double>(left) / 4;
}

namespace {

// Runs the simulation, then its checkers and report series read its history (*read:
// whether it read back, else *read_error).
engine::Result<SimSummary> SimulateThenRead(const SimOptions& o, HistoryFacts* facts, bool* read,
                                            std::string* read_error) {
  auto simulated = RunSimulation(o);
  if (simulated.ok()) *read = ReadHistoryFacts(o.history_path, 0, facts, read_error);
  return simulated;
}

// Runs the simulation while its checkers and report series read its history on another
// thread (ReadHistoryFacts over a tee of the file's bytes): a run takes about as long as
// its simulation, not that plus a read of its history, and says the same (the lines are
// the file's, in its order). *read: whether the history read back (else *read_error).
engine::Result<SimSummary> SimulateAndRead(SimOptions o, HistoryFacts* facts, bool* read,
                                           std::string* read_error) {
  ByteChannel tee;
  std::exception_ptr read_threw;  // out of memory, say: rethrown here, reported as any other
  std::thread reader;
  try {
    reader = std::thread([&] {
      try {
        *read = ReadHistoryFacts([&](char* dst, size_t n) { return tee.Read(dst, n); },
                                 o.history_path, 0, facts, read_error);
      } catch (...) {
        read_threw = std::current_exception();
      }
      tee.Abandon();  // a reader that stopped early never holds the simulator up
    });
  } catch (const std::system_error&) {  // no thread to be had: read after the run
    return SimulateThenRead(o, facts, read, read_error);
  }
  std::optional<engine::Result<SimSummary>> simulated;
  {
    // However the simulation ends (an exception too), the reader sees the end and is
    // joined before anything it writes to is gone.
    struct Join {
      ByteChannel& tee;
      std::thread& reader;
      ~Join() {
        tee.Close();
        reader.join();
      }
    } join{tee, reader};
    o.history_tee = &tee;
    simulated.emplace(RunSimulation(o));
  }
  if (read_threw) std::rethrow_exception(read_threw);
  return std::move(*simulated);
}

}  // namespace

SimRun RunSimAndReport(const Scenario& s, const std::string& file, const std::string& out_root,
                       uint64_t seed, double load, const engine::BugSwitches& bugs,
                       const std::string& bug_args, bool self_check, bool show_progress) {
  SimRun run;
  run.dir = std::filesystem::path(out_root) / s.name;
  if (!MakeDirectory(run.dir / "logs")) return run;
  SimOptions o{&s, seed, load, bugs, (run.dir / "history.jsonl").string(), nullptr};
  if (show_progress) o.progress = ProgressPrinter(s.name);
  HistoryFacts facts;
  bool read = false;
  std::string read_error;
  const engine::Result<SimSummary> sum = ReadDuringRun(SizeOfRun(s, load).tasks)
                                             ? SimulateAndRead(o, &facts, &read, &read_error)
                                             : SimulateThenRead(o, &facts, &read, &read_error);
  if (!sum.ok()) {
    std::cerr << "ithappens: the harness failed (not the target): " << sum.status().ToString()
              << "\n";
    return run;
  }
  run.summary = *sum;
  run.command = "ithappens run " + file + " --mode sim --seed " + std::to_string(seed) +
                " --load " + LoadText(load) + " --out " + out_root + bug_args;
  if (self_check) {
    std::string first = FileHash(o.history_path);
    SimOptions again = o;
    again.history_path = (run.dir / "history.again.jsonl").string();
    auto sum2 = RunSimulation(again);
    std::string second = sum2.ok() ? FileHash(again.history_path) : "failed";
    std::filesystem::remove(again.history_path);
    if (first != second) {
      std::cerr << "ithappens: determinism self-check FAILED: seed " << seed << " gave histories "
                << first << " and " << second << " (the harness is at fault)\n";
      return run;
    }
    std::cout << "determinism self-check: two runs of seed " << seed << " gave history " << first
              << "\n";
  }
  std::string error;
  if (!read) {
    std::cerr << "ithappens: cannot read back the history: " << read_error << "\n";
    return run;
  }
  const bool written =
      WriteReports(run.dir, s, "sim", seed, load, bugs, run.summary, facts, run.command, &error);
  run.results = std::move(facts.results);
  run.roots = std::move(facts.roots);
  run.timeline = std::move(facts.timeline);
  if (!written) {
    std::cerr << "ithappens: the harness failed writing the reports: " << error << "\n";
    return run;
  }
  run.exit = ExitFor(Compose(run.results));
  return run;
}

}  // namespace ithappens::harness
