#include "harness/sim/timers.h"

#include <algorithm>
#include <bit>

namespace ithappens::harness {

uint32_t TimerLoop::Store(Callback fn) {
  uint32_t slot;
  if (free_slots_.empty()) {
    slot = slot_count_++;
    if ((slot & kSlotMask) == 0)
      slot_blocks_.push_back(std::make_unique<Callback[]>(kSlotMask + 1));
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  SlotAt(slot) = std::move(fn);
  return slot;
}

void TimerLoop::Compact() {
  const uint32_t live = slot_count_ - static_cast<uint32_t>(free_slots_.size());
  // Room for twice what is pending, in whole blocks: the next compaction is at least as
  // many timers away as this one moves.
  const uint32_t keep_blocks = std::max<uint32_t>(1, ((2 * live) >> kSlotBits) + 1);
  const uint32_t keep = keep_blocks << kSlotBits;
  if (keep >= slot_count_) return;
  // The free slots that stay, lowest first, for the callbacks that move.
  std::vector<bool> used(keep, false);
  auto mark = [&](uint32_t slot) {
    if (slot < keep) used[slot] = true;
  };
  for (Bucket& b : ring_) ForEachEntry(b, [&](const Entry& e) { mark(e.slot); });
  for (const Far& f : far_.items()) mark(f.slot);
  uint32_t next_free = 0;
  auto move = [&](uint32_t& slot) {
    if (slot < keep) return;
    while (used[next_free]) ++next_free;  // a free one exists: live <= keep / 2
    used[next_free] = true;
    SlotAt(next_free) = std::move(SlotAt(slot));
    slot = next_free;
  };
  for (Bucket& b : ring_) ForEachEntry(b, [&](Entry& e) { move(e.slot); });
  for (Far& f : far_.items()) move(f.slot);
  slot_blocks_.resize(keep_blocks);
  slot_blocks_.shrink_to_fit();
  slot_count_ = keep;
  free_slots_.clear();
  for (uint32_t slot = keep; slot-- > 0;)
    if (!used[slot]) free_slots_.push_back(slot);  // the lowest on top: taken first
  free_slots_.shrink_to_fit();
  ++compactions_;
}

TimerLoop::~TimerLoop() {
  for (Bucket& b : ring_) {
    for (Chunk* c = b.first; c != nullptr;) {
      Chunk* next = c == b.last ? nullptr : c->next;
      delete c;
      c = next;
    }
  }
  while (pool_ != nullptr) {
    Chunk* next = pool_->next;
    delete pool_;
    pool_ = next;
  }
}

TimerLoop::Chunk* TimerLoop::NewChunk() {
  if (pool_ == nullptr) return new Chunk;
  Chunk* c = pool_;
  pool_ = c->next;
  --pool_size_;
  return c;
}

void TimerLoop::FreeChunk(Chunk* c) {
  if (pool_size_ >= kPoolChunks) {
    delete c;
    return;
  }
  c->next = pool_;
  pool_ = c;
  ++pool_size_;
}

uint32_t TimerLoop::PopFront(Bucket& b, bool* drained) {
  const uint32_t slot = b.first->items[b.head].slot;
  ++b.head;
  *drained = b.first == b.last && b.head == b.tail;
  if (*drained) {
    FreeChunk(b.first);
    b = Bucket{};
  } else if (b.head == kChunkEntries) {
    Chunk* next = b.first->next;
    FreeChunk(b.first);
    b.first = next;
    b.head = 0;
  }
  return slot;
}

void TimerLoop::Append(int64_t t, uint64_t seq, uint32_t slot) {
  const size_t index = static_cast<size_t>(t & kMask);
  Bucket& b = ring_[index];
  if (b.first == nullptr) {
    b.first = b.last = NewChunk();
  } else if (b.tail == kChunkEntries) {
    Chunk* c = NewChunk();
    b.last->next = c;
    b.last = c;
    b.tail = 0;
  }
  b.last->items[b.tail++] = Entry{seq, slot};
  busy_[index >> 6] |= uint64_t{1} << (index & 63);
  ++in_ring_;
}

void TimerLoop::At(int64_t t, Callback fn) {
  t = std::max(t, Now());
  const uint64_t seq = seq_++;
  const uint32_t slot = Store(std::move(fn));
  if (t - Now() < kRingMs) {
    Append(t, seq, slot);
  } else {
    far_.push(Far{t, seq, slot});
  }
}

int64_t TimerLoop::FirstInRing() const {
  const int64_t now = Now();
  const size_t start = static_cast<size_t>(now & kMask);
  size_t w = start >> 6;
  uint64_t bits = busy_[w] & (~uint64_t{0} << (start & 63));
  // kWords + 1 words: the start word's bits below now are the window's last times.
  for (size_t n = 0; n <= kWords; ++n) {
    if (bits != 0) {
      const size_t b = (w << 6) | static_cast<size_t>(std::countr_zero(bits));
      return now + static_cast<int64_t>((b - start) & static_cast<size_t>(kMask));
    }
    w = (w + 1) % kWords;
    bits = busy_[w];
  }
  return INT64_MAX;  // not reached while in_ring_ > 0
}

void TimerLoop::Advance(int64_t t) {
  if (t <= Now()) return;
  clock_.SetMs(t);
  while (!far_.empty() && far_.top().at - t < kRingMs) {
    const Far f = far_.top();
    far_.pop();
    Append(f.at, f.seq, f.slot);
  }
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
  int64_t until_progress = progress_every;
  while (!stopped_) {
    const bool have_timer = in_ring_ > 0 || !far_.empty();
    const bool have_stream = !stream_.empty();
    if (!have_timer && !have_stream) break;
    if (--until_progress == 0) {
      progress();
      until_progress = progress_every;
    }
    // The first timer: the ring's first bucket's head, or (the ring empty) the far heap's top.
    int64_t at = INT64_MAX;
    uint64_t seq = UINT64_MAX;
    if (in_ring_ > 0) {
      at = FirstInRing();
      const Bucket& b = ring_[static_cast<size_t>(at & kMask)];
      seq = b.Front().seq;
    } else if (have_timer) {
      at = far_.top().at;
      seq = far_.top().seq;
    }
    // The stream's next repetition or the first timer, whichever (at, seq) is first.
    if (have_stream && (!have_timer || at > stream_.top().at ||
                        (at == stream_.top().at && seq > stream_.top().seq))) {
      const Cursor c = stream_.top();
      if (c.at > end_ms) break;
      stream_.pop();
      Advance(c.at);
      const Repeating& item = stream_items_[c.k];
      if (c.rep + 1 < item.repeats)
        stream_.push(Cursor{std::max(item.at + (c.rep + 1) * item.every, c.at), c.seq + 1, c.k,
                            c.rep + 1});
      if (stream_.empty()) {
        // Done: its heap and items (a batch's: one each per task) are not held for the rest
        // of the run.
        stream_ = {};
        std::vector<Repeating>().swap(stream_items_);
      }
      stream_run_(c.k, c.rep);
      continue;
    }
    if (at > end_ms) break;
    Advance(at);  // a far timer comes into the ring here
    const size_t index = static_cast<size_t>(at & kMask);
    Bucket& b = ring_[index];
    bool drained = false;
    const uint32_t slot = PopFront(b, &drained);
    if (drained) {
      busy_[index >> 6] &= ~(uint64_t{1} << (index & 63));
    } else {
      // The next timer's callback, into the cache while this one runs.
      const unsigned char* next = reinterpret_cast<const unsigned char*>(&SlotAt(b.Front().slot));
      __builtin_prefetch(next);
      __builtin_prefetch(next + sizeof(Callback) - 1);
    }
    --in_ring_;
    Callback fn = std::move(SlotAt(slot));  // out first: fn may set timers
    free_slots_.push_back(slot);
    MaybeCompact();
    fn();
  }
}

}  // namespace ithappens::harness
