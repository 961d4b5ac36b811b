// The clock seam: the engine never reads the wall clock itself. Real mode plugs in
// RealClock; tests and the simulator plug in ManualClock and move time explicitly.
#pragma once

#include <atomic>
#include <cstdint>

namespace ithappens::engine {

// Milliseconds since the Unix epoch, UTC. All engine times use this unit.
using TimeMs = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  // Thread-safe.
  virtual TimeMs NowMs() const = 0;
};

// Reads std::chrono::system_clock.
class RealClock final : public Clock {
 public:
  TimeMs NowMs() const override;
};

// Time moves only when told. Thread-safe; may be moved backwards to model a clock jump.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimeMs start_ms = 0) : now_ms_(start_ms) {}
  TimeMs NowMs() const override { return now_ms_.load(std::memory_order_relaxed); }
  void SetMs(TimeMs t) { now_ms_.store(t, std::memory_order_relaxed); }
  void AdvanceMs(TimeMs d) { now_ms_.fetch_add(d, std::memory_order_relaxed); }

 private:
  std::atomic<TimeMs> now_ms_;
};

}  // namespace ithappens::engine
