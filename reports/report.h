// The report model (a plain struct that mirrors report.json) and its writers: JSON, JUnit
// XML, Markdown and a self-contained HTML page with inline SVG. This library includes
// nothing else of ithappens: the harness fills the model, `ithappens report RUN_DIR`
// re-reads report.json and renders again.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ithappens::reports {

// One event of a counterexample's task, in history order; `i` is line i + 1 of
// history.jsonl.
struct TimelineRow {
  int64_t i = 0;
  double t_s = 0;
  std::string proc, type, f, detail;
};

struct Counterexample {
  std::string task;
  std::vector<int64_t> events;
  std::string explanation;
  double t_s = -1;                       // when it happened (its last event), scenario s
  std::vector<std::string> faults_open;  // the fault windows open then ("kind target")
  std::vector<TimelineRow> timeline;     // the task's own events
};

struct Property {
  std::string name;
  std::string verdict;  // valid | invalid | unknown
  nlohmann::json counts = nlohmann::json::object();
  std::vector<Counterexample> counterexamples;
  std::string error;
};

struct RootCause {
  std::string task;
  int64_t blocked = 0;
  std::vector<std::string> examples;
};

struct FaultWindow {
  std::string kind;
  std::string target;
  double start_s = 0;
  double end_s = 0;
  int64_t tasks_in_flight = -1;  // -1: not measured
  int64_t requests = -1;
  bool TouchedNothing() const { return tasks_in_flight == 0 && requests == 0; }
};

// Tasks per state over time (seconds since the run began), sampled at `t_s`.
struct StateSeries {
  std::vector<double> t_s;
  std::map<std::string, std::vector<int64_t>> tasks;  // state -> count at each t_s
};

// A real run's calls of one operation (create, claim, report-completed, ...), in wall
// units: answered calls, answers per wall second and latency quantiles over the run and
// in each bucket of `Report::ops_t_s` (0 where a bucket had no answer).
struct OpStats {
  std::string op;
  int64_t calls = 0;
  double per_s = 0, p50_ms = 0, p99_ms = 0;
  std::vector<double> per_s_t, p50_ms_t, p99_ms_t;
};

// A real run's memory: one process's resident set over time (MiB at each of
// MemoryReport::t_s, 0 while it was down) and the leak detector's verdict on it.
struct RssLine {
  std::string proc;
  std::vector<double> mb;
  double peak_mb = 0, slope_mb_per_min = 0, mb_per_1000_tasks = 0;
  bool growing = false;  // unbounded growth (the detector: harness/history/timeline.h)
  int oom_kills = 0;
};

struct MemoryReport {
  std::string mechanism;  // how the limits were enforced: cgroup-v1, cgroup-v2, rlimit-as
  double worker_limit_mb = 0, sink_limit_mb = 0;
  std::vector<double> t_s;
  std::vector<RssLine> procs;
  std::vector<std::pair<double, std::string>> oom_kills;  // run s, process
  std::vector<double> back_to_work_s;  // per OOM kill: until its next claim with runs; -1 never
};

struct Report {
  std::string scenario, file, mode, engine_bugs, verdict, history_sha, reproduce;
  double time_scale = 0;  // real mode's K run seconds per wall second; 0: simulated
  std::vector<double> ops_t_s;  // bucket starts, run seconds (as every time in the report)
  std::vector<OpStats> ops;     // real mode only
  MemoryReport memory;          // real mode only (empty t_s: none)
  uint64_t seed = 0;
  double load = 1;
  nlohmann::json counts = nlohmann::json::object();
  std::vector<Property> properties;
  std::vector<RootCause> root_causes;
  std::vector<FaultWindow> faults;
  StateSeries states;
  // Ground truth (what the plan says a task must end as) x outcome (how it ended): counts.
  std::map<std::string, std::map<std::string, int64_t>> attribution;
};

nlohmann::json ToJson(const Report& r);
// Throws nlohmann::json::exception on a report.json that is not ours.
Report FromJson(const nlohmann::json& j);

std::string RenderJunit(const Report& r);
std::string RenderMarkdown(const Report& r);
std::string RenderHtml(const Report& r);

// `ithappens bench --mode real`'s page: the scaling table (one row per load) and plots of
// throughput and p99 latency against the load. `bench` is bench.json's object.
std::string RenderBenchHtml(const nlohmann::json& bench);

// Writes report.json, junit.xml, summary.md and report.html into dir. False if a file
// could not be written.
bool WriteAll(const Report& r, const std::string& dir);

// ---- `ithappens explore` (explore.json mirrors ExploreReport) ----

// One side of the original/minimal comparison of a counterexample's scenario.
struct ScheduleSide {
  std::string file;                   // the scenario file, relative to the explore's directory
  std::vector<std::string> faults;    // "worker-crash worker-0 at 12 s for 30 s"
  std::vector<std::string> workload;  // "batch: 60 tasks at 0 s"
  int workers = 0, clients = 0, capacity = 0;
  int64_t tasks = 0;  // planned tasks
};

struct ExploreProperty {
  // One not yet violated (every other member at its default).
  static ExploreProperty Named(std::string name) {
    ExploreProperty p;
    p.name = std::move(name);
    return p;
  }
  std::string name;
  int64_t seeds_violated = 0;
  int64_t first_index = -1;  // the first seed index that violated it; -1: none
  uint64_t first_seed = 0;
  ScheduleSide original, minimal;
  int shrink_runs = 0;
  std::vector<std::string> shrink_log;
  std::string minimal_yaml;    // the minimal scenario file's text
  std::string reproduce;       // the command that reproduces it (exit 1, this property)
  std::string minimal_report;  // the minimal run's report.html, relative to the explore's dir
  // The minimal scenario without the bug switches: valid (the switch is the cause),
  // invalid (it fails on the correct engine too), "" (no switch was on).
  std::string minimal_without_bugs;
  std::vector<Counterexample> counterexamples;  // the minimal run's, for this property
};

struct ExploreSeed {
  int64_t index = 0;
  uint64_t seed = 0;
  std::string verdict;
  std::vector<std::string> violated;
  int64_t tasks = 0, events = 0, faults = 0;
  std::string error;
};

struct ExploreReport {
  std::string scenario, file, engine_bugs, verdict, command;
  std::string scenario_digest;  // of the explored scenario (load baked): shards must agree
  uint64_t base_seed = 0;
  int64_t seeds_planned = -1;  // -1: a time budget
  double time_budget_s = 0, load = 1, wall_s = 0;
  int jobs = 1, shard = 0, shards = 1;
  bool keep_going = false, stopped_early = false;
  std::vector<int> merged_shards;  // a merge: the shards it joined
  nlohmann::json counts = nlohmann::json::object();  // seeds, valid, invalid, unknown
  std::vector<ExploreProperty> properties;  // every property, violated or not
  std::vector<ExploreSeed> seeds;           // by index
};

// "3 faults, 1 workload line (12 tasks), 2 workers x 4, 1 client": a side in one line.
std::string SideLine(const ScheduleSide& s);

nlohmann::json ToJson(const ExploreReport& r);
// Throws nlohmann::json::exception on an explore.json that is not ours.
ExploreReport ExploreFromJson(const nlohmann::json& j);
std::string RenderExploreJunit(const ExploreReport& r);
std::string RenderExploreMarkdown(const ExploreReport& r);
std::string RenderExploreHtml(const ExploreReport& r);
// Writes explore.json, junit.xml, summary.md and report.html into dir.
bool WriteExplore(const ExploreReport& r, const std::string& dir);

}  // namespace ithappens::reports
