#include <immintrin.h>

#include <algorithm>
#include <ctime>

#include "fma_probe.h"

namespace unet::bench {

namespace {

constexpr int kChains = 24;  // more than FMA latency x FMA ports on any AVX-512 core

// Keeps the compiler from folding or vectorising the chains away.
__attribute__((noinline)) float run_chains(long iterations, float seed) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(seed + c);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 24
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  }
  __m512 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm512_add_ps(sum, acc[c]);
  return _mm512_reduce_add_ps(sum);
}

// CPU time of this thread: on a shared machine, what the thread got, as the benchmarks
// report by default.
double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

}  // namespace

double measure_fma_peak_flops() {
  constexpr long kIterations = 20'000'000;
  volatile float sink = run_chains(kIterations / 10, 1.f);  // warm up clocks
  double best = 0;
  for (int run = 0; run < 5; ++run) {
    const double t0 = thread_seconds();
    sink = run_chains(kIterations, 1.f + run);
    const double s = thread_seconds() - t0;
    best = std::max(best, 2.0 * 16 * kChains * kIterations / s);
  }
  (void)sink;
  return best;
}

}  // namespace unet::bench
