#include "runtime/fma_peak.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>

#include "kernels/fma_chains.h"
#include "kernels/isa_tier.h"

namespace unet::runtime {

double measure_fma_peak_flops(ThreadPool& pool) {
  const std::string missing = kernels::missing_features(kernels::Tier::avx512f);
  if (!missing.empty()) throw std::runtime_error("the FMA probe needs AVX-512F; this host lacks " + missing);
  constexpr long kIterations = 10'000'000;  // about 0.1 s a thread
  const size_t threads = static_cast<size_t>(pool.size());
  std::atomic<float> sink{0};
  auto run = [&](long iterations) {
    pool.parallel_for(threads, [&](size_t begin, size_t end) {
      float s = 0;
      for (size_t t = begin; t < end; ++t) s += kernels::run_fma_chains(iterations, 1.f + t);
      sink.store(s, std::memory_order_relaxed);
    });
  };
  run(kIterations / 10);  // wakes the threads and the clocks
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    run(kIterations);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, kernels::fma_chains_flops(kIterations) * threads / s);
  }
  return best;
}

}  // namespace unet::runtime
