// The checks both plan targets run on a whole plan.bin image.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "plan/plan_dump.h"
#include "plan/plan_io.h"
#include "plan/plan_validate.h"
#include "tests/fuzz/fuzz_support.h"

namespace unet::fuzz {

inline void decode_validate_dump(std::span<const uint8_t> bytes) {
  plan::Plan p;
  try {
    p = plan::decode_plan(bytes, "fuzz.bin");
    plan::validate_plan(p, "fuzz.bin");
  } catch (const plan::PlanError& e) {
    // One line naming the source, as every plan error must.
    const std::string what = e.what();
    UNET_FUZZ_CHECK(what.rfind("fuzz.bin: ", 0) == 0 && what.find('\n') == std::string::npos, what);
    return;
  }
  // A plan the runtime would run: unetc --dump prints it, and its encoding is stable.
  const std::string text = plan::dump_plan(p);
  UNET_FUZZ_CHECK(!text.empty(), "empty dump");
  const std::vector<uint8_t> again = plan::encode_plan(p);
  const std::vector<uint8_t> twice = plan::encode_plan(plan::decode_plan(again, "re-encoded"));
  UNET_FUZZ_CHECK(again == twice, "re-encoding a decoded plan is not stable");
  UNET_FUZZ_CHECK(plan::plan_fingerprint(p) == plan::body_fingerprint(std::span(again).subspan(plan::kHeaderBytes)),
                  "fingerprint differs from the body's");
}

}  // namespace unet::fuzz
