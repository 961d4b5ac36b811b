// Proves the simulator's timer loop (a ring of one bucket per millisecond, a heap for
// timers further ahead, a stream of repetitions known in advance) runs every timer at the
// time and in the order of the plain definition: a heap of (at, seq), seq the order timers
// were set in, the stream's repetitions holding seqs reserved when it was set. Random
// programs of timers that set timers (now, within a few ms, across the ring's edge, far
// ahead), stopped at a random end and run on.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <queue>
#include <tuple>
#include <vector>

#include "engine/hash.h"
#include "harness/sim/timers.h"

namespace ithappens::harness {
namespace {

// What a timer does when it runs, derived from its id: sets 0-2 timers (none below depth
// 4), each at a delay of one of five kinds.
struct Program {
  uint64_t seed;
  int64_t Delay(uint64_t h) const {
    switch (h % 5) {
      case 0:
        return 0;
      case 1:
        return static_cast<int64_t>((h >> 8) % 10);
      case 2:
        return static_cast<int64_t>((h >> 8) % 5'000);
      case 3:
        return TimerLoop::kRingMs - 5 + static_cast<int64_t>((h >> 8) % 10);
      default:
        return static_cast<int64_t>((h >> 8) % 100'000);
    }
  }
  int Children(uint64_t id, int depth) const {
    return depth >= 4 ? 0 : static_cast<int>(engine::Mix64(seed ^ id) % 3);
  }
  int64_t ChildDelay(uint64_t id, int c) const {
    return Delay(engine::Mix64(seed ^ (id * 3 + static_cast<uint64_t>(c) + 1)));
  }
};

struct Ran {
  int64_t at;
  uint64_t id;
  bool operator==(const Ran&) const = default;
};

struct Start {
  int64_t at;
  uint64_t id;
};

// The definition: one heap of (at, seq, id), the stream's repetitions pushed as timers
// with their reserved seqs.
std::vector<Ran> Reference(const Program& p, const std::vector<Start>& starts,
                           const std::vector<TimerLoop::Repeating>& stream, int64_t end_ms) {
  using T = std::tuple<int64_t, uint64_t, uint64_t, int>;  // at, seq, id, depth
  std::priority_queue<T, std::vector<T>, std::greater<T>> heap;
  int64_t now = 0;
  uint64_t seq = 0, next_id = 1'000'000;
  std::vector<Ran> ran;
  for (const Start& s : starts) heap.push({std::max(s.at, now), seq++, s.id, 0});
  for (size_t k = 0; k < stream.size(); ++k) {
    for (int64_t r = 0; r < stream[k].repeats; ++r)
      heap.push({stream[k].at + r * stream[k].every, seq + static_cast<uint64_t>(r),
                 500'000 + k * 1'000 + static_cast<uint64_t>(r), 3});
    seq += static_cast<uint64_t>(std::max<int64_t>(stream[k].repeats, 0));
  }
  for (int pass = 0; pass < 2; ++pass) {
    const int64_t end = pass == 0 ? end_ms : INT64_MAX;
    while (!heap.empty()) {
      auto [at, s, id, depth] = heap.top();
      if (at > end) break;
      heap.pop();
      now = std::max(now, at);
      ran.push_back({now, id});
      for (int c = 0; c < p.Children(id, depth); ++c)
        heap.push({now + p.ChildDelay(id, c), seq++, next_id++, depth + 1});
    }
  }
  return ran;
}

// The loop's store of callbacks as it ran: its largest size, its size at the end, and how
// many times it compacted.
struct Store {
  size_t most_slots = 0, end_slots = 0;
  int64_t compactions = 0;
};

std::vector<Ran> Loop(const Program& p, const std::vector<Start>& starts,
                      const std::vector<TimerLoop::Repeating>& stream, int64_t end_ms,
                      Store* store = nullptr) {
  TimerLoop loop(0);
  uint64_t next_id = 1'000'000;
  std::vector<Ran> ran;
  size_t most_slots = 0;
  std::function<void(uint64_t, int)> fire = [&](uint64_t id, int depth) {
    ran.push_back({loop.Now(), id});
    most_slots = std::max(most_slots, loop.held_slots());
    for (int c = 0; c < p.Children(id, depth); ++c) {
      const uint64_t child = next_id++;
      loop.After(p.ChildDelay(id, c), [&fire, child, depth] { fire(child, depth + 1); });
    }
  };
  for (const Start& s : starts) {
    const uint64_t id = s.id;
    loop.At(s.at, [&fire, id] { fire(id, 0); });
  }
  loop.SetStream(stream, [&](uint32_t k, int64_t r) {
    fire(500'000 + k * 1'000 + static_cast<uint64_t>(r), 3);
  });
  loop.Run(end_ms, 1 << 20, [] {});
  loop.Run(INT64_MAX, 1 << 20, [] {});
  if (store != nullptr) *store = Store{most_slots, loop.held_slots(), loop.compactions()};
  return ran;
}

}  // namespace

RC_GTEST_PROP(TimerProperty, RingAndFarHeapRunTimersAsOneHeapOfAtAndSeq, ()) {
  const Program p{*rc::gen::arbitrary<uint64_t>()};
  const int n = *rc::gen::inRange(0, 200);
  std::vector<Start> starts;
  for (int k = 0; k < n; ++k) {
    const int64_t at = *rc::gen::oneOf(rc::gen::inRange<int64_t>(0, 20),
                                       rc::gen::inRange<int64_t>(0, 3 * TimerLoop::kRingMs));
    starts.push_back({at, static_cast<uint64_t>(k)});
  }
  std::vector<TimerLoop::Repeating> stream;
  const int items = *rc::gen::inRange(0, 4);
  for (int k = 0; k < items; ++k) {
    stream.push_back({*rc::gen::inRange<int64_t>(0, 10'000), *rc::gen::inRange<int64_t>(1, 6'000),
                      *rc::gen::inRange<int64_t>(0, 5)});
  }
  const int64_t end_ms = *rc::gen::inRange<int64_t>(0, 20'000);
  const std::vector<Ran> want = Reference(p, starts, stream, end_ms);
  const std::vector<Ran> got = Loop(p, starts, stream, end_ms);
  RC_CLASSIFY(want.size() > 100, "over 100 timers");
  RC_ASSERT(got.size() == want.size());
  for (size_t k = 0; k < want.size(); ++k) {
    RC_ASSERT(got[k].at == want[k].at);
    RC_ASSERT(got[k].id == want[k].id);
  }
}

// A burst (a batch's creates: 100,000 timers within 20 ms, each setting more, near and far)
// grows the store of callbacks; as it drains the store compacts, moving the callbacks still
// pending (in the ring and in the far heap) into its lowest blocks, and every timer still
// runs when and in the order the plain definition says.
TEST(TimerProperty, TheStoreGivesABurstsBlocksBackAndEveryTimerStillRunsInOrder) {
  const Program p{0x5eed};
  std::vector<Start> starts;
  for (uint64_t k = 0; k < 100'000; ++k)
    starts.push_back({static_cast<int64_t>(engine::Mix64(k) % 20), k});
  const std::vector<TimerLoop::Repeating> stream = {{5, 3'000, 4}};
  for (const int64_t end_ms : {int64_t{3'000}, INT64_MAX}) {
    const std::vector<Ran> want = Reference(p, starts, stream, end_ms);
    Store store;
    const std::vector<Ran> got = Loop(p, starts, stream, end_ms, &store);
    ASSERT_EQ(got.size(), want.size());
    for (size_t k = 0; k < want.size(); ++k) {
      ASSERT_EQ(got[k].at, want[k].at) << "timer " << k;
      ASSERT_EQ(got[k].id, want[k].id) << "timer " << k;
    }
    EXPECT_GE(store.most_slots, 100'000u);
    EXPECT_GE(store.compactions, 1);
    EXPECT_LE(store.end_slots * 2, store.most_slots) << "the burst's blocks were given back";
  }
}

}  // namespace ithappens::harness
