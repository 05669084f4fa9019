// A small but complete training plan built by hand, the way unetc would lay it out:
// conv 3x3 + ReLU -> maxpool 2x2 -> upsample x2, concatenated with the conv output by
// channel-slice views -> conv 1x1 -> sigmoid + Dice; its backward ops and one Adam op
// over the parameter regions. Uses the reference kernels ("<family>_f32_ref").
#pragma once
#include <string>

#include "plan/plan.h"

namespace unet::plan::testing {

// Tensor ids of the tiny plan, for tests that break one thing on purpose.
namespace tiny {
inline constexpr int32_t conv1_kernel = 0, conv1_bias = 1, conv2_kernel = 2, conv2_bias = 3;
inline constexpr int32_t input = 20, target = 21, cat = 22, conv1 = 23, up1 = 24, pool1 = 25,
                         z = 26, p = 27, partials = 28, z_grad = 29, cat_grad = 30,
                         conv1_grad = 31, up1_grad = 32, pool1_grad = 33;
// Forward op indices.
inline constexpr size_t op_conv1 = 0, op_pool1 = 1, op_up1 = 2, op_conv2 = 3, op_dice = 4;
}  // namespace tiny

Plan make_tiny_plan();

std::string ref_kernel(Family family);  // "<family>_f32_ref"

// Field-by-field comparison; "" when equal, else the first difference ("tensors[3].offset").
std::string first_difference(const Plan& a, const Plan& b);

}  // namespace unet::plan::testing
