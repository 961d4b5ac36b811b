// Real mode's disk faults: libfiu's remote control of a running engine (started with
// --fiu-fifo BASE, it reads commands from BASE-<pid>.in and answers on BASE-<pid>.out).
// The nemesis enables a store failure point with a probability for a window and disables
// it after; the proof that it fired is the engine's own count (Health.fault_point_fires).
#pragma once

#include <sys/types.h>

#include <string>

#include "engine/status.h"

namespace ithappens::harness {

class FiuControl {
 public:
  FiuControl(std::string fifo_base, pid_t engine_pid)
      : base_(std::move(fifo_base) + "-" + std::to_string(engine_pid)) {}
  // point: engine/store/fsync, engine/store/write, ...; probability in (0, 1].
  engine::Status Enable(const std::string& point, double probability);
  engine::Status Disable(const std::string& point);

 private:
  // One command, one answer: libfiu answers 0 when it took the command.
  engine::Status Command(const std::string& command);
  std::string base_;
};

}  // namespace ithappens::harness
