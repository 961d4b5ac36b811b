// Eight bytes of a JSON string at a time, for the history's writer and reader: whether a
// word holds a byte that ends a plain run (a quote, a backslash or a control character).
// Exact as "any byte of the word" (each test is the has-zero-byte trick); which byte it
// is, the caller finds byte by byte.
#pragma once

#include <cstdint>
#include <cstring>

namespace ithappens::harness {

inline constexpr uint64_t kPlainOnes = 0x0101010101010101ull;
inline constexpr uint64_t kPlainHigh = 0x8080808080808080ull;

// The eight bytes at p (at least eight must be readable).
inline uint64_t LoadWord(const char* p) {
  uint64_t x;
  std::memcpy(&x, p, 8);
  return x;
}

// Bit 7 of some byte is set iff a byte of x is '"', '\\' or below 0x20.
inline uint64_t QuoteSlashOrControl(uint64_t x) {
  const uint64_t quote = x ^ (kPlainOnes * '"'), slash = x ^ (kPlainOnes * '\\');
  return (((quote - kPlainOnes) & ~quote) | ((slash - kPlainOnes) & ~slash) |
          ((x - kPlainOnes * 0x20) & ~x)) &
         kPlainHigh;
}

}  // namespace ithappens::harness
