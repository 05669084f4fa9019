// Small cases of the reference kernels checked against values worked out by hand or from
// the formula in kernel_family.h.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/counter_rng.h"
#include "kernels/isa_tier.h"
#include "kernels/kernel_registry.h"
#include "kernels/ref/ref_kernels.h"
#include "tests/kernels/kernel_tester.h"

namespace unet::kernels {
namespace {

using namespace testing;

void run_ref(Family f, const KernelCall& call, int pieces = 1) {
  run_split(*reference_kernel(f), call, pieces);
}

// x = 1..9 in a 3x3 image (one channel), w[ky][kx] = 3*ky + kx + 1 for output channel 0 and a
// centre-only 1 for output channel 1.
struct TinyConv {
  OwnedTensor x = make_blocked(1, 1, 3, 3), w = make_weights(2, 1, 3, 3), b = make_bias(2);
  TinyConv() {
    for (int y = 0; y < 3; ++y)
      for (int c = 0; c < 3; ++c) {
        x.view.at(0, 0, y, c) = static_cast<float>(3 * y + c + 1);
        w.storage[weight_index(2, 1, 3, 3, 0, 0, y, c)] = static_cast<float>(3 * y + c + 1);
      }
    w.storage[weight_index(2, 1, 3, 3, 1, 0, 1, 1)] = 1.f;
    b.storage[0] = 0.5f;
    b.storage[1] = -5.f;
  }
  OwnedTensor run(int stride, int pad, int out, Activation act) {
    OwnedTensor y = make_blocked(1, 2, out, out, 1);
    fill_view(y, kStaleOutput);
    KernelCall call;
    call.t[0] = x.view;
    call.t[1] = w.view;
    call.t[2] = b.view;
    call.t[3] = y.view;
    call.i[kAttrStride] = stride;
    call.i[kAttrPadTop] = call.i[kAttrPadLeft] = pad;
    call.i[kAttrActivation] = static_cast<int>(act);
    run_ref(Family::conv2d_fwd, call, 2);
    return y;
  }
};

TEST(ConvRef, MatchesHandComputedCrossCorrelation) {
  TinyConv t;
  const OwnedTensor y = t.run(1, 1, 3, Activation::none);
  // Corner (0,0) sees x(0..1, 0..1) through w(1..2, 1..2): 1*5 + 2*6 + 4*8 + 5*9 = 94.
  EXPECT_FLOAT_EQ(y.view.at(0, 0, 0, 0), 94.5f);
  // Centre: every tap, sum of k*k for k = 1..9 = 285.
  EXPECT_FLOAT_EQ(y.view.at(0, 0, 1, 1), 285.5f);
  // Top right (0,2): x(0,1)*w(1,0) + x(0,2)*w(1,1) + x(1,1)*w(2,0) + x(1,2)*w(2,1) = 8+15+35+48.
  EXPECT_FLOAT_EQ(y.view.at(0, 0, 0, 2), 106.5f);
  // Bottom right mirrors the top left.
  EXPECT_FLOAT_EQ(y.view.at(0, 0, 2, 2), 94.5f);
  // Channel 1 is x shifted by its bias.
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) EXPECT_FLOAT_EQ(y.view.at(0, 1, r, c), 3 * r + c + 1 - 5.f);
  EXPECT_TRUE(check_padding(y, "y").ok) << check_padding(y, "y").report;
}

TEST(ConvRef, StrideTwoWithoutPaddingAndActivations) {
  TinyConv t;
  const OwnedTensor y = t.run(2, 0, 1, Activation::none);
  EXPECT_FLOAT_EQ(y.view.at(0, 0, 0, 0), 285.5f);
  EXPECT_FLOAT_EQ(y.view.at(0, 1, 0, 0), 0.f);  // x(1,1) = 5, bias -5
  const OwnedTensor r = t.run(1, 1, 3, Activation::relu);
  EXPECT_FLOAT_EQ(r.view.at(0, 1, 0, 0), 0.f);   // 1 - 5 < 0
  EXPECT_FLOAT_EQ(r.view.at(0, 1, 2, 2), 4.f);   // 9 - 5
  const OwnedTensor s = t.run(1, 1, 3, Activation::sigmoid);
  EXPECT_NEAR(s.view.at(0, 1, 1, 0), 1.0 / (1.0 + std::exp(1.0)), 1e-7);  // 4 - 5 = -1
  EXPECT_TRUE(check_padding(s, "sigmoid y").ok);  // sigmoid(0) = 0.5 must not leak into pads
}

TEST(ConvRef, BackwardDataOfAOneHotGradientIsTheKernel) {
  TinyConv t;
  OwnedTensor dy = make_blocked(1, 2, 3, 3), dx = make_blocked(1, 1, 3, 3);
  dy.view.at(0, 0, 1, 1) = 1.f;  // one-hot at the centre of output channel 0
  fill_view(dx, kStaleOutput);
  KernelCall call;
  call.t[0] = dy.view;
  call.t[1] = t.w.view;
  call.t[2] = dx.view;
  call.i[kAttrStride] = 1;
  call.i[kAttrPadTop] = call.i[kAttrPadLeft] = 1;
  run_ref(Family::conv2d_bwd_data, call);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) EXPECT_FLOAT_EQ(dx.view.at(0, 0, r, c), 3 * r + c + 1);
  // One-hot at the corner (0,0): it read x(iy, ix) through w(iy+1, ix+1).
  dy.view.at(0, 0, 1, 1) = 0.f;
  dy.view.at(0, 0, 0, 0) = 2.f;
  run_ref(Family::conv2d_bwd_data, call);
  EXPECT_FLOAT_EQ(dx.view.at(0, 0, 0, 0), 2 * 5.f);
  EXPECT_FLOAT_EQ(dx.view.at(0, 0, 1, 1), 2 * 9.f);
  EXPECT_FLOAT_EQ(dx.view.at(0, 0, 0, 1), 2 * 6.f);
  EXPECT_FLOAT_EQ(dx.view.at(0, 0, 2, 2), 0.f);
  EXPECT_TRUE(check_padding(dx, "dx").ok);
}

