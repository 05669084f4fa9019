// Small vector helpers shared by the non-3x3 AVX-512 kernels: lane masks of partly filled
// channel blocks, a float exp / sigmoid accurate to a few ulp, and a 64-bit multiply that
// the avx512f tier (no AVX512DQ) emulates. Included inside the body of one translation unit
// per ISA tier, after UNET_AVX512_TIER_NS is defined; everything here lives in an anonymous
// namespace inside that tier's namespace, so copies built with different flags never merge.
#pragma once
#ifndef UNET_AVX512_TIER_NS
#error "define UNET_AVX512_TIER_NS before including eltwise_avx512_simd.h"
#endif

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/family_signature.h"
#include "kernels/tensor_arg.h"

namespace unet::kernels::UNET_AVX512_TIER_NS {
namespace {

#ifndef UNET_SIMD_INLINE
#define UNET_SIMD_INLINE inline __attribute__((always_inline))
#endif

// Lanes of channel block cb that hold real channels of a c-channel tensor.
UNET_SIMD_INLINE __mmask16 real_lanes(int cb, int c) {
  const int real = c - cb * kBlock;
  return real >= kBlock ? __mmask16(0xFFFF) : __mmask16((1u << std::max(real, 0)) - 1u);
}

UNET_SIMD_INLINE int real_lane_count(int cb, int c) { return std::clamp(c - cb * kBlock, 0, kBlock); }

// The folded ReLU backward (kernel_family.h, relu_mask_slot): of `lanes`, those where the
// ReLU output at relu_y (one pixel's 16 lanes) is > 0. Padding lanes of relu_y are zero.
UNET_SIMD_INLINE __mmask16 relu_live(__mmask16 lanes, const float* relu_y) {
  return _mm512_mask_cmp_ps_mask(lanes, _mm512_loadu_ps(relu_y), _mm512_setzero_ps(), _CMP_GT_OQ);
}

// Max-pool (valid padding) of output rows [oy0, oy1) of one channel block: `in` is the input
// block (in_w pixels a row), `out` the output block (out_w pixels a row); lanes outside
// `lanes` are stored as 0. max(v, m) keeps m on ties, as std::max(m, v) in the reference.
UNET_SIMD_INLINE void max_pool_rows(const float* in, int in_w, float* out, int out_w, int oy0, int oy1,
                                    int stride, int window, __mmask16 lanes) {
  for (int oy = oy0; oy < oy1; ++oy)
    for (int ox = 0; ox < out_w; ++ox) {
      const float* corner = in + (static_cast<int64_t>(oy) * stride * in_w + ox * stride) * kBlock;
      __m512 m = _mm512_loadu_ps(corner);
      for (int wy = 0; wy < window; ++wy)
        for (int wx = 0; wx < window; ++wx)
          m = _mm512_max_ps(_mm512_loadu_ps(corner + (static_cast<int64_t>(wy) * in_w + wx) * kBlock), m);
      _mm512_storeu_ps(out + (static_cast<int64_t>(oy) * out_w + ox) * kBlock, _mm512_maskz_mov_ps(lanes, m));
    }
}

// e^x for x in float range: x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor polynomial of
// degree 7 (truncation error below 1e-8 relative), times 2^n by scalef.
UNET_SIMD_INLINE __m512 exp_ps(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-103.f)), _mm512_set1_ps(88.7f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);  // ln2, high bits
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.4286068203094172e-06f), r);      // ln2, the rest
  __m512 p = _mm512_set1_ps(1.f / 5040.f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 720.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 120.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 24.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 6.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  return _mm512_scalef_ps(p, n);
}

UNET_SIMD_INLINE __m512 sigmoid_ps(__m512 v) {
  const __m512 one = _mm512_set1_ps(1.f);
  return _mm512_div_ps(one, _mm512_add_ps(one, exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), v))));
}

// Low 64 bits of a * b per lane. AVX512DQ has the instruction; the Knights Landing subset
// builds it from 32 x 32 -> 64-bit products.
UNET_SIMD_INLINE __m512i mullo64(__m512i a, __m512i b) {
#ifdef __AVX512DQ__
  return _mm512_mullo_epi64(a, b);
#else
  const __m512i lo = _mm512_mul_epu32(a, b);
  const __m512i cross = _mm512_add_epi64(_mm512_mul_epu32(_mm512_srli_epi64(a, 32), b),
                                         _mm512_mul_epu32(a, _mm512_srli_epi64(b, 32)));
  return _mm512_add_epi64(lo, _mm512_slli_epi64(cross, 32));
#endif
}

// counter_rng.h's mix64 on 8 lanes.
UNET_SIMD_INLINE __m512i mix64_epi64(__m512i z) {
  z = _mm512_add_epi64(z, _mm512_set1_epi64(static_cast<int64_t>(0x9E3779B97F4A7C15ull)));
  z = mullo64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)),
              _mm512_set1_epi64(static_cast<int64_t>(0xBF58476D1CE4E5B9ull)));
  z = mullo64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)),
              _mm512_set1_epi64(static_cast<int64_t>(0x94D049BB133111EBull)));
  return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

}  // namespace
}  // namespace unet::kernels::UNET_AVX512_TIER_NS
