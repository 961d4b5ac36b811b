// The simulator's timer loop: virtual time and the timers set on it. Timers run in (at,
// seq) order: seq is the order they were set, so timers of equal time keep their order
// and a seed gives one history. A timer costs no allocation of its own (its callback is
// stored inline, harness/callback.h).
//
// Where the timers wait: one bucket per millisecond for the next kRingMs of virtual time
// (a ring; a bucket is a FIFO, so equal times keep the order they were set in), and a heap
// for the few set further ahead, moved into the ring as time comes within kRingMs of them
// (before anything at that time runs, so an earlier-set timer stays ahead of a later one).
// Setting a timer appends to its bucket and running one reads its bucket in order: no
// heap of every pending timer to sift, and the next timer's callback is known (and
// fetched into the cache) while the one before it runs.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <type_traits>
#include <vector>

#include "engine/clock.h"
#include "harness/callback.h"

namespace ithappens::harness {

class TimerLoop {
 public:
  explicit TimerLoop(int64_t start_ms) : ring_(kRingMs) { clock_.SetMs(start_ms); }
  ~TimerLoop();
  TimerLoop(const TimerLoop&) = delete;
  TimerLoop& operator=(const TimerLoop&) = delete;
  int64_t Now() const { return clock_.NowMs(); }
  const engine::ManualClock& clock() const { return clock_; }

  // fn at t (never before now).
  void At(int64_t t, Callback fn);
  void After(int64_t d, Callback fn) { At(Now() + d, std::move(fn)); }
  // A lambda's captures are held inside its slot: one that would not fit (and so cost an
  // allocation per timer, and the bytes of every slot for nothing) is refused here.
  template <typename F, typename D = std::decay_t<F>,
            typename = std::enable_if_t<!std::is_same_v<D, Callback>>>
  void At(int64_t t, F&& fn) {
    static_assert(sizeof(D) <= Callback::kInlineBytes, "a timer's captures exceed its slot");
    At(t, Callback(std::forward<F>(fn)));
  }
  template <typename F, typename D = std::decay_t<F>,
            typename = std::enable_if_t<!std::is_same_v<D, Callback>>>
  void After(int64_t d, F&& fn) {
    At(Now() + d, std::forward<F>(fn));
  }
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
  // after end_ms (it stays set); progress() after every progress_every timers.
  void Run(int64_t end_ms, int64_t progress_every, const std::function<void()>& progress);
  void Stop() { stopped_ = true; }
  bool stopped() const { return stopped_; }

  // Milliseconds of virtual time ahead that the ring holds (a power of two).
  static constexpr int64_t kRingMs = 4096;

  // The callbacks' store: slots it holds (in blocks of kSlotMask + 1), and how many times it
  // gave blocks back (Compact).
  size_t held_slots() const { return slot_blocks_.size() << kSlotBits; }
  int64_t compactions() const { return compactions_; }

 private:
  struct Entry {
    uint64_t seq;
    uint32_t slot;
  };
  // A bucket is a FIFO of chunks of entries: a burst (a batch's creates, all at one
  // millisecond) takes chunks as it fills and gives each back as soon as it has run, so
  // the bucket its answers fill next takes the very chunks its requests left (a vector per
  // bucket held both bursts whole, and doubled on the way).
  static constexpr uint32_t kChunkEntries = 63;  // with the link: 1,016 bytes
  struct Chunk {
    Entry items[kChunkEntries];
    Chunk* next;
  };
  struct Bucket {
    Chunk* first = nullptr;  // the head's chunk; null when the bucket is empty
    Chunk* last = nullptr;   // the tail's chunk
    uint32_t head = 0;       // the next to run, in first
    uint32_t tail = 0;       // entries in last
    const Entry& Front() const { return first->items[head]; }
  };
  struct Far {
    int64_t at;
    uint64_t seq;
    uint32_t slot;
    bool operator>(const Far& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  static constexpr int64_t kMask = kRingMs - 1;
  // Chunks that have run wait in a pool for the next bucket to fill, up to kPoolChunks of
  // them (1 MB); the rest go back to the heap.
  static constexpr size_t kPoolChunks = 1024;
  static constexpr size_t kWords = kRingMs / 64;

  uint32_t Store(Callback fn);
  void Append(int64_t t, uint64_t seq, uint32_t slot);
  // The time of the first timer in the ring (at or after now); in_ring_ > 0.
  int64_t FirstInRing() const;
  // Moves the clock to t (>= now) and the far timers now within kRingMs into the ring.
  void Advance(int64_t t);

  engine::ManualClock clock_;
  // ring_[t & kMask] holds the timers at t, for t in [now, now + kRingMs); busy_ has a bit
  // per non-empty bucket.
  std::vector<Bucket> ring_;
  std::array<uint64_t, kWords> busy_{};
  size_t in_ring_ = 0;
  Chunk* pool_ = nullptr;
  size_t pool_size_ = 0;
  Chunk* NewChunk();
  void FreeChunk(Chunk* c);
  // Runs the bucket's head: its slot, and whether the bucket is empty now.
  uint32_t PopFront(Bucket& b, bool* drained);
  template <typename F>
  static void ForEachEntry(Bucket& b, F f) {
    for (Chunk* c = b.first; c != nullptr; c = c->next) {
      const uint32_t from = c == b.first ? b.head : 0, to = c == b.last ? b.tail : kChunkEntries;
      for (uint32_t k = from; k < to; ++k) f(c->items[k]);
      if (c == b.last) break;
    }
  }
  // Timers at now + kRingMs or later: a heap of small records (its container is reachable,
  // for Compact to renumber slots; the order never depends on a slot).
  struct FarHeap : std::priority_queue<Far, std::vector<Far>, std::greater<Far>> {
    std::vector<Far>& items() { return c; }
  };
  FarHeap far_;
  // Every pending timer's callback, in a slot reused once it has run (the most recently
  // freed first: the timer a callback sets lands where that callback was). The slots are
  // blocks that never move: the store grows a block at a time, not by doubling and moving
  // every pending callback (a batch's creates are all pending at once: at 10^6 tasks a
  // doubling held the old 46 MB and the new 92 MB together).
  static constexpr uint32_t kSlotBits = 12;
  static constexpr uint32_t kSlotMask = (uint32_t{1} << kSlotBits) - 1;
  Callback& SlotAt(uint32_t slot) { return slot_blocks_[slot >> kSlotBits][slot & kSlotMask]; }
  std::vector<std::unique_ptr<Callback[]>> slot_blocks_;
  uint32_t slot_count_ = 0;
  std::vector<uint32_t> free_slots_;
  // A burst (a batch's creates, all pending at once) grows the store to its size; once no
  // more than an eighth of it is in use, Compact moves the pending callbacks into the
  // lowest blocks and frees the rest, so the memory serves the rest of the run (the
  // engine's runs, the sink's keys) instead of waiting for a burst that may never come
  // again. Only a store of kCompactBlocks blocks or more: a compaction is the size of the
  // store, so it takes at least as many timers run in between.
  static constexpr size_t kCompactBlocks = 16;
  void MaybeCompact() {
    if (slot_blocks_.size() >= kCompactBlocks &&
        (slot_count_ - free_slots_.size()) * 8 <= slot_count_)
      Compact();
  }
  void Compact();
  int64_t compactions_ = 0;
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
  uint64_t seq_ = 0;
  bool stopped_ = false;
};

}  // namespace ithappens::harness