TEST(TconvRef, KernelTwoStrideTwoTilesTheScaledKernel) {
  OwnedTensor x = make_blocked(1, 1, 2, 2), w = make_weights(1, 1, 2, 2), b = make_bias(1);
  OwnedTensor y = make_blocked(1, 1, 4, 4);
  fill_view(y, kStaleOutput);
  const float xs[2][2] = {{1, 2}, {3, 4}}, ws[2][2] = {{1, 10}, {100, 1000}};
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 2; ++c) {
      x.view.at(0, 0, r, c) = xs[r][c];
      w.storage[weight_index(1, 1, 2, 2, 0, 0, r, c)] = ws[r][c];
    }
  b.storage[0] = 0.25f;
  KernelCall call;
  call.t[0] = x.view;
  call.t[1] = w.view;
  call.t[2] = b.view;
  call.t[3] = y.view;
  call.i[kAttrStride] = 2;
  run_ref(Family::tconv2d_fwd, call);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c)
      EXPECT_FLOAT_EQ(y.view.at(0, 0, r, c), xs[r / 2][c / 2] * ws[r % 2][c % 2] + 0.25f)
          << r << "," << c;
}

// accumulate = 1 adds exactly what accumulate = 0 writes, and leaves padding zero.
class AccumulatingFamily : public ::testing::TestWithParam<Family> {};

