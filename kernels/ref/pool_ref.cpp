// Reference 2-D max-pooling (valid padding) and nearest-neighbour upsampling, with their
// gradients. Items are (image, channel block): each item owns one block of its output.
#include <algorithm>
#include <cstring>

#include "kernels/family_signature.h"
#include "kernels/kernel_family.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/ref_support.h"

namespace unet::kernels::ref {

namespace {

void zero_block(const TensorArg& t, int n, int cb) {
  std::memset(t.block(n, cb), 0, sizeof(float) * t.h * t.w * kBlock);
}

}  // namespace

// ---- maxpool forward: y[n,c,oy,ox] = max over the window at (oy*s, ox*s) ----

size_t maxpool2d_fwd_work(const KernelCall& call) { return image_block_count(call.t[slot::maxpool2d_fwd::y]); }

void maxpool2d_fwd_run(const KernelCall& call, size_t begin, size_t end) {
  const TensorArg &x = call.t[slot::maxpool2d_fwd::x], &y = call.t[slot::maxpool2d_fwd::y];
  for (size_t item = begin; item < end; ++item) {
    const auto [n, cb] = image_block_of(y, item);
    maxpool2d_block(x, y, n, cb, call.i[kAttrStride], call.i[kAttrWindow]);
  }
}

void maxpool2d_block(const TensorArg& x, const TensorArg& y, int n, int cb, int stride, int window) {
  for (int oy = 0; oy < y.h; ++oy)
    for (int ox = 0; ox < y.w; ++ox) {
      double out[kBlock] = {};
      for (int l = 0; l < kBlock && cb * kBlock + l < y.c; ++l) {
        float m = x.at(n, cb * kBlock + l, oy * stride, ox * stride);
        for (int wy = 0; wy < window; ++wy)
          for (int wx = 0; wx < window; ++wx)
            m = std::max(m, x.at(n, cb * kBlock + l, oy * stride + wy, ox * stride + wx));
        out[l] = m;
      }
      store_pixel(pixel(y, n, cb, oy, ox), out, cb * kBlock, y.c, false);
    }
}

// ---- maxpool backward: dy of each window goes to the window's first position (row-major)
// holding the maximum; overlapping windows add up. ----

size_t maxpool2d_bwd_work(const KernelCall& call) { return image_block_count(call.t[slot::maxpool2d_bwd::dx]); }

void maxpool2d_bwd_run(const KernelCall& call, size_t begin, size_t end) {
  namespace slots = slot::maxpool2d_bwd;
  const TensorArg &x = call.t[slots::x], &y = call.t[slots::y], &dy = call.t[slots::dy], &dx = call.t[slots::dx];
  const int stride = call.i[kAttrStride], window = call.i[kAttrWindow];
  const bool accumulate = accumulates(call);
  for (size_t item = begin; item < end; ++item) {
    const auto [n, cb] = image_block_of(dx, item);
    if (!accumulate) zero_block(dx, n, cb);
    for (int c = cb * kBlock; c < (cb + 1) * kBlock && c < dx.c; ++c)
      for (int oy = 0; oy < y.h; ++oy)
        for (int ox = 0; ox < y.w; ++ox) {
          const float max = y.at(n, c, oy, ox);
          bool found = false;
          for (int wy = 0; wy < window && !found; ++wy)
            for (int wx = 0; wx < window && !found; ++wx) {
              const int iy = oy * stride + wy, ix = ox * stride + wx;
              if (x.at(n, c, iy, ix) == max) {
                dx.at(n, c, iy, ix) += dy.at(n, c, oy, ox);
                found = true;
              }
            }
        }
    mask_by_relu(call, relu_mask_slot(Family::maxpool2d_bwd), dx, n, cb, 0, dx.h);
  }
}

// ---- upsample forward: y[n,c,oy,ox] = x[n,c,oy/f,ox/f] ----

size_t upsample2d_fwd_work(const KernelCall& call) { return image_block_count(call.t[slot::upsample2d_fwd::y]); }

void upsample2d_fwd_run(const KernelCall& call, size_t begin, size_t end) {
  const TensorArg &x = call.t[slot::upsample2d_fwd::x], &y = call.t[slot::upsample2d_fwd::y];
  const int f = call.i[kAttrWindow];
  for (size_t item = begin; item < end; ++item) {
    const auto [n, cb] = image_block_of(y, item);
    for (int oy = 0; oy < y.h; ++oy)
      for (int ox = 0; ox < y.w; ++ox) {
        const float* in = pixel(x, n, cb, oy / f, ox / f);
        double out[kBlock];
        for (int l = 0; l < kBlock; ++l) out[l] = in[l];
        store_pixel(pixel(y, n, cb, oy, ox), out, cb * kBlock, y.c, false);
      }
  }
}

// ---- upsample backward: dx[n,c,iy,ix] (+)= sum of dy over the f x f block it was copied to ----

size_t upsample2d_bwd_work(const KernelCall& call) { return image_block_count(call.t[slot::upsample2d_bwd::dx]); }

void upsample2d_bwd_run(const KernelCall& call, size_t begin, size_t end) {
  const TensorArg &dy = call.t[slot::upsample2d_bwd::dy], &dx = call.t[slot::upsample2d_bwd::dx];
  const int f = call.i[kAttrWindow];
  const bool accumulate = accumulates(call);
  for (size_t item = begin; item < end; ++item) {
    const auto [n, cb] = image_block_of(dx, item);
    for (int iy = 0; iy < dx.h; ++iy)
      for (int ix = 0; ix < dx.w; ++ix) {
        double sum[kBlock] = {};
        for (int fy = 0; fy < f && iy * f + fy < dy.h; ++fy)
          for (int fx = 0; fx < f && ix * f + fx < dy.w; ++fx) {
            const float* g = pixel(dy, n, cb, iy * f + fy, ix * f + fx);
            for (int l = 0; l < kBlock; ++l) sum[l] += g[l];
          }
        store_pixel(pixel(dx, n, cb, iy, ix), sum, cb * kBlock, dx.c, accumulate);
      }
    mask_by_relu(call, relu_mask_slot(Family::upsample2d_bwd), dx, n, cb, 0, dx.h);
  }
}

}  // namespace unet::kernels::ref
