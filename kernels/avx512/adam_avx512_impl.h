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
  return (static_cast<size_t>(call.t[slot::adam_update::param].w) + ref::kAdamChunk - 1) / ref::kAdamChunk;
}

void adam_update_run(const KernelCall& call, size_t begin, size_t end) {
  namespace slots = slot::adam_update;
  const float *param = call.t[slots::param].data, *grad = call.t[slots::grad].data;
  const float *m = call.t[slots::m].data, *v = call.t[slots::v].data;
  const bool out_of_place = call.t[slots::param_out].data != nullptr;  // param_out, m_out, v_out take the results
  float* param_out = out_of_place ? call.t[slots::param_out].data : call.t[slots::param].data;
  float* m_out = out_of_place ? call.t[slots::m_out].data : call.t[slots::m].data;
  float* v_out = out_of_place ? call.t[slots::v_out].data : call.t[slots::v].data;
  // Out of place the moments' lines are not in cache (the other bank): streaming stores spare
  // reading them first, and nothing reads them before the next update of this parameter.
  // In place they were just read, so plain stores are as cheap.
  const auto aligned = [](const float* p) { return (reinterpret_cast<uintptr_t>(p) & 63u) == 0; };
  const bool stream = out_of_place && aligned(m_out) && aligned(v_out);
  const StepScalars defaults{};
  const StepScalars& s = call.step ? *call.step : defaults;
  const __m512 beta1 = _mm512_set1_ps(call.f[0]), beta2 = _mm512_set1_ps(call.f[1]);
  const __m512 rest1 = _mm512_set1_ps(1.f - call.f[0]), rest2 = _mm512_set1_ps(1.f - call.f[1]);
  const __m512 epsilon = _mm512_set1_ps(call.f[2]), scale = _mm512_set1_ps(s.grad_scale);
  const __m512 lr = _mm512_set1_ps(s.lr_t);
  const size_t first = begin * ref::kAdamChunk;
  const size_t last = std::min(end * ref::kAdamChunk, static_cast<size_t>(call.t[slot::adam_update::param].w));
  for (size_t e = first; e < last; e += kBlock) {
    const __mmask16 k = last - e >= size_t(kBlock) ? __mmask16(0xFFFF) : __mmask16((1u << (last - e)) - 1u);
    const __m512 g = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, grad + e), scale);
    const __m512 mv = _mm512_add_ps(_mm512_mul_ps(beta1, _mm512_maskz_loadu_ps(k, m + e)), _mm512_mul_ps(rest1, g));
    const __m512 vv = _mm512_add_ps(_mm512_mul_ps(beta2, _mm512_maskz_loadu_ps(k, v + e)),
                                    _mm512_mul_ps(_mm512_mul_ps(rest2, g), g));
    const __m512 step = _mm512_div_ps(_mm512_mul_ps(lr, mv), _mm512_add_ps(_mm512_sqrt_ps(vv), epsilon));
    const __m512 pv = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, param + e), step);
    if (stream && k == __mmask16(0xFFFF)) {
      _mm512_stream_ps(m_out + e, mv);
      _mm512_stream_ps(v_out + e, vv);
    } else {
      _mm512_mask_storeu_ps(m_out + e, k, mv);
      _mm512_mask_storeu_ps(v_out + e, k, vv);
    }
    _mm512_mask_storeu_ps(param_out + e, k, pv);
  }
  if (stream) _mm_sfence();  // the streamed stores are visible before whoever is told we are done
}

}  // namespace unet::kernels::UNET_AVX512_TIER_NS
