// Body of the AVX-512 output-head kernels: sigmoid of the one-channel logits with the Dice
// partial sums (sums in double per image), and the gradient of -log(Dice). z and dz are
// nChw16c with one real channel, so only lane 0 of each pixel is real: forward gathers the
// lane 0 of 16 pixels at once, backward writes each pixel's zmm with lane 0 set and the rest
// zero. Items are images. Included by one translation unit per ISA tier defining
// UNET_AVX512_TIER_NS.
#ifndef UNET_AVX512_TIER_NS
#error "define UNET_AVX512_TIER_NS before including dice_avx512_impl.h"
#endif

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/avx512/eltwise_avx512_simd.h"
#include "kernels/kernel_call.h"
#include "kernels/kernel_family.h"
#include "kernels/tensor_arg.h"

namespace unet::kernels::UNET_AVX512_TIER_NS {
namespace {

UNET_SIMD_INLINE __m512d low_half_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
UNET_SIMD_INLINE __m512d high_half_pd(__m512 v) {
  return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}
UNET_SIMD_INLINE __mmask16 first_lanes(int count) {
  return count >= kBlock ? __mmask16(0xFFFF) : __mmask16((1u << count) - 1u);
}

}  // namespace

size_t sigmoid_dice_fwd_work(const KernelCall& call) {
  return static_cast<size_t>(call.t[slot::sigmoid_dice_fwd::z].n);
}

void sigmoid_dice_fwd_run(const KernelCall& call, size_t begin, size_t end) {
  namespace slots = slot::sigmoid_dice_fwd;
  const TensorArg &z = call.t[slots::z], &target = call.t[slots::target], &p = call.t[slots::p],
                  &partials = call.t[slots::partials];
  const int pixels = z.h * z.w;
  const __m512i lane0 = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                           _mm512_set1_epi32(kBlock));
  for (size_t item = begin; item < end; ++item) {
    const int n = static_cast<int>(item);
    const float* zs = z.block(n, 0);
    const float* ts = target.data + n * target.image_stride;
    float* ps = p.data + n * p.image_stride;
    __m512d inter = _mm512_setzero_pd(), pred = _mm512_setzero_pd(), truth = _mm512_setzero_pd();
    for (int q = 0; q < pixels; q += kBlock) {
      const __mmask16 m = first_lanes(pixels - q);
      const __m512 logits = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, lane0, zs + int64_t(q) * kBlock, 4);
      const __m512 prob = _mm512_maskz_mov_ps(m, sigmoid_ps(logits));
      const __m512 t = _mm512_maskz_loadu_ps(m, ts + q);
      _mm512_mask_storeu_ps(ps + q, m, prob);
      inter = _mm512_fmadd_pd(low_half_pd(prob), low_half_pd(t), inter);
      inter = _mm512_fmadd_pd(high_half_pd(prob), high_half_pd(t), inter);
      pred = _mm512_add_pd(pred, _mm512_add_pd(low_half_pd(prob), high_half_pd(prob)));
      truth = _mm512_add_pd(truth, _mm512_add_pd(low_half_pd(t), high_half_pd(t)));
    }
    partials.data[3 * n + 0] = static_cast<float>(_mm512_reduce_add_pd(inter));
    partials.data[3 * n + 1] = static_cast<float>(_mm512_reduce_add_pd(pred));
    partials.data[3 * n + 2] = static_cast<float>(_mm512_reduce_add_pd(truth));
  }
}

size_t sigmoid_dice_bwd_work(const KernelCall& call) {
  return static_cast<size_t>(call.t[slot::sigmoid_dice_bwd::p].n);
}

void sigmoid_dice_bwd_run(const KernelCall& call, size_t begin, size_t end) {
  namespace slots = slot::sigmoid_dice_bwd;
  const TensorArg &p = call.t[slots::p], &target = call.t[slots::target], &dz = call.t[slots::dz];
  const StepScalars defaults{};
  const StepScalars& s = call.step ? *call.step : defaults;
  const __m512 a = _mm512_set1_ps(s.dice_a), b = _mm512_set1_ps(s.dice_b), one = _mm512_set1_ps(1.f);
  const int pixels = p.h * p.w;
  for (size_t item = begin; item < end; ++item) {
    const int n = static_cast<int>(item);
    const float* ps = p.data + n * p.image_stride;
    const float* ts = target.data + n * target.image_stride;
    float* out = dz.block(n, 0);
    for (int q = 0; q < pixels; q += kBlock) {
      const int count = std::min(kBlock, pixels - q);
      const __mmask16 m = first_lanes(count);
      const __m512 prob = _mm512_maskz_loadu_ps(m, ps + q);
      const __m512 dl_dp = _mm512_add_ps(_mm512_mul_ps(a, _mm512_maskz_loadu_ps(m, ts + q)), b);
      alignas(64) float g[kBlock];
      _mm512_store_ps(g, _mm512_mul_ps(_mm512_mul_ps(dl_dp, prob), _mm512_sub_ps(one, prob)));
      for (int j = 0; j < count; ++j)
        _mm512_storeu_ps(out + int64_t(q + j) * kBlock, _mm512_maskz_loadu_ps(1, g + j));
    }
  }
}

}  // namespace unet::kernels::UNET_AVX512_TIER_NS
