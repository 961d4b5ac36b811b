#include "harness/sim/timers.h"

#include <algorithm>

namespace ithappens::harness {

void TimerLoop::At(int64_t t, Callback fn) {
  uint32_t slot;
  if (free_slots_.empty()) {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  slots_[slot] = std::move(fn);
  timers_.push(Timer{std::max(t, Now()), seq_++, slot});
}

void TimerLoop::Run(int64_t end_ms, int64_t progress_every,
                    const std::function<void()>& progress) {
  for (int64_t steps = 1; !timers_.empty() && !stopped_; ++steps) {
    if (steps % progress_every == 0) progress();
    const Timer t = timers_.top();
    timers_.pop();
    if (t.at > end_ms) break;
    if (t.at > clock_.NowMs()) clock_.SetMs(t.at);
    Callback fn = std::move(slots_[t.slot]);  // out first: fn may set timers
    free_slots_.push_back(t.slot);
    fn();
  }
}

}  // namespace ithappens::harness
