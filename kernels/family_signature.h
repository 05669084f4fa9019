// Each kernel family's signature: its tensor slots by name (position in KernelCall::t and in a
// plan op's tensors), each slot's layout, access and whether it is required, the slots the
// folded epilogues use, and the attributes it reads. Everything that fills or reads a call's
// slots — the lowering, the plan validator, the memory planner's liveness, --dump, the kernels
// and their tester — names a slot as slot::<family>::<name> and asks the signature the rest,
// so a family's slots are written down once, here.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>

#include "kernels/kernel_family.h"
#include "kernels/tensor_layout.h"

namespace unet::kernels {

// The slot positions, by family (families with the same signature share one namespace).
namespace slot {
namespace conv2d_fwd {  // also tconv2d_fwd, whose pool_y stays empty
inline constexpr int x = 0, w = 1, b = 2, y = 3, pool_y = 4;
}
namespace conv2d_bwd_data {  // also tconv2d_bwd_data
inline constexpr int dy = 0, w = 1, dx = 2, relu_y = 3;
}
namespace conv2d_bwd_weights {  // also tconv2d_bwd_weights
inline constexpr int x = 0, dy = 1, dw = 2, db = 3;
}
namespace tconv2d_fwd = conv2d_fwd;
namespace tconv2d_bwd_data = conv2d_bwd_data;
namespace tconv2d_bwd_weights = conv2d_bwd_weights;
namespace unary_fwd {  // maxpool2d_fwd, upsample2d_fwd, dropout_fwd, copy_channels
inline constexpr int x = 0, y = 1;
}
namespace maxpool2d_fwd = unary_fwd;
namespace upsample2d_fwd = unary_fwd;
namespace dropout_fwd = unary_fwd;
namespace copy_channels = unary_fwd;
namespace maxpool2d_bwd {
inline constexpr int x = 0, y = 1, dy = 2, dx = 3, relu_y = 4;
}
namespace unary_bwd {  // upsample2d_bwd, dropout_bwd
inline constexpr int dy = 0, dx = 1, relu_y = 2;
}
namespace upsample2d_bwd = unary_bwd;
namespace dropout_bwd = unary_bwd;
namespace activation_bwd {  // relu_bwd, sigmoid_bwd: dy is modified in place
inline constexpr int y = 0, dy = 1;
}
namespace relu_bwd = activation_bwd;
namespace sigmoid_bwd = activation_bwd;
namespace sigmoid_dice_fwd {
inline constexpr int z = 0, target = 1, p = 2, partials = 3;
}
namespace sigmoid_dice_bwd {
inline constexpr int p = 0, target = 1, dz = 2;
}
namespace adam_update {
// param_out, m_out, v_out: the out-of-place form (kernel_family.h, adam_update), which only the
// parameter server calls; plans use the four in-place slots, so the signature lists those.
inline constexpr int param = 0, grad = 1, m = 2, v = 3, param_out = 4, m_out = 5, v_out = 6;
}
}  // namespace slot

// How an op uses the tensor in a slot: what liveness (the memory planner) and the order
// checks are built on. Accumulating into an output counts as writing it.
enum class Access : uint8_t { read, write, read_write /* modified in place */ };

struct SlotInfo {
  std::string_view name;  // "x", "w", "b", "y", "dy", ...: the name in slot::<family>
  Layout layout;
  bool required;
  Access access;
};

struct FamilySignature {
  std::span<const SlotInfo> slots;  // slot k at position k
  // The folded epilogues (kernel_family.h): the slot of the optional relu_y that folds a ReLU
  // backward, of the optional pool_y that folds a max-pool, or -1; whether
  // i[kAttrFoldedDropout] may fold a dropout.
  int relu_mask_slot = -1;
  int pool_epilogue_slot = -1;
  bool dropout_epilogue = false;
  std::span<const int> int_attrs;               // the indices of KernelCall::i it reads
  std::span<const std::string_view> float_attrs;  // the names of KernelCall::f[0..]
};

namespace signature_tables {
constexpr auto R = Access::read, W = Access::write, RW = Access::read_write;
using L = Layout;
inline constexpr SlotInfo conv_fwd[] = {{"x", L::nChw16c, true, R},
                                        {"w", L::oihw16i16o, true, R},
                                        {"b", L::flat, false, R},
                                        {"y", L::nChw16c, true, W},
                                        {"pool_y", L::nChw16c, false, W}};
inline constexpr SlotInfo conv_bwd_data[] = {{"dy", L::nChw16c, true, R},
                                             {"w", L::oihw16i16o, true, R},
                                             {"dx", L::nChw16c, true, W},
                                             {"relu_y", L::nChw16c, false, R}};
inline constexpr SlotInfo conv_bwd_weights[] = {{"x", L::nChw16c, true, R},
                                                {"dy", L::nChw16c, true, R},
                                                {"dw", L::oihw16i16o, true, W},
                                                {"db", L::flat, false, W}};
inline constexpr SlotInfo unary_fwd[] = {{"x", L::nChw16c, true, R}, {"y", L::nChw16c, true, W}};
inline constexpr SlotInfo maxpool_bwd[] = {{"x", L::nChw16c, true, R},
                                           {"y", L::nChw16c, true, R},
                                           {"dy", L::nChw16c, true, R},
                                           {"dx", L::nChw16c, true, W},
                                           {"relu_y", L::nChw16c, false, R}};
inline constexpr SlotInfo unary_bwd[] = {{"dy", L::nChw16c, true, R},
                                         {"dx", L::nChw16c, true, W},
                                         {"relu_y", L::nChw16c, false, R}};
inline constexpr SlotInfo activation_bwd[] = {{"y", L::nChw16c, true, R}, {"dy", L::nChw16c, true, RW}};
inline constexpr SlotInfo dice_fwd[] = {{"z", L::nChw16c, true, R},
                                        {"target", L::nhw, true, R},
                                        {"p", L::nhw, true, W},
                                        {"partials", L::flat, true, W}};
inline constexpr SlotInfo dice_bwd[] = {
    {"p", L::nhw, true, R}, {"target", L::nhw, true, R}, {"dz", L::nChw16c, true, W}};
inline constexpr SlotInfo adam[] = {{"param", L::flat, true, RW},
                                    {"grad", L::flat, true, R},
                                    {"m", L::flat, true, RW},
                                    {"v", L::flat, true, RW}};

inline constexpr int conv_fwd_attrs[] = {kAttrStride, kAttrPadTop, kAttrPadLeft, kAttrActivation,
                                         kAttrFoldedDropout, kAttrSeedLo, kAttrSeedHi};
inline constexpr int tconv_fwd_attrs[] = {kAttrStride, kAttrPadTop, kAttrPadLeft, kAttrActivation};
inline constexpr int conv_bwd_data_attrs[] = {kAttrStride, kAttrPadTop, kAttrPadLeft, kAttrAccumulate};
inline constexpr int conv_bwd_weights_attrs[] = {kAttrStride, kAttrPadTop, kAttrPadLeft};
inline constexpr int maxpool_fwd_attrs[] = {kAttrStride, kAttrWindow};
inline constexpr int maxpool_bwd_attrs[] = {kAttrStride, kAttrWindow, kAttrAccumulate};
inline constexpr int upsample_fwd_attrs[] = {kAttrWindow};
inline constexpr int upsample_bwd_attrs[] = {kAttrWindow, kAttrAccumulate};
inline constexpr int dropout_fwd_attrs[] = {kAttrSeedLo, kAttrSeedHi};
inline constexpr int dropout_bwd_attrs[] = {kAttrSeedLo, kAttrSeedHi, kAttrAccumulate};
inline constexpr int accumulate_attrs[] = {kAttrAccumulate};
inline constexpr std::string_view rate[] = {"rate"};
inline constexpr std::string_view adam_floats[] = {"beta1", "beta2", "epsilon"};

// The names in slot:: are the positions of these tables.
constexpr bool names_match() {
  namespace s = slot;
  return conv_fwd[s::conv2d_fwd::x].name == "x" && conv_fwd[s::conv2d_fwd::w].name == "w" &&
         conv_fwd[s::conv2d_fwd::b].name == "b" && conv_fwd[s::conv2d_fwd::y].name == "y" &&
         conv_fwd[s::conv2d_fwd::pool_y].name == "pool_y" &&
         conv_bwd_data[s::conv2d_bwd_data::dy].name == "dy" && conv_bwd_data[s::conv2d_bwd_data::w].name == "w" &&
         conv_bwd_data[s::conv2d_bwd_data::dx].name == "dx" &&
         conv_bwd_data[s::conv2d_bwd_data::relu_y].name == "relu_y" &&
         conv_bwd_weights[s::conv2d_bwd_weights::x].name == "x" &&
         conv_bwd_weights[s::conv2d_bwd_weights::dy].name == "dy" &&
         conv_bwd_weights[s::conv2d_bwd_weights::dw].name == "dw" &&
         conv_bwd_weights[s::conv2d_bwd_weights::db].name == "db" && unary_fwd[s::unary_fwd::x].name == "x" &&
         unary_fwd[s::unary_fwd::y].name == "y" && maxpool_bwd[s::maxpool2d_bwd::x].name == "x" &&
         maxpool_bwd[s::maxpool2d_bwd::y].name == "y" && maxpool_bwd[s::maxpool2d_bwd::dy].name == "dy" &&
         maxpool_bwd[s::maxpool2d_bwd::dx].name == "dx" && maxpool_bwd[s::maxpool2d_bwd::relu_y].name == "relu_y" &&
         unary_bwd[s::unary_bwd::dy].name == "dy" && unary_bwd[s::unary_bwd::dx].name == "dx" &&
         unary_bwd[s::unary_bwd::relu_y].name == "relu_y" && activation_bwd[s::activation_bwd::y].name == "y" &&
         activation_bwd[s::activation_bwd::dy].name == "dy" && dice_fwd[s::sigmoid_dice_fwd::z].name == "z" &&
         dice_fwd[s::sigmoid_dice_fwd::target].name == "target" && dice_fwd[s::sigmoid_dice_fwd::p].name == "p" &&
         dice_fwd[s::sigmoid_dice_fwd::partials].name == "partials" &&
         dice_bwd[s::sigmoid_dice_bwd::p].name == "p" && dice_bwd[s::sigmoid_dice_bwd::target].name == "target" &&
         dice_bwd[s::sigmoid_dice_bwd::dz].name == "dz" && adam[s::adam_update::param].name == "param" &&
         adam[s::adam_update::grad].name == "grad" && adam[s::adam_update::m].name == "m" &&
         adam[s::adam_update::v].name == "v";
}
static_assert(names_match(), "slot:: positions and the signature tables disagree");
}  // namespace signature_tables

constexpr FamilySignature family_signature(Family family) {
  namespace t = signature_tables;
  using F = Family;
  switch (family) {
    case F::conv2d_fwd:
      return {t::conv_fwd, -1, slot::conv2d_fwd::pool_y, true, t::conv_fwd_attrs, t::rate};
    case F::tconv2d_fwd: return {t::conv_fwd, -1, -1, false, t::tconv_fwd_attrs, {}};
    case F::conv2d_bwd_data:
    case F::tconv2d_bwd_data:
      return {t::conv_bwd_data, slot::conv2d_bwd_data::relu_y, -1, false, t::conv_bwd_data_attrs, {}};
    case F::conv2d_bwd_weights:
    case F::tconv2d_bwd_weights: return {t::conv_bwd_weights, -1, -1, false, t::conv_bwd_weights_attrs, {}};
    case F::maxpool2d_fwd: return {t::unary_fwd, -1, -1, false, t::maxpool_fwd_attrs, {}};
    case F::maxpool2d_bwd:
      return {t::maxpool_bwd, slot::maxpool2d_bwd::relu_y, -1, false, t::maxpool_bwd_attrs, {}};
    case F::upsample2d_fwd: return {t::unary_fwd, -1, -1, false, t::upsample_fwd_attrs, {}};
    case F::upsample2d_bwd:
      return {t::unary_bwd, slot::upsample2d_bwd::relu_y, -1, false, t::upsample_bwd_attrs, {}};
    case F::dropout_fwd: return {t::unary_fwd, -1, -1, false, t::dropout_fwd_attrs, t::rate};
    case F::dropout_bwd:
      return {t::unary_bwd, slot::dropout_bwd::relu_y, -1, false, t::dropout_bwd_attrs, t::rate};
    case F::relu_bwd:
    case F::sigmoid_bwd: return {t::activation_bwd, -1, -1, false, {}, {}};
    case F::copy_channels: return {t::unary_fwd, -1, -1, false, t::accumulate_attrs, {}};
    case F::sigmoid_dice_fwd: return {t::dice_fwd, -1, -1, false, {}, {}};
    case F::sigmoid_dice_bwd: return {t::dice_bwd, -1, -1, false, {}, {}};
    case F::adam_update: return {t::adam, -1, -1, false, {}, t::adam_floats};
    case F::count: break;
  }
  return {};
}

// The folded ReLU backward (kernel_family.h): the relu_y slot of the families that produce a
// dx, always the one after dx's, or -1.
constexpr int relu_mask_slot(Family f) { return family_signature(f).relu_mask_slot; }
// The folded max-pool (kernel_family.h): the pool_y slot of conv2d_fwd, or -1.
constexpr int pool_epilogue_slot(Family f) { return family_signature(f).pool_epilogue_slot; }
// The folded dropout (kernel_family.h): whether i[kAttrFoldedDropout] may ask for it.
constexpr bool has_dropout_epilogue(Family f) { return family_signature(f).dropout_epilogue; }

}  // namespace unet::kernels
