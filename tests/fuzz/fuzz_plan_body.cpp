// The plan body behind a header that is always right: the input is the body, and it is
// framed (length, CRC32, fingerprint) before decoding, so mutations are not stopped by the
// checksum and reach the body decoder and the validator. The first byte picks the tier the
// header names.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "plan/plan_io.h"
#include "tests/fuzz/fuzz_plan_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto tier = static_cast<unet::plan::Tier>(data[0] % 5);  // 4 tiers and one bad value
  const std::vector<uint8_t> bytes = unet::plan::frame_plan_body(tier, std::span<const uint8_t>(data + 1, size - 1));
  unet::fuzz::decode_validate_dump(bytes);
  return 0;
}
