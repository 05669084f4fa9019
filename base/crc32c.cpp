#include "base/crc32c.h"

#include <array>
#include <cstring>

#include <immintrin.h>

namespace unet::base {
namespace {

// The functions below run the bare shift register, reflected (bit 31 holds x^0, the first
// byte's lowest bit is the message's highest power); the public ones invert before and after,
// so a finished crc can be fed back in to continue it.

constexpr uint32_t kReflectedPoly = 0x82F63B78u;
constexpr uint64_t kPoly = 0x11EDC6F41ull;  // x^32 + ..., bit i holding x^i

constexpr std::array<uint32_t, 256> byte_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t r = b;
    for (int k = 0; k < 8; ++k) r = (r >> 1) ^ ((r & 1u) ? kReflectedPoly : 0u);
    t[b] = r;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kTable = byte_table();

uint32_t by_table(uint32_t reg, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) reg = (reg >> 8) ^ kTable[(reg ^ p[i]) & 0xFFu];
  return reg;
}

// a * b modulo the polynomial, both reflected.
uint32_t gf2_multiply(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (int i = 0; i < 32; ++i) {
    if (a & (0x80000000u >> i)) product ^= b;
    b = (b >> 1) ^ ((b & 1u) ? kReflectedPoly : 0u);  // b *= x
  }
  return product;
}

// x^(8 * bytes) modulo the polynomial, reflected: what running `bytes` zero bytes through the
// register multiplies it by.
uint32_t zeros_operator(size_t bytes) {
  uint32_t result = 0x80000000u;  // x^0
  uint32_t power = 0x00800000u;   // x^8
  for (size_t n = bytes; n != 0; n >>= 1) {
    if (n & 1u) result = gf2_multiply(result, power);
    power = gf2_multiply(power, power);
  }
  return result;
}

// ---- sse42: three streams of the crc32 instruction ------------------------------------------

// The instruction has a latency of three cycles and a throughput of one, so three independent
// streams over adjacent blocks keep it busy; their registers are joined by shifting the
// earlier ones past the later blocks (CRC is linear over GF(2)).
constexpr size_t kStreamBytes = 4096;

__attribute__((target("sse4.2"))) uint32_t by_instruction_one_stream(uint32_t reg, const unsigned char* p, size_t n) {
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

__attribute__((target("sse4.2"))) uint32_t by_instruction(uint32_t reg, const unsigned char* p, size_t n) {
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
  return by_instruction_one_stream(reg, p, n);
}

// ---- avx512_vpclmul: folding with carry-less multiplication --------------------------------
//
// Read 16 bytes as a 128-bit lane: its low quadword L holds the higher powers, so the lane is
// L(x)*x^64 + H(x), each quadword bit-reflected (bit i holds x^(63-i)). A lane followed by D
// more bits of message contributes lane * x^D to the message polynomial, and only the message
// modulo the polynomial matters, so the lane can be replaced by
//     L * (x^(D+64) mod P) + H * (x^D mod P)
// (under 96 bits) added into the lane D bits later. The carry-less product of two reflected
// quadwords comes out one place short (bit k holds x^(126-k)), so each constant is taken as
// x^(e-1) mod P. Four 512-bit accumulators fold 256 bytes a step; at the end they fold onto
// the last lane, and that lane followed by the tail is run through the crc32 instruction from
// a zero register: it has the same remainder as the message (whose first bytes had the
// starting register added in).

constexpr uint32_t x_power_mod(unsigned e) {  // x^e mod P, bit i holding x^i
  uint64_t r = 1;
  for (unsigned i = 0; i < e; ++i) {
    r <<= 1;
    if (r & (uint64_t{1} << 32)) r ^= kPoly;
  }
  return static_cast<uint32_t>(r);
}

constexpr uint64_t reflect64(uint64_t v) {
  uint64_t r = 0;
  for (int i = 0; i < 64; ++i)
    if (v & (uint64_t{1} << i)) r |= uint64_t{1} << (63 - i);
  return r;
}

// The multipliers of a lane's low and high quadwords for a fold over `bits`.
struct FoldConstants {
  uint64_t low, high;
};
constexpr FoldConstants fold_over(unsigned bits) {
  return {reflect64(x_power_mod(bits + 63)), reflect64(x_power_mod(bits - 1))};
}

constexpr FoldConstants kFold2048 = fold_over(2048), kFold1536 = fold_over(1536), kFold1024 = fold_over(1024),
                        kFold512 = fold_over(512), kFold384 = fold_over(384), kFold256 = fold_over(256),
                        kFold128 = fold_over(128);

constexpr size_t kFoldStepBytes = 256;
// Below this the crc32 instruction is as quick and needs no setup.
constexpr size_t kMinFoldBytes = 512;

#define UNET_VPCLMUL_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,vpclmulqdq,pclmul,sse4.2")))

UNET_VPCLMUL_TARGET inline __m512i broadcast(FoldConstants k) {
  const auto lo = static_cast<long long>(k.low), hi = static_cast<long long>(k.high);
  return _mm512_set_epi64(hi, lo, hi, lo, hi, lo, hi, lo);
}

// a folded onto `onto`: a.low * k.low + a.high * k.high + onto, in each 128-bit lane.
UNET_VPCLMUL_TARGET inline __m512i fold(__m512i a, __m512i k, __m512i onto) {
  return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(a, k, 0x00), _mm512_clmulepi64_epi128(a, k, 0x11), onto,
                                   0x96);
}

UNET_VPCLMUL_TARGET uint32_t by_folding(uint32_t reg, const unsigned char* p, size_t n) {
  if (n < kMinFoldBytes) return by_instruction(reg, p, n);
  const __m512i start = _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, static_cast<long long>(reg));
  __m512i x0 = _mm512_xor_si512(_mm512_loadu_si512(p), start);
  __m512i x1 = _mm512_loadu_si512(p + 64);
  __m512i x2 = _mm512_loadu_si512(p + 128);
  __m512i x3 = _mm512_loadu_si512(p + 192);
  p += kFoldStepBytes;
  n -= kFoldStepBytes;
  const __m512i k2048 = broadcast(kFold2048);
  for (; n >= kFoldStepBytes; p += kFoldStepBytes, n -= kFoldStepBytes) {
    x0 = fold(x0, k2048, _mm512_loadu_si512(p));
    x1 = fold(x1, k2048, _mm512_loadu_si512(p + 64));
    x2 = fold(x2, k2048, _mm512_loadu_si512(p + 128));
    x3 = fold(x3, k2048, _mm512_loadu_si512(p + 192));
  }
  x3 = fold(x0, broadcast(kFold1536), x3);
  x3 = fold(x1, broadcast(kFold1024), x3);
  x3 = fold(x2, broadcast(kFold512), x3);
  // Lanes 0, 1, 2 of x3 onto its lane 3 (the multipliers of lane 3 are zero).
  const __m512i k_lanes = _mm512_set_epi64(0, 0, static_cast<long long>(kFold128.high),
                                           static_cast<long long>(kFold128.low), static_cast<long long>(kFold256.high),
                                           static_cast<long long>(kFold256.low), static_cast<long long>(kFold384.high),
                                           static_cast<long long>(kFold384.low));
  const __m512i folded = fold(x3, k_lanes, _mm512_setzero_si512());
  alignas(64) uint64_t q[8], f[8];
  _mm512_store_si512(q, x3);
  _mm512_store_si512(f, folded);
  uint64_t r = _mm_crc32_u64(0, q[6] ^ f[0] ^ f[2] ^ f[4]);
  r = _mm_crc32_u64(r, q[7] ^ f[1] ^ f[3] ^ f[5]);
  return by_instruction(static_cast<uint32_t>(r), p, n);
}

