// What the commands of `ithappens` share (harness/cli/main.cc, explore_command.cc): exit
// codes, the output directory, the progress line, and a simulated run with its reports.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/bugs.h"
#include "harness/checker.h"
#include "harness/history/history.h"
#include "harness/history/timeline.h"
#include "harness/scenario/scenario.h"
#include "harness/sim/sim.h"

namespace ithappens::harness {

inline constexpr int kExitValid = 0, kExitInvalid = 1, kExitUsage = 2, kExitHarness = 3;

// The output directory, or false after saying why: the environment's fault (a read-only
// or missing --out), exit 3, never an exception out of main.
bool MakeDirectory(const std::filesystem::path& dir);
int ExitFor(Validity v);
// 16 hex digits of the file's stable hash.
std::string FileHash(const std::string& path);
// The multiplier as a user would type it: 1x, 10x, 0.25x (the shortest exact form).
std::string LoadText(double load);
// A multiplier like "5x", "0.5" or "50X"; false (with *why) outside (0, 1000].
bool ParseLoad(std::string text, double* load, std::string* why);

// The progress of a long run on stderr (wall-clock paced; the run itself never reads the
// wall clock): on a terminal one line redrawn at most five times a second and erased at
// the end; elsewhere (CI) a plain line every 10 s, so short runs stay quiet.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(std::string name)
      : name_(std::move(name)), tty_(IsTerminal()), start_(Clock::now()), last_(start_) {}
  void operator()(const SimProgress& p);
  // One line of any text, paced the same way; done erases it on a terminal.
  void Line(const std::string& text, bool done);

 private:
  using Clock = std::chrono::steady_clock;
  static bool IsTerminal();
  std::string name_;
  bool tty_;
  bool drawn_ = false;
  Clock::time_point start_, last_;
};

// What a run's reports need from its history, from one read of it (a 10^5-task history
// is 160 MB; it was read once for each of these): the checkers' results, the cascades'
// root causes, the timeline (200 samples), the memory series and, for a real run
// (latency_buckets > 0), its calls' latency in that many buckets.
struct HistoryFacts {
  std::vector<CheckResult> results;
  std::vector<RootCause> roots;
  Timeline timeline;
  Memory memory;
  Latency latency;
};
// False (with *error naming the line, or what failed) when the history does not read back.
bool ReadHistoryFacts(const std::string& history_path, int latency_buckets, HistoryFacts* out,
                      std::string* error);
// The same over the history's bytes from a source (ReadEvents' ByteSource); `name` stands
// for the file in messages.
bool ReadHistoryFacts(const ByteSource& read, const std::string& name, int latency_buckets,
                      HistoryFacts* out, std::string* error);

// Fills the report model (reports/report.h) from the run and writes every report file.
// time_scale > 0: a real run (facts.latency is in the report). False with *error saying
// what could not be read or written.
bool WriteReports(const std::filesystem::path& dir, const Scenario& s, const std::string& mode,
                  uint64_t seed, double load, const engine::BugSwitches& bugs,
                  const SimSummary& sum, const HistoryFacts& facts, const std::string& command,
                  std::string* error, double time_scale = 0);

// Whether a simulated run reads its history while it is written (on another thread, 10-25%
// faster on two cores) or after the simulation (the reader's memory, ~1.1 KB per task at
// 10^6, then reuses what the simulator freed instead of adding to it). During, unless the
// reader's memory (1.5 KB per expected task) would be over a quarter of what this process
// may still use (MemoryLeftBytes, harness/sim/heap.h). ITHAPPENS_READ_DURING_RUN=1 or 0
// decides instead. Either way the verdicts and reports are the same.
bool ReadDuringRun(double expected_tasks);

// One simulated run as `ithappens run` makes it: OUT/<scenario>/ with the history and
// every report. exit is what `run` would exit with; on exit 3 the reason is printed.
struct SimRun {
  int exit = kExitHarness;
  std::filesystem::path dir;
  std::string command;
  SimSummary summary;
  std::vector<CheckResult> results;
  std::vector<RootCause> roots;
  Timeline timeline;
};
SimRun RunSimAndReport(const Scenario& s, const std::string& file, const std::string& out_root,
                       uint64_t seed, double load, const engine::BugSwitches& bugs,
                       const std::string& bug_args, bool self_check, bool show_progress);

}  // namespace ithappens::harness
