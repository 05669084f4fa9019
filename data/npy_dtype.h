// The element types of .npy files this engine reads and writes, and their conversions to
// and from float32 (the engine's one compute type).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace unet::data {

enum class NpyDtype : uint8_t { f16, f32, f64, u8, i8, i16, u16, i32, u32, i64, b1 };

// numpy's names: "float16", "float32", ..., "uint8", ..., "bool".
const char* npy_dtype_name(NpyDtype dtype);
size_t npy_dtype_size(NpyDtype dtype);
// The header 'descr' numpy writes: "<f4", ">i2", "|u1", "|b1".
std::string npy_descr(NpyDtype dtype, bool big_endian = false);

struct NpyDescr {
  NpyDtype dtype;
  bool big_endian;  // false for one-byte types
};
// Parses a 'descr' string ("<f4", ">f2", "|u1", "f8", "=i4"); nullopt when not supported.
std::optional<NpyDescr> parse_npy_descr(std::string_view descr);

// IEEE binary16 <-> binary32. to_f32 is exact (subnormals, inf, nan kept); from_f32 rounds
// to nearest-even, overflows to inf, keeps nan a (quiet) nan.
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// n elements at src (dtype, byte order) -> float32. src needs no alignment.
void convert_to_f32(NpyDtype dtype, bool big_endian, const void* src, size_t n, float* out);
// n floats -> little-endian elements of dtype at dst. Integer types round to nearest-even
// and saturate (nan -> 0); bool is value != 0; f16 rounds to nearest-even.
void convert_from_f32(NpyDtype dtype, const float* src, size_t n, void* dst);

}  // namespace unet::data
