// Per-layer conv kernel benchmark: for every distinct 3x3 conv of the UNet at 128x128 input,
// forward, backward-data and backward-weights of the best avx512 kernel, single thread, as
// GFLOP/s and as a share of the fp32 FMA peak measured by a probe at start. The reference
// kernel runs on one small layer only (it is slow), for scale.
// Names follow benchdnn: "fwd/mb8ic64ih64oc64oh64kh3ph1".
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>
#include <string>

#include "runtime/fma_peak.h"
#include "kernels/isa_tier.h"
#include "kernels/kernel_registry.h"
#include "tests/kernels/kernel_tester.h"

namespace {

using unet::kernels::Family;
using unet::kernels::KernelInfo;
namespace kt = unet::kernels::testing;

using unet::kernels::KernelCall;

// A 64-byte aligned copy of a tensor's storage.
class AlignedFloats {
 public:
  explicit AlignedFloats(const std::vector<float>& v)
      : data_(static_cast<float*>(std::aligned_alloc(64, (v.size() * sizeof(float) + 63) / 64 * 64))) {
    std::copy(v.begin(), v.end(), data_.get());
  }
  float* data() { return data_.get(); }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
};

double g_peak_flops = 0;  // single-thread fp32 FMA peak, measured in main()

struct Layer {
  int ci, co, hw;
};

// The UNet's 3x3 convs at 128x128 (encoder, then the decoder's that differ).
constexpr Layer kLayers[] = {
    {1, 32, 128},  {32, 32, 128},  {32, 64, 64},   {64, 64, 64},  {64, 128, 32},
    {128, 128, 32}, {128, 256, 16}, {256, 256, 16}, {256, 512, 8}, {512, 512, 8},
    {512, 256, 16}, {256, 128, 32}, {128, 64, 64},  {64, 32, 128},
};

const char* direction_name(Family f) {
  switch (f) {
    case Family::conv2d_fwd: return "fwd";
    case Family::conv2d_bwd_data: return "bwd_d";
    default: return "bwd_w";
  }
}

std::string layer_name(Family f, int mb, const Layer& l, const KernelInfo& k) {
  return std::string(direction_name(f)) + "/mb" + std::to_string(mb) + "ic" + std::to_string(l.ci) +
         "ih" + std::to_string(l.hw) + "oc" + std::to_string(l.co) + "oh" + std::to_string(l.hw) +
         "kh3ph1/" + std::string(k.name);
}

void run_layer(benchmark::State& state, Family f, int mb, Layer l, const KernelInfo* k) {
  kt::Shape s;
  s.n = mb;
  s.c = l.ci;
  s.c_out = l.co;
  s.h = s.w = l.hw;
  s.act = f == Family::conv2d_fwd ? unet::kernels::Activation::relu : unet::kernels::Activation::none;
  kt::Fixture fx(f, s);
  // The runtime's arena is 64-byte aligned; the fixture's vectors are not.
  std::vector<AlignedFloats> aligned;
  KernelCall call = fx.call();
  for (int r = 0; r < unet::kernels::kMaxTensors; ++r) {
    const kt::OwnedTensor& t = fx.tensor(r);
    if (t.empty()) continue;
    aligned.emplace_back(t.storage);
    call.t[r].data = aligned.back().data();
  }
  const size_t work = k->work(call);
  for (auto _ : state) {
    k->run(call, 0, work);
    benchmark::ClobberMemory();
  }
  // Useful flops only: real channels, 2 per multiply-add.
  const double flops = 2.0 * mb * l.hw * l.hw * l.ci * l.co * 9;
  state.counters["GFLOPs"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak_share"] =
      benchmark::Counter(flops / g_peak_flops, benchmark::Counter::kIsIterationInvariantRate);
}

// The 3x3 kernel of `family` at the avx512 tier (other avx512 kernels of the family, such
// as the 1x1 ones, take other shapes).
const KernelInfo* conv3x3_kernel(Family family) {
  for (const KernelInfo& k : unet::kernels::avx512_kernels())
    if (k.family == family && k.tier == unet::kernels::Tier::avx512) return &k;
  return nullptr;
}

void register_all() {
  constexpr int kBatch = 8;
  const Family families[] = {Family::conv2d_fwd, Family::conv2d_bwd_data, Family::conv2d_bwd_weights};
  for (Family f : families) {
    const KernelInfo* fast = conv3x3_kernel(f);
    for (const Layer& l : kLayers)
      benchmark::RegisterBenchmark(layer_name(f, kBatch, l, *fast).c_str(), run_layer, f, kBatch, l, fast)
          ->Unit(benchmark::kMillisecond)
          ->MinTime(0.3);
  }
  // One small layer with both kernels: the reference for scale, the fast one with its data
  // in L2 (the batch-8 layers stream from L3 / memory).
  for (Family f : families) {
    const Layer small{64, 64, 16};
    for (const KernelInfo* k : {conv3x3_kernel(f), unet::kernels::reference_kernel(f)})
      benchmark::RegisterBenchmark(layer_name(f, 1, small, *k).c_str(), run_layer, f, 1, small, k)
          ->Unit(benchmark::kMillisecond)
          ->MinTime(0.3);
  }
  // The widest layers with one image (its tensors near L2 size): the gap to the batch-8
  // figure is the cost of streaming x and dy from L3 / memory.
  for (Family f : families)
    for (const Layer& wide : {Layer{32, 32, 128}, Layer{64, 32, 128}})
      benchmark::RegisterBenchmark(layer_name(f, 1, wide, *conv3x3_kernel(f)).c_str(), run_layer, f, 1, wide,
                                   conv3x3_kernel(f))
          ->Unit(benchmark::kMillisecond)
          ->MinTime(0.3);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (!unet::kernels::missing_features(unet::kernels::Tier::avx512).empty()) {
    std::fprintf(stderr, "bench_kernels: host lacks %s\n",
                 unet::kernels::missing_features(unet::kernels::Tier::avx512).c_str());
    return 1;
  }
  g_peak_flops = unet::runtime::measure_fma_peak_flops_this_thread();
  std::printf("fp32 FMA peak, 1 thread: %.1f GFLOP/s\n", g_peak_flops * 1e-9);
  benchmark::AddCustomContext("fma_peak_gflops_1thread", std::to_string(g_peak_flops * 1e-9));
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
