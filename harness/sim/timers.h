// The simulator's timer loop: virtual time and the timers set on it. Timers run in (at,
// seq) order: seq is the order they were set, so timers of equal time keep their order
// and a seed gives one history. The heap holds small records; the callbacks wait in slots
// (a timer costs no allocation of its own, harness/sim/callback.h).
#pragma once

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

#include "engine/clock.h"
#include "harness/callback.h"

namespace ithappens::harness {

class TimerLoop {
 public:
  explicit TimerLoop(int64_t start_ms) { clock_.SetMs(start_ms); }
  int64_t Now() const { return clock_.NowMs(); }
  const engine::ManualClock& clock() const { return clock_; }

  // fn at t (never before now).
  void At(int64_t t, Callback fn);
  void After(int64_t d, Callback fn) { At(Now() + d, std::move(fn)); }
  // fn every period, until the loop is stopped.
  template <typename F>
  void Every(int64_t period, F fn) {
    After(period, [this, period, fn = std::move(fn)]() mutable {
      fn();
      if (!stopped_) Every(period, std::move(fn));
    });
  }

  // Timers known in advance, set without a callback each and without a heap entry per
  // repetition: item k runs as run(k, r) at at + r * every for r < repeats. The seqs of
  // every repetition are reserved now, in item order (as that many calls of At() would
  // have taken them), so each runs exactly where At() would have put it. The simulator's
  // workload submissions (a cron filler's 10^6 re-submissions at 50x) would otherwise fill
  // the heap and hold a callback each from the start.
  struct Repeating {
    int64_t at = 0, every = 0, repeats = 1;
  };
  void SetStream(const std::vector<Repeating>& items,
                 std::function<void(uint32_t, int64_t)> run);

  // Runs the timers in order until none is left, Stop() was called, or the next one is
  // after end_ms; progress() after every kProgressEvery timers.
  void Run(int64_t end_ms, int64_t progress_every, const std::function<void()>& progress);
  void Stop() { stopped_ = true; }
  bool stopped() const { return stopped_; }

 private:
  struct Timer {
    int64_t at;
    uint64_t seq;
    uint32_t slot;
    bool operator>(const Timer& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  engine::ManualClock clock_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  std::vector<Callback> slots_;
  // The stream (SetStream): one cursor per item, at its next repetition, in a heap.
  struct Cursor {
    int64_t at;
    uint64_t seq;
    uint32_t k;
    int64_t rep;
    bool operator>(const Cursor& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  std::priority_queue<Cursor, std::vector<Cursor>, std::greater<Cursor>> stream_;
  std::vector<Repeating> stream_items_;
  std::function<void(uint32_t, int64_t)> stream_run_;
  std::vector<uint32_t> free_slots_;
  uint64_t seq_ = 0;
  bool stopped_ = false;
};

}  // namespace ithappens::harness
