// Task ids ("slugs"): 16 bytes in URL-safe base64 without padding (RFC 4648 section 5).
#include <cstring>
#include <string>

#include "engine/hash.h"
#include "engine/task.h"

namespace ithappens::engine {
namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct SlugTable {
  bool ok[256] = {};
  constexpr SlugTable() {
    for (int i = 0; i < 64; ++i) ok[static_cast<unsigned char>(kAlphabet[i])] = true;
  }
};
constexpr SlugTable kSlugTable;
}  // namespace

bool IsValidSlug(std::string_view s) {
  if (s.size() != static_cast<size_t>(kTaskIdLength)) return false;
  bool ok = true;
  for (char c : s) ok &= kSlugTable.ok[static_cast<unsigned char>(c)];
  if (!ok) return false;
  // The last character carries 2 data bits and 4 zero bits: one of A, Q, g, w.
  char last = s.back();
  return last == 'A' || last == 'Q' || last == 'g' || last == 'w';
}

std::string EncodeSlug(const uint8_t bytes[16]) {
  std::string out;
  out.reserve(kTaskIdLength);
  uint32_t acc = 0;
  int bits = 0;
  for (int i = 0; i < 16; ++i) {
    acc = (acc << 8) | bytes[i];
    bits += 8;
    while (bits >= 6) {
      out.push_back(kAlphabet[(acc >> (bits - 6)) & 63]);
      bits -= 6;
    }
  }
  out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);  // 2 bits left, padded with zeros
  return out;
}

std::string DeterministicTaskId(std::string_view hook_id, TimeMs fire_time_ms,
                                std::string_view key) {
  std::string material;
  material.reserve(hook_id.size() + key.size() + 24);
  material.append(hook_id);
  material.push_back('\0');
  material.append(std::to_string(fire_time_ms));
  material.push_back('\0');
  material.append(key);
  uint64_t a = StableHash(material, 0x6974686170706e73ULL);  // "ithappns"
  uint64_t b = StableHash(material, a);
  uint8_t bytes[16];
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<uint8_t>(a >> (56 - 8 * i));
    bytes[8 + i] = static_cast<uint8_t>(b >> (56 - 8 * i));
  }
  return EncodeSlug(bytes);
}

}  // namespace ithappens::engine
