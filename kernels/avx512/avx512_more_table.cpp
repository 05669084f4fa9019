// The registry of the AVX-512 kernels of every family but the 3x3 convolution. Compiled
// without AVX flags: it only lists entry points, each built once per ISA tier in namespace
// avx512 (full Skylake-SP set) and avx512f (the Knights Landing subset). The convolutions
// state their shapes in supports() (the kernel chooser gives the others to the reference
// kernel); the other kernels take every shape of their family.
#include "kernels/avx512/conv1x1_avx512.h"
#include "kernels/kernel_registry.h"

#define UNET_AVX512_MORE_DECLARE(family)                              \
  size_t family##_work(const KernelCall& call);                        \
  void family##_run(const KernelCall& call, size_t begin, size_t end);

#define UNET_AVX512_MORE_DECLARE_ALL          \
  bool tconv2d_fwd_supports(const KernelCall& call); \
  bool tconv2d_bwd_data_supports(const KernelCall& call); \
  bool tconv2d_bwd_weights_supports(const KernelCall& call); \
  UNET_AVX512_MORE_DECLARE(tconv2d_fwd)       \
  UNET_AVX512_MORE_DECLARE(tconv2d_bwd_data)  \
  UNET_AVX512_MORE_DECLARE(tconv2d_bwd_weights)  \
  UNET_AVX512_MORE_DECLARE(maxpool2d_fwd)        \
  UNET_AVX512_MORE_DECLARE(maxpool2d_bwd)        \
  UNET_AVX512_MORE_DECLARE(upsample2d_fwd)       \
  UNET_AVX512_MORE_DECLARE(upsample2d_bwd)       \
  UNET_AVX512_MORE_DECLARE(dropout_fwd)          \
  UNET_AVX512_MORE_DECLARE(dropout_bwd)          \
  UNET_AVX512_MORE_DECLARE(relu_bwd)             \
  UNET_AVX512_MORE_DECLARE(sigmoid_bwd)          \
  UNET_AVX512_MORE_DECLARE(copy_channels)        \
  UNET_AVX512_MORE_DECLARE(sigmoid_dice_fwd)     \
  UNET_AVX512_MORE_DECLARE(sigmoid_dice_bwd)     \
  UNET_AVX512_MORE_DECLARE(adam_update)

namespace unet::kernels::avx512 {
UNET_AVX512_MORE_DECLARE_ALL
}  // namespace unet::kernels::avx512

namespace unet::kernels::avx512f {
UNET_AVX512_MORE_DECLARE_ALL
}  // namespace unet::kernels::avx512f

namespace unet::kernels {

namespace {

#define UNET_AVX512_MORE_ENTRY(ns, tier, suffix, family, tile)                                 \
  KernelInfo {                                                                                   \
    #family "_f32_" tile "_" suffix, Family::family, tier, 10, ns::family##_work, ns::family##_run \
  }
// The same, for a kernel that honours its family's folded ReLU backward (relu_y).
#define UNET_AVX512_MORE_ENTRY_RELU_MASK(ns, tier, suffix, family, tile)                                 \
  KernelInfo {                                                                                             \
    #family "_f32_" tile "_" suffix, Family::family, tier, 10, ns::family##_work, ns::family##_run, nullptr, \
        true                                                                                               \
  }

// The tile in a name is the fast path's register tile (or its vector width for the
// memory-bound ones).
#define UNET_AVX512_MORE_ENTRIES(ns, tier, suffix)                                               \
  KernelInfo{"conv2d_fwd_f32_1x1_" suffix, Family::conv2d_fwd, tier, 20, ns::conv1x1_fwd_work,      \
             ns::conv1x1_fwd_run, ns::conv1x1_fwd_supports},                                     \
      KernelInfo{"conv2d_bwd_data_f32_1x1_" suffix, Family::conv2d_bwd_data, tier, 20,            \
                 ns::conv1x1_bwd_data_work, ns::conv1x1_bwd_data_run, ns::conv1x1_bwd_data_supports, \
                 true},                                                                          \
      KernelInfo{"conv2d_bwd_weights_f32_1x1_" suffix, Family::conv2d_bwd_weights, tier, 20,      \
                 ns::conv1x1_bwd_weights_work, ns::conv1x1_bwd_weights_run,                       \
                 ns::conv1x1_bwd_weights_supports},                                              \
      KernelInfo{"tconv2d_fwd_f32_2x2s2_w6x4_" suffix, Family::tconv2d_fwd, tier, 10,                \
             ns::tconv2d_fwd_work, ns::tconv2d_fwd_run, ns::tconv2d_fwd_supports},               \
      KernelInfo{"tconv2d_bwd_data_f32_2x2s2_ic64w6_" suffix, Family::tconv2d_bwd_data, tier,    \
                 10, ns::tconv2d_bwd_data_work, ns::tconv2d_bwd_data_run, ns::tconv2d_bwd_data_supports, true}, \
      KernelInfo{"tconv2d_bwd_weights_f32_2x2s2_i6x4_" suffix, Family::tconv2d_bwd_weights,      \
                 tier, 10, ns::tconv2d_bwd_weights_work, ns::tconv2d_bwd_weights_run,             \
                 ns::tconv2d_bwd_weights_supports},                                              \
      UNET_AVX512_MORE_ENTRY(ns, tier, suffix, maxpool2d_fwd, "zmm"),                            \
      UNET_AVX512_MORE_ENTRY_RELU_MASK(ns, tier, suffix, maxpool2d_bwd, "zmm"),                  \
      UNET_AVX512_MORE_ENTRY(ns, tier, suffix, upsample2d_fwd, "zmm"),                           \
      UNET_AVX512_MORE_ENTRY(ns, tier, suffix, upsample2d_bwd, "zmm"),                           \
      UNET_AVX512_MORE_ENTRY(ns, tier, suffix, dropout_fwd, "mix64x8"),                          \
      UNET_AVX512_MORE_ENTRY_RELU_MASK(ns, tier, suffix, dropout_bwd, "mix64x8"),                \
      UNET_AVX512_MORE_ENTRY(ns, tier, suffix, relu_bwd, "zmm"),                                 \
      UNET_AVX512_MORE_ENTRY(ns, tier, suffix, sigmoid_bwd, "zmm"),                              \
      UNET_AVX512_MORE_ENTRY(ns, tier, suffix, copy_channels, "zmm"),                            \
      UNET_AVX512_MORE_ENTRY(ns, tier, suffix, sigmoid_dice_fwd, "gather16"),                    \
      UNET_AVX512_MORE_ENTRY(ns, tier, suffix, sigmoid_dice_bwd, "zmm"),                         \
      UNET_AVX512_MORE_ENTRY(ns, tier, suffix, adam_update, "zmm")

const KernelInfo kTable[] = {
    UNET_AVX512_MORE_ENTRIES(avx512, Tier::avx512, "avx512"),
    UNET_AVX512_MORE_ENTRIES(avx512f, Tier::avx512f, "avx512f"),
};

#undef UNET_AVX512_MORE_ENTRIES
#undef UNET_AVX512_MORE_ENTRY_RELU_MASK
#undef UNET_AVX512_MORE_ENTRY

}  // namespace

std::span<const KernelInfo> avx512_more_kernels() { return kTable; }

}  // namespace unet::kernels
