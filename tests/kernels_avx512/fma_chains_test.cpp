// The FMA peak probe's chains: the work they report is the work they do (a scalar replay of
// the same fused multiply-adds gives the same sum bit for bit).
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/fma_chains.h"
#include "kernels/isa_tier.h"

namespace unet::kernels {
namespace {

// 24 chains, each lane acc <- fma(acc, 0.999999, 1e-7) from seed + chain, summed chain by
// chain, then lane by lane: the order the probe sums in.
float scalar_chains(long iterations, float seed) {
  float chain_sum = 0;
  for (int c = 0; c < 24; ++c) {
    float acc = seed + c;
    for (long i = 0; i < iterations; ++i) acc = std::fma(acc, 0.999999f, 1e-7f);
    chain_sum = c == 0 ? acc : chain_sum + acc;
  }
  float total = 0;
  for (int lane = 0; lane < 16; ++lane) total += chain_sum;
  return total;
}

TEST(FmaChains, DoTheFusedMultiplyAddsTheyCount) {
  ASSERT_EQ(missing_features(Tier::avx512f), "") << "the AVX-512 tests need an AVX-512F host";
  for (long iterations : {0L, 1L, 7L, 1000L})
    for (float seed : {1.f, -3.5f}) EXPECT_EQ(run_fma_chains(iterations, seed), scalar_chains(iterations, seed));
  EXPECT_EQ(fma_chains_flops(1000), 2.0 * 16 * 24 * 1000);
}

}  // namespace
}  // namespace unet::kernels
