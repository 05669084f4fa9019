// The registry of the AVX-512 kernels of every family but the 3x3 convolution. Compiled
// without AVX flags: it only lists entry points, each built once per ISA tier in namespace
// avx512 (full Skylake-SP set) and avx512f (the Knights Landing subset). Every kernel takes
// every shape of its family; shapes its fast path does not cover go to the reference kernel.
#include "kernels/kernel_registry.h"

#define UNET_AVX512_MORE_DECLARE(family)                              \
  size_t family##_work(const KernelCall& call);                        \
  void family##_run(const KernelCall& call, size_t begin, size_t end);

#define UNET_AVX512_MORE_DECLARE_ALL          \
  UNET_AVX512_MORE_DECLARE(tconv2d_fwd)       \
  UNET_AVX512_MORE_DECLARE(tconv2d_bwd_data)  \
  UNET_AVX512_MORE_DECLARE(tconv2d_bwd_weights)

namespace unet::kernels::avx512 {
UNET_AVX512_MORE_DECLARE_ALL
}  // namespace unet::kernels::avx512

namespace unet::kernels::avx512f {
UNET_AVX512_MORE_DECLARE_ALL
}  // namespace unet::kernels::avx512f

namespace unet::kernels {

namespace {

// The tile in a name is the fast path's register tile (or its vector width for the
// memory-bound ones).
#define UNET_AVX512_MORE_ENTRIES(ns, tier, suffix)                                               \
  KernelInfo{"tconv2d_fwd_f32_2x2s2_w6x4_" suffix, Family::tconv2d_fwd, tier, 10,                \
             ns::tconv2d_fwd_work, ns::tconv2d_fwd_run},                                         \
      KernelInfo{"tconv2d_bwd_data_f32_2x2s2_ic32w12_" suffix, Family::tconv2d_bwd_data, tier,   \
                 10, ns::tconv2d_bwd_data_work, ns::tconv2d_bwd_data_run},                       \
      KernelInfo{"tconv2d_bwd_weights_f32_2x2s2_i8x2_" suffix, Family::tconv2d_bwd_weights,      \
                 tier, 10, ns::tconv2d_bwd_weights_work, ns::tconv2d_bwd_weights_run}

const KernelInfo kTable[] = {
    UNET_AVX512_MORE_ENTRIES(avx512, Tier::avx512, "avx512"),
    UNET_AVX512_MORE_ENTRIES(avx512f, Tier::avx512f, "avx512f"),
};

#undef UNET_AVX512_MORE_ENTRIES

}  // namespace

std::span<const KernelInfo> avx512_more_kernels() { return kTable; }

}  // namespace unet::kernels