TEST_P(AccumulatingFamily, AccumulateAddsTheOverwrittenResult) {
  for (Shape shape : standard_shapes(GetParam())) {
    shape.relu_mask = false;  // the mask applies to the sum (ReferenceWithReluYEquals...)
    shape.accumulate = false;
    Fixture overwrite(GetParam(), shape, 3);
    shape.accumulate = true;
    Fixture accumulate(GetParam(), shape, 3);  // same inputs: they are drawn before the output
    const int out = overwrite.outputs().front();
    const OwnedTensor before = accumulate.tensor(out).clone();
    run_ref(GetParam(), overwrite.call());
    run_ref(GetParam(), accumulate.call(), 3);
    OwnedTensor expected = before.clone();
    for_each_real(expected, [&](size_t k) { expected.storage[k] += overwrite.tensor(out).storage[k]; });
    const auto r = compare_tensors(expected, accumulate.tensor(out), Tolerance{1e-6, 1e-6}, "dx");
    EXPECT_TRUE(r.ok) << describe(shape) << r.report;
    EXPECT_TRUE(check_padding(accumulate.tensor(out), "dx").ok);
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, AccumulatingFamily,
                         ::testing::Values(Family::conv2d_bwd_data, Family::tconv2d_bwd_data,
                                           Family::maxpool2d_bwd, Family::upsample2d_bwd,
                                           Family::dropout_bwd, Family::copy_channels),
                         [](const auto& info) { return std::string(family_name(info.param)); });

TEST(BackwardWeightsRef, AlwaysAccumulates) {
  for (Family f : {Family::conv2d_bwd_weights, Family::tconv2d_bwd_weights}) {
    Fixture fx(f, standard_shapes(f).front());
    const OwnedTensor w0 = fx.tensor(2).clone(), b0 = fx.tensor(3).clone();
    run_ref(f, fx.call());
    const OwnedTensor w1 = fx.tensor(2).clone(), b1 = fx.tensor(3).clone();
    run_ref(f, fx.call());
    // The second run adds the same amount again: w2 - w1 == w1 - w0.
    int checked = 0;
    for_each_real(w0, [&](size_t k) {
      const double d1 = double(w1.storage[k]) - w0.storage[k];
      const double d2 = double(fx.tensor(2).storage[k]) - w1.storage[k];
      EXPECT_NEAR(d2, d1, 1e-5 * (1 + std::fabs(d1)));
      checked += d1 != 0.0;
    });
    EXPECT_GT(checked, 0);
    for (int o = 0; o < fx.shape().c_out; ++o)
      EXPECT_NEAR(double(fx.tensor(3).storage[o]) - b1.storage[o],
                  double(b1.storage[o]) - b0.storage[o], 1e-4);
  }
}

TEST(MaxpoolRef, TiesSendTheGradientToTheFirstPositionOnly) {
  OwnedTensor x = make_blocked(1, 1, 2, 2), y = make_blocked(1, 1, 1, 1);
  OwnedTensor dy = make_blocked(1, 1, 1, 1), dx = make_blocked(1, 1, 2, 2);
  x.view.at(0, 0, 0, 0) = 1.f;
  x.view.at(0, 0, 0, 1) = 3.f;
  x.view.at(0, 0, 1, 0) = 3.f;
  x.view.at(0, 0, 1, 1) = 3.f;
  dy.view.at(0, 0, 0, 0) = 2.f;
  fill_view(dx, kStaleOutput);
  KernelCall call;
  call.t[0] = x.view;
  call.t[1] = y.view;
  call.i[kAttrStride] = 2;
  call.i[kAttrWindow] = 2;
  run_ref(Family::maxpool2d_fwd, call);
  EXPECT_EQ(y.view.at(0, 0, 0, 0), 3.f);
  call.t[2] = dy.view;
  call.t[3] = dx.view;
  run_ref(Family::maxpool2d_bwd, call);
  EXPECT_EQ(dx.view.at(0, 0, 0, 0), 0.f);
  EXPECT_EQ(dx.view.at(0, 0, 0, 1), 2.f);
  EXPECT_EQ(dx.view.at(0, 0, 1, 0), 0.f);
  EXPECT_EQ(dx.view.at(0, 0, 1, 1), 0.f);
  EXPECT_TRUE(check_padding(dx, "dx").ok);
}

TEST(ActivationBwdRef, ScalesByTheDerivativeInPlace) {
  OwnedTensor y = make_blocked(1, 2, 1, 2), dy = make_blocked(1, 2, 1, 2);
  const float ys[4] = {0.f, 0.5f, 2.f, 0.25f}, gs[4] = {3.f, -2.f, 1.5f, 4.f};
  for (int k = 0; k < 4; ++k) {
    y.view.at(0, k / 2, 0, k % 2) = ys[k];
    dy.view.at(0, k / 2, 0, k % 2) = gs[k];
  }
  KernelCall call;
  call.t[0] = y.view;
  call.t[1] = dy.view;
  OwnedTensor relu = dy.clone();
  call.t[1] = relu.view;
  run_ref(Family::relu_bwd, call);
  OwnedTensor sigm = dy.clone();
  call.t[1] = sigm.view;
  run_ref(Family::sigmoid_bwd, call);
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(relu.view.at(0, k / 2, 0, k % 2), ys[k] > 0 ? gs[k] : 0.f);
    EXPECT_FLOAT_EQ(sigm.view.at(0, k / 2, 0, k % 2), gs[k] * ys[k] * (1 - ys[k]));
  }
}

