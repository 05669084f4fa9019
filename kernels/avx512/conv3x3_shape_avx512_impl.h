// Shared by the 3x3 convolution kernels of one ISA tier (forward / backward-data and
// backward-weights live in separate translation units): which calls the fast path covers; the
// lane masks come from eltwise_avx512_simd.h as for every AVX-512 kernel. Included inside each
// unit's tier namespace.
#ifndef UNET_AVX512_TIER_NS
#error "define UNET_AVX512_TIER_NS before including conv3x3_shape_avx512_impl.h"
#endif

#include <immintrin.h>

#include <algorithm>

#include "kernels/avx512/eltwise_avx512_simd.h"  // real_lanes, relu_live
#include "kernels/kernel_call.h"
#include "kernels/kernel_family.h"
#include "kernels/tensor_arg.h"

#ifndef UNET_INLINE
#define UNET_INLINE inline __attribute__((always_inline))
#endif

namespace unet::kernels::UNET_AVX512_TIER_NS {
namespace {

// The fast path: 3x3 taps, stride 1, padding 1 on both axes, output as large as the input.
bool is_same_3x3(const TensorArg& in, const TensorArg& w, const TensorArg& out, const KernelCall& call) {
  return w.h == 3 && w.w == 3 && call.i[kAttrStride] == 1 && call.i[kAttrPadTop] == 1 &&
         call.i[kAttrPadLeft] == 1 && in.h == out.h && in.w == out.w && in.n == out.n &&
         in.h > 0 && in.w > 0;
}

}  // namespace
}  // namespace unet::kernels::UNET_AVX512_TIER_NS
