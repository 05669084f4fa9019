// CRC32C (Castagnoli) for the file formats that checksum with it (TFRecord framing). data/
// uses nothing of ours, so this is its own small copy of the checksum net/ frames with: one
// stream of the SSE4.2 crc32 instruction (the records here are kilobytes, so net/'s three
// interleaved streams would buy nothing) and a table where the CPU lacks it. The tests check
// both against each other, against net::crc32c and against the published check value.
#pragma once
#include <cstddef>
#include <cstdint>

namespace unet::data {

// crc32c(data) continuing from `crc` (0 for a fresh one): crc32c(b, crc32c(a)) == crc32c(a ++ b).
uint32_t crc32c(const void* data, size_t bytes, uint32_t crc = 0);

// The table-driven version: the specification the instruction version is tested against.
uint32_t crc32c_portable(const void* data, size_t bytes, uint32_t crc = 0);

}  // namespace unet::data
