// Exploration (DESIGN.md, "Exploration, shrinking, sharding"): many seeds of a scenario,
// each with a fault schedule drawn from the scenario's `explore:` section (or its own
// faults shuffled in time and length), run in the simulator on all cores and checked; a
// violation shrunk to a small scenario that still violates the same property; the seed
// space split into shards whose results merge into those of one unsharded run.
//
// Everything here is a function of its inputs: a seed's schedule and run depend on the
// seed only, shrinking tries its candidates in a fixed order, and the results of a run
// with J jobs are those of a run with one (only the wall time differs).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/bugs.h"
#include "harness/checker.h"
#include "harness/scenario/scenario.h"
#include "reports/report.h"

namespace ithappens::harness {

// The load written into the counts (tasks, chains, graphs, appointments, hooks, per_s, a
// fan-out's width within the engine's bound; at least 1 each), so the scenario runs at 1x
// and a file written from it needs no --load.
Scenario BakeLoad(const Scenario& s, double load);

// The seed's scenario: the base's workload and settings, `seed: seed`, and faults drawn
// from the base's explore section (without one: the base's own faults, each at a random
// second of the horizon and 1 s to twice its length), sorted by start; no explore section.
Scenario DrawSeedScenario(const Scenario& base, uint64_t seed);

// Seed number of exploration index k.
inline uint64_t ExploreSeed(uint64_t base_seed, int64_t index) {
  return base_seed + static_cast<uint64_t>(index);
}

struct SeedOutcome {
  int64_t index = 0;
  uint64_t seed = 0;
  Validity verdict = Validity::kUnknown;
  std::vector<std::string> violated;  // the invalid properties, in checker order
  int64_t tasks = 0, events = 0, faults = 0;
  std::string error;  // why the harness could not judge it (verdict unknown)
};

// Runs s under its own seed in the simulator (load 1) into history_path and checks it.
// The history stays (the caller removes it); results, if given, receives the checkers'.
SeedOutcome RunAndCheck(const Scenario& s, const engine::BugSwitches& bugs,
                        const std::string& history_path,
                        std::vector<CheckResult>* results = nullptr);

// How big a scenario is, for the original/minimal comparison.
reports::ScheduleSide Describe(const Scenario& s, const std::string& file);

struct ShrinkResult {
  Scenario minimal;
  int runs = 0;                  // candidates run
  std::vector<std::string> log;  // the steps kept, in order
};

// Shrinks `failing` (which violates `property`) while the property still fails: fewer
// faults, fewer workload lines, fewer tasks (chains, graphs, arrivals), shorter chains and
// fan-outs, fewer workers, clients and slots, shorter fault windows, in passes until none
// helps or max_runs candidates ran. Deterministic. Candidate histories go to scratch_dir.
ShrinkResult Shrink(const Scenario& failing, const std::string& property,
                    const engine::BugSwitches& bugs, const std::string& scratch_dir,
                    int max_runs);

struct ExploreProgress {
  int64_t done = 0;
  int64_t planned = -1;  // -1: until the time budget ends
  double elapsed_s = 0;
  std::map<std::string, int64_t> violations;  // property -> seeds violating it so far
};

struct ExploreOptions {
  const Scenario* scenario = nullptr;  // the load baked in
  uint64_t base_seed = 1;
  int64_t seeds = 100;        // indices 0..seeds-1 (this shard's share of them)
  double time_budget_s = 0;   // > 0: no seed count; indices until the budget ends
  int jobs = 1;
  int shard = 0, shards = 1;  // this shard takes the indices k with k % shards == shard
  bool keep_going = false;    // else stop after the first violating index
  engine::BugSwitches bugs;
  std::string scratch_dir;
  std::function<void(const ExploreProgress&)> progress;  // from the worker threads, serialised
};

struct ExploreRun {
  std::vector<SeedOutcome> seeds;  // by index; a contiguous run of this shard's indices
  bool stopped_early = false;      // the first violation ended it (no --keep-going)
  double wall_s = 0;
};

ExploreRun Explore(const ExploreOptions& o);

// Joins shard reports (explore.json models) into the report of one unsharded run: the
// seeds of all shards by index (cut at the first violation, as one run would have been,
// unless keep_going), the counts and verdicts recomputed, each property's details from
// the shard that met its first violation. Fails with the reason when the shards do not
// belong together (scenario, seeds, bug switches, shard count) or one is missing.
engine::Result<reports::ExploreReport> MergeExplore(std::vector<reports::ExploreReport> shards);

// Recomputes counts, verdict and per-property tallies from the seed rows.
void Tally(reports::ExploreReport* r);

}  // namespace ithappens::harness
