#include "plan/op_shape.h"

#include <fmt/format.h>

#include "kernels/family_signature.h"

namespace unet::plan {
namespace {

using kernels::Family;

const Tensor* slot_tensor(const Plan& plan, const Op& op, int slot) {
  const int32_t id = op.tensors[static_cast<size_t>(slot)];
  return id >= 0 ? &plan.tensors[static_cast<size_t>(id)] : nullptr;
}

// benchdnn's convolution descriptor from the forward's input and output images and the
// weights (the weight tensor's h and w are the kernel's sides).
std::string conv_text(const Op& op, const Tensor& in, const Tensor& out, const Tensor& w) {
  std::string d =
      fmt::format("mb{}ic{}ih{}iw{}oc{}oh{}ow{}kh{}kw{}", in.n, in.c, in.h, in.w, out.c, out.h, out.w, w.h, w.w);
  const int s = op.i[kernels::kAttrStride];
  if (s != 1) d += fmt::format("sh{}sw{}", s, s);
  d += fmt::format("ph{}pw{}", op.i[kernels::kAttrPadTop], op.i[kernels::kAttrPadLeft]);
  return d;
}

// A window over an image (max-pool, upsampling) in benchdnn's pooling style.
std::string window_text(const Tensor& in, const Tensor& out) {
  return fmt::format("mb{}ic{}ih{}iw{}oh{}ow{}", in.n, in.c, in.h, in.w, out.h, out.w);
}

std::string image_text(const Tensor& t) { return fmt::format("mb{}c{}h{}w{}", t.n, t.c, t.h, t.w); }

}  // namespace

std::string op_shape(const Plan& plan, const Op& op) {
  auto t = [&](int slot) { return slot_tensor(plan, op, slot); };
  std::string d;
  std::string extras;
  auto add = [&](const std::string& token) { extras += "_" + token; };
  const auto& i = op.i;
  const bool accumulates = i[kernels::kAttrAccumulate] != 0;
  switch (op.family) {
    case Family::conv2d_fwd:
    case Family::tconv2d_fwd:
      d = conv_text(op, *t(0), *t(3), *t(1));
      if (i[kernels::kAttrActivation] == static_cast<int>(kernels::Activation::relu)) add("relu");
      if (i[kernels::kAttrActivation] == static_cast<int>(kernels::Activation::sigmoid)) add("sigmoid");
      if (t(2)) add("bias");
      if (kernels::pool_epilogue_slot(op.family) >= 0 && t(kernels::pool_epilogue_slot(op.family))) add("pool");
      if (kernels::has_dropout_epilogue(op.family) && i[kernels::kAttrFoldedDropout] != 0)
        add(fmt::format("drop{}", op.f[0]));
      break;
    case Family::conv2d_bwd_data:
    case Family::tconv2d_bwd_data:
      d = conv_text(op, *t(2), *t(0), *t(1));
      break;
    case Family::conv2d_bwd_weights:
    case Family::tconv2d_bwd_weights:
      d = conv_text(op, *t(0), *t(1), *t(2));
      if (t(3)) add("bias");
      break;
    case Family::maxpool2d_fwd:
    case Family::maxpool2d_bwd: {
      const int k = i[kernels::kAttrWindow], s = i[kernels::kAttrStride];
      d = window_text(*t(0), *t(1)) + fmt::format("kh{}kw{}sh{}sw{}", k, k, s, s);
      break;
    }
    case Family::upsample2d_fwd:
      d = window_text(*t(0), *t(1)) + fmt::format("f{}", i[kernels::kAttrWindow]);
      break;
    // dy is the larger image, dx the one it sums into.
    case Family::upsample2d_bwd:
      d = window_text(*t(1), *t(0)) + fmt::format("f{}", i[kernels::kAttrWindow]);
      break;
    case Family::dropout_fwd:
    case Family::dropout_bwd:
      d = image_text(*t(0)) + fmt::format("_drop{}", op.f[0]);
      break;
    case Family::adam_update:
      d = fmt::format("n{}", t(0)->w);
      break;
    default:
      d = image_text(*t(0));
      break;  // relu/sigmoid backward, copies, the Dice loss
  }
  const bool acc_family = op.family == Family::conv2d_bwd_data || op.family == Family::tconv2d_bwd_data ||
                          op.family == Family::maxpool2d_bwd || op.family == Family::upsample2d_bwd ||
                          op.family == Family::dropout_bwd || op.family == Family::copy_channels;
  if (acc_family && accumulates) add("acc");
  const int relu = kernels::relu_mask_slot(op.family);
  if (relu >= 0 && t(relu)) add("mask");
  // A slice's image stride is its base's: the kernel walks a wider buffer.
  const auto slots = kernels::family_signature(op.family).slots;
  for (size_t s = 0; s < slots.size(); ++s)
    if (const Tensor* v = t(static_cast<int>(s)); v && v->view_of >= 0)
      add(fmt::format("{}of{}", slots[s].name, plan.tensors[static_cast<size_t>(v->view_of)].c));
  return d + extras;
}

}  // namespace unet::plan
