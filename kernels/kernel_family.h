// Kernel families: what each computes and the role of every tensor and attribute it takes.
// The scalar reference kernel of a family (kernels/ref/) is its specification; optimised
// kernels of the same family must compute the same thing on the same views.
#pragma once
#include <cstdint>
#include <string_view>

namespace unet::kernels {

enum class Activation : int32_t { none = 0, relu = 1, sigmoid = 2 };

// Weight layout OIhw16i16o, for conv and transposed conv alike: a TensorArg with
// n = Co, c = Ci, h = KH, w = KW; element (o, i, ky, kx) at
//   data[((((o/16)*ceil(Ci/16) + i/16)*KH + ky)*KW + kx)*256 + (i%16)*16 + o%16].
// Padding entries (o >= Co or i >= Ci) are zero. Bias: flat, padded_channels(Co) floats.
inline int64_t weight_index(int co_, int ci, int kh, int kw, int o, int i, int ky, int kx) {
  const int cib = (ci + 15) / 16;
  (void)co_;
  return ((((static_cast<int64_t>(o / 16) * cib + i / 16) * kh + ky) * kw + kx) * 256) +
         (i % 16) * 16 + o % 16;
}

// Common integer attributes (index into KernelCall::i):
inline constexpr int kAttrStride = 0;      // conv/tconv stride; pool stride
inline constexpr int kAttrPadTop = 1;      // conv/tconv
inline constexpr int kAttrPadLeft = 2;     // conv/tconv
inline constexpr int kAttrActivation = 3;  // conv/tconv forward: Activation applied to output
inline constexpr int kAttrAccumulate = 4;  // backward-data kinds: 0 = overwrite dx, 1 = dx +=
inline constexpr int kAttrWindow = 5;      // maxpool window (square); upsample factor
inline constexpr int kAttrSeedLo = 6;      // dropout seed, low 32 bits
inline constexpr int kAttrSeedHi = 7;      // dropout seed, high 32 bits
// conv2d_fwd: 1 = a dropout folded into the epilogue (see dropout_epilogue below).
inline constexpr int kAttrFoldedDropout = 8;

enum class Family : uint8_t {
  // y = act(b + conv(x, w)), cross-correlation as Keras/TF:
  //   y[n,o,oy,ox] = act(b[o] + sum_{i,ky,kx} x[n,i,oy*s-pt+ky, ox*s-pl+kx] * w[o,i,ky,kx])
  //   (x outside the image is 0). t0 x, t1 w, t2 b, t3 y, t4 pool_y (optional, see
  //   pool_epilogue_slot). i: stride, pad_top, pad_left, act, folded_dropout (with seed_lo,
  //   seed_hi and f0 rate: see dropout_epilogue below).
  conv2d_fwd = 0,
  // dx (+)= conv^T(dy, w). t0 dy (gradient of the pre-activation output), t1 w, t2 dx,
  //   t3 relu_y (optional, see relu_mask_slot). i: stride, pad_top, pad_left, -, accumulate.
  conv2d_bwd_data = 1,
  // dw += sum over images and pixels of x * dy; db += sum of dy. t0 x, t1 dy, t2 dw, t3 db.
  //   Always accumulates, so micro-batches add up; the trainer zeroes gradients per step.
  conv2d_bwd_weights = 2,
  // Transposed conv (Keras Conv2DTranspose): for every input pixel,
  //   y[n,o,iy*s-pt+ky, ix*s-pl+kx] += x[n,i,iy,ix] * w[o,i,ky,kx]; then + b[o], act.
  //   t0 x, t1 w, t2 b, t3 y. i: stride, pad_top, pad_left, act.
  tconv2d_fwd = 3,
  tconv2d_bwd_data = 4,     // t0 dy, t1 w, t2 dx, t3 relu_y (optional). i: as fwd, accumulate.
  tconv2d_bwd_weights = 5,  // t0 x, t1 dy, t2 dw, t3 db (accumulating).
  // 2-D max-pool, valid padding: y = max over window. t0 x, t1 y. i: stride, window.
  maxpool2d_fwd = 6,
  // The gradient goes to the first position (row-major in the window) where x == y.
  //   t0 x, t1 y, t2 dy, t3 dx, t4 relu_y (optional). i: stride, window, accumulate.
  maxpool2d_bwd = 7,
  upsample2d_fwd = 8,  // nearest: y[n,c,oy,ox] = x[n,c,oy/f,ox/f]. t0 x, t1 y. i: window = f.
  // dx (+)= sum of dy over each f x f block. t0 dy, t1 dx, t2 relu_y (optional).
  //   i: window, acc.
  upsample2d_bwd = 9,
  // y = keep ? x / (1 - rate) : 0, keep = dropout_keep(seed, step, image, element) (counter_rng.h)
  //   with image = step->image_base + n and element = (c*H + y)*W + x; rate 0 (y = x) when
  //   step->evaluating. t0 x, t1 y. f0 rate. i: seed_lo, seed_hi.
  dropout_fwd = 10,
  // dx (+)= keep ? dy / (1 - rate) : 0. t0 dy, t1 dx, t2 relu_y (optional). f0 rate; seeds, acc.
  dropout_bwd = 11,
  relu_bwd = 12,     // dy *= (y > 0), in place. t0 y (ReLU output), t1 dy.
  sigmoid_bwd = 13,  // dy *= y * (1 - y), in place. t0 y (sigmoid output), t1 dy.
  // Copies (or adds) x into y, same n, c, h, w: concat when slices cannot alias, and its
  //   backward. t0 x, t1 y. i: accumulate.
  copy_channels = 14,
  // p = sigmoid(z); per image i of the micro-batch: partials[3i..3i+2] = (sum p*t, sum p, sum t)
  //   t0 z (nChw16c, c = 1), t1 target (nhw), t2 p (nhw), t3 partials (flat, 3*N).
  sigmoid_dice_fwd = 15,
  // dz = (step->dice_a * t + step->dice_b) * p * (1 - p). t0 p, t1 target, t2 dz (nChw16c c=1).
  //   With Dice = (2I + s) / (P + T + s) over the whole global batch and L = -log(Dice),
  //   dice_a = -2 / (2I + s), dice_b = 1 / (P + T + s).
  sigmoid_dice_bwd = 16,
  // Adam as TensorFlow's AdamOptimizer: g = grad * step->grad_scale; m = b1 m + (1-b1) g;
  //   v = b2 v + (1-b2) g^2; param -= step->lr_t * m / (sqrt(v) + eps).
  //   t0 param, t1 grad, t2 m, t3 v (all flat, same w). f0 beta1, f1 beta2, f2 epsilon.
  //   Out of place when t4 is set (t4 param, t5 m, t6 v, the same w, not overlapping t0-t3):
  //   the new values go there and t0-t3 stay as they were, bit for bit the same results. The
  //   parameter server keeps the state before an update that way with no copy; plans use
  //   only the in-place form (plan_validate knows four slots).
  adam_update = 17,
  count
};

std::string_view family_name(Family f);

// The epilogues a kernel may fold (their slots: kernels/family_signature.h).
//  - The ReLU backward, into the kernel that writes the gradient last: families that produce
//    a dx take an optional tensor relu_y (nChw16c, dx's dims), the output of the ReLU whose
//    input gradient dx is. When it is given, every dx element the op covers ends as
//      dx = relu_y > 0 ? (the value the op alone leaves in dx) : 0,
//    which is relu_bwd(relu_y, dx) run right after the op, without a pass of its own.
//    (Kernels declare that they honour it: KernelInfo::relu_mask.)
//  - The max-pool, into the epilogue of the conv that produces its input: conv2d_fwd takes an
//    optional tensor pool_y (nChw16c, y's n and c, floor(h / 2) x floor(w / 2)), written as
//      pool_y = maxpool2d_fwd(y, window 2, stride 2)
//    (ties as maxpool2d_fwd), while y's rows are still in cache. y is written as without it.
//    (Kernels declare that they honour it: KernelInfo::pool_epilogue.)
//  - The dropout, into the epilogue of the conv that produces its input: with
//    i[kAttrFoldedDropout] = 1, conv2d_fwd writes
//      y = dropout_fwd(act(b + conv(x, w))), rate f0, seed i[kAttrSeedLo / Hi]
//    (the same mask as dropout_fwd on that input, the identity when step->evaluating), and
//    pools that y when it has pool_y. (Kernels declare that they honour it:
//    KernelInfo::dropout_epilogue.)
inline constexpr int kFoldedPoolWindow = 2;  // window and stride of a folded max-pool

}  // namespace unet::kernels
