// Body of the AVX-512 max-pool kernels (valid padding, any window and stride): one zmm is
// one pixel's 16 channels. Backward sends each window's gradient to the first position
// (row-major) holding the maximum, as the reference does, with a per-lane "found" mask.
// Included by one translation unit per ISA tier defining UNET_AVX512_TIER_NS.
#ifndef UNET_AVX512_TIER_NS
#error "define UNET_AVX512_TIER_NS before including pool_avx512_impl.h"
#endif

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/avx512/eltwise_avx512_simd.h"
#include "kernels/family_signature.h"
#include "kernels/kernel_call.h"
#include "kernels/kernel_family.h"
#include "kernels/tensor_arg.h"

namespace unet::kernels::UNET_AVX512_TIER_NS {

// Items: (image, channel block) of the output (forward) or of dx (backward).
size_t maxpool2d_fwd_work(const KernelCall& call) {
  const TensorArg& y = call.t[slot::maxpool2d_fwd::y];
  return size_t(y.n) * channel_blocks(y.c);
}

void maxpool2d_fwd_run(const KernelCall& call, size_t begin, size_t end) {
  const TensorArg &x = call.t[slot::maxpool2d_fwd::x], &y = call.t[slot::maxpool2d_fwd::y];
  const int stride = call.i[kAttrStride], window = call.i[kAttrWindow];
  const int cbs = channel_blocks(y.c);
  for (size_t item = begin; item < end; ++item) {
    const int n = static_cast<int>(item / cbs), cb = static_cast<int>(item % cbs);
    max_pool_rows(x.block(n, cb), x.w, y.block(n, cb), y.w, 0, y.h, stride, window, real_lanes(cb, y.c));
  }
}

namespace {

// The folded ReLU backward over pixels [x0, x1) of rows [y0, y1) of one dx block: lanes
// where relu_y <= 0 become 0.
void mask_by_relu(float* dx, const float* relu_y, int w, int y0, int y1, int x0, int x1) {
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      const int64_t p = (static_cast<int64_t>(y) * w + x) * kBlock;
      _mm512_storeu_ps(dx + p, _mm512_maskz_mov_ps(relu_live(0xFFFF, relu_y + p), _mm512_loadu_ps(dx + p)));
    }
}

}  // namespace

size_t maxpool2d_bwd_work(const KernelCall& call) {
  const TensorArg& dx = call.t[slot::maxpool2d_bwd::dx];
  return size_t(dx.n) * channel_blocks(dx.c);
}

void maxpool2d_bwd_run(const KernelCall& call, size_t begin, size_t end) {
  namespace slots = slot::maxpool2d_bwd;
  const TensorArg &x = call.t[slots::x], &y = call.t[slots::y], &dy = call.t[slots::dy], &dx = call.t[slots::dx];
  const TensorArg& relu_y = call.t[slot::maxpool2d_bwd::relu_y];
  const int stride = call.i[kAttrStride], window = call.i[kAttrWindow];
  const bool accumulate = call.i[kAttrAccumulate] != 0;
  // Windows that tile the input without overlap write each dx pixel once: no zeroing pass,
  // and a folded ReLU backward is applied as each pixel is stored.
  const bool tiling = stride == window;
  const bool disjoint = tiling && !accumulate;
  const int cbs = channel_blocks(dx.c);
  for (size_t item = begin; item < end; ++item) {
    const int n = static_cast<int>(item / cbs), cb = static_cast<int>(item % cbs);
    const __mmask16 lanes = real_lanes(cb, dx.c);
    const float* xin = x.block(n, cb);
    const float* ymax = y.block(n, cb);
    const float* g = dy.block(n, cb);
    float* out = dx.block(n, cb);
    const float* relu = relu_y.data ? relu_y.block(n, cb) : nullptr;
    const float* relu_now = tiling ? relu : nullptr;  // else: one pass at the end
    if (!accumulate && !disjoint) std::memset(out, 0, sizeof(float) * dx.h * dx.w * kBlock);
    for (int oy = 0; oy < y.h; ++oy)
      for (int ox = 0; ox < y.w; ++ox) {
        const int64_t o = static_cast<int64_t>(oy) * y.w + ox;
        const __m512 m = _mm512_loadu_ps(ymax + o * kBlock), gv = _mm512_loadu_ps(g + o * kBlock);
        __mmask16 open = lanes;  // lanes whose first maximum is still to come
        for (int wy = 0; wy < window; ++wy)
          for (int wx = 0; wx < window; ++wx) {
            const int64_t p = (static_cast<int64_t>(oy) * stride + wy) * x.w + ox * stride + wx;
            const __mmask16 hit = _mm512_mask_cmp_ps_mask(open, _mm512_loadu_ps(xin + p * kBlock), m, _CMP_EQ_OQ);
            open &= static_cast<__mmask16>(~hit);
            const int64_t q = (static_cast<int64_t>(oy) * stride + wy) * dx.w * kBlock +
                              static_cast<int64_t>(ox * stride + wx) * kBlock;
            float* d = out + q;
            const __mmask16 live = relu_now ? relu_live(0xFFFF, relu_now + q) : __mmask16(0xFFFF);
            if (disjoint) {
              _mm512_storeu_ps(d, _mm512_maskz_mov_ps(hit & live, gv));
            } else {
              const __m512 old = _mm512_loadu_ps(d);
              _mm512_storeu_ps(d, _mm512_maskz_mov_ps(live, _mm512_mask_add_ps(old, hit, old, gv)));
            }
          }
      }
    const int covered_h = y.h * stride, covered_w = y.w * stride;
    if (disjoint) {  // rows and columns no window covers
      for (int iy = 0; iy < dx.h; ++iy) {
        const int from = iy < covered_h ? covered_w : 0;
        if (from < dx.w)
          std::memset(out + (static_cast<int64_t>(iy) * dx.w + from) * kBlock, 0,
                      sizeof(float) * (dx.w - from) * kBlock);
      }
    } else if (relu && tiling) {  // accumulated: the pixels no window covers, masked as they are
      mask_by_relu(out, relu, dx.w, 0, std::min(covered_h, dx.h), std::min(covered_w, dx.w), dx.w);
      mask_by_relu(out, relu, dx.w, std::min(covered_h, dx.h), dx.h, 0, dx.w);
    } else if (relu) {  // overlapping windows: a pixel is final only once all are done
      mask_by_relu(out, relu, dx.w, 0, dx.h, 0, dx.w);
    }
  }
}

}  // namespace unet::kernels::UNET_AVX512_TIER_NS
