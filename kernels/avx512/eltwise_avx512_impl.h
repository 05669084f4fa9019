// Body of the AVX-512 elementwise kernels over nChw16c rows: ReLU and sigmoid gradients (in
// place on dy) and the channel copy. Memory-bound: one load per operand and one store per
// pixel, padding lanes written as zero (or left alone when accumulating). Included by one
// translation unit per ISA tier defining UNET_AVX512_TIER_NS.
#ifndef UNET_AVX512_TIER_NS
#error "define UNET_AVX512_TIER_NS before including eltwise_avx512_impl.h"
#endif

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/avx512/eltwise_avx512_simd.h"
#include "kernels/kernel_call.h"
#include "kernels/kernel_family.h"
#include "kernels/tensor_arg.h"

namespace unet::kernels::UNET_AVX512_TIER_NS {
namespace {

// Items (image, channel block, row) of `t`, as the reference kernels split them.
size_t block_rows(const TensorArg& t) { return size_t(t.n) * channel_blocks(t.c) * t.h; }

struct BlockRow {
  int n, cb, y;
  int64_t offset;  // floats from the start of the image to the row
};

UNET_SIMD_INLINE BlockRow block_row(const TensorArg& t, size_t item) {
  const size_t rows = size_t(channel_blocks(t.c)) * t.h;
  const int n = static_cast<int>(item / rows), r = static_cast<int>(item % rows);
  return {n, r / t.h, r % t.h, static_cast<int64_t>(r) * t.w * kBlock};
}

// dy (in place) *= derivative(y) on real lanes, zero on padding lanes.
template <typename Derivative>
void scale_rows(const KernelCall& call, size_t begin, size_t end, Derivative derivative) {
  const TensorArg &y = call.t[slot::activation_bwd::y], &dy = call.t[slot::activation_bwd::dy];
  for (size_t item = begin; item < end; ++item) {
    const BlockRow r = block_row(dy, item);
    const __mmask16 lanes = real_lanes(r.cb, dy.c);
    const float* out = y.data + r.n * y.image_stride + r.offset;
    float* g = dy.data + r.n * dy.image_stride + r.offset;
    for (int x = 0; x < dy.w; ++x) {
      const __m512 d = derivative(_mm512_loadu_ps(out + x * kBlock));
      _mm512_storeu_ps(g + x * kBlock, _mm512_maskz_mul_ps(lanes, _mm512_loadu_ps(g + x * kBlock), d));
    }
  }
}

}  // namespace

size_t relu_bwd_work(const KernelCall& call) { return block_rows(call.t[slot::relu_bwd::dy]); }

void relu_bwd_run(const KernelCall& call, size_t begin, size_t end) {
  scale_rows(call, begin, end, [](__m512 y) {
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_GT_OQ), _mm512_set1_ps(1.f));
  });
}

size_t sigmoid_bwd_work(const KernelCall& call) { return block_rows(call.t[slot::sigmoid_bwd::dy]); }

void sigmoid_bwd_run(const KernelCall& call, size_t begin, size_t end) {
  scale_rows(call, begin, end, [](__m512 y) { return _mm512_mul_ps(y, _mm512_sub_ps(_mm512_set1_ps(1.f), y)); });
}

size_t copy_channels_work(const KernelCall& call) { return block_rows(call.t[slot::copy_channels::x]); }

void copy_channels_run(const KernelCall& call, size_t begin, size_t end) {
  const TensorArg &x = call.t[slot::copy_channels::x], &y = call.t[slot::copy_channels::y];
  const bool accumulate = call.i[kAttrAccumulate] != 0;
  for (size_t item = begin; item < end; ++item) {
    const BlockRow r = block_row(x, item);
    const __mmask16 lanes = real_lanes(r.cb, x.c);
    const float* in = x.data + r.n * x.image_stride + r.offset;
    float* out = y.data + r.n * y.image_stride + r.offset;
    if (accumulate) {
      for (int c = 0; c < x.w; ++c) {
        const __m512 old = _mm512_loadu_ps(out + c * kBlock);
        _mm512_storeu_ps(out + c * kBlock, _mm512_mask_add_ps(old, lanes, old, _mm512_loadu_ps(in + c * kBlock)));
      }
    } else {
      for (int c = 0; c < x.w; ++c) _mm512_storeu_ps(out + c * kBlock, _mm512_maskz_loadu_ps(lanes, in + c * kBlock));
    }
  }
}

}  // namespace unet::kernels::UNET_AVX512_TIER_NS
