// Fast 1x1 convolution (stride 1, no padding, output as large as the input) for the conv2d
// families: entry points with the KernelCall work/run signature, one namespace per ISA tier
// (avx512: Skylake-SP, Zen 4/5; avx512f: the Knights Landing subset). They compute exactly
// what the conv2d_fwd / conv2d_bwd_data / conv2d_bwd_weights reference kernels compute, for
// the shapes supports() accepts; the kernel chooser gives every other shape (kernel size,
// stride, padding) to another kernel.
//
// Work items: forward (output block pair, image, pixel range); backward-data (dx block pair,
// image, pixel range); backward-weights (output block pair, input block), each item owning
// its weight tiles (and, with input block 0, its bias gradient lanes).
#pragma once
#include <cstddef>

#include "kernels/kernel_call.h"

#define UNET_CONV1X1_DECLARE_KERNELS                                               \
  bool conv1x1_fwd_supports(const KernelCall& call);                               \
  bool conv1x1_bwd_data_supports(const KernelCall& call);                          \
  bool conv1x1_bwd_weights_supports(const KernelCall& call);                       \
  size_t conv1x1_fwd_work(const KernelCall& call);                                 \
  void conv1x1_fwd_run(const KernelCall& call, size_t begin, size_t end);          \
  size_t conv1x1_bwd_data_work(const KernelCall& call);                            \
  void conv1x1_bwd_data_run(const KernelCall& call, size_t begin, size_t end);     \
  size_t conv1x1_bwd_weights_work(const KernelCall& call);                         \
  void conv1x1_bwd_weights_run(const KernelCall& call, size_t begin, size_t end);

namespace unet::kernels::avx512 {
UNET_CONV1X1_DECLARE_KERNELS
}  // namespace unet::kernels::avx512

namespace unet::kernels::avx512f {
UNET_CONV1X1_DECLARE_KERNELS
}  // namespace unet::kernels::avx512f

#undef UNET_CONV1X1_DECLARE_KERNELS
