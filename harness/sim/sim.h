// The simulator (DESIGN.md, "Two modes"): the engine core on a MemoryStore, simulated
// clients, workers, network and sink, and a nemesis, all in one thread on virtual time.
// One seed determines everything: the same scenario, seed, load and bug switches give a
// byte-identical history.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "engine/bugs.h"
#include "engine/status.h"
#include "harness/scenario/scenario.h"

namespace ithappens::harness {

class ByteChannel;  // harness/history/byte_channel.h

// Where a run stands, for a progress display: simulated time so far, the latest it can
// end (the last workload or fault plus heal_s), events recorded. Reported every
// kProgressEvery timers and once at the end (done). Reporting changes nothing in the run.
struct SimProgress {
  int64_t sim_ms = 0;
  int64_t horizon_ms = 0;
  int64_t events = 0;
  bool done = false;
};
inline constexpr int64_t kProgressEvery = 1 << 16;

struct SimOptions {
  const Scenario* scenario = nullptr;
  uint64_t seed = 1;
  double load = 1.0;  // multiplies task counts
  engine::BugSwitches bugs;
  std::string history_path;
  std::function<void(const SimProgress&)> progress;  // optional
  // Optional: the history's bytes also go here as they are written (a reader on another
  // thread judges the run meanwhile). The history's writer closes it when it ends; a run
  // refused before it began writes nothing and leaves it open (its owner closes it).
  ByteChannel* history_tee = nullptr;
};

struct SimSummary {
  int64_t events = 0;
  int64_t tasks = 0;
  int64_t sim_ms = 0;
  int64_t engine_crashes = 0;   // power cuts by the nemesis
  int64_t engine_restarts = 0;  // after a failed commit (a disk fault)
  int64_t requests = 0;
};

engine::Result<SimSummary> RunSimulation(const SimOptions& options);

}  // namespace ithappens::harness
