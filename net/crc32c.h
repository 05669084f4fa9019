// CRC32C (Castagnoli, the iSCSI polynomial), with the SSE4.2 crc32 instruction where the CPU
// has it (every x86-64 CPU we target: KNL, Skylake, Zen, Sapphire Rapids) and a table otherwise.
#pragma once
#include <cstddef>
#include <cstdint>

namespace unet::net {

// crc32c(data) continuing from `crc` (0 for a fresh one): crc32c(b, crc32c(a)) == crc32c(a ++ b).
uint32_t crc32c(const void* data, size_t bytes, uint32_t crc = 0);

// The table-driven version, the specification the instruction version is tested against.
uint32_t crc32c_portable(const void* data, size_t bytes, uint32_t crc = 0);

}  // namespace unet::net
