// Targets (DESIGN.md layout: harness/targets/): adapters that bring a platform up and take
// it down for the harness. The in-process reference engine is the simulator's; the engine
// over gRPC (real mode) comes next.
#pragma once

#include <cstdint>
#include <memory>

#include "engine/clock.h"
#include "engine/memory_store.h"
#include "engine/queue.h"
#include "harness/parts.h"

namespace ithappens::harness {

// The engine's clock: the simulator's virtual time plus an offset (the clock-jump fault).
class EngineClock final : public engine::Clock {
 public:
  explicit EngineClock(const engine::ManualClock* base) : base_(base) {}
  engine::TimeMs NowMs() const override { return base_->NowMs() + offset_ms; }
  int64_t offset_ms = 0;

 private:
  const engine::ManualClock* base_;
};

// The reference engine's core on a MemoryStore, in the harness's process: the simulator's
// Target. Kill is a power cut (the store drops whatever was not fsynced); Start recovers
// from what is left. After a failed commit the engine process restarts (DESIGN.md: it
// crashes and recovers from the log): it is down until Restarting's time, and its first
// call after that reloads the store.
class InProcessEngine final : public Target {
 public:
  InProcessEngine(const engine::ManualClock* base, engine::QueueOptions options)
      : base_(base), clock_(base), options_(options) {}
  engine::Status Start() override {
    down_until_ms_ = 0;
    if (queue_) return engine::Status::Ok();
    store_.SetSyncOff(options_.bugs.fsync_off);
    store_.Reserve(options_.expected_tasks);
    auto q = engine::Queue::Open(&store_, &clock_, options_);
    if (!q.ok()) return q.status();
    queue_ = std::move(q).value();
    return engine::Status::Ok();
  }
  void Kill() override {
    queue_.reset();
    store_.Crash();
  }
  bool Up() const override { return queue_ != nullptr && base_->NowMs() >= down_until_ms_; }
  void Restarting(int64_t until_ms) { down_until_ms_ = until_ms; }
  engine::Queue& queue() { return *queue_; }
  EngineClock& clock() { return clock_; }

 private:
  const engine::ManualClock* base_;
  EngineClock clock_;
  engine::QueueOptions options_;
  int64_t down_until_ms_ = 0;
  engine::MemoryStore store_;
  std::unique_ptr<engine::Queue> queue_;
};

}  // namespace ithappens::harness
