// Keras 'same' padding, as TensorFlow computes it: the extra row/column goes at the end.
#pragma once
#include <algorithm>

namespace unet::graph {

// Rows (or columns) of zeros before the image for a strided conv with 'same' padding:
// out = ceil(in / s), total = max((out - 1) * s + k - in, 0), before = total / 2.
inline int conv_same_pad_before(int in, int k, int s) {
  const int out = (in + s - 1) / s;
  return std::max((out - 1) * s + k - in, 0) / 2;
}

// Transposed conv with 'same' padding (out = in * s): the full output (in - 1) * s + k is
// cropped by k - s, the smaller half before.
inline int tconv_same_pad_before(int k, int s) { return std::max(k - s, 0) / 2; }

}  // namespace unet::graph
