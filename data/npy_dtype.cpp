#include "data/npy_dtype.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace unet::data {

// Files are little-endian unless they say otherwise; this engine targets x86-64, so the
// host order is the file order and writing is a copy.
static_assert(std::endian::native == std::endian::little, "npy conversion assumes a little-endian host");

const char* npy_dtype_name(NpyDtype dtype) {
  switch (dtype) {
    case NpyDtype::f16: return "float16";
    case NpyDtype::f32: return "float32";
    case NpyDtype::f64: return "float64";
    case NpyDtype::u8: return "uint8";
    case NpyDtype::i8: return "int8";
    case NpyDtype::i16: return "int16";
    case NpyDtype::u16: return "uint16";
    case NpyDtype::i32: return "int32";
    case NpyDtype::u32: return "uint32";
    case NpyDtype::i64: return "int64";
    case NpyDtype::b1: return "bool";
  }
  return "?";
}

size_t npy_dtype_size(NpyDtype dtype) {
  switch (dtype) {
    case NpyDtype::u8:
    case NpyDtype::i8:
    case NpyDtype::b1: return 1;
    case NpyDtype::f16:
    case NpyDtype::i16:
    case NpyDtype::u16: return 2;
    case NpyDtype::f32:
    case NpyDtype::i32:
    case NpyDtype::u32: return 4;
    case NpyDtype::f64:
    case NpyDtype::i64: return 8;
  }
  return 0;
}

namespace {

char kind_char(NpyDtype dtype) {
  switch (dtype) {
    case NpyDtype::f16:
    case NpyDtype::f32:
    case NpyDtype::f64: return 'f';
    case NpyDtype::u8:
    case NpyDtype::u16:
    case NpyDtype::u32: return 'u';
    case NpyDtype::i8:
    case NpyDtype::i16:
    case NpyDtype::i32:
    case NpyDtype::i64: return 'i';
    case NpyDtype::b1: return 'b';
  }
  return '?';
}

constexpr NpyDtype kAllDtypes[] = {NpyDtype::f16, NpyDtype::f32, NpyDtype::f64, NpyDtype::u8,
                                   NpyDtype::i8,  NpyDtype::i16, NpyDtype::u16, NpyDtype::i32,
                                   NpyDtype::u32, NpyDtype::i64, NpyDtype::b1};

template <typename T>
T load(const uint8_t* p, bool big_endian) {
  using Bits = std::conditional_t<sizeof(T) == 1, uint8_t,
               std::conditional_t<sizeof(T) == 2, uint16_t,
               std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>>;
  Bits bits;
  std::memcpy(&bits, p, sizeof(bits));
  if (big_endian) {
    if constexpr (sizeof(T) == 2) bits = __builtin_bswap16(bits);
    if constexpr (sizeof(T) == 4) bits = __builtin_bswap32(bits);
    if constexpr (sizeof(T) == 8) bits = __builtin_bswap64(bits);
  }
  return std::bit_cast<T>(bits);
}

template <typename T>
void convert_loop(const uint8_t* src, bool big_endian, size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(load<T>(src + i * sizeof(T), big_endian));
}

// Round to nearest-even, then clamp to T's range; nan becomes 0.
template <typename T>
T saturate(float v) {
  if (std::isnan(v)) return 0;
  double r = std::nearbyint(static_cast<double>(v));
  constexpr double lo = static_cast<double>(std::numeric_limits<T>::min());
  constexpr double hi = static_cast<double>(std::numeric_limits<T>::max());
  if (r <= lo) return std::numeric_limits<T>::min();
  if (r >= hi) return std::numeric_limits<T>::max();
  return static_cast<T>(r);
}

template <typename T>
void saturate_loop(const float* src, size_t n, void* dst) {
  auto* out = static_cast<uint8_t*>(dst);
  for (size_t i = 0; i < n; ++i) {
    T v = saturate<T>(src[i]);
    std::memcpy(out + i * sizeof(T), &v, sizeof(T));
  }
}

}  // namespace

std::string npy_descr(NpyDtype dtype, bool big_endian) {
  size_t size = npy_dtype_size(dtype);
  char order = size == 1 ? '|' : (big_endian ? '>' : '<');
  return std::string{order, kind_char(dtype)} + std::to_string(size);
}

