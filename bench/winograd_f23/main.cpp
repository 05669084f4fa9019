// bench_winograd_f23: is a Winograd F(2x2,3x3) forward conv worth building? The prototype in
// winograd_f23_avx512.cpp against the best direct AVX-512 forward kernel on the UNet's 3x3
// layers at batch 8, one thread, same data, the two run alternately (the machine is shared:
// best of several runs, thread CPU time, as the FMA probe measures). Each layer's Winograd
// output is checked against the scalar reference kernel first. The registry kernel grown from
// it (conv2d_fwd_f32_3x3_wino2x2_oc32_avx512, weight transform inside the call) runs
// alongside on the layers it supports.
//
//   bench_winograd_f23 [--reps N] [--tb TILES] [--sweep] [--phases] [--layer I]
//     --tb: tiles per fused block (default: winograd_f23_avx512's choice)
//     --sweep: time a range of tile blocks per layer (for tuning the default)
//     --phases: the share of input transform, GEMMs and output transform in one more run
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "bench/kernels/fma_probe.h"
#include "bench/winograd_f23/winograd_f23_avx512.h"
#include "kernels/isa_tier.h"
#include "kernels/kernel_registry.h"
#include "tests/kernels/kernel_tester.h"

namespace {

namespace kt = unet::kernels::testing;
namespace wino = unet::bench::wino;
using unet::kernels::Family;
using unet::kernels::KernelCall;
using unet::kernels::KernelInfo;

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float, FreeDeleter>;

// 64-byte aligned, like the runtime's arena (the fixture's vectors are not).
Buffer aligned_floats(size_t count) {
  return Buffer(static_cast<float*>(std::aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64)));
}

double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

template <typename Fn>
double seconds_of(Fn&& fn) {
  const double t0 = thread_seconds();
  fn();
  return thread_seconds() - t0;
}

struct Layer {
  int ci, co, hw;
};

constexpr Layer kLayers[] = {{32, 32, 128}, {64, 64, 64},  {128, 128, 32}, {256, 256, 16},
                             {512, 512, 8}, {64, 32, 128}, {128, 64, 64}, {32, 64, 64},
                             {64, 128, 32}, {128, 256, 16}, {256, 128, 32}};

// The direct kernel (best_kernel now picks the Winograd registry kernel where it supports
// the shape) and the Winograd registry kernel, weight transform included in its time.
constexpr const char* kDirectName = "conv2d_fwd_f32_3x3_oc32w12_avx512";
constexpr const char* kRegistryName = "conv2d_fwd_f32_3x3_wino2x2_oc32_avx512";
constexpr int kBatch = 8;

// Max |a - b| over the real elements, relative to max(|ref|, 1): outputs here are O(1..10),
// and a floor keeps the near-zero outputs from dominating.
double max_rel_error(const kt::OwnedTensor& ref, const float* got) {
  double worst = 0;
  kt::for_each_real(ref, [&](size_t k) {
    const double r = ref.storage[k];
    worst = std::max(worst, std::fabs(got[k] - r) / std::max(std::fabs(r), 1.0));
  });
  return worst;
}

// Sums over the layers run (default tile blocks only): the aggregate the report needs.
double g_sum_direct = 0, g_sum_wino = 0, g_sum_wt = 0;
double g_sum_reg_direct = 0, g_sum_reg = 0;  // the layers the registry kernel supports

struct Options {
  int reps = 7;
  int tb = 0;
  bool sweep = false;
  bool phases = false;
  int layer = -1;
};

