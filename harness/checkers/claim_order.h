// Claim order, for task-model: the queue hands out the highest priority first, then the
// oldest. A claim that handed out task X while a better-ranked task Y was certainly
// pending all along (Y's first run pending before the claim was sent, and handed out only
// by a claim sent after this one was answered) broke that order.
//
// Ranks are scalars, lower first: priority level * 2^40 + a time in ms. X's rank uses its
// first create's invoke time (no run of X was scheduled earlier); Y's uses the time its
// create was acknowledged (its first run, with no dependencies, was scheduled by then). So
// rank(Y) < rank(X) proves Y came first. Claims are kept in answer order with a max-rank
// segment tree: each check is O(log claims), memory O(claims).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace ithappens::harness::checkers {

class ClaimOrder {
 public:
  static constexpr int64_t kNoRank = std::numeric_limits<int64_t>::min();
  static int64_t Rank(int level, int64_t t_ms) { return (int64_t{level} << 40) + t_ms; }

  struct Claim {
    int64_t invoke_ms, ok_ms, event;
    int64_t worst_rank;  // the worst-ranked task it handed out (kNoRank: none known)
    std::string worst_task;
  };

  // Records an answered claim; claims must come in answer order.
  void Add(Claim c) {
    max_latency_ms_ = std::max(max_latency_ms_, c.ok_ms - c.invoke_ms);
    const int64_t rank = c.worst_rank;
    claims_.push_back(std::move(c));
    Grow();
    Set(claims_.size() - 1, rank);
  }

  // A claim answered after y_ready_ms and before before_ms (so sent after Y was pending,
  // and answered before Y's own claim was sent) that handed out a task ranked below Y;
  // nullptr if none. A claim counts only if it was surely sent after y_ready_ms: its
  // answer came later than that by more than the slowest answer seen.
  const Claim* Overtaken(int64_t y_rank, int64_t y_ready_ms, int64_t before_ms) const {
    auto by_ok = [](const Claim& c, int64_t t) { return c.ok_ms < t; };
    const size_t lo = static_cast<size_t>(
        std::lower_bound(claims_.begin(), claims_.end(), y_ready_ms + max_latency_ms_ + 1, by_ok) -
        claims_.begin());
    const size_t hi = static_cast<size_t>(
        std::lower_bound(claims_.begin(), claims_.end(), before_ms, by_ok) - claims_.begin());
    if (lo >= hi) return nullptr;
    const size_t at = ArgMax(lo, hi);
    if (at == kNone || claims_[at].worst_rank <= y_rank) return nullptr;
    return &claims_[at];
  }

 private:
  static constexpr size_t kNone = std::numeric_limits<size_t>::max();
  void Grow() {
    if (claims_.size() <= leaves_) return;
    leaves_ = std::max<size_t>(leaves_ * 2, 64);
    tree_.assign(2 * leaves_, kNone);
    for (size_t k = 0; k + 1 < claims_.size(); ++k) Set(k, claims_[k].worst_rank);
  }
  int64_t RankAt(size_t ix) const { return ix == kNone ? kNoRank : claims_[ix].worst_rank; }
  void Set(size_t k, int64_t) {
    size_t node = leaves_ + k;
    tree_[node] = k;
    for (node /= 2; node >= 1; node /= 2) {
      const size_t a = tree_[2 * node], b = tree_[2 * node + 1];
      tree_[node] = RankAt(a) >= RankAt(b) ? a : b;
    }
  }
  // The index of the claim with the largest worst_rank in [lo, hi).
  size_t ArgMax(size_t lo, size_t hi) const {
    size_t best = kNone;
    auto take = [&](size_t ix) {
      if (ix != kNone && (best == kNone || RankAt(ix) > RankAt(best))) best = ix;
    };
    for (size_t l = lo + leaves_, r = hi + leaves_; l < r; l /= 2, r /= 2) {
      if (l & 1) take(tree_[l++]);
      if (r & 1) take(tree_[--r]);
    }
    return best;
  }

  std::vector<Claim> claims_;
  std::vector<size_t> tree_;  // claim indices; a node holds its subtree's max
  size_t leaves_ = 0;
  int64_t max_latency_ms_ = 0;
};

}  // namespace ithappens::harness::checkers
