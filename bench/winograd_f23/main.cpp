// bench_winograd_f23: is a Winograd F(2x2,3x3) forward conv worth building? The prototype in
// winograd_f23_avx512.cpp against the best direct AVX-512 forward kernel on the UNet's 3x3
// layers at batch 8, one thread, same data, the two run alternately (the machine is shared:
// best of several runs, thread CPU time, as the FMA probe measures). Each layer's Winograd
// output is checked against the scalar reference kernel first. The registry kernel grown from
// it (conv2d_fwd_f32_3x3_wino2x2_oc32_avx512, weight transform inside the call) runs
// alongside on the layers it supports.
// --bwd-data times the registry's Winograd backward-data kernel
// (conv2d_bwd_data_f32_3x3_wino2x2_ic32_avx512) against the direct one instead, on the UNet's
// backward-data layers as the trainer runs them (relu_y folded, dx overwritten), each checked
// against the scalar reference first.
//
//   bench_winograd_f23 [--reps N] [--tb TILES] [--sweep] [--phases] [--layer I] [--bwd-data]
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

#include "base/thread_clock.h"
#include "runtime/fma_peak.h"
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

template <typename Fn>
double seconds_of(Fn&& fn) {
  const double t0 = unet::base::thread_cpu_seconds();
  fn();
  return unet::base::thread_cpu_seconds() - t0;
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
  bool bwd_data = false;
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

// Backward-data layers: (dy channels, dx channels, size), the UNet's 3x3 convs whose dx is
// computed, at their channel counts, where the Winograd kernel takes them (dy <= 256, dx <= 256):
// the last two are conv4a's and conv4b's / conv6b's.
struct BwdDataLayer {
  int dy_c, dx_c, hw;
};
constexpr BwdDataLayer kBwdDataLayers[] = {{32, 32, 128}, {32, 64, 128},  {64, 32, 64},   {64, 64, 64},
                                           {64, 128, 64}, {128, 64, 32}, {128, 128, 32}, {128, 256, 32},
                                           {256, 128, 16}, {256, 256, 16}};
constexpr const char* kDirectBwdDataName = "conv2d_bwd_data_f32_3x3_ic32w12_avx512";
constexpr const char* kRegistryBwdDataName = "conv2d_bwd_data_f32_3x3_wino2x2_ic32_avx512";
double g_sum_bwd_direct = 0, g_sum_bwd_wino = 0;

void run_bwd_data_layer(const BwdDataLayer& l, const Options& opt) {
  kt::Shape s;
  s.n = kBatch;
  s.c = l.dx_c;
  s.c_out = l.dy_c;
  s.h = s.w = l.hw;
  s.relu_mask = true;
  kt::Fixture fx(Family::conv2d_bwd_data, s);
  KernelCall ref_call = fx.call();
  const KernelInfo* ref = unet::kernels::reference_kernel(Family::conv2d_bwd_data);
  ref->run(ref_call, 0, ref->work(ref_call));
  const kt::OwnedTensor& expected = fx.tensor(2);

  // Aligned copies of dy, w, relu_y, and a dx of its own for each kernel.
  KernelCall call = fx.call();
  Buffer owned[4];
  for (int r : {0, 1, 3}) {
    const auto& t = fx.tensor(r);
    owned[r] = aligned_floats(t.storage.size());
    std::memcpy(owned[r].get(), t.storage.data(), t.storage.size() * sizeof(float));
    call.t[r].data = owned[r].get();
  }
  const size_t dx_floats = expected.storage.size();
  const KernelInfo* direct = unet::kernels::find_kernel(kDirectBwdDataName);
  const KernelInfo* wino = unet::kernels::find_kernel(kRegistryBwdDataName);
  if (!wino || !wino->supports(call)) {
    std::printf("%4d %4d %4d  (declined by %s)\n", l.dy_c, l.dx_c, l.hw, kRegistryBwdDataName);
    return;
  }
  KernelCall direct_call = call, wino_call = call;
  Buffer direct_dx = aligned_floats(dx_floats), wino_dx = aligned_floats(dx_floats);
  direct_call.t[2].data = direct_dx.get();
  wino_call.t[2].data = wino_dx.get();
  const size_t direct_work = direct->work(direct_call), wino_work = wino->work(wino_call);
  direct->run(direct_call, 0, direct_work);
  wino->run(wino_call, 0, wino_work);
  const double direct_err = max_rel_error(expected, direct_dx.get());
  const double wino_err = max_rel_error(expected, wino_dx.get());

  double best_direct = 1e30, best_wino = 1e30;
  for (int rep = 0; rep < opt.reps; ++rep) {  // alternate, so both see the same machine
    best_direct = std::min(best_direct, seconds_of([&] { direct->run(direct_call, 0, direct_work); }));
    best_wino = std::min(best_wino, seconds_of([&] { wino->run(wino_call, 0, wino_work); }));
  }
  g_sum_bwd_direct += best_direct;
  g_sum_bwd_wino += best_wino;
  std::printf("%4d %4d %4d | %8.3f %8.3f | %6.2fx | %.1e %.1e\n", l.dy_c, l.dx_c, l.hw, best_direct * 1e3,
              best_wino * 1e3, best_direct / best_wino, wino_err, direct_err);
  std::fflush(stdout);
}

int run_bwd_data(const Options& opt) {
  std::printf("backward-data, relu_y folded, dx overwritten; batch %d, one thread, best of %d (thread CPU "
              "time)\ndirect: %s; wino: %s (weight transform included)\n",
              kBatch, opt.reps, kDirectBwdDataName, kRegistryBwdDataName);
  std::printf("dy_c dx_c   hw | direct   wino     | speedup | wino err direct err\n");
  for (int i = 0; i < int(std::size(kBwdDataLayers)); ++i)
    if (opt.layer < 0 || opt.layer == i) run_bwd_data_layer(kBwdDataLayers[i], opt);
  if (g_sum_bwd_wino > 0)
    std::printf("total          | %8.3f %8.3f | %6.2fx\n", g_sum_bwd_direct * 1e3, g_sum_bwd_wino * 1e3,
                g_sum_bwd_direct / g_sum_bwd_wino);
  return 0;
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
    else if (arg == "--bwd-data") opt.bwd_data = true;
    else {
      std::fprintf(stderr, "usage: %s [--reps N] [--tb TILES] [--sweep] [--phases] [--layer I] [--bwd-data]\n",
                   argv[0]);
      return 2;
    }
  }
  if (!unet::kernels::missing_features(unet::kernels::Tier::avx512).empty()) {
    std::fprintf(stderr, "bench_winograd_f23: host lacks %s\n",
                 unet::kernels::missing_features(unet::kernels::Tier::avx512).c_str());
    return 1;
  }
  if (opt.bwd_data) return run_bwd_data(opt);
  const double peak = unet::runtime::measure_fma_peak_flops_this_thread();
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
