// Helpers shared by the checkers: flagging a counterexample, per-task slots grown on demand,
// and a bounded list of event indices.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
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

// The per-task slot of v, grown on demand (ix is dense, so this is O(tasks)): to ix + 1
// only, the vector doubling its capacity (growing the size by half again as well made
// half as many elements again that nothing used, and touched their memory).
template <typename T>
T& Slot(std::vector<T>& v, uint32_t ix, const T& fill = T()) {
  if (ix >= v.size()) v.resize(static_cast<size_t>(ix) + 1, fill);
  return v[ix];
}

// A few event indices of one task, for a counterexample: the first two inline (most
// tasks never have more), the rest up to kMax on the heap (32 bytes in all per task).
class Evidence {
 public:
  static constexpr size_t kMax = 10;
  Evidence() = default;
  Evidence(const Evidence& o) : inline_(o.inline_), n_(o.n_) {
    if (o.more_) more_ = std::make_unique<std::vector<int64_t>>(*o.more_);
  }
  Evidence& operator=(const Evidence& o) {
    if (this != &o) *this = Evidence(o);
    return *this;
  }
  Evidence(Evidence&&) noexcept = default;
  Evidence& operator=(Evidence&&) noexcept = default;

  void Add(int64_t i) {
    if (n_ < kInline) {
      inline_[n_++] = i;
    } else if (n_ < kMax) {
      if (!more_) more_ = std::make_unique<std::vector<int64_t>>();
      more_->push_back(i);
      ++n_;
    }
  }
  std::vector<int64_t> Events() const {
    std::vector<int64_t> out(inline_.begin(), inline_.begin() + std::min<size_t>(n_, kInline));
    if (more_) out.insert(out.end(), more_->begin(), more_->end());
    return out;
  }

 private:
  static constexpr size_t kInline = 2;
  std::array<int64_t, kInline> inline_{};
  uint8_t n_ = 0;
  std::unique_ptr<std::vector<int64_t>> more_;
};

// A few distinct texts (states, outcomes) as small codes, numbered as they come; the last
// one looked up is checked first (events repeat them).
class SmallNames {
 public:
  uint32_t Code(std::string_view s) {
    if (last_ < names_.size() && names_[last_] == s) return last_;
    auto it = codes_.find(s);
    if (it == codes_.end()) {
      names_.emplace_back(s);
      it = codes_.emplace(names_.back(), static_cast<uint32_t>(names_.size() - 1)).first;
    }
    return last_ = it->second;
  }
  const std::string& Name(uint32_t code) const { return names_[code]; }
  size_t size() const { return names_.size(); }

 private:
  std::deque<std::string> names_;  // a deque: the map's keys view them
  std::unordered_map<std::string_view, uint32_t> codes_;
  uint32_t last_ = 0;
};

// Task ids by index (for messages), packed in one arena: no allocation per task.
class NameTable {
 public:
  // The first name given to ix stays (an index names one id within a pass).
  void Set(uint32_t ix, std::string_view name) {
    if (ix >= at_.size()) at_.resize(static_cast<size_t>(ix) + 1);
    if (at_[ix].len != kUnset) return;
    at_[ix] = At{arena_.size(), static_cast<uint32_t>(name.size())};
    arena_.append(name);
  }
  // The name of ix, or `unset` if none was given.
  std::string_view Get(uint32_t ix, std::string_view unset = "") const {
    if (ix >= at_.size() || at_[ix].len == kUnset) return unset;
    return std::string_view(arena_).substr(at_[ix].offset, at_[ix].len);
  }

 private:
  static constexpr uint32_t kUnset = UINT32_MAX;
  struct At {
    uint64_t offset = 0;
    uint32_t len = kUnset;
  };
  std::string arena_;
  std::vector<At> at_;
};

}  // namespace ithappens::harness::checkers