TEST(AdamRef, OneStepFollowsTheFormula) {
  Shape shape;
  shape.elements = 5000;  // two chunks
  Fixture fx(Family::adam_update, shape);
  const OwnedTensor p0 = fx.tensor(0).clone(), g = fx.tensor(1).clone(), m0 = fx.tensor(2).clone(),
                    v0 = fx.tensor(3).clone();
  EXPECT_EQ(ref::adam_update_work(fx.call()), 2u);
  run_ref(Family::adam_update, fx.call(), 2);
  const double b1 = fx.call().f[0], b2 = fx.call().f[1], eps = fx.call().f[2];
  const double lr = fx.step().lr_t, scale = fx.step().grad_scale;
  for (size_t k = 0; k < p0.storage.size(); ++k) {
    const double gk = g.storage[k] * scale;
    const double m = b1 * m0.storage[k] + (1 - b1) * gk;
    const double v = b2 * v0.storage[k] + (1 - b2) * gk * gk;
    const double p = p0.storage[k] - lr * m / (std::sqrt(v) + eps);
    ASSERT_NEAR(fx.tensor(2).storage[k], m, 1e-6 * (1 + std::fabs(m))) << k;
    ASSERT_NEAR(fx.tensor(3).storage[k], v, 1e-6 * (1e-3 + std::fabs(v))) << k;
    ASSERT_NEAR(fx.tensor(0).storage[k], p, 1e-6 * (1 + std::fabs(p))) << k;
  }
  EXPECT_EQ(g.storage, fx.tensor(1).storage);  // the gradient is read only
}

TEST(AdamRef, ZeroMomentsGiveASignStepOfLrT) {
  // From m = v = 0 with epsilon ~ 0, the first step is lr_t * sign(g) * (1-b1)/sqrt(1-b2).
  OwnedTensor p = make_flat(3), g = make_flat(3), m = make_flat(3), v = make_flat(3);
  g.storage = {2.f, -0.5f, 0.f};
  KernelCall call;
  call.t[0] = p.view;
  call.t[1] = g.view;
  call.t[2] = m.view;
  call.t[3] = v.view;
  call.f[0] = 0.9f;
  call.f[1] = 0.999f;
  call.f[2] = 1e-8f;
  StepScalars step;
  step.lr_t = 0.01f;
  step.grad_scale = 1.f;
  call.step = &step;
  run_ref(Family::adam_update, call);
  const double expected = 0.01 * 0.1 / std::sqrt(0.001);
  EXPECT_NEAR(p.storage[0], -expected, 1e-6);
  EXPECT_NEAR(p.storage[1], expected, 1e-6);
  EXPECT_EQ(p.storage[2], 0.f);
}

// ---- dropout ----

struct DropoutRun {
  OwnedTensor x, y;
  StepScalars step;
  KernelCall call;
  DropoutRun(int n, uint64_t image_base, uint64_t first_image_of_data, float rate, uint64_t seed,
             uint64_t step_no) {
    x = make_blocked(n, 20, 6, 7);
    // x depends on the global image index only, so sub-batches see the same data.
    for (int i = 0; i < n; ++i) {
      Rng rng(1000 + first_image_of_data + i);
      for (int c = 0; c < 20; ++c)
        for (int r = 0; r < 6; ++r)
          for (int col = 0; col < 7; ++col)
            x.view.at(i, c, r, col) = static_cast<float>(rng.uniform(0.5, 1.5));
    }
    y = make_blocked(n, 20, 6, 7, 1);
    fill_view(y, kStaleOutput);
    step.step = step_no;
    step.image_base = image_base;
    call.t[0] = x.view;
    call.t[1] = y.view;
    call.f[0] = rate;
    call.i[kAttrSeedLo] = static_cast<int32_t>(static_cast<uint32_t>(seed));
    call.i[kAttrSeedHi] = static_cast<int32_t>(static_cast<uint32_t>(seed >> 32));
    call.step = &step;
    run_ref(Family::dropout_fwd, call, 3);
  }
  int kept() const {
    int k = 0;
    for_each_real(y, [&](size_t i) { k += y.storage[i] != 0.f; });
    return k;
  }
};

