// Flat open-addressing index from task id to TaskIndex. Keys are not copied: the caller
// resolves an index back to its id (the definitions own the strings), so a slot is 8 bytes
// (the hash's low 32 bits, which also place it, and the index) and a lookup touches one
// cache line in the common case. Linear probing, power-of-two capacity up to 2^32 slots,
// load factor at most 1/2. Not thread-safe (the queue's mutex guards it).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "engine/hash.h"

namespace ithappens::engine {

class TaskIdIndex {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  static uint64_t Hash(std::string_view id) {
    uint64_t h = 0x9ae16a3b2f90404fULL ^ id.size();
    size_t i = 0;
    for (; i + 8 <= id.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, id.data() + i, 8);
      h = Mix64(h ^ w);
    }
    uint64_t tail = 0;
    std::memcpy(&tail, id.data() + i, id.size() - i);
    return Mix64(h ^ tail);
  }

  // key_of(index) returns the id stored at that index.
  template <typename KeyOf>
  uint32_t Find(std::string_view id, const KeyOf& key_of) const {
    if (slots_.empty()) return kNone;
    const uint32_t h = static_cast<uint32_t>(Hash(id));
    for (size_t s = h & mask_;; s = (s + 1) & mask_) {
      const Slot& slot = slots_[s];
      if (slot.index == kNone) return kNone;
      if (slot.hash == h && key_of(slot.index) == id) return slot.index;
    }
  }

  // Find and Insert in one probe: the index id has, or (absent) inserts it with `index`
  // and returns kNone. key_of is only asked for indices already held.
  template <typename KeyOf>
  uint32_t FindOrInsert(std::string_view id, uint32_t index, const KeyOf& key_of) {
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    const uint32_t h = static_cast<uint32_t>(Hash(id));
    size_t s = h & mask_;
    for (; slots_[s].index != kNone; s = (s + 1) & mask_) {
      if (slots_[s].hash == h && key_of(slots_[s].index) == id) return slots_[s].index;
    }
    slots_[s] = Slot{h, index};
    ++size_;
    return kNone;
  }

  // The id must not be present already.
  void Insert(std::string_view id, uint32_t index) {
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    Place(Slot{static_cast<uint32_t>(Hash(id)), index});
    ++size_;
  }

  // Room for n ids without growing.
  void Reserve(size_t n) {
    size_t want = 1024;
    while (want < 2 * n) want *= 2;
    if (want <= slots_.size()) return;
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(want, Slot{0, kNone});
    mask_ = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.index != kNone) Place(s);
    }
  }

  void Clear() {
    slots_.clear();
    mask_ = 0;
    size_ = 0;
  }

 private:
  struct Slot {
    uint32_t hash;  // Hash(id)'s low bits: its place at every capacity, without the id
    uint32_t index;
  };
  static_assert(sizeof(Slot) == 8);
  void Place(Slot slot) {
    size_t s = slot.hash & mask_;
    while (slots_[s].index != kNone) s = (s + 1) & mask_;
    slots_[s] = slot;
  }
  void Grow() { Reserve(slots_.empty() ? 1 : slots_.size()); }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace ithappens::engine
