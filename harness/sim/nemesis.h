// The simulator's Nemesis (harness/parts.h): each fault kind changes the simulated world
// (workers, network, engine, sink, disk). The driver records the fault events around it.
#pragma once

#include <cstdint>

#include "harness/parts.h"
#include "harness/sim/disk.h"
#include "harness/sim/network.h"
#include "harness/sim/sink.h"
#include "harness/sim/timers.h"
#include "harness/sim/workers.h"
#include "harness/targets/in_process_engine.h"

namespace ithappens::harness {

class SimNemesis final : public Nemesis {
 public:
  struct World {
    TimerLoop& loop;
    SimWorkers& workers;
    SimNetwork& network;
    InProcessEngine& engine;
    SimSink& sink;
    SimDisk& disk;
    int64_t& engine_crashes;  // counted for the summary
  };
  explicit SimNemesis(World world) : w_(world) {}
  void Start(const FaultSpec& f) override { Apply(f, true); }
  void Stop(const FaultSpec& f) override { Apply(f, false); }

 private:
  void Apply(const FaultSpec& f, bool start);
  World w_;
};

}  // namespace ithappens::harness
