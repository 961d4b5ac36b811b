// The simulated disk's faults: the engine store's libfiu failure points
// (engine/store/fsync, engine/store/write) fail with a chance drawn from the run's seeded
// generator. Armed while a run goes on, disarmed at its end and, on every other path out,
// by the destructor.
//
// libfiu's points are process-wide, and `ithappens explore` runs simulations on several
// threads at once (each simulation in one thread). So the points are enabled once, with
// one callback, while any disk is armed (a count), and the callback asks the disk armed
// on the calling thread: a thread's simulation never sees another's chances or draws.
// One armed SimDisk per thread at a time.
#pragma once

#include <cstdint>

#include "harness/sim/world.h"

namespace ithappens::harness {

class SimDisk {
 public:
  explicit SimDisk(uint64_t seed) : rng_(seed) { fsync_.rng = write_.rng = &rng_; }
  ~SimDisk() { Disarm(); }
  void Arm();
  void Disarm();  // the chances go back to 0
  SimDisk(const SimDisk&) = delete;
  SimDisk& operator=(const SimDisk&) = delete;

  void SetFsyncFailPpm(int64_t ppm) { fsync_.ppm = ppm; }
  void SetWriteFailPpm(int64_t ppm) { write_.ppm = ppm; }

 private:
  struct Point {
    int64_t ppm = 0;
    Rng* rng = nullptr;
  };
  static int Fail(const char* name, int* failnum, void** failinfo, unsigned int* flags);
  static thread_local SimDisk* armed_here_;  // the disk armed on this thread
  bool armed_ = false;
  Rng rng_;
  Point fsync_, write_;
};

}  // namespace ithappens::harness
