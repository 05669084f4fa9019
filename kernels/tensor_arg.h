// The view of one tensor that a kernel reads or writes. Kernels see memory and shapes only.
#pragma once
#include <cstddef>
#include <cstdint>

namespace unet::kernels {

// Activations use the channel-blocked layout nChw16c: [N][ceil(C/16)][H][W][16].
// One block of 16 fp32 channels is one zmm register.
inline constexpr int kBlock = 16;

inline constexpr int channel_blocks(int c) { return (c + kBlock - 1) / kBlock; }
inline constexpr int padded_channels(int c) { return channel_blocks(c) * kBlock; }

// A view of a tensor in arena memory.
//
// Meaning of the fields by layout (the kernel family says which layout each role has):
//  - nChw16c activation: n images of c real channels (padded to 16 in memory), h x w pixels.
//    Element (i, ch, y, x) is at data[i*image_stride + (ch/16)*h*w*16 + (y*w + x)*16 + ch%16].
//    image_stride is normally channel_blocks(c)*h*w*16, but is larger when the view is a
//    channel slice of a wider tensor (concat elimination: producers write into slices).
//  - nhw plain (targets, predictions: one channel): element (i, y, x) at
//    data[i*image_stride + y*w + x], c == 1.
//  - flat: w elements, n == c == h == 1 (Adam over the parameter region, per-image partials).
//  - weights: see kernel_family.h (dims carry co, ci, kh, kw).
//
// Invariant kept by every kernel: the padding lanes (channels c..padded_channels(c)-1) of an
// nChw16c tensor it writes are written as zero, so readers may load whole blocks.
struct TensorArg {
  float* data = nullptr;
  int32_t n = 0, c = 0, h = 0, w = 0;
  int64_t image_stride = 0;  // floats between consecutive images

  float* block(int i, int cb) const {  // start of channel block cb of image i (nChw16c)
    return data + i * image_stride + static_cast<int64_t>(cb) * h * w * kBlock;
  }
  float& at(int i, int ch, int y, int x) const {  // nChw16c element
    return block(i, ch / kBlock)[(static_cast<int64_t>(y) * w + x) * kBlock + ch % kBlock];
  }
  float& at_plain(int i, int y, int x) const {  // nhw element
    return data[i * image_stride + static_cast<int64_t>(y) * w + x];
  }
};

}  // namespace unet::kernels
