// The simulated workers (DESIGN.md, "Payload program"): each polls the engine for work,
// runs the programs it claims with the one interpreter the real worker uses
// (worker::RunProgram) on virtual time, keeps its leases alive, delivers effects to the
// sink and reports. The nemesis crashes, restarts, pauses them and makes them leak.
#pragma once

#include <memory>
#include <string>

#include "engine/bugs.h"
#include "harness/scenario/scenario.h"
#include "harness/sim/sink.h"
#include "harness/sim/timers.h"
#include "harness/sim/world.h"

namespace ithappens::harness {

class SimWorkers {
 public:
  SimWorkers(TimerLoop& loop, Driver& driver, SimSink& sink, const Scenario& scenario,
             const engine::BugSwitches& bugs);
  ~SimWorkers();
  // The scenario's workers, each polling from now on.
  void Start();
  // The nemesis's side (index w of worker-w).
  void Crash(int w);
  void Restart(int w);  // a crashed worker comes back (no-op when alive)
  void Pause(int w, int64_t until_ms);
  void Leak(int w, bool leaking);
  // Runs in the workers' hands now (the run is quiet only when none is).
  int Busy() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ithappens::harness
