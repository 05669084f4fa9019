// Entry points of the AVX-512 kernels, one namespace per ISA tier: the same source compiled
// with the full avx512 flags (namespace avx512) and with the Knights Landing subset
// (namespace avx512f). Registered in avx512_table.cpp; work()/run() follow KernelCall's rules.
#pragma once
#include <cstddef>

#include "kernels/kernel_call.h"

#define UNET_AVX512_DECLARE_KERNELS                                                        \
  bool conv3x3_fwd_supports(const KernelCall& call);                                       \
  bool conv3x3_bwd_data_supports(const KernelCall& call);                                  \
  bool conv3x3_bwd_weights_supports(const KernelCall& call);                               \
  size_t conv3x3_fwd_work(const KernelCall& call);                                         \
  void conv3x3_fwd_run(const KernelCall& call, size_t begin, size_t end);                  \
  size_t conv3x3_bwd_data_work(const KernelCall& call);                                    \
  void conv3x3_bwd_data_run(const KernelCall& call, size_t begin, size_t end);             \
  size_t conv3x3_bwd_weights_work(const KernelCall& call);                                 \
  void conv3x3_bwd_weights_run(const KernelCall& call, size_t begin, size_t end);

namespace unet::kernels::avx512 {
UNET_AVX512_DECLARE_KERNELS
}  // namespace unet::kernels::avx512

namespace unet::kernels::avx512f {
UNET_AVX512_DECLARE_KERNELS
}  // namespace unet::kernels::avx512f

#undef UNET_AVX512_DECLARE_KERNELS

// The Winograd F(2x2,3x3) forward and backward-data (conv3x3_winograd_avx512.cpp), avx512
// tier only; the kernel chooser gives shapes outside supports() to the direct kernels.
namespace unet::kernels::avx512 {
bool conv3x3_wino_fwd_supports(const KernelCall& call);
size_t conv3x3_wino_fwd_work(const KernelCall& call);
void conv3x3_wino_fwd_run(const KernelCall& call, size_t begin, size_t end);
bool conv3x3_wino_bwd_data_supports(const KernelCall& call);
size_t conv3x3_wino_bwd_data_work(const KernelCall& call);
void conv3x3_wino_bwd_data_run(const KernelCall& call, size_t begin, size_t end);
}  // namespace unet::kernels::avx512
