#include "net/crc32c.h"

#include <array>
#include <cstring>

#include <nmmintrin.h>

namespace unet::net {
namespace {

// Reflected Castagnoli polynomial: bit 31 stands for x^0, bit 0 for x^31.
constexpr uint32_t kPoly = 0x82F63B78u;

constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t r = b;
    for (int k = 0; k < 8; ++k) r = (r >> 1) ^ ((r & 1u) ? kPoly : 0u);
    t[b] = r;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kTable = make_table();

// The functions below work on the raw shift register; the public ones add the initial and
// final inversion, so a finished crc can be fed back in to continue it.
uint32_t update_table(uint32_t reg, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) reg = (reg >> 8) ^ kTable[(reg ^ p[i]) & 0xFFu];
  return reg;
}

// a * b modulo the polynomial, both in the reflected representation.
uint32_t gf2_multiply(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (int i = 0; i < 32; ++i) {
    if (a & (0x80000000u >> i)) product ^= b;
    b = (b >> 1) ^ ((b & 1u) ? kPoly : 0u);  // b *= x
  }
  return product;
}

// x^(8 * bytes) modulo the polynomial: what running `bytes` zero bytes through the register
// multiplies it by.
uint32_t zeros_operator(size_t bytes) {
  uint32_t result = 0x80000000u;  // x^0
  uint32_t power = 0x00800000u;   // x^8
  for (size_t n = bytes; n != 0; n >>= 1) {
    if (n & 1u) result = gf2_multiply(result, power);
    power = gf2_multiply(power, power);
  }
  return result;
}

// The crc32 instruction has a latency of three cycles and a throughput of one, so three
// independent streams over adjacent blocks keep it busy; their registers are then joined by
// shifting the earlier ones past the later blocks (CRC is linear over GF(2)).
constexpr size_t kStreamBytes = 4096;

__attribute__((target("sse4.2"))) uint32_t update_sse42_single(uint32_t reg, const unsigned char* p,
                                                                 size_t n) {
  while (n != 0 && (reinterpret_cast<uintptr_t>(p) & 7u) != 0) {
    reg = _mm_crc32_u8(reg, *p++);
    --n;
  }
  uint64_t r64 = reg;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    r64 = _mm_crc32_u64(r64, v);
  }
  reg = static_cast<uint32_t>(r64);
  for (; n != 0; --n) reg = _mm_crc32_u8(reg, *p++);
  return reg;
}

__attribute__((target("sse4.2"))) uint32_t update_sse42(uint32_t reg, const unsigned char* p, size_t n) {
  if (n >= 3 * kStreamBytes) {
    static const uint32_t shift_one_block = zeros_operator(kStreamBytes);
    while (n != 0 && (reinterpret_cast<uintptr_t>(p) & 7u) != 0) {
      reg = _mm_crc32_u8(reg, *p++);
      --n;
    }
    while (n >= 3 * kStreamBytes) {
      uint64_t a = reg, b = 0, c = 0;
      const unsigned char* pa = p;
      const unsigned char* pb = p + kStreamBytes;
      const unsigned char* pc = p + 2 * kStreamBytes;
      for (size_t i = 0; i < kStreamBytes; i += 8) {
        uint64_t va, vb, vc;
        std::memcpy(&va, pa + i, 8);
        std::memcpy(&vb, pb + i, 8);
        std::memcpy(&vc, pc + i, 8);
        a = _mm_crc32_u64(a, va);
        b = _mm_crc32_u64(b, vb);
        c = _mm_crc32_u64(c, vc);
      }
      uint32_t ab = gf2_multiply(static_cast<uint32_t>(a), shift_one_block) ^ static_cast<uint32_t>(b);
      reg = gf2_multiply(ab, shift_one_block) ^ static_cast<uint32_t>(c);
      p += 3 * kStreamBytes;
      n -= 3 * kStreamBytes;
    }
  }
  return update_sse42_single(reg, p, n);
}

bool have_sse42() {
  static const bool yes = __builtin_cpu_supports("sse4.2");
  return yes;
}

}  // namespace

uint32_t crc32c(const void* data, size_t bytes, uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  if (have_sse42()) return ~update_sse42(~crc, p, bytes);
  return ~update_table(~crc, p, bytes);
}

uint32_t crc32c_portable(const void* data, size_t bytes, uint32_t crc) {
  return ~update_table(~crc, static_cast<const unsigned char*>(data), bytes);
}

}  // namespace unet::net
