// Eight bytes of a JSON string at a time, for the history's writer and reader: whether a
// word holds a byte that ends a plain run (a quote, a backslash or a control character).
// Exact as "any byte of the word" (each test is the has-zero-byte trick); which byte it
// is, the caller finds byte by byte.
#pragma once

#include <cstddef>
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

// The first and last sizeof(U) bytes of n at a and b are equal (n at most twice that: the
// two loads cover all n).
template <typename U>
inline bool SameEnds(const char* a, const char* b, size_t n) {
  U x0, y0, x1, y1;
  std::memcpy(&x0, a, sizeof(U));
  std::memcpy(&y0, b, sizeof(U));
  std::memcpy(&x1, a + n - sizeof(U), sizeof(U));
  std::memcpy(&y1, b + n - sizeof(U), sizeof(U));
  return ((x0 ^ y0) | (x1 ^ y1)) == 0;
}

// The N bytes at a and b are equal (N known at compile time: a few loads and one test,
// where memcmp with a constant length above a few bytes stays a call).
template <size_t N>
inline bool SameBytes(const char* a, const char* b) {
  if constexpr (N >= 8) {
    uint64_t diff = 0;
    for (size_t k = 0; k + 8 <= N; k += 8) diff |= LoadWord(a + k) ^ LoadWord(b + k);
    if constexpr (N % 8 != 0) diff |= LoadWord(a + N - 8) ^ LoadWord(b + N - 8);
    return diff == 0;
  } else if constexpr (N >= 4) {
    return SameEnds<uint32_t>(a, b, N);
  } else if constexpr (N >= 2) {
    return SameEnds<uint16_t>(a, b, N);
  } else if constexpr (N == 1) {
    return a[0] == b[0];
  } else {
    return true;
  }
}

// Bit 7 of some byte is set iff a byte of x is '"', '\\' or below 0x20.
inline uint64_t QuoteSlashOrControl(uint64_t x) {
  const uint64_t quote = x ^ (kPlainOnes * '"'), slash = x ^ (kPlainOnes * '\\');
  return (((quote - kPlainOnes) & ~quote) | ((slash - kPlainOnes) & ~slash) |
          ((x - kPlainOnes * 0x20) & ~x)) &
         kPlainHigh;
}

}  // namespace ithappens::harness
