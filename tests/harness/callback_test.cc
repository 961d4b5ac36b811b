// The simulator's timer callable: runs what it holds, moves it (inline or on the heap)
// without copying it, and destroys it exactly once.
#include "harness/callback.h"

#include <gtest/gtest.h>

#include <array>
#include <memory>

namespace ithappens::harness {
namespace {

TEST(Callback, SmallAndLargeCallablesRunMoveAndDieOnce) {
  auto calls = std::make_shared<int>(0);
  std::weak_ptr<int> watch = calls;
  std::array<char, 400> big{};  // over the inline size: stored on the heap
  big[0] = 7;
  {
    Callback small([calls] { ++*calls; });
    Callback large([calls, big] { *calls += big[0]; });
    small();
    large();
    EXPECT_EQ(*calls, 8);
    Callback moved_small = std::move(small);
    Callback moved_large(std::move(large));
    EXPECT_FALSE(static_cast<bool>(small));
    EXPECT_FALSE(static_cast<bool>(large));
    moved_small();
    moved_large();
    EXPECT_EQ(*calls, 16);
    EXPECT_EQ(calls.use_count(), 3) << "each callable holds one copy; moves copy nothing";
    Callback reassigned([] {});
    reassigned = std::move(moved_large);  // the empty lambda is destroyed, the large one moves
    EXPECT_EQ(calls.use_count(), 3);
  }
  EXPECT_EQ(calls.use_count(), 1) << "every held copy was destroyed exactly once";
  calls.reset();
  EXPECT_TRUE(watch.expired());
}

TEST(Callback, MoveOnlyCallablesAreHeld) {
  auto p = std::make_unique<int>(41);
  const int* seen = p.get();
  Callback cb([p = std::move(p)] { ++*p; });
  cb();
  Callback again = std::move(cb);
  again();
  EXPECT_EQ(*seen, 43) << "the moved callable is the same one, not a copy";
}

// A callable aligned beyond the inline buffer's 8 bytes is held on the heap, at its
// alignment, and still runs, moves and dies once.
TEST(Callback, OverAlignedCallablesAreHeldAtTheirAlignment) {
  struct alignas(64) Wide {
    int v = 5;
  };
  auto calls = std::make_shared<int>(0);
  const Wide* where = nullptr;
  {
    Callback cb([w = Wide{}, calls, &where]() {
      where = &w;
      *calls += w.v;
    });
    Callback moved = std::move(cb);
    moved();
  }
  EXPECT_EQ(*calls, 5);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(where) % 64, 0u);
  EXPECT_EQ(calls.use_count(), 1);
  static_assert(sizeof(Callback) == 80, "72 bytes inline and one pointer: no padding");
}

}  // namespace
}  // namespace ithappens::harness
