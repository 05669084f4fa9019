// Reference activation gradients, applied in place to dy given the activation's output y.
// Items are (image, channel block, row).
#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/ref_support.h"

namespace unet::kernels::ref {

namespace {

template <typename Derivative>  // float Derivative(float y): d act / d pre-activation
void scale_by_derivative(const KernelCall& call, size_t begin, size_t end, Derivative d) {
  const TensorArg &y = call.t[slot::activation_bwd::y], &dy = call.t[slot::activation_bwd::dy];
  for (size_t item = begin; item < end; ++item) {
    const auto [n, cb, row] = block_row_of(dy, item);
    for (int x = 0; x < dy.w; ++x) {
      const float* out = pixel(y, n, cb, row, x);
      float* g = pixel(dy, n, cb, row, x);
      for (int l = 0; l < kBlock; ++l) g[l] = cb * kBlock + l < dy.c ? g[l] * d(out[l]) : 0.f;
    }
  }
}

}  // namespace

size_t relu_bwd_work(const KernelCall& call) { return block_row_count(call.t[slot::relu_bwd::dy]); }

void relu_bwd_run(const KernelCall& call, size_t begin, size_t end) {
  scale_by_derivative(call, begin, end, [](float y) { return y > 0.f ? 1.f : 0.f; });
}

size_t sigmoid_bwd_work(const KernelCall& call) { return block_row_count(call.t[slot::sigmoid_bwd::dy]); }

void sigmoid_bwd_run(const KernelCall& call, size_t begin, size_t end) {
  scale_by_derivative(call, begin, end, [](float y) { return y * (1.f - y); });
}

}  // namespace unet::kernels::ref
