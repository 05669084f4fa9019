// dump_plan: stable, readable text of the hand-made plan.
#include <gtest/gtest.h>

#include <sstream>

#include <fmt/format.h>

#include "plan/plan_dump.h"
#include "plan/plan_io.h"
#include "tests/plan/tiny_plan.h"

namespace unet::plan {
namespace {

using testing::make_tiny_plan;

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

TEST(PlanDump, HeaderNamesTheModelArenaAndFingerprint) {
  const Plan plan = make_tiny_plan();
  const std::string text = dump_plan(plan);
  EXPECT_EQ(text.rfind("plan 'tiny_unet'\n", 0), 0u) << text;
  for (const std::string& line : {
           fmt::format("  format 1  fingerprint 0x{:016x}  tier scalar", plan_fingerprint(plan)),
           std::string("  batch 2  training yes  input c4 h8 w8  seed 42"),
           std::string("  optimizer adam  lr 0.0005  beta1 0.9  beta2 0.999  epsilon 1e-08  "
                       "decay_steps 350  lr_fraction 0.2"),
           std::string("  dice_smooth 1"),
           // 45568 bytes of parameters, gradients and moments, the activations and gradients
           // after them; pool1/grad reuses z's 2048 bytes, partials are padded by 40.
           std::string("  arena 106048 bytes  naive 108056 bytes  saving 1.9%"),
           std::string("  input 'input'  target 'target'  prediction 'p'  loss_partials 'partials'"),
           std::string("  regions  params @0 +11392  grads @11392 +11392  adam_m @22784 +11392  "
                       "adam_v @34176 +11392"),
       })
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\n" << text;
}

TEST(PlanDump, TablesListTensorsParamsAndOps) {
  const std::string text = dump_plan(make_tiny_plan());
  for (const char* line : {
           "tensors 34",
           "   id  name                 role           layout      dims                      "
           "offset         bytes",
           "   23  conv1                activation     nChw16c     [2,16,8,8]                 "
           "58368         12288  view of cat @c16",
           "   28  partials             loss_partials  flat        [6]                        "
           "81408            24",
           "    2  conv2/kernel  conv_kernel   glorot_uniform  keras [1,1,32,1]        seed 1002  "
           "value 2 grad 6 adam_m 10 adam_v 14",
           "forward ops 5",
           "    0  conv1  conv2d_fwd_f32_ref        x=input w=conv1/kernel b=conv1/bias y=conv1  "
           "stride=1 pad=1,1 act=relu",
           "    2  up1    upsample2d_fwd_f32_ref    x=pool1 y=up1  factor=2",
           "backward ops 7",
           "    4  pool1.bwd          maxpool2d_bwd_f32_ref       x=conv1 y=pool1 dy=pool1/grad "
           "dx=conv1/grad  stride=2 acc=1 window=2",
           "update ops 1",
           "    0  adam   adam_update_f32_ref  param=region/params grad=region/grads "
           "m=region/adam_m v=region/adam_v  beta1=0.9 beta2=0.999 epsilon=1e-08",
       })
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\n" << text;
}

TEST(PlanDump, IsStableThroughTheFile) {
  const Plan plan = make_tiny_plan();
  EXPECT_EQ(dump_plan(plan), dump_plan(decode_plan(encode_plan(plan), "plan.bin")));
}

TEST(PlanDump, DropoutAttributesByMeaning) {
  Plan plan = make_tiny_plan();
  Op drop;
  drop.kernel = "dropout_fwd_f32_ref";
  drop.family = Family::dropout_fwd;
  drop.label = "drop1";
  drop.tensors[0] = testing::tiny::pool1;
  drop.tensors[1] = testing::tiny::pool1;
  drop.f[0] = 0.5f;
  drop.i[kernels::kAttrSeedLo] = 7;
  drop.i[kernels::kAttrSeedHi] = 1;
  plan.forward = {drop};
  EXPECT_TRUE(has_line(dump_plan(plan),
                       "    0  drop1  dropout_fwd_f32_ref  x=pool1 y=pool1  seed=0x100000007 "
                       "rate=0.5"))
      << dump_plan(plan);
}

TEST(PlanDump, UnvalidatedIdsAreShownNotFollowed) {
  Plan plan = make_tiny_plan();
  plan.forward[0].tensors[0] = 99;
  plan.tensors[testing::tiny::conv1].view_of = -7;
  plan.input = 1000;
  const std::string text = dump_plan(plan);
  EXPECT_NE(text.find("x=#99?"), std::string::npos) << text;
  EXPECT_NE(text.find("input '#1000?'"), std::string::npos) << text;
}

}  // namespace
}  // namespace unet::plan