std::optional<NpyDescr> parse_npy_descr(std::string_view descr) {
  char order = '=';
  if (!descr.empty() && std::string_view("<>|=").find(descr[0]) != std::string_view::npos) {
    order = descr[0];
    descr.remove_prefix(1);
  }
  for (NpyDtype d : kAllDtypes) {
    size_t size = npy_dtype_size(d);
    if (descr != std::string{kind_char(d)} + std::to_string(size)) continue;
    // '|' means "byte order does not apply", which only one-byte types may say.
    if (order == '|' && size != 1) return std::nullopt;
    return NpyDescr{d, size > 1 && order == '>'};
  }
  return std::nullopt;
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float32.
    float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t f32_to_f16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  uint32_t magnitude = x & 0x7fffffffu;
  if (magnitude > 0x7f800000u)  // nan: keep the top payload bits, force quiet
    return static_cast<uint16_t>(sign | 0x7e00 | ((magnitude >> 13) & 0x3ff));
  if (magnitude >= 0x38800000u) {  // normal in half (or overflowing to inf)
    uint32_t rebiased = magnitude - 0x38000000u;  // exponent bias 127 -> 15
    uint32_t result = rebiased >> 13;
    uint32_t rest = rebiased & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (result & 1))) ++result;  // carries into exponent
    if (result >= 0x7c00) result = 0x7c00;
    return static_cast<uint16_t>(sign | result);
  }
  if (magnitude <= 0x33000000u) return sign;  // at most half the smallest subnormal: to zero
  // Subnormal: the value in units of 2^-24 is the full mantissa shifted right.
  uint32_t exponent = magnitude >> 23;
  uint32_t mantissa = (magnitude & 0x7fffff) | 0x800000;
  uint32_t shift = 126 - exponent;
  uint32_t result = mantissa >> shift;
  uint32_t rest = mantissa & ((1u << shift) - 1);
  uint32_t halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (result & 1))) ++result;
  return static_cast<uint16_t>(sign | result);
}

void convert_to_f32(NpyDtype dtype, bool big_endian, const void* src, size_t n, float* out) {
  if (n == 0) return;  // zero rows: src and out may be null, which memcpy may not be handed
  const auto* p = static_cast<const uint8_t*>(src);
  switch (dtype) {
    case NpyDtype::f16:
      for (size_t i = 0; i < n; ++i) out[i] = f16_to_f32(load<uint16_t>(p + 2 * i, big_endian));
      return;
    case NpyDtype::f32:
      if (!big_endian) {
        std::memcpy(out, p, n * sizeof(float));
        return;
      }
      convert_loop<float>(p, true, n, out);
      return;
    case NpyDtype::f64: convert_loop<double>(p, big_endian, n, out); return;
    case NpyDtype::u8: convert_loop<uint8_t>(p, false, n, out); return;
    case NpyDtype::i8: convert_loop<int8_t>(p, false, n, out); return;
    case NpyDtype::i16: convert_loop<int16_t>(p, big_endian, n, out); return;
    case NpyDtype::u16: convert_loop<uint16_t>(p, big_endian, n, out); return;
    case NpyDtype::i32: convert_loop<int32_t>(p, big_endian, n, out); return;
    case NpyDtype::u32: convert_loop<uint32_t>(p, big_endian, n, out); return;
    case NpyDtype::i64: convert_loop<int64_t>(p, big_endian, n, out); return;
    case NpyDtype::b1:
      for (size_t i = 0; i < n; ++i) out[i] = p[i] != 0 ? 1.0f : 0.0f;
      return;
  }
}

void convert_from_f32(NpyDtype dtype, const float* src, size_t n, void* dst) {
  auto* out = static_cast<uint8_t*>(dst);
  switch (dtype) {
    case NpyDtype::f16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h = f32_to_f16(src[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case NpyDtype::f32: std::memcpy(out, src, n * sizeof(float)); return;
    case NpyDtype::f64:
      for (size_t i = 0; i < n; ++i) {
        double d = src[i];
        std::memcpy(out + 8 * i, &d, 8);
      }
      return;
    case NpyDtype::u8: saturate_loop<uint8_t>(src, n, dst); return;
    case NpyDtype::i8: saturate_loop<int8_t>(src, n, dst); return;
    case NpyDtype::i16: saturate_loop<int16_t>(src, n, dst); return;
    case NpyDtype::u16: saturate_loop<uint16_t>(src, n, dst); return;
    case NpyDtype::i32: saturate_loop<int32_t>(src, n, dst); return;
    case NpyDtype::u32: saturate_loop<uint32_t>(src, n, dst); return;
    case NpyDtype::i64: saturate_loop<int64_t>(src, n, dst); return;
    case NpyDtype::b1:
      for (size_t i = 0; i < n; ++i) out[i] = src[i] != 0.0f ? 1 : 0;
      return;
  }
}

}  // namespace unet::data
