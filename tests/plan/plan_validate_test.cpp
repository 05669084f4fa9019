// validate_plan: the hand-made plan passes; each kind of inconsistency is named exactly.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "plan/plan_io.h"
#include "plan/plan_validate.h"
#include "tests/plan/tiny_plan.h"

namespace unet::plan {
namespace {

using testing::make_tiny_plan;
using testing::ref_kernel;
namespace tiny = testing::tiny;

std::string validation_error(const Plan& plan) {
  try {
    validate_plan(plan, "plan.bin");
  } catch (const PlanError& e) {
    return e.what();
  }
  return "";
}

TEST(PlanValidate, ReferenceKernelsAreRegistered) {
  for (int f = 0; f < static_cast<int>(Family::count); ++f)
    EXPECT_NE(kernels::find_kernel(ref_kernel(static_cast<Family>(f))), nullptr)
        << ref_kernel(static_cast<Family>(f));
}

TEST(PlanValidate, TinyPlanIsValid) {
  EXPECT_EQ(validation_error(make_tiny_plan()), "");
  const Plan decoded = decode_plan(encode_plan(make_tiny_plan()), "plan.bin");
  EXPECT_EQ(validation_error(decoded), "");
}

TEST(PlanValidate, RequiredBytesFollowTheLayouts) {
  EXPECT_EQ(required_bytes(Layout::nChw16c, 2, 17, 3, 5), 2u * 32 * 3 * 5 * 4);
  EXPECT_EQ(required_bytes(Layout::nhw, 2, 1, 3, 5), 2u * 3 * 5 * 4);
  EXPECT_EQ(required_bytes(Layout::flat, 1, 1, 1, 7), 28u);
  EXPECT_EQ(required_bytes(Layout::oihw16i16o, 17, 3, 3, 3), 32u * 16 * 9 * 4);
  EXPECT_EQ(required_bytes(Layout::nChw16c, 1u << 20, 1u << 20, 1u << 20, 1u << 20), 0u)
      << "an overflowing product is reported as 0";
}

TEST(PlanValidate, TensorOutsideTheArena) {
  Plan plan = make_tiny_plan();
  plan.tensors[tiny::pool1].offset = plan.arena_bytes / 64 * 64;
  EXPECT_EQ(validation_error(plan),
            fmt::format("plan.bin: tensor 25 'pool1': bytes [{}, +2048) lie outside the arena of "
                        "{} bytes",
                        plan.arena_bytes / 64 * 64, plan.arena_bytes));
}

TEST(PlanValidate, MisalignedAndTooSmallTensors) {
  Plan plan = make_tiny_plan();
  plan.tensors[tiny::pool1].offset += 4;
  EXPECT_EQ(validation_error(plan),
            fmt::format("plan.bin: tensor 25 'pool1': offset {} is not a multiple of 64",
                        plan.tensors[tiny::pool1].offset));
  plan = make_tiny_plan();
  plan.tensors[tiny::pool1].c = 17;  // now needs two channel blocks
  EXPECT_EQ(validation_error(plan),
            "plan.bin: tensor 25 'pool1': 2048 bytes, but nChw16c [2,17,4,4] needs 4096");
  plan = make_tiny_plan();
  plan.tensors[tiny::pool1].h = 0;
  EXPECT_EQ(validation_error(plan), "plan.bin: tensor 25 'pool1': h 0 is outside 1..1048576");
}

TEST(PlanValidate, BadViewOffset) {
  Plan plan = make_tiny_plan();
  const uint64_t right = plan.tensors[tiny::conv1].offset;
  plan.tensors[tiny::conv1].offset += 64;
  EXPECT_EQ(validation_error(plan),
            fmt::format("plan.bin: tensor 23 'conv1': view of tensor 22 'cat' @c16: offset {}, "
                        "expected {}",
                        right + 64, right));
}

TEST(PlanValidate, ViewsStayInsideTheirBase) {
  Plan plan = make_tiny_plan();
  plan.tensors[tiny::conv1].c = 17;
  EXPECT_EQ(validation_error(plan),
            "plan.bin: tensor 23 'conv1': view of tensor 22 'cat': channels [16, 33) exceed its "
            "32 channels");
  plan = make_tiny_plan();
  plan.tensors[tiny::up1].channel_offset = 8;
  EXPECT_EQ(validation_error(plan),
            "plan.bin: tensor 24 'up1': view of tensor 22 'cat': channel offset 8 is not a "
            "multiple of 16");
  plan = make_tiny_plan();
  plan.tensors[tiny::up1].view_of = tiny::conv1;
  EXPECT_EQ(validation_error(plan),
            "plan.bin: tensor 24 'up1': view of tensor 23 'conv1', which is itself a view");
}

TEST(PlanValidate, UnknownKernel) {
  Plan plan = make_tiny_plan();
  plan.forward[tiny::op_conv1].kernel = "conv2d_fwd_f32_nope";
  EXPECT_EQ(validation_error(plan),
            "plan.bin: forward op 0 'conv1': kernel 'conv2d_fwd_f32_nope' is not known to this "
            "build (recompile the plan with unetc)");
}

TEST(PlanValidate, KernelFamilyMismatch) {
  Plan plan = make_tiny_plan();
  plan.forward[tiny::op_pool1].kernel = ref_kernel(Family::upsample2d_fwd);
  EXPECT_EQ(validation_error(plan),
            "plan.bin: forward op 1 'pool1': kernel 'upsample2d_fwd_f32_ref' has family "
            "upsample2d_fwd, the op has maxpool2d_fwd");
}

// A kernel table with one avx512 kernel, to check the tier rule without needing one built.
const kernels::KernelInfo kFakeAvx512Conv{"conv2d_fwd_f32_test_avx512", Family::conv2d_fwd,
                                          Tier::avx512, 1, nullptr, nullptr};
const kernels::KernelInfo* lookup_with_fake(std::string_view name) {
  if (name == kFakeAvx512Conv.name) return &kFakeAvx512Conv;
  return kernels::find_kernel(name);
}

TEST(PlanValidate, KernelTierMustBeIncludedInThePlanTier) {
  Plan plan = make_tiny_plan();
  plan.forward[tiny::op_conv1].kernel = std::string(kFakeAvx512Conv.name);
  EXPECT_THROW(
      {
        try {
          validate_plan(plan, "plan.bin", lookup_with_fake);
        } catch (const PlanError& e) {
          EXPECT_STREQ(e.what(),
                       "plan.bin: forward op 0 'conv1': kernel 'conv2d_fwd_f32_test_avx512' "
                       "needs tier avx512, the plan is for tier scalar");
          throw;
        }
      },
      PlanError);
  plan.tier = Tier::avx512_bf16;
  EXPECT_NO_THROW(validate_plan(plan, "plan.bin", lookup_with_fake));
}

// A kernel runs only the shapes its supports() takes (none hands a shape on), so a plan that
// names one for another shape is refused, not run: here the 1x1 kernel on a 3x3 convolution.
TEST(PlanValidate, KernelMustTakeTheOpsShape) {
  Plan plan = make_tiny_plan();
  plan.tier = Tier::avx512;
  plan.forward[tiny::op_conv1].kernel = "conv2d_fwd_f32_3x3_oc32w12_avx512";
  EXPECT_EQ(validation_error(plan), "");
  plan.forward[tiny::op_conv1].kernel = "conv2d_fwd_f32_1x1_avx512";
  EXPECT_EQ(validation_error(plan),
            "plan.bin: forward op 0 'conv1': kernel 'conv2d_fwd_f32_1x1_avx512' does not take this op's shape "
            "(recompile the plan with unetc)");
}

TEST(PlanValidate, ConvChannelMismatch) {
  Plan plan = make_tiny_plan();
  plan.forward[tiny::op_conv2].tensors[0] = tiny::conv1;  // 16 channels into a 32-channel conv
  EXPECT_EQ(validation_error(plan),
            "plan.bin: forward op 3 'conv2': w 'conv2/kernel' has 32 input channels, x 'conv1' "
            "has 16");
}

TEST(PlanValidate, ConvOutputSizeMustFollowFromPadding) {
  Plan plan = make_tiny_plan();
  plan.forward[tiny::op_conv1].i[kernels::kAttrPadTop] = 0;  // 'valid' rows: 8 -> 6, not 8
  EXPECT_EQ(validation_error(plan),
            "plan.bin: forward op 0 'conv1': y 'conv1' height 8 does not follow from x 'input' "
            "height 8, kernel 3, stride 1, pad_top 0");
  plan = make_tiny_plan();
  plan.forward[tiny::op_conv1].i[kernels::kAttrPadLeft] = 3;
  EXPECT_EQ(validation_error(plan), "plan.bin: forward op 0 'conv1': pad_left 3 is outside 0..2");
  plan = make_tiny_plan();
  plan.forward[tiny::op_conv1].i[kernels::kAttrStride] = 2;  // stride 2 with pad 1 gives 4
  EXPECT_NE(validation_error(plan), "");
}

TEST(PlanValidate, KerasPaddingsAreAccepted) {
  struct Case {
    int64_t in, kernel, stride, pad_before, out;
  };
  // Conv 'same' (out = ceil(in / stride), pad_before = total / 2, pad_after the rest) and
  // 'valid' (no pad; what a stride leaves over is dropped).
  for (const Case c : {Case{8, 3, 1, 1, 8}, Case{8, 3, 2, 0, 4}, Case{7, 3, 2, 1, 4},
                       Case{8, 3, 1, 0, 6}, Case{9, 2, 2, 0, 4}, Case{8, 5, 1, 2, 8},
                       Case{8, 1, 1, 0, 8}})
    EXPECT_TRUE(conv_extent_fits(c.in, c.kernel, c.stride, c.pad_before, c.out))
        << c.in << " " << c.kernel << " " << c.stride << " " << c.pad_before << " " << c.out;
  for (const Case c : {Case{8, 3, 1, 1, 10}, Case{8, 3, 1, 0, 8}, Case{8, 3, 2, 1, 6},
                       Case{8, 3, 1, 1, 7}, Case{2, 3, 2, 0, 2}})
    EXPECT_FALSE(conv_extent_fits(c.in, c.kernel, c.stride, c.pad_before, c.out))
        << c.in << " " << c.kernel << " " << c.stride << " " << c.pad_before << " " << c.out;
  // Conv2DTranspose 'same' (out = in * stride) and 'valid' (out = (in-1)*stride + kernel).
  for (const Case c : {Case{4, 2, 2, 0, 8}, Case{4, 3, 2, 0, 8}, Case{4, 4, 2, 1, 8},
                       Case{4, 1, 2, 0, 8}, Case{4, 3, 2, 0, 9}, Case{4, 3, 1, 1, 4}})
    EXPECT_TRUE(tconv_extent_fits(c.in, c.kernel, c.stride, c.pad_before, c.out))
        << c.in << " " << c.kernel << " " << c.stride << " " << c.pad_before << " " << c.out;
  for (const Case c : {Case{4, 2, 2, 0, 10}, Case{4, 2, 2, 0, 6}, Case{4, 3, 1, 1, 7}})
    EXPECT_FALSE(tconv_extent_fits(c.in, c.kernel, c.stride, c.pad_before, c.out))
        << c.in << " " << c.kernel << " " << c.stride << " " << c.pad_before << " " << c.out;
}

TEST(PlanValidate, PoolAndUpsampleShapes) {
  Plan plan = make_tiny_plan();
  plan.forward[tiny::op_pool1].i[kernels::kAttrWindow] = 3;
  EXPECT_EQ(validation_error(plan),
            "plan.bin: forward op 1 'pool1': y 'pool1' is [2,16,4,4], a 3x3 window with stride 2 "
            "over x 'conv1' [2,16,8,8] gives 3x3");
  plan = make_tiny_plan();
  plan.forward[tiny::op_up1].i[kernels::kAttrWindow] = 3;
  EXPECT_EQ(validation_error(plan),
            "plan.bin: forward op 2 'up1': x 'pool1' is [2,16,4,4], y 'up1' is [2,16,8,8]: "
            "upsampling by 3 does not map one to the other");
}

TEST(PlanValidate, OpSlotsNeedTheirTensorsAndLayouts) {
  Plan plan = make_tiny_plan();
  plan.forward[tiny::op_dice].tensors[3] = -1;
  EXPECT_EQ(validation_error(plan), "plan.bin: forward op 4 'dice': partials (slot 3) is missing");
  plan = make_tiny_plan();
  plan.forward[tiny::op_dice].tensors[1] = tiny::z;
  EXPECT_EQ(validation_error(plan),
            "plan.bin: forward op 4 'dice': target tensor 26 'z' is nChw16c, sigmoid_dice_fwd "
            "needs nhw");
  plan = make_tiny_plan();
  plan.forward[tiny::op_pool1].tensors[2] = tiny::z;
  EXPECT_EQ(validation_error(plan),
            "plan.bin: forward op 1 'pool1': tensor slot 2 is used, maxpool2d_fwd has 2 slots");
  plan = make_tiny_plan();
  plan.backward[0].tensors[0] = 99;
  EXPECT_EQ(validation_error(plan),
            "plan.bin: backward op 0 'dice.bwd': tensor slot 0 id 99 is out of range (34 "
            "tensors)");
}

TEST(PlanValidate, ParamsMatchTheirTensorsAndRegions) {
  Plan plan = make_tiny_plan();
  plan.params[0].ci = 5;
  EXPECT_EQ(validation_error(plan),
            "plan.bin: param 0 'conv1/kernel': value tensor 0 'conv1/kernel' is oihw16i16o "
            "[16,4,3,3]; kernel kh 3 kw 3 ci 5 co 16 needs oihw16i16o [16,5,3,3]");
  plan = make_tiny_plan();
  std::swap(plan.params[0].adam_m, plan.params[1].adam_m);
  EXPECT_EQ(validation_error(plan),
            "plan.bin: param 0 'conv1/kernel': adam_m tensor 9 'conv1/bias/adam_m' is flat [16] "
            "of 64 bytes, the value is oihw16i16o [16,4,3,3] of 9216 bytes");
  plan = make_tiny_plan();
  plan.params[2].grad = -1;
  EXPECT_EQ(validation_error(plan),
            "plan.bin: param 2 'conv2/kernel': grad tensor id -1 is out of range (34 tensors)");
}

TEST(PlanValidate, PlanTensorsAndOptimizer) {
  Plan plan = make_tiny_plan();
  plan.batch = 3;
  EXPECT_EQ(validation_error(plan),
            "plan.bin: plan input: dims [2,4,8,8] differ from batch 3 and input 4x8x8 (c x h x w)");
  plan = make_tiny_plan();
  plan.target = -1;
  EXPECT_EQ(validation_error(plan),
            "plan.bin: plan: target tensor id -1 is out of range (34 tensors)");
  plan = make_tiny_plan();
  plan.optimizer.beta2 = 1.0f;
  EXPECT_EQ(validation_error(plan), "plan.bin: plan: beta2 1 is not in [0, 1)");
  plan = make_tiny_plan();
  plan.params_region.offset = 64;
  EXPECT_EQ(validation_error(plan),
            "plan.bin: param 0 'conv1/kernel': value tensor 0 'conv1/kernel' lies outside the "
            "params region");
}

TEST(PlanValidate, AdamNeedsEqualRegions) {
  Plan plan = make_tiny_plan();
  plan.tensors[plan.update[0].tensors[3]].w -= 1;
  EXPECT_EQ(validation_error(plan),
            "plan.bin: update op 0 'adam': v 'region/adam_v' has w 2847, param 'region/params' "
            "has 2848: they must match");
}

}  // namespace
}  // namespace unet::plan
