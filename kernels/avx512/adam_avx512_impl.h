// Body of the AVX-512 Adam update (TensorFlow's formula, the operations in the reference's
// order), 16 parameters a step. Items are chunks of ref::kAdamChunk parameters. Included by
// one translation unit per ISA tier defining UNET_AVX512_TIER_NS.
#ifndef UNET_AVX512_TIER_NS
#error "define UNET_AVX512_TIER_NS before including adam_avx512_impl.h"
#endif

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/avx512/eltwise_avx512_simd.h"
#include "kernels/kernel_call.h"
#include "kernels/ref/ref_kernels.h"

namespace unet::kernels::UNET_AVX512_TIER_NS {

size_t adam_update_work(const KernelCall& call) {
  return (static_cast<size_t>(call.t[0].w) + ref::kAdamChunk - 1) / ref::kAdamChunk;
}

void adam_update_run(const KernelCall& call, size_t begin, size_t end) {
  float *param = call.t[0].data, *grad = call.t[1].data, *m = call.t[2].data, *v = call.t[3].data;
  const StepScalars defaults{};
  const StepScalars& s = call.step ? *call.step : defaults;
  const __m512 beta1 = _mm512_set1_ps(call.f[0]), beta2 = _mm512_set1_ps(call.f[1]);
  const __m512 rest1 = _mm512_set1_ps(1.f - call.f[0]), rest2 = _mm512_set1_ps(1.f - call.f[1]);
  const __m512 epsilon = _mm512_set1_ps(call.f[2]), scale = _mm512_set1_ps(s.grad_scale);
  const __m512 lr = _mm512_set1_ps(s.lr_t);
  const size_t first = begin * ref::kAdamChunk;
  const size_t last = std::min(end * ref::kAdamChunk, static_cast<size_t>(call.t[0].w));
  for (size_t e = first; e < last; e += kBlock) {
    const __mmask16 k = last - e >= size_t(kBlock) ? __mmask16(0xFFFF) : __mmask16((1u << (last - e)) - 1u);
    const __m512 g = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, grad + e), scale);
    const __m512 mv = _mm512_add_ps(_mm512_mul_ps(beta1, _mm512_maskz_loadu_ps(k, m + e)), _mm512_mul_ps(rest1, g));
    const __m512 vv = _mm512_add_ps(_mm512_mul_ps(beta2, _mm512_maskz_loadu_ps(k, v + e)),
                                    _mm512_mul_ps(_mm512_mul_ps(rest2, g), g));
    const __m512 step = _mm512_div_ps(_mm512_mul_ps(lr, mv), _mm512_add_ps(_mm512_sqrt_ps(vv), epsilon));
    _mm512_mask_storeu_ps(m + e, k, mv);
    _mm512_mask_storeu_ps(v + e, k, vv);
    _mm512_mask_storeu_ps(param + e, k, _mm512_sub_ps(_mm512_maskz_loadu_ps(k, param + e), step));
  }
}

}  // namespace unet::kernels::UNET_AVX512_TIER_NS
