// The parts a run is assembled from (STYLE.md, after Jepsen): the Target (the platform,
// which the harness brings up and kills), the Nemesis (starts and stops faults) and the
// Generator (what the workload submits, and when). Each has a do-nothing version so a test
// can assemble a run one piece at a time. The Checker is in harness/checker.h.
//
// Sim mode implements them in harness/sim (the engine core on a MemoryStore); real mode
// will implement them with processes, signals and libfiu's control fifo.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "engine/status.h"
#include "harness/scenario/scenario.h"

namespace ithappens::harness {

// The platform under test.
class Target {
 public:
  virtual ~Target() = default;
  // Brings the platform up, recovering whatever it made durable.
  virtual engine::Status Start() = 0;
  // Takes it down hard, as a power cut would: what was not durable may be gone.
  virtual void Kill() = 0;
  virtual bool Up() const = 0;
};

class NoopTarget final : public Target {
 public:
  engine::Status Start() override {
    up_ = true;
    return engine::Status::Ok();
  }
  void Kill() override { up_ = false; }
  bool Up() const override { return up_; }

 private:
  bool up_ = false;
};

// Starts and stops the faults of a scenario. The driver records the fault events around
// the calls, so the history shows every window.
class Nemesis {
 public:
  virtual ~Nemesis() = default;
  virtual void Start(const FaultSpec& fault) = 0;
  virtual void Stop(const FaultSpec& fault) = 0;
};

class NoopNemesis final : public Nemesis {
 public:
  void Start(const FaultSpec&) override {}
  void Stop(const FaultSpec&) override {}
};

// One thing the workload does: at at_ms after the run began, submit the planned tasks
// `tasks` (indices into the plan), one after the other (a chain waits for each create).
struct Submission {
  int64_t at_ms = 0;
  std::vector<size_t> tasks;
};

// The workload as a sequence of submissions, in the order they were planned (the driver
// schedules each at its time). nullopt: nothing more.
class Generator {
 public:
  virtual ~Generator() = default;
  virtual std::optional<Submission> Next() = 0;
};

class NoopGenerator final : public Generator {
 public:
  std::optional<Submission> Next() override { return std::nullopt; }
};

}  // namespace ithappens::harness
