// Independent 512-bit FMA chains: the fp32 peak probe that kernel timings are a share of.
// Built with the KNL subset (avx512f), so the probe runs on every AVX-512 host.
#include "kernels/fma_chains.h"

#include <immintrin.h>

namespace unet::kernels {

namespace {
constexpr int kChains = 24;  // more than FMA latency x FMA ports on any AVX-512 core
}

// noinline keeps the compiler from folding or vectorising the chains away.
__attribute__((noinline)) float run_fma_chains(long iterations, float seed) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(seed + c);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 24
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  }
  __m512 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm512_add_ps(sum, acc[c]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  float total = 0;
  for (float v : lanes) total += v;
  return total;
}

double fma_chains_flops(long iterations) { return 2.0 * 16 * kChains * static_cast<double>(iterations); }

}  // namespace unet::kernels
