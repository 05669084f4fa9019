#include "plan/family_slots.h"

namespace unet::plan {
namespace {

constexpr auto R = Access::read, W = Access::write, RW = Access::read_write;
// pool_y: the folded max-pool (kernels/kernel_family.h, pool_epilogue_slot).
constexpr TensorSlot kConvFwd[] = {{"x", Layout::nChw16c, true, R},
                                   {"w", Layout::oihw16i16o, true, R},
                                   {"b", Layout::flat, false, R},
                                   {"y", Layout::nChw16c, true, W},
                                   {"pool_y", Layout::nChw16c, false, W}};
// relu_y: the folded ReLU backward (kernels/kernel_family.h, relu_mask_slot).
constexpr TensorSlot kConvBwdData[] = {{"dy", Layout::nChw16c, true, R},
                                       {"w", Layout::oihw16i16o, true, R},
                                       {"dx", Layout::nChw16c, true, W},
                                       {"relu_y", Layout::nChw16c, false, R}};
constexpr TensorSlot kConvBwdWeights[] = {{"x", Layout::nChw16c, true, R},
                                          {"dy", Layout::nChw16c, true, R},
                                          {"dw", Layout::oihw16i16o, true, W},
                                          {"db", Layout::flat, false, W}};
constexpr TensorSlot kUnaryFwd[] = {{"x", Layout::nChw16c, true, R}, {"y", Layout::nChw16c, true, W}};
constexpr TensorSlot kUnaryBwd[] = {{"dy", Layout::nChw16c, true, R},
                                    {"dx", Layout::nChw16c, true, W},
                                    {"relu_y", Layout::nChw16c, false, R}};
constexpr TensorSlot kMaxpoolBwd[] = {{"x", Layout::nChw16c, true, R},
                                      {"y", Layout::nChw16c, true, R},
                                      {"dy", Layout::nChw16c, true, R},
                                      {"dx", Layout::nChw16c, true, W},
                                      {"relu_y", Layout::nChw16c, false, R}};
constexpr TensorSlot kActivationBwd[] = {{"y", Layout::nChw16c, true, R},
                                         {"dy", Layout::nChw16c, true, RW}};
constexpr TensorSlot kDiceFwd[] = {{"z", Layout::nChw16c, true, R},
                                   {"target", Layout::nhw, true, R},
                                   {"p", Layout::nhw, true, W},
                                   {"partials", Layout::flat, true, W}};
constexpr TensorSlot kDiceBwd[] = {{"p", Layout::nhw, true, R},
                                   {"target", Layout::nhw, true, R},
                                   {"dz", Layout::nChw16c, true, W}};
constexpr TensorSlot kAdam[] = {{"param", Layout::flat, true, RW},
                                {"grad", Layout::flat, true, R},
                                {"m", Layout::flat, true, RW},
                                {"v", Layout::flat, true, RW}};

}  // namespace

std::span<const TensorSlot> family_slots(Family family) {
  using F = Family;
  switch (family) {
    case F::conv2d_fwd:
    case F::tconv2d_fwd: return kConvFwd;
    case F::conv2d_bwd_data:
    case F::tconv2d_bwd_data: return kConvBwdData;
    case F::conv2d_bwd_weights:
    case F::tconv2d_bwd_weights: return kConvBwdWeights;
    case F::maxpool2d_fwd:
    case F::upsample2d_fwd:
    case F::dropout_fwd:
    case F::copy_channels: return kUnaryFwd;
    case F::maxpool2d_bwd: return kMaxpoolBwd;
    case F::upsample2d_bwd:
    case F::dropout_bwd: return kUnaryBwd;
    case F::relu_bwd:
    case F::sigmoid_bwd: return kActivationBwd;
    case F::sigmoid_dice_fwd: return kDiceFwd;
    case F::sigmoid_dice_bwd: return kDiceBwd;
    case F::adam_update: return kAdam;
    case F::count: break;
  }
  return {};
}

}  // namespace unet::plan