#undef UNET_VPCLMUL_TARGET

uint32_t run(Crc32cMethod method, uint32_t reg, const unsigned char* p, size_t n) {
  switch (method) {
    case Crc32cMethod::avx512_vpclmul: return by_folding(reg, p, n);
    case Crc32cMethod::sse42: return by_instruction(reg, p, n);
    case Crc32cMethod::table: break;
  }
  return by_table(reg, p, n);
}

}  // namespace

bool crc32c_available(Crc32cMethod method) {
  switch (method) {
    case Crc32cMethod::table: return true;
    case Crc32cMethod::sse42: return __builtin_cpu_supports("sse4.2");
    case Crc32cMethod::avx512_vpclmul:
      return __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("pclmul");
  }
  return false;
}

Crc32cMethod crc32c_fastest() {
  static const Crc32cMethod best = crc32c_available(Crc32cMethod::avx512_vpclmul) ? Crc32cMethod::avx512_vpclmul
                                   : crc32c_available(Crc32cMethod::sse42)       ? Crc32cMethod::sse42
                                                                                  : Crc32cMethod::table;
  return best;
}

std::string_view crc32c_method_name(Crc32cMethod method) {
  switch (method) {
    case Crc32cMethod::table: return "table";
    case Crc32cMethod::sse42: return "sse42";
    case Crc32cMethod::avx512_vpclmul: return "avx512_vpclmul";
  }
  return "unknown";
}

uint32_t crc32c(const void* data, size_t bytes, uint32_t crc) {
  return ~run(crc32c_fastest(), ~crc, static_cast<const unsigned char*>(data), bytes);
}

uint32_t crc32c_by(Crc32cMethod method, const void* data, size_t bytes, uint32_t crc) {
  return ~run(method, ~crc, static_cast<const unsigned char*>(data), bytes);
}

}  // namespace unet::base
