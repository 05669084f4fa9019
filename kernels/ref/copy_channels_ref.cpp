// Reference channel copy: y (+)= x for views of the same shape (concat when the producer
// could not write into the slice directly, and the backward of such a concat).
// Items are (image, channel block, row).
#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/ref_support.h"

namespace unet::kernels::ref {

size_t copy_channels_work(const KernelCall& call) { return block_row_count(call.t[slot::copy_channels::x]); }

void copy_channels_run(const KernelCall& call, size_t begin, size_t end) {
  const TensorArg &x = call.t[slot::copy_channels::x], &y = call.t[slot::copy_channels::y];
  const bool accumulate = accumulates(call);
  for (size_t item = begin; item < end; ++item) {
    const auto [n, cb, row] = block_row_of(x, item);
    for (int col = 0; col < x.w; ++col) {
      const float* in = pixel(x, n, cb, row, col);
      double value[kBlock];
      for (int l = 0; l < kBlock; ++l) value[l] = in[l];
      store_pixel(pixel(y, n, cb, row, col), value, cb * kBlock, x.c, accumulate);
    }
  }
}

}  // namespace unet::kernels::ref