TEST(DropoutRef, KeepsAboutOneMinusRateAndScalesKeptValues) {
  const DropoutRun d(4, 0, 0, 0.3f, 42, 1);
  const int total = 4 * 20 * 6 * 7;
  EXPECT_NEAR(static_cast<double>(d.kept()) / total, 0.7, 0.03);
  for (int i = 0; i < 4; ++i)
    for (int c = 0; c < 20; ++c)
      for (int r = 0; r < 6; ++r)
        for (int col = 0; col < 7; ++col) {
          const float out = d.y.view.at(i, c, r, col);
          const bool keep = dropout_keep(42, 1, i, (c * 6 + r) * 7 + col, 0.3f);
          EXPECT_EQ(out, keep ? d.x.view.at(i, c, r, col) / (1.0f - 0.3f) : 0.f);
        }
  EXPECT_TRUE(check_padding(d.y, "y").ok);
}

TEST(DropoutRef, MaskDoesNotDependOnHowTheBatchIsSplit) {
  const DropoutRun whole(4, 10, 0, 0.5f, 7, 3);
  const DropoutRun first(2, 10, 0, 0.5f, 7, 3), second(2, 12, 2, 0.5f, 7, 3);
  for (int i = 0; i < 4; ++i) {
    const DropoutRun& part = i < 2 ? first : second;
    for (int c = 0; c < 20; ++c)
      for (int r = 0; r < 6; ++r)
        for (int col = 0; col < 7; ++col)
          ASSERT_EQ(whole.y.view.at(i, c, r, col), part.y.view.at(i % 2, c, r, col));
  }
}

TEST(DropoutRef, MaskChangesWithStepAndBothHalvesOfTheSeed) {
  const DropoutRun base(2, 0, 0, 0.5f, 0x0000000100000001ull, 3);
  for (const DropoutRun& other :
       {DropoutRun(2, 0, 0, 0.5f, 0x0000000100000001ull, 4), DropoutRun(2, 0, 0, 0.5f, 0x0000000200000001ull, 3),
        DropoutRun(2, 0, 0, 0.5f, 0x0000000100000002ull, 3)}) {
    int differ = 0;
    for (size_t k = 0; k < base.y.storage.size(); ++k) differ += base.y.storage[k] != other.y.storage[k];
    EXPECT_GT(differ, 100);
  }
}

TEST(DropoutRef, BackwardUsesTheForwardMask) {
  Shape shape;
  shape.c = 20;
  shape.rate = 0.4f;
  Fixture fwd(Family::dropout_fwd, shape, 5), bwd(Family::dropout_bwd, shape, 5);
  run_ref(Family::dropout_fwd, fwd.call());
  run_ref(Family::dropout_bwd, bwd.call());
  // Same seed, step, image_base and data seed: t0 is the same x (resp. dy) in both.
  EXPECT_EQ(fwd.tensor(0).storage, bwd.tensor(0).storage);
  EXPECT_EQ(fwd.tensor(1).storage, bwd.tensor(1).storage);
}

// ---- output head ----

TEST(SigmoidDiceRef, PredictionsAndPartialsPerImage) {
  Shape shape;
  shape.n = 3;
  Fixture fx(Family::sigmoid_dice_fwd, shape);
  run_ref(Family::sigmoid_dice_fwd, fx.call(), 2);
  const TensorArg &z = fx.tensor(0).view, &t = fx.tensor(1).view, &p = fx.tensor(2).view;
  for (int n = 0; n < 3; ++n) {
    double inter = 0, pred = 0, truth = 0;
    for (int y = 0; y < shape.h; ++y)
      for (int x = 0; x < shape.w; ++x) {
        const double prob = 1.0 / (1.0 + std::exp(-double(z.at(n, 0, y, x))));
        EXPECT_NEAR(p.at_plain(n, y, x), prob, 1e-7);
        inter += prob * t.at_plain(n, y, x);
        pred += prob;
        truth += t.at_plain(n, y, x);
      }
    const auto& partials = fx.tensor(3).storage;
    EXPECT_NEAR(partials[3 * n + 0], inter, 1e-5);
    EXPECT_NEAR(partials[3 * n + 1], pred, 1e-5);
    EXPECT_EQ(partials[3 * n + 2], truth);
  }
}

