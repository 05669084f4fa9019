// Small helpers the scalar reference kernels share: how a work item maps to tensor
// coordinates, how a conv tap connects two pixel grids, and how a 16-lane pixel is stored.
// Internal to kernels/ref/.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels/family_signature.h"
#include "kernels/kernel_call.h"
#include "kernels/kernel_family.h"
#include "kernels/tensor_arg.h"

namespace unet::kernels::ref {

// Kernels that read step scalars fall back to the defaults when the caller passes none, so a
// missing StepScalars gives a defined (if useless) result rather than a null dereference.
inline const StepScalars& step_of(const KernelCall& call) {
  static const StepScalars defaults{};
  return call.step ? *call.step : defaults;
}

inline uint64_t dropout_seed(const KernelCall& call) {
  return static_cast<uint64_t>(static_cast<uint32_t>(call.i[kAttrSeedLo])) |
         (static_cast<uint64_t>(static_cast<uint32_t>(call.i[kAttrSeedHi])) << 32);
}

inline bool accumulates(const KernelCall& call) { return call.i[kAttrAccumulate] != 0; }

inline double activate(Activation act, double v) {
  switch (act) {
    case Activation::relu: return v > 0.0 ? v : 0.0;
    case Activation::sigmoid: return 1.0 / (1.0 + std::exp(-v));
    case Activation::none: break;
  }
  return v;
}

// Stride and padding of a conv or transposed conv (attributes stride, pad_top, pad_left).
struct ConvGeometry {
  int stride, pad_top, pad_left;
};
inline ConvGeometry conv_geometry(const KernelCall& call) {
  return {call.i[kAttrStride], call.i[kAttrPadTop], call.i[kAttrPadLeft]};
}

// Bias (flat, padded to 16) value of output channel o, or 0 when the bias is absent or o is
// a padding channel.
inline double bias_of(const TensorArg& b, int o, int channels) {
  return b.data && o < channels ? b.data[o] : 0.0;
}

// dw[o,i,ky,kx] += sum[i%16][o%16] for the real (o, i) of output block ob, input block ib.
inline void add_weight_tile(const TensorArg& dw, int ob, int ib, int ky, int kx,
                            const double sum[kBlock][kBlock]) {
  for (int il = 0; il < kBlock && ib * kBlock + il < dw.c; ++il)
    for (int ol = 0; ol < kBlock && ob * kBlock + ol < dw.n; ++ol) {
      float& out =
          dw.data[weight_index(dw.n, dw.c, dw.h, dw.w, ob * kBlock + ol, ib * kBlock + il, ky, kx)];
      out = static_cast<float>(out + sum[il][ol]);
    }
}

// db[o] += sum of dy[n,o,y,x] over images and pixels, for the real channels of block ob.
inline void add_bias_gradient(const TensorArg& dy, const TensorArg& db, int ob) {
  for (int o = ob * kBlock; o < (ob + 1) * kBlock && o < dy.c; ++o) {
    double sum = 0.0;
    for (int n = 0; n < dy.n; ++n)
      for (int y = 0; y < dy.h; ++y)
        for (int x = 0; x < dy.w; ++x) sum += dy.at(n, o, y, x);
    db.data[o] = static_cast<float>(db.data[o] + sum);
  }
}

// Row of the input grid that output row `out` reads through tap `k` (forward conv geometry).
// The caller checks it lies inside the input.
inline int tap_source(int out, int k, int stride, int pad) { return out * stride - pad + k; }

// The inverse: the output row that reads input row `in` through tap `k`, or -1 if no output
// row does (the stride skips it, or it falls outside [0, out_size)).
inline int tap_target(int in, int k, int stride, int pad, int out_size) {
  const int t = in + pad - k;
  if (t < 0 || t % stride != 0) return -1;
  return t / stride < out_size ? t / stride : -1;
}

// A work item made of (image, channel block): the split used by kernels whose items each own
// one channel block of one image.
struct ImageBlock {
  int n, cb;
};
inline size_t image_block_count(const TensorArg& t) {
  return static_cast<size_t>(t.n) * channel_blocks(t.c);
}
inline ImageBlock image_block_of(const TensorArg& t, size_t item) {
  const int cbs = channel_blocks(t.c);
  return {static_cast<int>(item / cbs), static_cast<int>(item % cbs)};
}

// A work item made of (image, channel block, row): the split of the elementwise kernels.
struct BlockRow {
  int n, cb, y;
};
inline size_t block_row_count(const TensorArg& t) {
  return static_cast<size_t>(t.n) * channel_blocks(t.c) * t.h;
}
inline BlockRow block_row_of(const TensorArg& t, size_t item) {
  const size_t rows_per_image = static_cast<size_t>(channel_blocks(t.c)) * t.h;
  const size_t in_image = item % rows_per_image;
  return {static_cast<int>(item / rows_per_image), static_cast<int>(in_image / t.h),
          static_cast<int>(in_image % t.h)};
}

// The 16 lanes of pixel (y, x) in channel block cb of image n.
inline float* pixel(const TensorArg& t, int n, int cb, int y, int x) {
  return t.block(n, cb) + (static_cast<int64_t>(y) * t.w + x) * kBlock;
}

// Stores a computed pixel: lanes of real channels get `value` (or have it added when
// accumulating); padding lanes become zero when overwriting and are left alone (already zero)
// when accumulating.
inline void store_pixel(float* out, const double value[kBlock], int first_channel, int channels,
                        bool accumulate) {
  for (int l = 0; l < kBlock; ++l) {
    const bool real = first_channel + l < channels;
    if (accumulate) {
      if (real) out[l] = static_cast<float>(out[l] + value[l]);
    } else {
      out[l] = real ? static_cast<float>(value[l]) : 0.f;
    }
  }
}

// The folded ReLU backward (kernel_family.h, relu_mask_slot): when the call carries relu_y in
// `slot`, rows [y0, y1) of channel block cb of image n of dx become 0 where relu_y <= 0.
// Called by an item once it has written those rows for the last time.
inline void mask_by_relu(const KernelCall& call, int slot, const TensorArg& dx, int n, int cb,
                         int y0, int y1) {
  const TensorArg& relu_y = call.t[slot];
  if (!relu_y.data) return;
  for (int y = y0; y < y1; ++y)
    for (int x = 0; x < dx.w; ++x) {
      const float* r = pixel(relu_y, n, cb, y, x);
      float* d = pixel(dx, n, cb, y, x);
      for (int l = 0; l < kBlock; ++l)
        if (!(r[l] > 0.f)) d[l] = 0.f;
    }
}

}  // namespace unet::kernels::ref
