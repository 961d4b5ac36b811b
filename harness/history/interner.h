// Strings to dense indices (0, 1, 2, ... in order of first appearance), for checkers that
// keep per-task or per-recipient state in vectors. Open addressing over 32-byte slots that
// hold hash bits and, for names up to 23 bytes (task ids are 22), the name itself: a lookup
// touches one cache line. Longer names live in an arena. Not thread-safe.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "harness/history/plain_bytes.h"

namespace ithappens::harness {

class Interner {
 public:
  // A word at a time (task ids are 22 bytes: three words), then murmur3's finaliser, so
  // the low bits (the slot) and the high ones (the tag) both mix every byte.
  static size_t Hash(std::string_view s) {
    constexpr uint64_t kMul = 0xbf58476d1ce4e5b9ull;
    const char* p = s.data();
    size_t n = s.size();
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    auto mix = [&](uint64_t w) {
      h = (h ^ w) * kMul;
      h ^= h >> 31;
    };
    for (; n >= 8; p += 8, n -= 8) mix(LoadWord(p));
    if (n > 0) {
      uint64_t w = 0;
      if (s.size() >= 8) {
        w = LoadWord(s.data() + s.size() - 8) >> (8 * (8 - n));  // the tail's n bytes
      } else {
        std::memcpy(&w, p, n);
      }
      mix(w);
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return static_cast<size_t>(h);
  }

  // Starts loading the slot where s (with hash h) would be (a hint; optional).
  void Prefetch(size_t h) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[h & (slots_.size() - 1)]);
  }

  uint32_t Intern(std::string_view s) { return Intern(s, Hash(s)); }
  // h must be Hash(s).
  uint32_t Intern(std::string_view s, size_t h) {
    if (count_ * 2 >= slots_.size()) Grow();
    const size_t mask = slots_.size() - 1;
    const uint32_t tag = static_cast<uint32_t>(h >> 32);
    for (size_t at = h & mask;; at = (at + 1) & mask) {
      Slot& slot = slots_[at];
      if (slot.ix == kEmpty) {
        Fill(&slot, s, tag);
        return slot.ix;
      }
      if (slot.tag == tag && Same(Name(slot), s)) return slot.ix;
    }
  }
  uint32_t size() const { return count_; }

  // a == b, eight bytes at a time (no call for a task id's 22 bytes), never reading
  // outside either.
  static bool Same(std::string_view a, std::string_view b) {
    const size_t n = a.size();
    if (n != b.size()) return false;
    if (n < 8) return n == 0 || std::memcmp(a.data(), b.data(), n) == 0;
    uint64_t diff = 0;
    for (size_t k = 0; k + 8 <= n; k += 8) diff |= LoadWord(a.data() + k) ^ LoadWord(b.data() + k);
    return (diff | (LoadWord(a.data() + n - 8) ^ LoadWord(b.data() + n - 8))) == 0;
  }

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  static constexpr uint8_t kInArena = 0xFF;
  static constexpr size_t kInline = 23;
  struct Slot {
    uint32_t ix = kEmpty;
    uint32_t tag = 0;
    uint8_t len = 0;  // kInArena: name holds (offset, length) into arena_
    char name[kInline] = {};
  };
  static_assert(sizeof(Slot) == 32);

  std::string_view Name(const Slot& slot) const {
    if (slot.len != kInArena) return std::string_view(slot.name, slot.len);
    uint64_t off;
    uint32_t len;
    std::memcpy(&off, slot.name, sizeof off);
    std::memcpy(&len, slot.name + sizeof off, sizeof len);
    return std::string_view(arena_.data() + off, len);
  }
  void Fill(Slot* slot, std::string_view s, uint32_t tag) {
    slot->ix = count_++;
    slot->tag = tag;
    if (s.size() <= kInline) {
      slot->len = static_cast<uint8_t>(s.size());
      std::memcpy(slot->name, s.data(), s.size());
    } else {
      slot->len = kInArena;
      const uint64_t off = arena_.size();
      const uint32_t len = static_cast<uint32_t>(s.size());
      arena_.append(s);
      std::memcpy(slot->name, &off, sizeof off);
      std::memcpy(slot->name + sizeof off, &len, sizeof len);
    }
  }
  void Grow() {
    std::vector<Slot> next(slots_.empty() ? 1024 : slots_.size() * 2);
    const size_t mask = next.size() - 1;
    for (const Slot& old : slots_) {
      if (old.ix == kEmpty) continue;
      size_t at = Hash(Name(old)) & mask;
      while (next[at].ix != kEmpty) at = (at + 1) & mask;
      next[at] = old;
    }
    slots_.swap(next);
  }

  uint32_t count_ = 0;
  std::string arena_;  // names over kInline bytes, back to back
  std::vector<Slot> slots_;
};

}  // namespace ithappens::harness
