// The 1x1 conv entry points (conv1x1_avx512.h) against the reference conv2d kernels with
// kh = kw = 1, in every tier the host supports, including the prediction head's Co = 1 and
// the shapes they decline (3x3, stride 2), which the chooser gives to another kernel.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/avx512/conv1x1_avx512.h"
#include "kernels/isa_tier.h"
#include "kernels/kernel_registry.h"
#include "tests/kernels/kernel_tester.h"
#include "tests/kernels_avx512_more/shapes.h"

namespace unet::kernels {
namespace {

using avx512_more_test::shapes_for;
using avx512_more_test::tolerance;
using testing::Shape;

// The registered 1x1 kernels of `family` the host runs (their supports() included: a shape
// they decline is computed by what the chooser picks instead, testing::kernel_running).
std::vector<KernelInfo> conv1x1_kernels(Family family) {
  std::vector<KernelInfo> out;
  for (const KernelInfo& k : avx512_more_kernels())
    if (k.family == family && k.name.find("_1x1_") != std::string_view::npos && missing_features(k.tier).empty())
      out.push_back(k);
  return out;
}

std::vector<Shape> conv1x1_shapes(Family f) {
  std::vector<Shape> out = shapes_for(f, 1, 1, 0);
  Shape head;  // the prediction head: 32 -> 1, sigmoid, a plane longer than one work item
  head.n = 2;
  head.c = 32;
  head.c_out = 1;
  head.h = 24;
  head.w = 40;
  head.kh = head.kw = 1;
  head.pad_top = head.pad_left = 0;
  head.act = Activation::sigmoid;
  out.push_back(head);
  Shape strided = head;  // 1x1 stride 2: not the fast path
  strided.c_out = 20;
  strided.h = 8;
  strided.w = 9;
  strided.stride = 2;
  strided.out_h = 4;
  strided.out_w = 5;
  out.push_back(strided);
  return out;
}

void check(Family family) {
  const auto kernels = conv1x1_kernels(family);
  ASSERT_FALSE(kernels.empty()) << "this host runs no AVX-512 tier";
  for (const KernelInfo& k : kernels) {
    int case_no = 0;
    for (const Shape& s : conv1x1_shapes(family)) {
      const auto tol = tolerance(family, s);
      for (int pieces : {1, 5}) {
        const auto r = testing::compare_kernels(*reference_kernel(family), k, family, s, tol, pieces, 3 + case_no);
        EXPECT_TRUE(r.ok) << k.name << " pieces=" << pieces << " " << testing::describe(s) << r.report;
      }
      const auto r = testing::compare_kernels(*reference_kernel(family), k, family, s, tol, 2, 9 + case_no, true);
      EXPECT_TRUE(r.ok) << k.name << " on 2 threads " << testing::describe(s) << r.report;
      ++case_no;
    }
  }
}

TEST(Conv1x1Avx512, ForwardMatchesReference) { check(Family::conv2d_fwd); }
TEST(Conv1x1Avx512, BackwardDataMatchesReference) { check(Family::conv2d_bwd_data); }
TEST(Conv1x1Avx512, BackwardWeightsMatchesReference) { check(Family::conv2d_bwd_weights); }

}  // namespace
}  // namespace unet::kernels
