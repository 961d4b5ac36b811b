// Real mode's driver (DESIGN.md, "Real mode, in detail"): the scenario against real
// processes — ithappens-engine (SQLite), ithappens-sink and the scenario's workers, under
// the supervisor, each worker's link to the engine through a fault proxy — on the run's
// scaled clock. It writes the same history as the simulator (plan, the clients' creates,
// the workers' calls from their op logs, the sink's deliveries as effects, final statuses),
// merged into OUT/<scenario>/history.jsonl, for the same checkers.
//
// It refuses what it cannot do yet, with exit 2 and the reason: hook workloads, the
// clients' later calls (recreate_s, cancel_s, rerun_s), bound probes and late calls.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "engine/bugs.h"
#include "engine/status.h"
#include "harness/scenario/scenario.h"

namespace ithappens::harness {

struct RealOptions {
  const Scenario* scenario = nullptr;
  double load = 1;
  engine::BugSwitches bugs;
  std::vector<std::string> bug_names;  // passed to the engine and the workers
  std::string run_dir;                 // OUT/<scenario>: history.jsonl, logs/, real/
  std::string bin_dir;                 // where ithappens-engine, -worker, -sink are
  double time_scale = 1;               // K scenario seconds per wall second
  // The platform (harness/real/target.h); nullptr: the reference engine.
  const class RealTarget* target = nullptr;
};

struct RealSummary {
  int64_t events = 0;
  int64_t tasks = 0;
  int64_t scenario_ms = 0;  // run time from the origin to the end
  int64_t wall_ms = 0;
  int64_t requests = 0;
  // Peak resident set of each process (sampled every 50 wall ms from /proc), by name.
  std::map<std::string, int64_t> peak_rss_bytes;
  // Run ms from the end of the workload and the faults (the last fault healed) until no
  // planned task was pending or running; -1 if that never happened before the horizon.
  int64_t drain_ms = -1;
};

// InvalidArgument: what real mode does not do yet (exit 2); other errors: the harness's.
// A fault kind the target does not support is refused too.
engine::Status CheckRealScenario(const Scenario& s, const class RealTarget* target = nullptr);
engine::Result<RealSummary> RunReal(const RealOptions& options);

}  // namespace ithappens::harness
