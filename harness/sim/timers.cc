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

void TimerLoop::SetStream(const std::vector<Repeating>& items,
                          std::function<void(uint32_t, int64_t)> run) {
  stream_ = {};
  stream_items_ = items;
  for (size_t k = 0; k < items.size(); ++k) {
    if (items[k].repeats <= 0) continue;
    stream_.push(Cursor{std::max(items[k].at, Now()), seq_, static_cast<uint32_t>(k), 0});
    seq_ += static_cast<uint64_t>(items[k].repeats);
  }
  stream_run_ = std::move(run);
}

void TimerLoop::Run(int64_t end_ms, int64_t progress_every,
                    const std::function<void()>& progress) {
  for (int64_t steps = 1; !stopped_; ++steps) {
    const bool have_stream = !stream_.empty();
    if (timers_.empty() && !have_stream) break;
    if (steps % progress_every == 0) progress();
    // The stream's next repetition or the heap's first timer, whichever (at, seq) is first.
    if (have_stream && (timers_.empty() || timers_.top().at > stream_.top().at ||
                        (timers_.top().at == stream_.top().at &&
                         timers_.top().seq > stream_.top().seq))) {
      const Cursor c = stream_.top();
      stream_.pop();
      if (c.at > end_ms) break;
      if (c.at > clock_.NowMs()) clock_.SetMs(c.at);
      const Repeating& item = stream_items_[c.k];
      if (c.rep + 1 < item.repeats)
        stream_.push(Cursor{std::max(item.at + (c.rep + 1) * item.every, c.at), c.seq + 1, c.k,
                            c.rep + 1});
      stream_run_(c.k, c.rep);
      continue;
    }
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
