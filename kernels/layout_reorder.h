// Reorders between the outside world's layouts (numpy NHWC, Keras kernels) and ours.
// Done once at the edges: data loading, initialisation, checkpoints.
#pragma once
#include "kernels/tensor_arg.h"

namespace unet::kernels {

// src: n*h*w*c floats, NHWC. dst: nChw16c view with the same n, c, h, w; padding lanes zeroed.
void nhwc_to_blocked(const float* src, const TensorArg& dst);
// src: nChw16c view. dst: n*h*w*c floats, NHWC.
void blocked_to_nhwc(const TensorArg& src, float* dst);

// Keras Conv2D kernel [kh][kw][ci][co] <-> OIhw16i16o (kernel_family.h), padding zeroed.
void pack_conv_kernel(const float* keras, int kh, int kw, int ci, int co, float* blocked);
void unpack_conv_kernel(const float* blocked, int kh, int kw, int ci, int co, float* keras);
// Keras Conv2DTranspose kernel [kh][kw][co][ci] <-> OIhw16i16o.
void pack_tconv_kernel(const float* keras, int kh, int kw, int ci, int co, float* blocked);
void unpack_tconv_kernel(const float* blocked, int kh, int kw, int ci, int co, float* keras);
// Floats a blocked weight tensor occupies.
inline int64_t blocked_weight_floats(int kh, int kw, int ci, int co) {
  return static_cast<int64_t>(padded_channels(co)) * padded_channels(ci) * kh * kw;
}

}  // namespace unet::kernels
