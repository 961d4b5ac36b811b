// The simulated effect sink (the notification provider): it delivers each idempotency key
// once; the nemesis takes it down (sink-outage) or makes it leak (sink-leak: every
// kDeliveriesPerOom-th delivery it runs out of memory after sending, before answering, and
// its supervisor restarts it kRestartMs later).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "engine/task_id_index.h"

namespace ithappens::harness {

// A set of keys that only grows (a sink never forgets a delivery): each key's length (two
// bytes) and characters in blocks that never move, and the engine's flat index from a key
// to its place in them (block and offset in 32 bits). 42-58 bytes a key of 24 characters
// (the index is a quarter to half full), where a set of strings held about 110 and allocated twice
// per key. Blocks of 64 KiB by default (a small run's few keys take little; the heap can hand a
// freed run of that size back). Keys up to 65,535 bytes and within a block; at most 2^32 / block
// bytes blocks (4 GiB of keys: a run delivers at most 10^7 effects). Either bound is refused with
// std::length_error.
class KeySet {
 public:
  explicit KeySet(int block_bits = 16) : block_bits_(block_bits) {}
  // True when key was not held (it is now), false when it was.
  bool Insert(std::string_view key) {
    const size_t block_bytes = size_t{1} << block_bits_;
    const size_t need = key.size() + 2;
    if (key.size() > 0xffff || need > block_bytes)
      throw std::length_error("sink: a key of " + std::to_string(key.size()) +
                              " bytes is over the key set's bound of " +
                              std::to_string(std::min<size_t>(0xffff, block_bytes - 2)));
    if (blocks_.empty() || used_ + need > block_bytes) {
      if (blocks_.size() >= (uint64_t{1} << (32 - block_bits_)))
        throw std::length_error("sink: more keys than the key set's 4 GiB");
      blocks_.push_back(std::make_unique_for_overwrite<unsigned char[]>(block_bytes));
      used_ = 0;
    }
    // Where the key goes if it is new. Never kNone: a block's last byte cannot start a key
    // (it takes two bytes at least).
    const uint32_t place = static_cast<uint32_t>(((blocks_.size() - 1) << block_bits_) | used_);
    const auto key_of = [this](uint32_t at) { return At(at); };
    if (index_.FindOrInsert(key, place, key_of) != engine::TaskIdIndex::kNone) return false;
    unsigned char* p = blocks_.back().get() + used_;
    p[0] = static_cast<unsigned char>(key.size() & 0xff);
    p[1] = static_cast<unsigned char>(key.size() >> 8);
    if (!key.empty()) std::memcpy(p + 2, key.data(), key.size());
    used_ += need;
    ++size_;
    return true;
  }
  size_t size() const { return size_; }

 private:
  std::string_view At(uint32_t place) const {
    const unsigned char* p =
        blocks_[place >> block_bits_].get() + (place & ((uint32_t{1} << block_bits_) - 1));
    return {reinterpret_cast<const char*>(p + 2), size_t{p[0]} | size_t{p[1]} << 8};
  }
  int block_bits_;
  std::vector<std::unique_ptr<unsigned char[]>> blocks_;
  size_t used_ = 0;  // bytes used in the last block
  size_t size_ = 0;
  engine::TaskIdIndex index_;
};

class SimSink {
 public:
  static constexpr int kDeliveriesPerOom = 20;
  static constexpr int64_t kRestartMs = 10'000;

  bool Down(int64_t now_ms) const { return down_ || now_ms < oom_until_ms_; }
  // Records a delivery of key: true the first time (it went out), false for a repeat.
  bool Deliver(std::string_view key) { return delivered_.Insert(key); }
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
  KeySet delivered_;
};

}  // namespace ithappens::harness
