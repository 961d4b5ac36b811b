// The simulated effect sink (the notification provider): it delivers each idempotency key
// once; the nemesis takes it down (sink-outage) or makes it leak (sink-leak: every
// kDeliveriesPerOom-th delivery it runs out of memory after sending, before answering, and
// its supervisor restarts it kRestartMs later).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>

namespace ithappens::harness {

class SimSink {
 public:
  static constexpr int kDeliveriesPerOom = 20;
  static constexpr int64_t kRestartMs = 10'000;

  bool Down(int64_t now_ms) const { return down_ || now_ms < oom_until_ms_; }
  // Records a delivery of key: true the first time (it went out), false for a repeat.
  bool Deliver(std::string key) { return delivered_.insert(std::move(key)).second; }
  // After a delivery: true when the leak ran out of memory there (down until restarted).
  bool RunsOutOfMemory(int64_t now_ms) {
    if (!leaking_ || ++leaked_deliveries_ % kDeliveriesPerOom != 0) return false;
    oom_until_ms_ = now_ms + kRestartMs;
    return true;
  }

  void SetDown(bool down) { down_ = down; }
  void SetLeaking(bool leaking) {
    leaking_ = leaking;
    leaked_deliveries_ = 0;
  }

 private:
  bool down_ = false;
  bool leaking_ = false;
  int64_t leaked_deliveries_ = 0;
  int64_t oom_until_ms_ = 0;
  std::unordered_set<std::string> delivered_;  // membership only: no order to keep
};

}  // namespace ithappens::harness
