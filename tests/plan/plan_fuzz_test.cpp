// Mutated plans (fixed seed): decoding and validating must either succeed or throw PlanError,
// never crash, hang or throw anything else. Half the mutants get a fresh header, so the
// checksum passes and the body decoder and validator see the hostile bytes.
#include <gtest/gtest.h>

#include <random>

#include "plan/plan_io.h"
#include "plan/plan_validate.h"
#include "tests/plan/tiny_plan.h"

namespace unet::plan {
namespace {

TEST(PlanFuzz, MutantsDecodeOrFailWithPlanError) {
  const std::vector<uint8_t> good = encode_plan(testing::make_tiny_plan());
  const std::vector<uint8_t> good_body(good.begin() + kHeaderBytes, good.end());
  std::mt19937_64 rng(20240611);
  int decoded = 0;
  for (int iteration = 0; iteration < 2000; ++iteration) {
    const bool reframe = iteration % 2 == 0;
    std::vector<uint8_t> bytes = reframe ? good_body : good;
    const int mutations = 1 + static_cast<int>(rng() % 4);
    for (int m = 0; m < mutations; ++m) {
      const size_t at = rng() % bytes.size();
      switch (rng() % 4) {
        case 0: bytes[at] = static_cast<uint8_t>(rng()); break;
        case 1: bytes[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        case 2: bytes[at] = 0xff; break;
        default: bytes.resize(at); break;  // truncate
      }
      if (bytes.empty()) break;
    }
    if (reframe) bytes = frame_plan_body(Tier::scalar, bytes);
    try {
      const Plan plan = decode_plan(bytes, "fuzz.bin");
      ++decoded;
      validate_plan(plan, "fuzz.bin");
    } catch (const PlanError& e) {
      ASSERT_EQ(std::string(e.what()).rfind("fuzz.bin: ", 0), 0u) << e.what();
    }
  }
  // The reframed half must reach the body decoder; many mutants (attribute bytes, names)
  // decode and go on to the validator.
  EXPECT_GT(decoded, 100);
}

}  // namespace
}  // namespace unet::plan
