// CRC32C (Castagnoli, the iSCSI polynomial): the checksum of the parameter server's frames
// (net/) and of TensorBoard's TFRecord framing (data/). One implementation with three ways to
// compute it, the fastest the CPU has chosen at run time:
//   avx512_vpclmul  carry-less multiplication folding 256 bytes a step (Zen 4/5, Ice Lake,
//                   Sapphire Rapids): it keeps pace with memory, so checking a frame's payload
//                   costs about what reading it does;
//   sse42           three interleaved streams of the crc32 instruction (KNL, Skylake);
//   table           a byte at a time: the specification the other two are tested against.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace unet::base {

enum class Crc32cMethod { table, sse42, avx512_vpclmul };

// crc32c(data) continuing from `crc` (0 for a fresh one): crc32c(b, crc32c(a)) == crc32c(a ++ b).
uint32_t crc32c(const void* data, size_t bytes, uint32_t crc = 0);

// The same with one method (tests and benchmarks); the CPU must have it (crc32c_available).
uint32_t crc32c_by(Crc32cMethod method, const void* data, size_t bytes, uint32_t crc = 0);
bool crc32c_available(Crc32cMethod method);
Crc32cMethod crc32c_fastest();
std::string_view crc32c_method_name(Crc32cMethod method);

}  // namespace unet::base
