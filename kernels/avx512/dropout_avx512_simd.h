// The dropout mask on AVX-512, shared by the dropout kernels and the conv forward that folds
// a dropout into its epilogue. The keep decision of every element is the reference's
// (counter_rng.h): mix64 runs on 8 lanes of 64-bit integers, and "u >= rate" with
// u = (h >> 40) / 2^24 is decided exactly as the integer test (h >> 40) >= ceil(rate * 2^24).
// Included inside the body of one translation unit per ISA tier, after UNET_AVX512_TIER_NS is
// defined (the avx512f tier emulates the 64-bit multiply); lives in an anonymous namespace.
#pragma once
#ifndef UNET_AVX512_TIER_NS
#error "define UNET_AVX512_TIER_NS before including dropout_avx512_simd.h"
#endif

#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/avx512/eltwise_avx512_simd.h"
#include "kernels/counter_rng.h"
#include "kernels/kernel_call.h"
#include "kernels/kernel_family.h"
#include "kernels/tensor_arg.h"

namespace unet::kernels::UNET_AVX512_TIER_NS {
namespace {

// The smallest 24-bit draw k with k / 2^24 >= rate (2^24: none; NaN keeps nothing, as the
// reference's comparison).
inline uint64_t keep_threshold(float rate) {
  if (!(rate == rate)) return uint64_t{1} << 24;
  const double t = std::ceil(static_cast<double>(rate) * 16777216.0);
  return t <= 0 ? 0 : t >= 16777216.0 ? uint64_t{1} << 24 : static_cast<uint64_t>(t);
}

// The mask of one call: rate f0, seed i[kAttrSeedLo / Hi], the step's scalars (identity when
// evaluating), over tensors of `shape`'s channels and plane (element = (c * H + y) * W + x).
class DropoutMask {
 public:
  DropoutMask(const KernelCall& call, const TensorArg& shape) : c_(shape.c), h_(shape.h), w_(shape.w) {
    const StepScalars defaults{};
    const StepScalars& s = call.step ? *call.step : defaults;
    const float rate = s.evaluating ? 0.f : call.f[0];
    keep_scale_ = _mm512_set1_ps(1.0f - rate);
    threshold_ = _mm512_set1_epi64(static_cast<int64_t>(keep_threshold(rate)));
    const uint64_t seed = static_cast<uint64_t>(static_cast<uint32_t>(call.i[kAttrSeedLo])) |
                          (static_cast<uint64_t>(static_cast<uint32_t>(call.i[kAttrSeedHi])) << 32);
    seed_step_ = mix64(seed ^ mix64(s.step));  // the part of every image's hash the call shares
    image_base_ = s.image_base;
    // Element offsets of lanes 0..7 and 8..15 within a pixel: one channel is one plane apart.
    const uint64_t plane = static_cast<uint64_t>(h_) * w_;
    alignas(64) uint64_t offsets[kBlock];
    for (int l = 0; l < kBlock; ++l) offsets[l] = l * plane;
    off_lo_ = _mm512_load_si512(offsets);
    off_hi_ = _mm512_load_si512(offsets + 8);
  }

  // The hash base of image n of the call (the global image index is image_base + n).
  __m512i image_hash(int n) const {
    const uint64_t image = image_base_ + static_cast<uint64_t>(n);
    return _mm512_set1_epi64(static_cast<int64_t>(mix64(seed_step_ ^ image)));
  }

  // v where kept, divided by 1 - rate, else 0: pixel (y, x) of channel block cb of the image
  // whose image_hash is `image` (one pixel's 16 lanes; padding lanes as v's).
  __m512 pixel(__m512i image, int cb, int y, int x, __m512 v) const {
    return _mm512_maskz_div_ps(keep(image, element_of(cb, y, x)), v, keep_scale_);
  }

  // dst (+)= keep ? src / (1 - rate) : 0 over row y of channel block cb of image n (src and dst
  // point at the row's first pixel; dst may be src). relu (nullptr: none): the folded ReLU
  // backward zeroes the lanes where it is <= 0.
  void row(int n, int cb, int y, const float* src, float* dst, const float* relu, bool accumulate) const {
    const __mmask16 lanes = real_lanes(cb, c_);
    const __m512i base = image_hash(n);
    __m512i element = element_of(cb, y, 0);
    const __m512i one = _mm512_set1_epi64(1);
    for (int x = 0; x < w_; ++x, element = _mm512_add_epi64(element, one)) {
      const __m512 value = _mm512_maskz_div_ps(keep(base, element) & lanes, _mm512_loadu_ps(src + x * kBlock), keep_scale_);
      float* d = dst + x * kBlock;
      const __mmask16 live = relu ? relu_live(0xFFFF, relu + x * kBlock) : __mmask16(0xFFFF);
      if (accumulate) {
        const __m512 old = _mm512_loadu_ps(d);
        _mm512_storeu_ps(d, _mm512_maskz_mov_ps(live, _mm512_mask_add_ps(old, lanes, old, value)));
      } else {
        _mm512_storeu_ps(d, _mm512_maskz_mov_ps(live, value));
      }
    }
  }

 private:
  // The element index of lane 0 of pixel (y, x) of channel block cb, on all 8 lanes.
  __m512i element_of(int cb, int y, int x) const {
    return _mm512_set1_epi64(static_cast<int64_t>((static_cast<uint64_t>(cb) * kBlock * h_ + y) * w_ + x));
  }
  // The lanes of one pixel that are kept (element: its lane 0's index).
  __mmask16 keep(__m512i image, __m512i element) const {
    const __m512i h_lo = mix64_epi64(_mm512_xor_si512(image, _mm512_add_epi64(element, off_lo_)));
    const __m512i h_hi = mix64_epi64(_mm512_xor_si512(image, _mm512_add_epi64(element, off_hi_)));
    const __mmask8 keep_lo = _mm512_cmpge_epu64_mask(_mm512_srli_epi64(h_lo, 40), threshold_);
    const __mmask8 keep_hi = _mm512_cmpge_epu64_mask(_mm512_srli_epi64(h_hi, 40), threshold_);
    return static_cast<__mmask16>(keep_lo | (unsigned(keep_hi) << 8));
  }

  int c_, h_, w_;
  __m512 keep_scale_;
  __m512i threshold_, off_lo_, off_hi_;
  uint64_t seed_step_ = 0, image_base_ = 0;
};

}  // namespace
}  // namespace unet::kernels::UNET_AVX512_TIER_NS
