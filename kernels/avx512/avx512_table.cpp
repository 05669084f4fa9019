// The registry of the AVX-512 kernels. Compiled without AVX flags: it only lists entry points.
#include "kernels/avx512/avx512_kernels.h"
#include "kernels/kernel_registry.h"

namespace unet::kernels {

namespace {

// One entry per kernel and tier; the tile in the name is the register tile of the fast path
// (output channels x pixels of a row). Each states its shapes in supports(); the kernel
// chooser gives the others to the reference kernel.
#define UNET_AVX512_TIER_ENTRIES(ns, tier, suffix)                                                     \
  KernelInfo{"conv2d_fwd_f32_3x3_oc32w12_" suffix, Family::conv2d_fwd, tier, 10, ns::conv3x3_fwd_work, \
             ns::conv3x3_fwd_run, ns::conv3x3_fwd_supports, false, true, true},                \
      KernelInfo{"conv2d_bwd_data_f32_3x3_ic32w12_" suffix, Family::conv2d_bwd_data, tier, 10,          \
                 ns::conv3x3_bwd_data_work, ns::conv3x3_bwd_data_run, ns::conv3x3_bwd_data_supports, true}, \
      KernelInfo{"conv2d_bwd_weights_f32_3x3_oc32i4x3_" suffix, Family::conv2d_bwd_weights, tier, 10,  \
                 ns::conv3x3_bwd_weights_work, ns::conv3x3_bwd_weights_run, ns::conv3x3_bwd_weights_supports}

const KernelInfo kTable[] = {
    UNET_AVX512_TIER_ENTRIES(avx512, Tier::avx512, "avx512"),
    // Winograd F(2x2,3x3), where it is faster than the direct kernels (see their supports()):
    // the forward takes the folded pool (a 2x2 output tile is one pool window) and dropout,
    // the backward-data the folded ReLU backward.
    KernelInfo{"conv2d_fwd_f32_3x3_wino2x2_oc32_avx512", Family::conv2d_fwd, Tier::avx512, 20,
               avx512::conv3x3_wino_fwd_work, avx512::conv3x3_wino_fwd_run, avx512::conv3x3_wino_fwd_supports,
               false, true, true},
    KernelInfo{"conv2d_bwd_data_f32_3x3_wino2x2_ic32_avx512", Family::conv2d_bwd_data, Tier::avx512, 20,
               avx512::conv3x3_wino_bwd_data_work, avx512::conv3x3_wino_bwd_data_run,
               avx512::conv3x3_wino_bwd_data_supports, true},
    UNET_AVX512_TIER_ENTRIES(avx512f, Tier::avx512f, "avx512f"),
};

#undef UNET_AVX512_TIER_ENTRIES

}  // namespace

std::span<const KernelInfo> avx512_kernels() { return kTable; }

}  // namespace unet::kernels
