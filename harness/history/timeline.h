// What a history looks like over time, for the report's plot: tasks per state as the
// harness observed them (create ok: pending; a hook's fire: pending from the fire time;
// claimed: running; an accepted report: its outcome; the final read: the platform's last
// word, placed when the last run resolved if it is terminal), sampled at evenly spaced
// times, and the fault windows (each "X-start" paired with its "X-stop").
//
// Each Build* below reads the history for itself. A run that needs several of them (its
// reports need the timeline, the memory series and, in real mode, the latency, besides the
// checkers' results) feeds one read to their builders instead: each builder observes the
// events of one ReadEvents pass in order (task indices are that pass's own), then Finish.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "harness/event.h"

namespace ithappens::harness {

// A fault window and what it met (fault coverage): the tasks in flight during it (created,
// not yet resolved) and the requests carrying work (a call about a task, or a claim that
// handed out runs) that the fault could touch: any for an engine-wide fault, the target's
// own for one aimed at a process (deliveries for the sink). A window that met nothing
// proves nothing: the report says so.
struct FaultSpan {
  std::string kind;
  std::string target;
  double start_s = 0;
  double end_s = 0;
  int64_t tasks_in_flight = 0;
  int64_t requests = 0;
  bool TouchedNothing() const { return tasks_in_flight == 0 && requests == 0; }
};

struct Timeline {
  std::vector<double> t_s;
  std::map<std::string, std::vector<int64_t>> tasks;  // state -> count at each t_s
  std::vector<FaultSpan> faults;
};

// False (with *error naming the line) on a malformed history.
bool BuildTimeline(const std::string& history_path, int samples, Timeline* out, std::string* error);

class TimelineBuilder {
 public:
  void Observe(const EventView& e);
  // The plot sampled at `samples` (at least 2) evenly spaced times; the builder is spent.
  void Finish(int samples, Timeline* out);

 private:
  static constexpr uint32_t kNoState = UINT32_MAX;
  struct Move {  // a task entering a state at t_ms (16 bytes: a 10^6-task history has 3x that)
    int64_t t_ms;
    uint32_t task;   // this builder's dense index, in order of first move
    uint32_t state;  // into states_
  };
  struct Hash {  // heterogeneous lookup: a name from the line needs no string of its own
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  using Names = std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>>;
  void Add(uint32_t task_ix, std::string_view task, int64_t t_ms, std::string_view state);
  uint32_t State(std::string_view name);

  std::vector<uint32_t> task_of_ix_;  // the reader's task index -> this builder's
  Names task_of_name_;                // tasks the reader gave no index (an empty id)
  uint32_t tasks_ = 0;
  std::vector<std::string> states_;
  Names state_of_name_;
  uint32_t last_state_ = kNoState;  // the state asked for last
  std::vector<Move> moves_;
  std::vector<FaultSpan> faults_;
  // (kind, target) -> the open span's index in faults_ (its end is set when it closes)
  std::map<std::pair<std::string, std::string>, size_t> open_;
  std::unordered_map<std::string, int64_t, Hash, std::equal_to<>> fired_at_;  // hook task -> fire
  int64_t t_max_ms_ = 0;
};

// Calls per operation over time (a real run's throughput and latency): each invoke paired
// with its answer (ok, fail or info) by process, call and task. Times are run time: a
// real run divides them by its time scale for wall time (its clocks are derived so).
struct OpSeries {
  int64_t calls = 0;  // answered
  double p50_ms = 0, p99_ms = 0;
  std::vector<double> per_s;           // answers per run second, in each bucket
  std::vector<double> p50_ms_t, p99_ms_t;  // latency of the answers in each bucket (0: none)
};

struct Latency {
  std::vector<double> t_s;  // each bucket's start
  std::map<std::string, OpSeries> ops;
};

// False (with *error naming the line) on a malformed history.
bool BuildLatency(const std::string& history_path, int buckets, Latency* out, std::string* error);

class LatencyBuilder {
 public:
  void Observe(const EventView& e);
  // The series in `buckets` (at least 1) equal spans of run time; the builder is spent.
  void Finish(int buckets, Latency* out);

 private:
  struct Answer {
    int64_t t_ns;
    double ms;
  };
  std::map<std::string, std::vector<Answer>> answers_;  // op -> its answered calls
  std::unordered_map<std::string, int64_t> open_;       // proc \n f \n task -> invoke time
  std::string key_;
  int64_t t_max_ns_ = 0;
};

// Memory over time (real mode): each process's resident set as the supervisor sampled it
// (`rss` events: {"bytes":{"<process>":N,...}}, at most every 250 wall ms), the limit the
// run put on it (the "started" event's memory_limit), its OOM kills, and the leak
// detector's verdict. A process's *life* runs from its start to its end (an OOM kill, a
// crash); the detector fits a least-squares line to each life and flags unbounded growth:
// a life that ended in an OOM kill, or whose later half still grew by at least 16 MiB and
// a quarter of its start at a steady rate. The slope reported is the steepest life's, per
// run minute and per 1,000 task runs resolved meanwhile (all workers' reports).
struct RssSeries {
  std::vector<int64_t> bytes;  // at each Memory::t_s (0: not running)
  int64_t peak_bytes = 0;
  double slope_mb_per_min = 0, mb_per_1000_tasks = 0;
  bool growing = false;
  int oom_kills = 0;
};

struct Memory {
  std::string mechanism;  // cgroup-v1, cgroup-v2, rlimit-as; "" when the run names none
  int64_t worker_limit_bytes = 0, sink_limit_bytes = 0;
  std::vector<double> t_s;
  std::map<std::string, RssSeries> procs;
  std::vector<std::pair<double, std::string>> oom_kills;  // when, whom
  // For each OOM kill: run seconds until that process was back at work (its next claim
  // answered with runs); -1: never within the run.
  std::vector<double> back_to_work_s;
};

// False (with *error naming the line) on a malformed history. A history without rss
// events (the simulator's) gives an empty Memory.
bool BuildMemory(const std::string& history_path, Memory* out, std::string* error);

class MemoryBuilder {
 public:
  void Observe(const EventView& e);
  // The series and the detector's verdicts; the builder is spent.
  void Finish(Memory* out);

 private:
  Memory memory_;
  std::vector<double> report_t_s_;  // when each task run was resolved (reports accepted)
  std::vector<std::map<std::string, int64_t>> samples_;
  std::map<std::string, std::vector<double>> oom_at_;   // process -> its OOM kills' times
  std::map<std::string, std::vector<double>> work_at_;  // process -> claims that got runs
};

// One event of a task's own story (a counterexample's timeline, as Jepsen's for
// operations). `i` is the event's number: line i + 1 of history.jsonl.
struct TaskEvent {
  int64_t i = 0;
  double t_s = 0;
  std::string proc, type, f, detail;  // detail: the value, or the error
};

// For the report's counterexamples: the events of each of `tasks` in history order (at
// most max_per_task each, the first ones and the last ones), and the time of each event
// number in `events`. Claims count as a task's events when they hand it out. False (with
// *error) on a malformed history.
bool CollectTaskEvents(const std::string& history_path, const std::vector<std::string>& tasks,
                       const std::vector<int64_t>& events, size_t max_per_task,
                       std::map<std::string, std::vector<TaskEvent>>* by_task,
                       std::map<int64_t, double>* event_t_s, std::string* error);

}  // namespace ithappens::harness
