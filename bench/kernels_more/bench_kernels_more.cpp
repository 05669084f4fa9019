// Times the preferred avx512 kernel of every non-3x3 family, and the 1x1 conv entry points,
// against the reference kernel on the shapes the UNet (models/unet_brats.def, batch 8,
// 128x128) gives them. One thread, all items in one range, best of `reps` runs (the
// reference: one run), timed in the thread's CPU time like the FMA probe (on a shared
// machine: what the thread got). Prints milliseconds, the speedup and, for convolutions,
// GFLOP/s and their share of the single-thread fp32 FMA peak the probe measures at start.
//   usage: bench_kernels_more [reps] [filter]   (filter: only layers or families containing it)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "base/thread_clock.h"
#include "runtime/fma_peak.h"
#include "kernels/avx512/conv1x1_avx512.h"
#include "kernels/isa_tier.h"
#include "kernels/kernel_registry.h"
#include "tests/kernels/kernel_tester.h"

namespace {

using namespace unet::kernels;
using testing::Shape;

struct Case {
  std::string name;
  Family family;
  Shape shape;
  double flops;  // 0: memory-bound, no GFLOP/s
  const KernelInfo* fast = nullptr;  // nullptr: best_kernel(family, avx512)
};

double seconds_of(const KernelInfo& k, testing::Fixture& f, int reps) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double t0 = unet::base::thread_cpu_seconds();
    testing::run_split(k, f.call(), 1);
    best = std::min(best, unet::base::thread_cpu_seconds() - t0);
  }
  return best;
}

Shape tconv(int ci, int co, int h) {
  Shape s;
  s.n = 8;
  s.c = ci;
  s.c_out = co;
  s.h = s.w = h;
  s.kh = s.kw = 2;
  s.stride = 2;
  s.pad_top = s.pad_left = 0;
  return s;
}

Shape plane(int c, int h, bool accumulate = false) {
  Shape s;
  s.n = 8;
  s.c = c;
  s.h = s.w = h;
  s.stride = 2;
  s.window = 2;
  s.accumulate = accumulate;
  s.rate = 0.2f;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  const std::string filter = argc > 2 ? argv[2] : "";
  if (!missing_features(Tier::avx512).empty()) {
    std::fprintf(stderr, "bench_kernels_more: this host lacks %s\n", missing_features(Tier::avx512).c_str());
    return 1;
  }
  static const KernelInfo k1x1[] = {
      {"conv1x1_fwd_avx512", Family::conv2d_fwd, Tier::avx512, 1, avx512::conv1x1_fwd_work, avx512::conv1x1_fwd_run},
      {"conv1x1_bwd_data_avx512", Family::conv2d_bwd_data, Tier::avx512, 1, avx512::conv1x1_bwd_data_work,
       avx512::conv1x1_bwd_data_run},
      {"conv1x1_bwd_weights_avx512", Family::conv2d_bwd_weights, Tier::avx512, 1, avx512::conv1x1_bwd_weights_work,
       avx512::conv1x1_bwd_weights_run}};
  std::vector<Case> cases;
  const struct {
    const char* name;
    int ci, co, h;
  } tconvs[] = {{"transConv6", 512, 256, 8}, {"transConv7", 256, 128, 16}, {"transConv8", 128, 64, 32}, {"transConv9", 64, 32, 64}};
  for (const auto& t : tconvs) {
    const double flops = 2.0 * 8 * t.h * t.h * t.ci * t.co * 4;
    for (Family f : {Family::tconv2d_fwd, Family::tconv2d_bwd_data, Family::tconv2d_bwd_weights})
      cases.push_back({t.name, f, tconv(t.ci, t.co, t.h), flops});
  }
  Shape head = plane(32, 128);
  head.c_out = 1;
  head.kh = head.kw = 1;
  head.stride = 1;
  head.pad_top = head.pad_left = 0;
  head.act = Activation::sigmoid;
  const double head_flops = 2.0 * 8 * 128 * 128 * 32;
  cases.push_back({"PredictionMask", Family::conv2d_fwd, head, head_flops, &k1x1[0]});
  cases.push_back({"PredictionMask", Family::conv2d_bwd_data, head, head_flops, &k1x1[1]});
  cases.push_back({"PredictionMask", Family::conv2d_bwd_weights, head, head_flops, &k1x1[2]});
  cases.push_back({"pool1", Family::maxpool2d_fwd, plane(32, 128), 0});
  cases.push_back({"pool1", Family::maxpool2d_bwd, plane(32, 128), 0});
  cases.push_back({"pool4", Family::maxpool2d_bwd, plane(256, 16), 0});
  cases.push_back({"conv1b", Family::relu_bwd, plane(32, 128), 0});
  cases.push_back({"drop3", Family::dropout_fwd, plane(128, 32), 0});
  cases.push_back({"drop3", Family::dropout_bwd, plane(128, 32, true), 0});
  cases.push_back({"up9", Family::copy_channels, plane(32, 128, true), 0});
  cases.push_back({"x2", Family::upsample2d_fwd, plane(64, 64), 0});
  cases.push_back({"x2", Family::upsample2d_bwd, plane(64, 64), 0});
  Shape mask = plane(1, 128);
  cases.push_back({"loss", Family::sigmoid_dice_fwd, mask, 0});
  cases.push_back({"loss", Family::sigmoid_dice_bwd, mask, 0});
  cases.push_back({"loss", Family::sigmoid_bwd, mask, 0});
  Shape params;
  params.elements = 7765985;
  cases.push_back({"all params", Family::adam_update, params, 0});

  const double peak = unet::runtime::measure_fma_peak_flops_this_thread();
  std::printf("single-thread fp32 FMA peak: %.1f GFLOP/s\n", peak * 1e-9);
  std::printf("%-15s %-20s %-44s %10s %10s %8s %8s %6s\n", "layer", "family", "kernel", "ref ms", "ms", "speedup",
              "GFLOP/s", "peak");
  for (const Case& c : cases) {
    if (c.name.find(filter) == std::string::npos && family_name(c.family).find(filter) == std::string::npos) continue;
    const KernelInfo& fast = c.fast ? *c.fast : *best_kernel(c.family, Tier::avx512);
    const KernelInfo& ref = *reference_kernel(c.family);
    testing::Fixture fr(c.family, c.shape), ff(c.family, c.shape);
    const double tr = seconds_of(ref, fr, 1), tf = seconds_of(fast, ff, reps);
    std::printf("%-15s %-20s %-44s %10.2f %10.3f %8.1f", c.name.c_str(), std::string(family_name(c.family)).c_str(),
                std::string(fast.name).c_str(), tr * 1e3, tf * 1e3, tr / tf);
    if (c.flops > 0) std::printf(" %8.1f %5.0f%%", c.flops / tf * 1e-9, 100 * c.flops / tf / peak);
    std::printf("\n");
    std::fflush(stdout);
  }
  return 0;
}
