#include "runtime/conv_problem.h"

#include <fmt/format.h>

namespace unet::runtime {

using kernels::Family;

std::string_view direction_name(ConvDirection d) {
  switch (d) {
    case ConvDirection::fwd: return "fwd";
    case ConvDirection::bwd_data: return "bwd_d";
    case ConvDirection::bwd_weights: return "bwd_w";
  }
  return "?";
}

// A convolution's output row oy reads input rows oy*s - pt .. oy*s - pt + kh - 1, so the last
// one reaches (oh - 1)*s - pt + kh - 1, pb rows past the input. A transposed convolution
// spreads input row ih - 1 to (ih - 1)*s - pt + kh - 1, pb rows past its output.
int ConvProblem::pad_bottom() const { return transposed ? (ih - 1) * sh + kh - ph - oh : (oh - 1) * sh + kh - ph - ih; }
int ConvProblem::pad_right() const { return transposed ? (iw - 1) * sw + kw - pw - ow : (ow - 1) * sw + kw - pw - iw; }

namespace {

const plan::Tensor& tensor(const plan::Plan& plan, const plan::Op& op, int slot) {
  return plan.tensors.at(static_cast<size_t>(op.tensors.at(static_cast<size_t>(slot))));
}

}  // namespace

std::optional<ConvProblem> conv_problem(const plan::Plan& plan, const plan::Op& op) {
  ConvProblem p;
  // The slots of the image the problem reads from (x, or dx's shape), of the one it writes to
  // (y, or dy) and of the weights (or their gradient), per family (kernel_family.h).
  int in_slot = 0, out_slot = 0, w_slot = 0;
  switch (op.family) {
    case Family::conv2d_fwd:
    case Family::tconv2d_fwd: in_slot = 0, w_slot = 1, out_slot = 3, p.direction = ConvDirection::fwd; break;
    case Family::conv2d_bwd_data:
    case Family::tconv2d_bwd_data: out_slot = 0, w_slot = 1, in_slot = 2, p.direction = ConvDirection::bwd_data; break;
    case Family::conv2d_bwd_weights:
    case Family::tconv2d_bwd_weights:
      in_slot = 0, out_slot = 1, w_slot = 2, p.direction = ConvDirection::bwd_weights;
      break;
    default: return std::nullopt;
  }
  p.transposed = op.family == Family::tconv2d_fwd || op.family == Family::tconv2d_bwd_data ||
                 op.family == Family::tconv2d_bwd_weights;
  const plan::Tensor &in = tensor(plan, op, in_slot), &out = tensor(plan, op, out_slot), &w = tensor(plan, op, w_slot);
  p.mb = static_cast<int>(in.n);
  p.ic = static_cast<int>(in.c), p.ih = static_cast<int>(in.h), p.iw = static_cast<int>(in.w);
  p.oc = static_cast<int>(out.c), p.oh = static_cast<int>(out.h), p.ow = static_cast<int>(out.w);
  p.kh = static_cast<int>(w.h), p.kw = static_cast<int>(w.w);
  p.sh = p.sw = op.i[kernels::kAttrStride];  // one stride for both axes
  p.ph = op.i[kernels::kAttrPadTop], p.pw = op.i[kernels::kAttrPadLeft];
  if (p.direction == ConvDirection::fwd) {
    p.activation = static_cast<kernels::Activation>(op.i[kernels::kAttrActivation]);
    p.bias = op.tensors[kernels::slot::conv2d_fwd::b] >= 0;
  } else if (p.direction == ConvDirection::bwd_weights) {
    p.bias = op.tensors[kernels::slot::conv2d_bwd_weights::db] >= 0;
  }
  return p;
}

std::string descriptor(const ConvProblem& p) {
  std::string d = fmt::format("mb{}ic{}ih{}iw{}oc{}oh{}ow{}kh{}kw{}", p.mb, p.ic, p.ih, p.iw, p.oc, p.oh, p.ow, p.kh, p.kw);
  if (p.sh != 1 || p.sw != 1) d += fmt::format("sh{}sw{}", p.sh, p.sw);
  d += fmt::format("ph{}pw{}", p.ph, p.pw);
  return d;
}

double conv_flops(const ConvProblem& p) {
  const double pixels = p.transposed ? double(p.ih) * p.iw : double(p.oh) * p.ow;
  return 2.0 * p.mb * p.oc * p.ic * p.kh * p.kw * pixels;
}

}  // namespace unet::runtime
