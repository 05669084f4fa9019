// Reference dropout and its gradient. The mask is never stored: both directions regenerate
// it from the counter-based RNG at (seed, step, global image index, element), so it does not
// depend on how a batch is cut into micro-batches. Items are (image, channel block, row).
#include "kernels/counter_rng.h"
#include "kernels/family_signature.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/ref_support.h"

namespace unet::kernels::ref {

namespace {

// out (+)= keep ? in / (1 - rate) : 0 over row y of channel block cb of image n (out may be
// in: each pixel is read before it is stored).
void mask_row(const KernelCall& call, const TensorArg& in, const TensorArg& out, bool accumulate, int n,
              int cb, int y) {
  const StepScalars& s = step_of(call);
  const float rate = s.evaluating ? 0.f : call.f[0];
  const uint64_t seed = dropout_seed(call);
  const uint64_t image = s.image_base + static_cast<uint64_t>(n);
  for (int x = 0; x < in.w; ++x) {
    const float* src = pixel(in, n, cb, y, x);
    double value[kBlock] = {};
    for (int l = 0; l < kBlock; ++l) {
      const int c = cb * kBlock + l;
      if (c >= in.c) break;
      const uint64_t element = (static_cast<uint64_t>(c) * in.h + y) * in.w + x;
      if (dropout_keep(seed, s.step, image, element, rate)) value[l] = src[l] / (1.0f - rate);
    }
    store_pixel(pixel(out, n, cb, y, x), value, cb * kBlock, in.c, accumulate);
  }
}

// The rows [begin, end) of `in`'s shape; then the folded ReLU backward when relu_slot >= 0
// (backward only).
void apply_mask(const KernelCall& call, const TensorArg& in, const TensorArg& out,
                bool accumulate, int relu_slot, size_t begin, size_t end) {
  for (size_t item = begin; item < end; ++item) {
    const auto [n, cb, y] = block_row_of(in, item);
    mask_row(call, in, out, accumulate, n, cb, y);
    if (relu_slot >= 0) mask_by_relu(call, relu_slot, out, n, cb, y, y + 1);
  }
}

}  // namespace

void dropout_block_in_place(const KernelCall& call, const TensorArg& t, int n, int cb) {
  for (int y = 0; y < t.h; ++y) mask_row(call, t, t, false, n, cb, y);
}

size_t dropout_fwd_work(const KernelCall& call) { return block_row_count(call.t[slot::dropout_fwd::x]); }

void dropout_fwd_run(const KernelCall& call, size_t begin, size_t end) {
  apply_mask(call, call.t[slot::dropout_fwd::x], call.t[slot::dropout_fwd::y], false, -1, begin, end);
}

size_t dropout_bwd_work(const KernelCall& call) { return block_row_count(call.t[slot::dropout_bwd::dy]); }

void dropout_bwd_run(const KernelCall& call, size_t begin, size_t end) {
  apply_mask(call, call.t[slot::dropout_bwd::dy], call.t[slot::dropout_bwd::dx], accumulates(call),
             relu_mask_slot(Family::dropout_bwd), begin, end);
}

}  // namespace unet::kernels::ref
