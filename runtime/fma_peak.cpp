#include "runtime/fma_peak.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>

#include "base/thread_clock.h"
#include "kernels/fma_chains.h"
#include "kernels/isa_tier.h"

namespace unet::runtime {
namespace {

constexpr long kIterations = 10'000'000;  // about 0.1 s a thread
constexpr int kRuns = 5;

void require_avx512f() {
  const std::string missing = kernels::missing_features(kernels::Tier::avx512f);
  if (!missing.empty()) throw std::runtime_error("the FMA probe needs AVX-512F; this host lacks " + missing);
}

// Best FLOP/s of kRuns runs of `run(iterations)` on `threads` threads, timed by `clock`, after
// one short run that wakes the threads and the clocks.
template <typename Run, typename Clock>
double best_of_runs(Run&& run, Clock&& clock, size_t threads) {
  run(kIterations / 10);
  double best = 0;
  for (int r = 0; r < kRuns; ++r) {
    const double t0 = clock();
    run(kIterations);
    const double s = clock() - t0;
    best = std::max(best, kernels::fma_chains_flops(kIterations) * static_cast<double>(threads) / s);
  }
  return best;
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

double measure_fma_peak_flops(ThreadPool& pool) {
  require_avx512f();
  const size_t threads = static_cast<size_t>(pool.size());
  std::atomic<float> sink{0};
  auto run = [&](long iterations) {
    pool.parallel_for(threads, [&](size_t begin, size_t end) {
      float s = 0;
      for (size_t t = begin; t < end; ++t) s += kernels::run_fma_chains(iterations, 1.f + t);
      sink.store(s, std::memory_order_relaxed);
    });
  };
  return best_of_runs(run, wall_seconds, threads);
}

double measure_fma_peak_flops_this_thread() {
  require_avx512f();
  volatile float sink = 0;
  float seed = 1.f;
  auto run = [&](long iterations) { sink = kernels::run_fma_chains(iterations, seed += 1.f); };
  const double flops = best_of_runs(run, base::thread_cpu_seconds, 1);
  (void)sink;
  return flops;
}

}  // namespace unet::runtime
