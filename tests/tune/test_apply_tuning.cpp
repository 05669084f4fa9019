// graph/apply_tuning: a tuned kernel goes where it still fits; every other override leaves its
// op at the default and is reported, one line per reason.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "graph/apply_tuning.h"
#include "kernels/kernel_registry.h"
#include "plan/kernel_fit.h"
#include "plan/op_shape.h"
#include "plan/plan_validate.h"
#include "tune_fixtures.h"

namespace {

using namespace unet;
using graph::KernelOverride;

const plan::Op& op_labelled(const plan::Plan& p, const std::vector<plan::Op>& ops, const std::string& label) {
  for (const plan::Op& op : ops)
    if (op.label == label) return op;
  ADD_FAILURE() << "no op " << label;
  return p.forward.front();
}

KernelOverride override_of(const plan::Plan& p, const std::string& list, const plan::Op& op, std::string kernel) {
  return {list, op.label, std::string(kernels::family_name(op.family)), plan::op_shape(p, op), std::move(kernel)};
}

TEST(ApplyTuning, PutsAFittingKernelInPlace) {
  plan::Plan p = test::compile_model(2, kernels::Tier::scalar);
  // At the scalar tier every op has its reference alone: nothing to tune, nothing changes.
  for (const plan::Op& op : p.forward) EXPECT_EQ(plan::fitting_kernels(p, op).size(), 1u) << op.label;

  p = test::compile_model(2, kernels::Tier::avx512f);
  const plan::Op& c1 = op_labelled(p, p.forward, "c1");
  const std::string ref = std::string(kernels::reference_kernel(c1.family)->name);
  ASSERT_NE(c1.kernel, ref);
  const std::vector<KernelOverride> o = {override_of(p, "forward", c1, ref),
                                         override_of(p, "update", p.update[0], p.update[0].kernel)};
  const graph::TuningOutcome r = graph::apply_kernel_overrides(p, o, "t.json");
  EXPECT_EQ(r.changed, 1u);
  EXPECT_EQ(r.unchanged, 1u);
  EXPECT_EQ(r.ignored, 0u);
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(op_labelled(p, p.forward, "c1").kernel, ref);
  plan::validate_plan(p, "tuned");  // still a plan the runtime accepts
}

TEST(ApplyTuning, EveryMisfitKeepsTheDefaultAndIsReportedOncePerReason) {
  plan::Plan p = test::compile_model(2, kernels::Tier::avx512f);
  const plan::Plan before = p;
  const plan::Op& c1 = op_labelled(p, p.forward, "c1");
  const plan::Op& fold = op_labelled(p, p.forward, "c1b+p1");  // carries a folded max-pool
  std::vector<KernelOverride> o = {
      {"forward", "nosuch", "conv2d_fwd", "x", "conv2d_fwd_f32_ref"},
      {"backward", "c1", "conv2d_fwd", "x", "conv2d_fwd_f32_ref"},  // c1 is a forward op
      override_of(p, "forward", c1, "conv2d_fwd_f32_ref"),
      override_of(p, "forward", c1, "conv2d_fwd_f32_3x3_oc32w12_avx512"),  // a tier above the plan's
      override_of(p, "forward", c1, "no_such_kernel"),
      override_of(p, "forward", fold, "conv2d_fwd_f32_1x1_avx512f"),  // not 1x1: supports() declines
  };
  o[2].family = "conv2d_bwd_data";
  o.push_back(override_of(p, "forward", c1, "conv2d_fwd_f32_ref"));
  o.back().shape = "mb8" + o.back().shape.substr(3);  // another batch
  const graph::TuningOutcome r = graph::apply_kernel_overrides(p, o, "t.json");
  EXPECT_EQ(r.changed, 0u);
  EXPECT_EQ(r.ignored, o.size());
  ASSERT_EQ(r.warnings.size(), 4u);
  EXPECT_EQ(r.warnings[0], "t.json: 2 tuned ops name no op of this plan (first: forward/nosuch); ignored");
  EXPECT_EQ(r.warnings[1],
            "t.json: 1 tuned op has another family in this plan (forward/c1: conv2d_bwd_data in the file, conv2d_fwd "
            "here); it keeps its default kernel");
  EXPECT_EQ(r.warnings[2].rfind("t.json: 1 tuned op has another shape in this plan (forward/c1: mb8ic2ih16iw16", 0), 0u)
      << r.warnings[2];
  EXPECT_EQ(r.warnings[3],
            "t.json: 3 tuned ops name a kernel that cannot run them here (first: forward/c1: "
            "'conv2d_fwd_f32_3x3_oc32w12_avx512' needs tier avx512, the plan is for avx512f); they keep their default "
            "kernels");
  for (size_t l = 0; l < p.forward.size(); ++l) EXPECT_EQ(p.forward[l].kernel, before.forward[l].kernel);
}

}  // namespace
