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

// Real time at a scale (real mode's --time-scale K): K engine ms per wall ms, counted from
// origin_ms — a wall time every process of a run is given, so all of them agree and a
// restarted process goes on where it was — plus an offset that may be switched at run
// time, forward or backward (the clock-jump fault). Scale 1, offset 0: the wall clock.
class ScaledClock final : public Clock {
 public:
  ScaledClock(TimeMs origin_ms, double scale) : origin_ms_(origin_ms), scale_(scale) {}
  TimeMs NowMs() const override;
  // The wall milliseconds that engine_ms of this clock take (at least 1 for a positive
  // duration).
  int64_t WallMsFor(int64_t engine_ms) const;
  double scale() const { return scale_; }
  void SetOffsetMs(TimeMs offset) { offset_ms_.store(offset, std::memory_order_relaxed); }
  TimeMs offset_ms() const { return offset_ms_.load(std::memory_order_relaxed); }

 private:
  TimeMs origin_ms_;
  double scale_;
  std::atomic<TimeMs> offset_ms_{0};
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
