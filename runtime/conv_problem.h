// The convolution problem a plan op computes, named as oneDNN's benchdnn names problems
// (mb2ic64ih64iw64oc64oh64ow64kh3kw3ph1pw1), with its FLOP count: what unetbench layers
// divides times by and what unetbench compare builds in oneDNN.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kernels/kernel_family.h"
#include "plan/plan.h"

namespace unet::runtime {

enum class ConvDirection { fwd, bwd_data, bwd_weights };

// "fwd", "bwd_d", "bwd_w" (benchdnn's --dir, shortened).
std::string_view direction_name(ConvDirection d);

struct ConvProblem {
  ConvDirection direction = ConvDirection::fwd;
  // A transposed convolution (oneDNN's deconvolution): ic/ih/iw name its input, the smaller
  // image, and oc/oh/ow its output, as benchdnn's deconvolution driver names them.
  bool transposed = false;
  int mb = 0, ic = 0, ih = 0, iw = 0, oc = 0, oh = 0, ow = 0, kh = 0, kw = 0;
  int sh = 1, sw = 1, ph = 0, pw = 0;     // stride, padding at the top and the left
  kernels::Activation activation = kernels::Activation::none;  // forward only
  // Forward: adds a bias; backward weights: also sums the bias gradient. (benchdnn tells
  // these apart by --dir, FWD_B against FWD_D, not in the descriptor.)
  bool bias = false;

  // Padding at the bottom and the right that the sizes imply (oneDNN wants both sides).
  int pad_bottom() const;
  int pad_right() const;
};

// The problem of `op` when its family is a convolution or transposed convolution (forward,
// backward data, backward weights); nullopt for every other family. The shape comes from the
// op's tensors (kernel_family.h gives each family's slots), so fused epilogues (a folded
// max-pool, dropout or ReLU mask) are not part of it.
std::optional<ConvProblem> conv_problem(const plan::Plan& plan, const plan::Op& op);

// benchdnn's descriptor: mb, ic, ih, iw, oc, oh, ow, kh, kw, then sh/sw when not 1, then
// ph, pw: "mb2ic512ih8iw8oc256oh16ow16kh2kw2sh2sw2ph0pw0".
std::string descriptor(const ConvProblem& p);

// Floating-point operations (a multiply-add counts 2) of the convolution proper: every pixel
// of the larger image meets every weight once, 2 * mb * oc * ic * kh * kw * (oh * ow of a
// convolution, ih * iw of a transposed one), the same count in each direction. Bias,
// activation and epilogues are not counted.
double conv_flops(const ConvProblem& p);

}  // namespace unet::runtime
