#include "kernels/layout_reorder.h"

#include <cstring>

#include "kernels/kernel_family.h"

namespace unet::kernels {

void nhwc_to_blocked(const float* src, const TensorArg& dst) {
  const int cb = channel_blocks(dst.c);
  for (int i = 0; i < dst.n; ++i)
    for (int b = 0; b < cb; ++b) {
      float* out = dst.block(i, b);
      std::memset(out, 0, sizeof(float) * dst.h * dst.w * kBlock);
      const int c_end = std::min(dst.c, (b + 1) * kBlock);
      for (int64_t p = 0; p < static_cast<int64_t>(dst.h) * dst.w; ++p) {
        const float* in = src + (static_cast<int64_t>(i) * dst.h * dst.w + p) * dst.c;
        for (int ch = b * kBlock; ch < c_end; ++ch) out[p * kBlock + ch % kBlock] = in[ch];
      }
    }
}

void blocked_to_nhwc(const TensorArg& src, float* dst) {
  for (int i = 0; i < src.n; ++i)
    for (int y = 0; y < src.h; ++y)
      for (int x = 0; x < src.w; ++x)
        for (int ch = 0; ch < src.c; ++ch)
          dst[((static_cast<int64_t>(i) * src.h + y) * src.w + x) * src.c + ch] = src.at(i, ch, y, x);
}

void pack_conv_kernel(const float* keras, int kh, int kw, int ci, int co, float* blocked) {
  std::memset(blocked, 0, sizeof(float) * blocked_weight_floats(kh, kw, ci, co));
  for (int ky = 0; ky < kh; ++ky)
    for (int kx = 0; kx < kw; ++kx)
      for (int i = 0; i < ci; ++i)
        for (int o = 0; o < co; ++o)
          blocked[weight_index(co, ci, kh, kw, o, i, ky, kx)] =
              keras[((static_cast<int64_t>(ky) * kw + kx) * ci + i) * co + o];
}

void unpack_conv_kernel(const float* blocked, int kh, int kw, int ci, int co, float* keras) {
  for (int ky = 0; ky < kh; ++ky)
    for (int kx = 0; kx < kw; ++kx)
      for (int i = 0; i < ci; ++i)
        for (int o = 0; o < co; ++o)
          keras[((static_cast<int64_t>(ky) * kw + kx) * ci + i) * co + o] =
              blocked[weight_index(co, ci, kh, kw, o, i, ky, kx)];
}

void pack_tconv_kernel(const float* keras, int kh, int kw, int ci, int co, float* blocked) {
  std::memset(blocked, 0, sizeof(float) * blocked_weight_floats(kh, kw, ci, co));
  for (int ky = 0; ky < kh; ++ky)
    for (int kx = 0; kx < kw; ++kx)
      for (int o = 0; o < co; ++o)
        for (int i = 0; i < ci; ++i)
          blocked[weight_index(co, ci, kh, kw, o, i, ky, kx)] =
              keras[((static_cast<int64_t>(ky) * kw + kx) * co + o) * ci + i];
}

void unpack_tconv_kernel(const float* blocked, int kh, int kw, int ci, int co, float* keras) {
  for (int ky = 0; ky < kh; ++ky)
    for (int kx = 0; kx < kw; ++kx)
      for (int o = 0; o < co; ++o)
        for (int i = 0; i < ci; ++i)
          keras[((static_cast<int64_t>(ky) * kw + kx) * co + o) * ci + i] =
              blocked[weight_index(co, ci, kh, kw, o, i, ky, kx)];
}

}  // namespace unet::kernels
