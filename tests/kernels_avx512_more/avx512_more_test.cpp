// Every kernel of avx512_more_kernels() against the reference kernel of its family, in every
// tier the host supports: odd shapes, sliced views, accumulate on/off, shapes the fast path
// hands to the reference, results independent of how [0, work) is split (one range, four
// uneven ranges in reverse order, two threads at once).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kernels/isa_tier.h"
#include "kernels/kernel_registry.h"
#include "tests/kernels/kernel_tester.h"
#include "tests/kernels_avx512_more/shapes.h"

namespace unet::kernels {
namespace {

using avx512_more_test::shapes_for;
using avx512_more_test::tolerance;
using testing::Shape;

std::vector<Shape> shapes_of(Family f) {
  switch (f) {
    case Family::tconv2d_fwd:
    case Family::tconv2d_bwd_data:
    case Family::tconv2d_bwd_weights: return shapes_for(f, 2, 2, 0);
    case Family::maxpool2d_fwd:
    case Family::maxpool2d_bwd: {
      std::vector<Shape> out = shapes_for(f, 1, 2, 0);  // window 2, stride 2
      for (Shape& s : out)
        if (s.kh == 1) s.window = 2;
      Shape odd;  // overlapping windows
      odd.c = 20;
      odd.h = 9;
      odd.w = 8;
      odd.stride = 1;
      odd.window = 3;
      odd.accumulate = true;
      out.push_back(odd);
      return out;
    }
    case Family::upsample2d_fwd:
    case Family::upsample2d_bwd: {
      std::vector<Shape> out = shapes_for(f, 1, 1, 0);
      for (Shape& s : out)
        if (s.kh == 1) s.window = 2;
      return out;
    }
    case Family::sigmoid_dice_fwd:
    case Family::sigmoid_dice_bwd: {
      std::vector<Shape> out = testing::standard_shapes(f);
      for (auto [h, w] : {std::pair{7, 5}, {16, 16}, {9, 33}, {8, 8}, {1, 1}}) {
        Shape s;
        s.n = 3;
        s.c = 1;
        s.h = h;
        s.w = w;
        s.extra_blocks = h % 2;
        out.push_back(s);
      }
      return out;
    }
    case Family::adam_update: {
      std::vector<Shape> out = testing::standard_shapes(f);
      for (int e : {15, 16, 17, 4096, 8193}) {
        Shape s;
        s.elements = e;
        out.push_back(s);
      }
      return out;
    }
    default: return shapes_for(f, 1, 1, 0);
  }
}

std::vector<const KernelInfo*> host_kernels() {
  std::vector<const KernelInfo*> out;
  for (const KernelInfo& k : avx512_more_kernels())
    if (missing_features(k.tier).empty()) out.push_back(&k);
  return out;
}

TEST(Avx512More, TableNamesAreUniqueAndPreferred) {
  std::set<std::string_view> names;
  for (const KernelInfo& k : avx512_more_kernels()) {
    EXPECT_TRUE(names.insert(k.name).second) << k.name;
    EXPECT_GT(k.priority, 0) << k.name;
    EXPECT_TRUE(k.tier == Tier::avx512 || k.tier == Tier::avx512f) << k.name;
    EXPECT_NE(k.name.find(tier_name(k.tier)), std::string_view::npos) << k.name;
  }
  EXPECT_FALSE(names.empty());
}

class Avx512MoreKernel : public ::testing::TestWithParam<const KernelInfo*> {};

TEST_P(Avx512MoreKernel, MatchesReference) {
  const KernelInfo& k = *GetParam();
  const KernelInfo* ref = reference_kernel(k.family);
  ASSERT_NE(ref, nullptr);
  int case_no = 0;
  for (const Shape& s : shapes_of(k.family)) {
    const auto tol = tolerance(k.family, s);
    for (int pieces : {1, 4}) {
      const auto r = testing::compare_kernels(*ref, k, k.family, s, tol, pieces, 1 + case_no);
      EXPECT_TRUE(r.ok) << k.name << " pieces=" << pieces << " " << testing::describe(s) << r.report;
    }
    const auto r = testing::compare_kernels(*ref, k, k.family, s, tol, 2, 7 + case_no, true);
    EXPECT_TRUE(r.ok) << k.name << " on 2 threads " << testing::describe(s) << r.report;
    ++case_no;
  }
}

// Out of place (t4-t6 set, kernel_family.h) every Adam kernel writes exactly what it writes in
// place, and leaves its inputs as they were: the parameter server relies on both.
TEST(AdamUpdate, OutOfPlaceEqualsInPlaceBitForBitAndKeepsTheInputs) {
  std::set<std::string_view> tested;
  for (const KernelInfo& k : all_kernels()) {
    if (k.family != Family::adam_update || !missing_features(k.tier).empty()) continue;
    tested.insert(k.name);
    for (int elements : {1, 15, 17, 4095, 10007}) {
      std::mt19937 rng(static_cast<uint32_t>(elements));
      std::uniform_real_distribution<float> u(-1.f, 1.f);
      std::vector<float> in[4], out[3], kept[4];
      for (auto& t : in) {
        t.resize(static_cast<size_t>(elements));
        for (float& x : t) x = u(rng);
      }
      for (float& x : in[3]) x = std::fabs(x) * 0.01f;  // v >= 0
      for (auto& t : out) t.assign(static_cast<size_t>(elements), -7.f);
      for (int i = 0; i < 4; ++i) kept[i] = in[i];
      StepScalars step;
      step.lr_t = 1e-3f;
      step.grad_scale = 0.5f;
      auto flat = [&](std::vector<float>& v) {
        TensorArg t;
        t.data = v.data();
        t.n = t.c = t.h = 1;
        t.w = elements;
        t.image_stride = elements;
        return t;
      };
      KernelCall call;
      for (int i = 0; i < 4; ++i) call.t[i] = flat(in[i]);
      call.f[0] = 0.9f;
      call.f[1] = 0.999f;
      call.f[2] = 1e-7f;
      call.step = &step;
      KernelCall outside = call;
      for (int i = 0; i < 3; ++i) outside.t[4 + i] = flat(out[i]);
      k.run(outside, 0, k.work(outside));
      for (int i = 0; i < 4; ++i) ASSERT_EQ(in[i], kept[i]) << k.name << " changed input " << i;
      k.run(call, 0, k.work(call));
      EXPECT_EQ(out[0], in[0]) << k.name << " param, " << elements << " elements";
      EXPECT_EQ(out[1], in[2]) << k.name << " m, " << elements << " elements";
      EXPECT_EQ(out[2], in[3]) << k.name << " v, " << elements << " elements";
      EXPECT_EQ(in[1], kept[1]) << k.name << " changed the gradient";
    }
  }
  EXPECT_TRUE(tested.count(reference_kernel(Family::adam_update)->name));
  EXPECT_GE(tested.size(), 2u) << "the reference and at least one AVX-512 Adam kernel on this host";
}

// The keep decisions themselves: with every input 1, the outputs are exactly 1/(1-rate) or 0,
// so any element whose decision differs from the reference's shows, bit for bit.
TEST(Avx512More, DropoutMasksAreTheReferences) {
  for (const KernelInfo* k : host_kernels()) {
    if (k->family != Family::dropout_fwd) continue;
    for (float rate : {0.2f, 0.5f, 0.9f, 0.0f}) {
      Shape s;
      s.n = 3;
      s.c = 40;
      s.h = 9;
      s.w = 13;
      s.rate = rate;
      s.step = 123456789;
      s.image_base = 1000;
      testing::Fixture a(Family::dropout_fwd, s), b(Family::dropout_fwd, s);
      for (testing::Fixture* f : {&a, &b})
        testing::for_each_real(f->tensor(0), [&](size_t e) { f->tensor(0).storage[e] = 1.f; });
      testing::run_split(*reference_kernel(Family::dropout_fwd), a.call());
      testing::run_split(*k, b.call(), 3);
      const auto r = testing::compare_tensors(a.tensor(1), b.tensor(1), {0.0, 0.0}, "y");
      EXPECT_TRUE(r.ok) << k->name << " rate=" << rate << "\n" << r.report;
    }
  }
}

std::string kernel_name(const ::testing::TestParamInfo<const KernelInfo*>& info) {
  return std::string(info.param->name);
}

INSTANTIATE_TEST_SUITE_P(HostTiers, Avx512MoreKernel, ::testing::ValuesIn(host_kernels()), kernel_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Avx512MoreKernel);

}  // namespace
}  // namespace unet::kernels
