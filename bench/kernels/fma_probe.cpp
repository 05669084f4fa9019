#include "fma_probe.h"

#include <algorithm>
#include <ctime>

#include "kernels/fma_chains.h"

namespace unet::bench {

namespace {

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
  volatile float sink = kernels::run_fma_chains(kIterations / 10, 1.f);  // warm up clocks
  double best = 0;
  for (int run = 0; run < 5; ++run) {
    const double t0 = thread_seconds();
    sink = kernels::run_fma_chains(kIterations, 1.f + run);
    const double s = thread_seconds() - t0;
    best = std::max(best, kernels::fma_chains_flops(kIterations) / s);
  }
  (void)sink;
  return best;
}

}  // namespace unet::bench
