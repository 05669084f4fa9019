// Body of the AVX-512 dropout kernels. The keep decision of every element is the reference's
// (counter_rng.h): mix64 runs on 8 lanes of 64-bit integers, and "u >= rate" with
// u = (h >> 40) / 2^24 is decided exactly as the integer test (h >> 40) >= ceil(rate * 2^24).
// Included by one translation unit per ISA tier defining UNET_AVX512_TIER_NS (the avx512f
// tier emulates the 64-bit multiply).
#ifndef UNET_AVX512_TIER_NS
#error "define UNET_AVX512_TIER_NS before including dropout_avx512_impl.h"
#endif

#include <immintrin.h>

#include <cmath>
#include <cstddef>
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
uint64_t keep_threshold(float rate) {
  if (!(rate == rate)) return uint64_t{1} << 24;
  const double t = std::ceil(static_cast<double>(rate) * 16777216.0);
  return t <= 0 ? 0 : t >= 16777216.0 ? uint64_t{1} << 24 : static_cast<uint64_t>(t);
}

// out (+)= keep ? in / (1 - rate) : 0 over the rows [begin, end) of `in`'s shape; items are
// (image, channel block, row). relu_y (backward only; data nullptr: none): the folded ReLU
// backward zeroes the lanes where it is <= 0.
void dropout_rows(const KernelCall& call, bool accumulate, const TensorArg& relu_y, size_t begin,
                  size_t end) {
  const TensorArg &in = call.t[0], &out = call.t[1];
  const StepScalars defaults{};
  const StepScalars& s = call.step ? *call.step : defaults;
  const float rate = s.evaluating ? 0.f : call.f[0];
  const __m512 keep_scale = _mm512_set1_ps(1.0f - rate);
  const __m512i threshold = _mm512_set1_epi64(static_cast<int64_t>(keep_threshold(rate)));
  const uint64_t seed = static_cast<uint64_t>(static_cast<uint32_t>(call.i[kAttrSeedLo])) |
                        (static_cast<uint64_t>(static_cast<uint32_t>(call.i[kAttrSeedHi])) << 32);
  const uint64_t plane = static_cast<uint64_t>(in.h) * in.w;
  // Element offsets of lanes 0..7 and 8..15 within a pixel: one channel is one plane apart.
  alignas(64) uint64_t offsets[kBlock];
  for (int l = 0; l < kBlock; ++l) offsets[l] = l * plane;
  const __m512i off_lo = _mm512_load_si512(offsets), off_hi = _mm512_load_si512(offsets + 8);
  const size_t rows = size_t(channel_blocks(in.c)) * in.h;
  for (size_t item = begin; item < end; ++item) {
    const int n = static_cast<int>(item / rows), r = static_cast<int>(item % rows);
    const int cb = r / in.h, y = r % in.h;
    const __mmask16 lanes = real_lanes(cb, in.c);
    const uint64_t image = s.image_base + static_cast<uint64_t>(n);
    const __m512i base = _mm512_set1_epi64(static_cast<int64_t>(mix64(mix64(seed ^ mix64(s.step)) ^ image)));
    const int64_t offset = static_cast<int64_t>(r) * in.w * kBlock;
    const float* src = in.data + n * in.image_stride + offset;
    float* dst = out.data + n * out.image_stride + offset;
    const float* relu = relu_y.data ? relu_y.data + n * relu_y.image_stride + offset : nullptr;
    __m512i element = _mm512_set1_epi64(static_cast<int64_t>((static_cast<uint64_t>(cb) * kBlock * in.h + y) * in.w));
    const __m512i one = _mm512_set1_epi64(1);
    for (int x = 0; x < in.w; ++x, element = _mm512_add_epi64(element, one)) {
      const __m512i h_lo = mix64_epi64(_mm512_xor_si512(base, _mm512_add_epi64(element, off_lo)));
      const __m512i h_hi = mix64_epi64(_mm512_xor_si512(base, _mm512_add_epi64(element, off_hi)));
      const __mmask8 keep_lo = _mm512_cmpge_epu64_mask(_mm512_srli_epi64(h_lo, 40), threshold);
      const __mmask8 keep_hi = _mm512_cmpge_epu64_mask(_mm512_srli_epi64(h_hi, 40), threshold);
      const __mmask16 keep = static_cast<__mmask16>((keep_lo | (unsigned(keep_hi) << 8)) & lanes);
      const __m512 value = _mm512_maskz_div_ps(keep, _mm512_loadu_ps(src + x * kBlock), keep_scale);
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
}

}  // namespace

size_t dropout_fwd_work(const KernelCall& call) {
  const TensorArg& x = call.t[0];
  return size_t(x.n) * channel_blocks(x.c) * x.h;
}

void dropout_fwd_run(const KernelCall& call, size_t begin, size_t end) {
  dropout_rows(call, false, TensorArg{}, begin, end);
}

size_t dropout_bwd_work(const KernelCall& call) { return dropout_fwd_work(call); }

void dropout_bwd_run(const KernelCall& call, size_t begin, size_t end) {
  dropout_rows(call, call.i[kAttrAccumulate] != 0, call.t[relu_mask_slot(Family::dropout_bwd)], begin, end);
}

}  // namespace unet::kernels::UNET_AVX512_TIER_NS
