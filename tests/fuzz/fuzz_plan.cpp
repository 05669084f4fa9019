// plan.bin bytes as unetrun reads them: header (magic, version, sizes, CRC), body decoder,
// then the validator. What both accept must dump (unetc --dump) and re-encode to a plan
// that decodes to the same bytes again.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "plan/plan_dump.h"
#include "plan/plan_io.h"
#include "plan/plan_validate.h"
#include "tests/fuzz/fuzz_plan_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  unet::fuzz::decode_validate_dump(std::span<const uint8_t>(data, size));
  return 0;
}