TEST(SigmoidDiceRef, BackwardFollowsTheFormulaAndZeroesPadding) {
  Shape shape;
  Fixture fx(Family::sigmoid_dice_bwd, shape);
  run_ref(Family::sigmoid_dice_bwd, fx.call());
  const TensorArg &p = fx.tensor(0).view, &t = fx.tensor(1).view, &dz = fx.tensor(2).view;
  const double a = fx.step().dice_a, b = fx.step().dice_b;
  for (int n = 0; n < shape.n; ++n)
    for (int y = 0; y < shape.h; ++y)
      for (int x = 0; x < shape.w; ++x) {
        const double prob = p.at_plain(n, y, x);
        EXPECT_NEAR(dz.at(n, 0, y, x), (a * t.at_plain(n, y, x) + b) * prob * (1 - prob), 1e-8);
      }
  EXPECT_TRUE(check_padding(fx.tensor(2), "dz").ok);
}

TEST(CopyChannelsRef, CopiesIntoASliceWithoutTouchingItsNeighbours) {
  Shape shape;
  shape.c = 20;
  shape.extra_blocks = 2;
  Fixture fx(Family::copy_channels, shape);
  run_ref(Family::copy_channels, fx.call(), 4);
  for_each_real(fx.tensor(0), [&](size_t k) { EXPECT_EQ(fx.tensor(1).storage[k], fx.tensor(0).storage[k]); });
  const auto r = check_padding(fx.tensor(1), "y");
  EXPECT_TRUE(r.ok) << r.report;
}

TEST(UpsampleRef, ForwardRepeatsAndBackwardSumsBlocks) {
  OwnedTensor x = make_blocked(1, 1, 1, 2), y = make_blocked(1, 1, 2, 4), dx = make_blocked(1, 1, 1, 2);
  x.view.at(0, 0, 0, 0) = 1.f;
  x.view.at(0, 0, 0, 1) = -2.f;
  KernelCall call;
  call.t[0] = x.view;
  call.t[1] = y.view;
  call.i[kAttrWindow] = 2;
  run_ref(Family::upsample2d_fwd, call);
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 4; ++c) EXPECT_EQ(y.view.at(0, 0, r, c), c < 2 ? 1.f : -2.f);
  call.t[0] = y.view;
  call.t[1] = dx.view;
  run_ref(Family::upsample2d_bwd, call);
  EXPECT_EQ(dx.view.at(0, 0, 0, 0), 4.f);
  EXPECT_EQ(dx.view.at(0, 0, 0, 1), -8.f);
}

}  // namespace
}  // namespace unet::kernels

namespace unet::kernels {
namespace {

// Evaluation and inference (StepScalars::evaluating): every dropout kernel the host runs
// passes its input through unchanged; training (the same call otherwise) drops some.
TEST(Dropout, EveryKernelIsTheIdentityWhenEvaluating) {
  testing::Shape shape;
  shape.c = 20;
  shape.h = 6;
  shape.w = 9;
  shape.rate = 0.5f;
  int kernels = 0;
  for (const KernelInfo& k : all_kernels()) {
    if (k.family != Family::dropout_fwd || !missing_features(k.tier).empty()) continue;
    ++kernels;
    testing::Fixture eval(Family::dropout_fwd, shape), train(Family::dropout_fwd, shape);
    eval.step().evaluating = true;
    testing::run_split(k, eval.call(), 2);
    testing::run_split(k, train.call(), 2);
    const auto same = testing::compare_tensors(eval.tensor(0), eval.tensor(1), testing::Tolerance{0, 0}, "y");
    EXPECT_TRUE(same.ok) << k.name << same.report;
    EXPECT_FALSE(testing::compare_tensors(train.tensor(0), train.tensor(1), testing::Tolerance{0, 0}, "y").ok)
        << k.name << ": training drops nothing";
  }
  EXPECT_GE(kernels, 1);
}

}  // namespace
}  // namespace unet::kernels
