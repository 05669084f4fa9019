// Reference 2-D convolution (cross-correlation, as Keras/TF) and its two gradients.
#include "kernels/family_signature.h"
#include "kernels/kernel_family.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/ref_support.h"

namespace unet::kernels::ref {

namespace {


// The 16 weights w[o0..o0+15, i, ky, kx]: contiguous in OIhw16i16o (o0 a multiple of 16).
const float* weights_over_outputs(const TensorArg& w, int o0, int i, int ky, int kx) {
  return w.data + weight_index(w.n, w.c, w.h, w.w, o0, i, ky, kx);
}

}  // namespace

// ---- forward: items are (image, output-channel block) ----

size_t conv2d_fwd_work(const KernelCall& call) { return image_block_count(call.t[slot::conv2d_fwd::y]); }

void conv2d_fwd_run(const KernelCall& call, size_t begin, size_t end) {
  namespace slots = slot::conv2d_fwd;
  const TensorArg &x = call.t[slots::x], &w = call.t[slots::w], &b = call.t[slots::b], &y = call.t[slots::y];
  const ConvGeometry g = conv_geometry(call);
  const auto act = static_cast<Activation>(call.i[kAttrActivation]);
  for (size_t item = begin; item < end; ++item) {
    const auto [n, ob] = image_block_of(y, item);
    const int o0 = ob * kBlock;
    for (int oy = 0; oy < y.h; ++oy)
      for (int ox = 0; ox < y.w; ++ox) {
        double acc[kBlock];
        for (int l = 0; l < kBlock; ++l) acc[l] = bias_of(b, o0 + l, y.c);
        for (int ky = 0; ky < w.h; ++ky) {
          const int iy = tap_source(oy, ky, g.stride, g.pad_top);
          if (iy < 0 || iy >= x.h) continue;
          for (int kx = 0; kx < w.w; ++kx) {
            const int ix = tap_source(ox, kx, g.stride, g.pad_left);
            if (ix < 0 || ix >= x.w) continue;
            for (int i = 0; i < x.c; ++i) {
              const double xv = x.at(n, i, iy, ix);
              const float* wo = weights_over_outputs(w, o0, i, ky, kx);
              for (int l = 0; l < kBlock; ++l) acc[l] += xv * wo[l];
            }
          }
        }
        for (double& a : acc) a = activate(act, a);
        store_pixel(pixel(y, n, ob, oy, ox), acc, o0, y.c, false);
      }
    if (call.i[kAttrFoldedDropout]) dropout_block_in_place(call, y, n, ob);
    const TensorArg& pool_y = call.t[slot::conv2d_fwd::pool_y];
    if (pool_y.data) maxpool2d_block(y, pool_y, n, ob, kFoldedPoolWindow, kFoldedPoolWindow);
  }
}

// ---- backward data: items are (image, input-channel block of dx) ----
// dx[n,i,iy,ix] = sum over (o, ky, kx) of dy[n,o,oy,ox] * w[o,i,ky,kx] for every output
// pixel (oy, ox) that read (iy, ix) through tap (ky, kx).

size_t conv2d_bwd_data_work(const KernelCall& call) { return image_block_count(call.t[slot::conv2d_bwd_data::dx]); }

void conv2d_bwd_data_run(const KernelCall& call, size_t begin, size_t end) {
  namespace slots = slot::conv2d_bwd_data;
  const TensorArg &dy = call.t[slots::dy], &w = call.t[slots::w], &dx = call.t[slots::dx];
  const ConvGeometry g = conv_geometry(call);
  const bool accumulate = accumulates(call);
  for (size_t item = begin; item < end; ++item) {
    const auto [n, ib] = image_block_of(dx, item);
    const int i0 = ib * kBlock;
    for (int iy = 0; iy < dx.h; ++iy)
      for (int ix = 0; ix < dx.w; ++ix) {
        double acc[kBlock] = {};
        for (int ky = 0; ky < w.h; ++ky) {
          const int oy = tap_target(iy, ky, g.stride, g.pad_top, dy.h);
          if (oy < 0) continue;
          for (int kx = 0; kx < w.w; ++kx) {
            const int ox = tap_target(ix, kx, g.stride, g.pad_left, dy.w);
            if (ox < 0) continue;
            for (int o = 0; o < dy.c; ++o) {
              const double gv = dy.at(n, o, oy, ox);
              for (int l = 0; l < kBlock; ++l)
                acc[l] += gv * w.data[weight_index(w.n, w.c, w.h, w.w, o, i0 + l, ky, kx)];
            }
          }
        }
        store_pixel(pixel(dx, n, ib, iy, ix), acc, i0, dx.c, accumulate);
      }
    mask_by_relu(call, relu_mask_slot(Family::conv2d_bwd_data), dx, n, ib, 0, dx.h);
  }
}

// ---- backward weights: items are (output-channel block, input-channel block) ----
// dw[o,i,ky,kx] += sum over images and output pixels of x[n,i,iy,ix] * dy[n,o,oy,ox];
// db[o] += sum of dy[n,o,..] (by the items of input block 0).

size_t conv2d_bwd_weights_work(const KernelCall& call) {
  const TensorArg& dw = call.t[slot::conv2d_bwd_weights::dw];
  return static_cast<size_t>(channel_blocks(dw.n)) * channel_blocks(dw.c);
}

void conv2d_bwd_weights_run(const KernelCall& call, size_t begin, size_t end) {
  namespace slots = slot::conv2d_bwd_weights;
  const TensorArg &x = call.t[slots::x], &dy = call.t[slots::dy], &dw = call.t[slots::dw], &db = call.t[slots::db];
  const ConvGeometry g = conv_geometry(call);
  const int ibs = channel_blocks(dw.c);
  for (size_t item = begin; item < end; ++item) {
    const int ob = static_cast<int>(item / ibs), ib = static_cast<int>(item % ibs);
    for (int ky = 0; ky < dw.h; ++ky)
      for (int kx = 0; kx < dw.w; ++kx) {
        double acc[kBlock][kBlock] = {};  // [input lane][output lane]
        for (int n = 0; n < dy.n; ++n)
          for (int oy = 0; oy < dy.h; ++oy) {
            const int iy = tap_source(oy, ky, g.stride, g.pad_top);
            if (iy < 0 || iy >= x.h) continue;
            for (int ox = 0; ox < dy.w; ++ox) {
              const int ix = tap_source(ox, kx, g.stride, g.pad_left);
              if (ix < 0 || ix >= x.w) continue;
              const float* xs = pixel(x, n, ib, iy, ix);
              const float* gs = pixel(dy, n, ob, oy, ox);
              for (int il = 0; il < kBlock; ++il)
                for (int ol = 0; ol < kBlock; ++ol) acc[il][ol] += double(xs[il]) * gs[ol];
            }
          }
        add_weight_tile(dw, ob, ib, ky, kx, acc);
      }
    if (ib == 0 && db.data) add_bias_gradient(dy, db, ob);
  }
}

}  // namespace unet::kernels::ref
