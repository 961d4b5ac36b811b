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

void TimerLoop::SetStream(std::vector<int64_t> at, std::function<void(uint32_t)> run) {
  stream_.clear();
  stream_.reserve(at.size());
  for (size_t k = 0; k < at.size(); ++k)
    stream_.push_back(StreamItem{std::max(at[k], Now()), seq_++, static_cast<uint32_t>(k)});
  std::stable_sort(stream_.begin(), stream_.end(),
                   [](const StreamItem& a, const StreamItem& b) { return a.at < b.at; });
  stream_next_ = 0;
  stream_run_ = std::move(run);
}

void TimerLoop::Run(int64_t end_ms, int64_t progress_every,
                    const std::function<void()>& progress) {
  for (int64_t steps = 1; !stopped_; ++steps) {
    const bool have_stream = stream_next_ < stream_.size();
    if (timers_.empty() && !have_stream) break;
    if (steps % progress_every == 0) progress();
    // The stream's next item or the heap's first timer, whichever (at, seq) comes first.
    if (have_stream && (timers_.empty() || timers_.top().at > stream_[stream_next_].at ||
                        (timers_.top().at == stream_[stream_next_].at &&
                         timers_.top().seq > stream_[stream_next_].seq))) {
      const StreamItem item = stream_[stream_next_++];
      if (item.at > end_ms) break;
      if (item.at > clock_.NowMs()) clock_.SetMs(item.at);
      stream_run_(item.k);
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
