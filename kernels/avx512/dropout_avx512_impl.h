// Body of the AVX-512 dropout kernels (the mask: dropout_avx512_simd.h). Included by one
// translation unit per ISA tier defining UNET_AVX512_TIER_NS.
#ifndef UNET_AVX512_TIER_NS
#error "define UNET_AVX512_TIER_NS before including dropout_avx512_impl.h"
#endif

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/avx512/dropout_avx512_simd.h"
#include "kernels/family_signature.h"
#include "kernels/kernel_call.h"
#include "kernels/kernel_family.h"
#include "kernels/tensor_arg.h"

namespace unet::kernels::UNET_AVX512_TIER_NS {
namespace {

// out (+)= keep ? in / (1 - rate) : 0 over the rows [begin, end) of `in`'s shape; items are
// (image, channel block, row). relu_y (backward only; data nullptr: none): the folded ReLU
// backward zeroes the lanes where it is <= 0.
void dropout_rows(const KernelCall& call, bool accumulate, const TensorArg& relu_y, size_t begin,
                  size_t end) {
  // dropout_fwd's x and y sit where dropout_bwd's dy and dx do.
  static_assert(slot::dropout_fwd::x == slot::dropout_bwd::dy && slot::dropout_fwd::y == slot::dropout_bwd::dx);
  const TensorArg &in = call.t[slot::dropout_fwd::x], &out = call.t[slot::dropout_fwd::y];
  const DropoutMask mask(call, in);
  const size_t rows = size_t(channel_blocks(in.c)) * in.h;
  for (size_t item = begin; item < end; ++item) {
    const int n = static_cast<int>(item / rows), r = static_cast<int>(item % rows);
    const int64_t offset = static_cast<int64_t>(r) * in.w * kBlock;
    mask.row(n, r / in.h, r % in.h, in.data + n * in.image_stride + offset, out.data + n * out.image_stride + offset,
             relu_y.data ? relu_y.data + n * relu_y.image_stride + offset : nullptr, accumulate);
  }
}

}  // namespace

size_t dropout_fwd_work(const KernelCall& call) {
  const TensorArg& x = call.t[slot::dropout_fwd::x];
  return size_t(x.n) * channel_blocks(x.c) * x.h;
}

void dropout_fwd_run(const KernelCall& call, size_t begin, size_t end) {
  dropout_rows(call, false, TensorArg{}, begin, end);
}

size_t dropout_bwd_work(const KernelCall& call) { return dropout_fwd_work(call); }

void dropout_bwd_run(const KernelCall& call, size_t begin, size_t end) {
  dropout_rows(call, call.i[kAttrAccumulate] != 0, call.t[slot::dropout_bwd::relu_y], begin, end);
}

}  // namespace unet::kernels::UNET_AVX512_TIER_NS