void run_layer(const Layer& l, double peak, const Options& opt) {
  kt::Shape s;
  s.n = kBatch;
  s.c = l.ci;
  s.c_out = l.co;
  s.h = s.w = l.hw;
  s.act = unet::kernels::Activation::relu;
  kt::Fixture fx(Family::conv2d_fwd, s);

  // Aligned copies of x, w, b, y; the call points at them.
  KernelCall call = fx.call();
  Buffer owned[4];
  for (int r = 0; r < 4; ++r) {
    const auto& t = fx.tensor(r);
    owned[r] = aligned_floats(t.storage.size());
    std::memcpy(owned[r].get(), t.storage.data(), t.storage.size() * sizeof(float));
    call.t[r].data = owned[r].get();
  }
  const size_t y_floats = fx.tensor(3).storage.size();

  // The scalar reference's output is the expected one.
  KernelCall ref_call = fx.call();
  const KernelInfo* ref = unet::kernels::reference_kernel(Family::conv2d_fwd);
  ref->run(ref_call, 0, ref->work(ref_call));
  const kt::OwnedTensor& expected = fx.tensor(3);

  const KernelInfo* direct = unet::kernels::find_kernel(kDirectName);
  const KernelInfo* registry = unet::kernels::find_kernel(kRegistryName);
  const bool registry_ok = registry && registry->supports(call);
  const size_t direct_work = direct->work(call);
  direct->run(call, 0, direct_work);
  const double direct_err = max_rel_error(expected, call.t[3].data);

  const wino::ConvShape ws{kBatch, l.ci, l.co, l.hw, l.hw, call.t[0].image_stride, call.t[3].image_stride};
  if (!wino::supports(ws)) {
    std::printf("%4d %4d %4d  (shape not supported by the prototype)\n", l.ci, l.co, l.hw);
    return;
  }
  Buffer u = aligned_floats(wino::transformed_weight_floats(ws));
  double wt_s = 1e30;
  for (int rep = 0; rep < 3; ++rep)
    wt_s = std::min(wt_s, seconds_of([&] { wino::transform_weights(ws, call.t[1].data, u.get()); }));

  std::vector<int> tbs;
  if (opt.sweep) {
    for (int tb : {14, 28, 56, 112, 224, 448, 896}) tbs.push_back(tb);
    tbs.push_back(kBatch * (l.hw / 2) * (l.hw / 2));  // the whole batch
  } else {
    tbs.push_back(opt.tb > 0 ? opt.tb : wino::default_tile_block(ws));
  }
  const double flops = 2.0 * kBatch * l.hw * l.hw * l.ci * l.co * 9;
  for (int tb : tbs) {
    if (tb > kBatch * (l.hw / 2) * (l.hw / 2)) continue;
    Buffer scratch = aligned_floats(wino::scratch_floats(ws, tb));
    Buffer y = aligned_floats(y_floats);
    std::memcpy(y.get(), expected.storage.data(), y_floats * sizeof(float));
    const float* bias = call.t[2].data;
    auto wino_run = [&] {
      wino::conv_fwd(ws, call.t[0].data, u.get(), bias, y.get(), true, tb, scratch.get());
    };
    // Zero the real outputs first so that a tile the prototype skips shows as an error.
    kt::for_each_real(expected, [&](size_t k) { y.get()[k] = 0.f; });
    wino_run();
    const double wino_err = max_rel_error(expected, y.get());

    // The registry kernel writes its own y (the call's y stays the direct kernel's).
    KernelCall reg_call = call;
    Buffer reg_y = aligned_floats(y_floats);
    std::memcpy(reg_y.get(), expected.storage.data(), y_floats * sizeof(float));
    kt::for_each_real(expected, [&](size_t k) { reg_y.get()[k] = 0.f; });
    reg_call.t[3].data = reg_y.get();
    const size_t reg_work = registry_ok ? registry->work(reg_call) : 0;
    if (registry_ok) registry->run(reg_call, 0, reg_work);
    const double reg_err = registry_ok ? max_rel_error(expected, reg_y.get()) : 0;

    double best_direct = 1e30, best_wino = 1e30, best_reg = 1e30;
    for (int rep = 0; rep < opt.reps; ++rep) {  // alternate, so all see the same machine
      best_direct = std::min(best_direct, seconds_of([&] { direct->run(call, 0, direct_work); }));
      best_wino = std::min(best_wino, seconds_of(wino_run));
      if (registry_ok)
        best_reg = std::min(best_reg, seconds_of([&] { registry->run(reg_call, 0, reg_work); }));
    }
    if (registry_ok && !opt.sweep) {
      g_sum_reg_direct += best_direct;
      g_sum_reg += best_reg;
    }
    if (!opt.sweep) {
      g_sum_direct += best_direct;
      g_sum_wino += best_wino;
      g_sum_wt += wt_s;
    }
    std::printf("%4d %4d %4d %5d | %8.3f %8.3f %8.3f | %6.2fx | %6.1f %5.1f%% | %6.1f %5.1f%% | %.1e %.1e\n",
                l.ci, l.co, l.hw, tb, best_direct * 1e3, best_wino * 1e3, wt_s * 1e3,
                best_direct / best_wino, flops / best_direct * 1e-9, 100 * flops / best_direct / peak,
                flops / best_wino * 1e-9, 100 * flops / best_wino / peak, wino_err, direct_err);
    if (registry_ok)
      std::printf("      registry %s: %8.3f ms  %6.2fx over direct  err %.1e\n", kRegistryName, best_reg * 1e3,
                  best_direct / best_reg, reg_err);
    else
      std::printf("      registry %s: declines the shape\n", kRegistryName);
    if (opt.phases) {
      wino::PhaseCycles pc;
      wino::conv_fwd(ws, call.t[0].data, u.get(), bias, y.get(), true, tb, scratch.get(), &pc);
      const double all = double(pc.input + pc.gemm + pc.output);
      // The GEMM's own rate: its 2 * 16 * tiles * C_in * C_out flops over its share of the time.
      const double gemm_flops = 2.0 * 16 * kBatch * (l.hw / 2) * (l.hw / 2) * l.ci * l.co;
      std::printf("      phases: input %4.1f%%  gemm %4.1f%%  output %4.1f%%;  gemm alone ~%.0f%% of peak\n",
                  100 * pc.input / all, 100 * pc.gemm / all, 100 * pc.output / all,
                  100 * gemm_flops / (best_wino * pc.gemm / all) / peak);
    }
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg == "--reps" && a + 1 < argc) opt.reps = std::atoi(argv[++a]);
    else if (arg == "--tb" && a + 1 < argc) opt.tb = std::atoi(argv[++a]);
    else if (arg == "--layer" && a + 1 < argc) opt.layer = std::atoi(argv[++a]);
    else if (arg == "--sweep") opt.sweep = true;
    else if (arg == "--phases") opt.phases = true;
    else {
      std::fprintf(stderr, "usage: %s [--reps N] [--tb TILES] [--sweep] [--phases] [--layer I]\n", argv[0]);
      return 2;
    }
  }
  if (!unet::kernels::missing_features(unet::kernels::Tier::avx512).empty()) {
    std::fprintf(stderr, "bench_winograd_f23: host lacks %s\n",
                 unet::kernels::missing_features(unet::kernels::Tier::avx512).c_str());
    return 1;
  }
  const double peak = unet::bench::measure_fma_peak_flops();
  std::printf("fp32 FMA peak, 1 thread: %.1f GFLOP/s; direct kernel: %s; batch %d, one thread, "
              "best of %d (thread CPU time)\n",
              peak * 1e-9, kDirectName, kBatch, opt.reps);
  std::printf("effective GFLOP/s: direct-conv flops 2*N*H*W*Cin*Cout*9 / time; err: max|y - ref| / max(|ref|, 1)\n");
  std::printf("  ci   co   hw  tile | direct   wino     wgt-xf  | speedup | direct GF/s %%pk | wino GF/s  %%pk  | wino err direct err\n");
  for (int i = 0; i < int(std::size(kLayers)); ++i)
    if (opt.layer < 0 || opt.layer == i) run_layer(kLayers[i], peak, opt);
  if (!opt.sweep && g_sum_wino > 0)
    std::printf("total            | %8.3f %8.3f %8.3f | %6.2fx (with the weight transform %.2fx)\n",
                g_sum_direct * 1e3, g_sum_wino * 1e3, g_sum_wt * 1e3, g_sum_direct / g_sum_wino,
                g_sum_direct / (g_sum_wino + g_sum_wt));
  if (!opt.sweep && g_sum_reg > 0)
    std::printf("registry kernel on the layers it takes: direct %8.3f ms, wino %8.3f ms: %.2fx\n",
                g_sum_reg_direct * 1e3, g_sum_reg * 1e3, g_sum_reg_direct / g_sum_reg);
  return 0;
}
