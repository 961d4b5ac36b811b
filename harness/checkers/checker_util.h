// Helpers shared by the checkers: flagging a counterexample, per-task slots grown on demand,
// and a bounded list of event indices.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "harness/checker.h"

namespace ithappens::harness::checkers {

// Marks r invalid and keeps the counterexample if fewer than kMaxCounterexamples are kept.
inline void Flag(CheckResult* r, std::string_view task, std::vector<int64_t> events,
                 std::string why) {
  r->valid = Validity::kInvalid;
  if (r->counterexamples.size() < kMaxCounterexamples) {
    r->counterexamples.push_back(
        Counterexample{std::string(task), std::move(events), std::move(why)});
  }
}

// The per-task slot of v, grown on demand (ix is dense, so this is O(tasks)).
template <typename T>
T& Slot(std::vector<T>& v, uint32_t ix, const T& fill = T()) {
  if (ix >= v.size()) v.resize(std::max<size_t>(ix + 1, v.size() * 3 / 2), fill);
  return v[ix];
}

// A few event indices of one task, for a counterexample.
struct Evidence {
  static constexpr size_t kMax = 10;
  std::vector<int64_t> events;
  void Add(int64_t i) {
    if (events.size() < kMax) events.push_back(i);
  }
};

}  // namespace ithappens::harness::checkers
