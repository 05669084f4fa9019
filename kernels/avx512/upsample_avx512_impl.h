// Body of the AVX-512 nearest-neighbour upsampling kernels (factor f): forward copies each
// input pixel's zmm to its f x f block; backward sums each block back. Included by one
// translation unit per ISA tier defining UNET_AVX512_TIER_NS.
#ifndef UNET_AVX512_TIER_NS
#error "define UNET_AVX512_TIER_NS before including upsample_avx512_impl.h"
#endif

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/avx512/eltwise_avx512_simd.h"
#include "kernels/kernel_call.h"
#include "kernels/kernel_family.h"
#include "kernels/tensor_arg.h"

namespace unet::kernels::UNET_AVX512_TIER_NS {

// Items: (image, channel block) of the output.
size_t upsample2d_fwd_work(const KernelCall& call) {
  const TensorArg& y = call.t[slot::upsample2d_fwd::y];
  return size_t(y.n) * channel_blocks(y.c);
}

void upsample2d_fwd_run(const KernelCall& call, size_t begin, size_t end) {
  const TensorArg &x = call.t[slot::upsample2d_fwd::x], &y = call.t[slot::upsample2d_fwd::y];
  const int f = call.i[kAttrWindow];
  const int cbs = channel_blocks(y.c);
  for (size_t item = begin; item < end; ++item) {
    const int n = static_cast<int>(item / cbs), cb = static_cast<int>(item % cbs);
    const __mmask16 lanes = real_lanes(cb, y.c);
    const float* in = x.block(n, cb);
    float* out = y.block(n, cb);
    for (int oy = 0; oy < y.h; ++oy) {
      const float* row = in + static_cast<int64_t>(oy / f) * x.w * kBlock;
      float* dst = out + static_cast<int64_t>(oy) * y.w * kBlock;
      for (int ox = 0; ox < y.w; ++ox)
        _mm512_storeu_ps(dst + ox * kBlock, _mm512_maskz_loadu_ps(lanes, row + (ox / f) * kBlock));
    }
  }
}

// Items: (image, channel block) of dx.
size_t upsample2d_bwd_work(const KernelCall& call) {
  const TensorArg& dx = call.t[slot::upsample2d_bwd::dx];
  return size_t(dx.n) * channel_blocks(dx.c);
}

void upsample2d_bwd_run(const KernelCall& call, size_t begin, size_t end) {
  const TensorArg &dy = call.t[slot::upsample2d_bwd::dy], &dx = call.t[slot::upsample2d_bwd::dx];
  const int f = call.i[kAttrWindow];
  const bool accumulate = call.i[kAttrAccumulate] != 0;
  const int cbs = channel_blocks(dx.c);
  for (size_t item = begin; item < end; ++item) {
    const int n = static_cast<int>(item / cbs), cb = static_cast<int>(item % cbs);
    const __mmask16 lanes = real_lanes(cb, dx.c);
    const float* g = dy.block(n, cb);
    float* out = dx.block(n, cb);
    for (int iy = 0; iy < dx.h; ++iy)
      for (int ix = 0; ix < dx.w; ++ix) {
        __m512 sum = _mm512_setzero_ps();
        for (int fy = 0; fy < f && iy * f + fy < dy.h; ++fy)
          for (int fx = 0; fx < f && ix * f + fx < dy.w; ++fx)
            sum = _mm512_add_ps(sum, _mm512_loadu_ps(g + (static_cast<int64_t>(iy * f + fy) * dy.w + ix * f + fx) * kBlock));
        float* d = out + (static_cast<int64_t>(iy) * dx.w + ix) * kBlock;
        if (accumulate) {
          const __m512 old = _mm512_loadu_ps(d);
          _mm512_storeu_ps(d, _mm512_mask_add_ps(old, lanes, old, sum));
        } else {
          _mm512_storeu_ps(d, _mm512_maskz_mov_ps(lanes, sum));
        }
      }
  }
}

}  // namespace unet::kernels::UNET_AVX512_TIER_NS
