#include "data/crc32c.h"

#include <array>
#include <cstring>

#include <nmmintrin.h>

namespace unet::data {
namespace {

// The Castagnoli polynomial, bit-reversed (the CRC is computed least significant bit first).
constexpr uint32_t kReflectedPoly = 0x82F63B78u;

constexpr std::array<uint32_t, 256> byte_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t reg = byte;
    for (int bit = 0; bit < 8; ++bit) reg = (reg & 1u) ? (reg >> 1) ^ kReflectedPoly : reg >> 1;
    table[byte] = reg;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kByteTable = byte_table();

// Both versions run the bare shift register; the public functions invert before and after,
// which is what lets a finished crc be passed back in to continue it.
uint32_t register_by_table(uint32_t reg, const unsigned char* p, size_t n) {
  for (size_t k = 0; k < n; ++k) reg = kByteTable[(reg ^ p[k]) & 0xFFu] ^ (reg >> 8);
  return reg;
}

__attribute__((target("sse4.2"))) uint32_t register_by_instruction(uint32_t reg, const unsigned char* p,
                                                                     size_t n) {
  uint64_t wide = reg;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));  // unaligned loads are as fast as aligned ones here
    wide = _mm_crc32_u64(wide, word);
  }
  reg = static_cast<uint32_t>(wide);
  for (; n != 0; --n, ++p) reg = _mm_crc32_u8(reg, *p);
  return reg;
}

bool cpu_has_sse42() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}

}  // namespace

uint32_t crc32c(const void* data, size_t bytes, uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  return cpu_has_sse42() ? ~register_by_instruction(~crc, p, bytes) : ~register_by_table(~crc, p, bytes);
}

uint32_t crc32c_portable(const void* data, size_t bytes, uint32_t crc) {
  return ~register_by_table(~crc, static_cast<const unsigned char*>(data), bytes);
}

}  // namespace unet::data
