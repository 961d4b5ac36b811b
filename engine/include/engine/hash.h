// Stable 64-bit hashing (FNV-1a + a splitmix64 finalizer). Used where a hash reaches the
// outside (deterministic task ids), so it must not depend on std::hash's implementation.
#pragma once

#include <cstdint>
#include <string_view>

namespace ithappens::engine {

inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline uint64_t StableHash(std::string_view s, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ULL ^ Mix64(seed);
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return Mix64(h ^ s.size());
}

}  // namespace ithappens::engine
