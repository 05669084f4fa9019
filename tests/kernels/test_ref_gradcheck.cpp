// Finite-difference checks: every forward family's reference against the reference
// backward kernels that claim to be its gradient. The loss is L = sum(R * y) for a fixed
// random R (so dL/dy = R), computed in double from the float outputs; central differences
// (L(v + eps) - L(v - eps)) / 2eps are compared with the analytic gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numeric>

#include "kernels/kernel_registry.h"
#include "tests/kernels/kernel_tester.h"

namespace unet::kernels {
namespace {

using namespace testing;

void run_ref(Family f, const KernelCall& call) { run_split(*reference_kernel(f), call, 3); }

// sum over real elements of r * y, in double.
double weighted_sum(const OwnedTensor& y, const OwnedTensor& r) {
  double sum = 0.0;
  for_each_real(y, [&](size_t k) { sum += double(y.storage[k]) * r.storage[k]; });
  return sum;
}

struct Checked {
  OwnedTensor* value;        // perturbed in place
  const OwnedTensor* grad;   // same layout as value
  const char* name;
  int bias_channels = -1;
};

struct FdSettings {
  double eps = 0.05;
  double rel = 1e-2, abs = 2e-3;
  size_t max_points = 48;  // per tensor, sampled evenly when there are more real elements
};

// Compares analytic gradients with central differences of loss() at up to max_points real
// elements of every checked tensor.
void expect_gradients_match(const std::function<double()>& loss, const std::vector<Checked>& checked,
                            const FdSettings& fd) {
  for (const Checked& c : checked) {
    const std::vector<size_t> all = real_indices(*c.value, c.bias_channels);
    ASSERT_FALSE(all.empty()) << c.name;
    const size_t step = std::max<size_t>(1, all.size() / fd.max_points);
    int failures = 0;
    for (size_t j = 0; j < all.size(); j += step) {
      const size_t k = all[j];
      float& v = c.value->storage[k];
      const float saved = v;
      v = static_cast<float>(saved + fd.eps);
      const double up = loss();
      v = static_cast<float>(saved - fd.eps);
      const double down = loss();
      v = saved;
      const double numeric = (up - down) / (2 * fd.eps);
      const double analytic = c.grad->storage[k];
      const double tol = fd.abs + fd.rel * std::max(std::fabs(numeric), std::fabs(analytic));
      if (std::fabs(numeric - analytic) > tol && ++failures <= 5)
        ADD_FAILURE() << c.name << describe_index(*c.value, k) << ": finite difference " << numeric
                      << ", backward kernel " << analytic;
    }
  }
}

OwnedTensor random_blocked(Rng& rng, int n, int c, int h, int w, int extra_blocks = 0) {
  OwnedTensor t = make_blocked(n, c, h, w, extra_blocks);
  fill_uniform(t, rng, -1, 1);
  return t;
}

// ---- conv2d and tconv2d, with every activation (relu_bwd and sigmoid_bwd on the way) ----

struct ConvCase {
  const char* name;
  bool transposed;
  Shape s;
};

void PrintTo(const ConvCase& c, std::ostream* os) { *os << c.name; }

class ConvGradient : public ::testing::TestWithParam<std::tuple<ConvCase, Activation>> {};

TEST_P(ConvGradient, BackwardKernelsMatchFiniteDifferences) {
  const auto& [cc, act] = GetParam();
  const Shape& s = cc.s;
  const Family fwd = cc.transposed ? Family::tconv2d_fwd : Family::conv2d_fwd;
  const Family bwd_data = cc.transposed ? Family::tconv2d_bwd_data : Family::conv2d_bwd_data;
  const Family bwd_weights = cc.transposed ? Family::tconv2d_bwd_weights : Family::conv2d_bwd_weights;
  const auto [oh, ow] = forward_output_size(fwd, s);
  Rng rng(17);
  OwnedTensor x = random_blocked(rng, s.n, s.c, s.h, s.w, s.extra_blocks);
  OwnedTensor w = make_weights(s.c_out, s.c, s.kh, s.kw);
  fill_uniform(w, rng, -0.5, 0.5);
  OwnedTensor b = make_bias(s.c_out);
  fill_uniform(b, rng, -0.5, 0.5, s.c_out);
  OwnedTensor y = make_blocked(s.n, s.c_out, oh, ow, s.extra_blocks);
  OwnedTensor r = random_blocked(rng, s.n, s.c_out, oh, ow, s.extra_blocks);

  KernelCall call;
  call.t[0] = x.view;
  call.t[1] = w.view;
  call.t[2] = b.view;
  call.t[3] = y.view;
  call.i[kAttrStride] = s.stride;
  call.i[kAttrPadTop] = s.pad_top;
  call.i[kAttrPadLeft] = s.pad_left;
  if (act == Activation::relu) {
    // A perturbation of eps moves a pre-activation by at most eps * max(|x|, |w|, 1) = 0.05:
    // outputs closer than 0.1 to the kink get no weight in the loss, so none crosses it.
    run_ref(fwd, call);
    for_each_real(y, [&](size_t k) {
      if (std::fabs(y.storage[k]) < 0.1f) r.storage[k] = 0.f;
    });
  }
  call.i[kAttrActivation] = static_cast<int>(act);
  auto loss = [&] {
    run_ref(fwd, call);
    return weighted_sum(y, r);
  };
  loss();

  // Backward: dL/dy = r, through the activation, then into x, w and b.
  OwnedTensor dy = r.clone();
  if (act != Activation::none) {
    KernelCall a;
    a.t[0] = y.view;
    a.t[1] = dy.view;
    run_ref(act == Activation::relu ? Family::relu_bwd : Family::sigmoid_bwd, a);
  }
  OwnedTensor dx = make_blocked(s.n, s.c, s.h, s.w, s.extra_blocks);
  fill_view(dx, kStaleOutput);
  OwnedTensor dw = make_weights(s.c_out, s.c, s.kh, s.kw), db = make_bias(s.c_out);
  KernelCall data = call, weights = call;
  data.t[0] = dy.view;
  data.t[1] = w.view;
  data.t[2] = dx.view;
  data.t[3] = {};
  data.i[kAttrAccumulate] = 0;
  run_ref(bwd_data, data);
  weights.t[0] = x.view;
  weights.t[1] = dy.view;
  weights.t[2] = dw.view;
  weights.t[3] = db.view;
  run_ref(bwd_weights, weights);

  expect_gradients_match(loss, {{&x, &dx, "dx"}, {&w, &dw, "dw"}, {&b, &db, "db", s.c_out}}, {});
  EXPECT_TRUE(check_padding(dx, "dx").ok);
  EXPECT_TRUE(check_padding(dw, "dw").ok);
  EXPECT_TRUE(check_padding(db, "db", s.c_out).ok);
}

Shape conv_shape(int n, int c, int c_out, int h, int w, int k, int stride, int pad, int out_h = 0,
                 int out_w = 0, int extra_blocks = 0) {
  Shape s;
  s.n = n;
  s.c = c;
  s.c_out = c_out;
  s.h = h;
  s.w = w;
  s.kh = s.kw = k;
  s.stride = stride;
  s.pad_top = s.pad_left = pad;
  s.out_h = out_h;
  s.out_w = out_w;
  s.extra_blocks = extra_blocks;
  return s;
}

const ConvCase kConvCases[] = {
    {"k3_c3to20_7x5", false, conv_shape(2, 3, 20, 7, 5, 3, 1, 1)},
    {"k3_c20to3_5x7_slice", false, conv_shape(2, 20, 3, 5, 7, 3, 1, 1, 0, 0, 1)},
    {"k1_c20to17_6x5", false, conv_shape(2, 20, 17, 6, 5, 1, 1, 0)},
    // 'same' with stride 2 on an even size: no top/left padding, the bottom/right tap falls off.
    {"k3_s2_same_c3to5_8x6", false, conv_shape(1, 3, 5, 8, 6, 3, 2, 0, 4, 3)},
    {"k3_s2_valid_c5to4_7x9", false, conv_shape(2, 5, 4, 7, 9, 3, 2, 0)},
    {"t_k2_s2_c20to3_3x4", true, conv_shape(2, 20, 3, 3, 4, 2, 2, 0)},
    {"t_k2_s2_c3to17_4x3_slice", true, conv_shape(1, 3, 17, 4, 3, 2, 2, 0, 0, 0, 1)},
    {"t_k3_s2_p1_c4to5_3x4", true, conv_shape(2, 4, 5, 3, 4, 3, 2, 1)},
};

std::string conv_case_name(const ConvCase& c, Activation act) {
  const char* const acts[] = {"none", "relu", "sigmoid"};
  return std::string(c.name) + "_" + acts[static_cast<int>(act)];
}

INSTANTIATE_TEST_SUITE_P(
    Kernels, ConvGradient,
    ::testing::Combine(::testing::ValuesIn(kConvCases),
                       ::testing::Values(Activation::none, Activation::relu, Activation::sigmoid)),
    [](const auto& info) { return conv_case_name(std::get<0>(info.param), std::get<1>(info.param)); });

// ---- one-input layers: y = F(x); dx = B(..., dL/dy = r) ----

struct LayerCase {
  const char* name;
  Family fwd, bwd;
  int c, h, w, window, stride;
};

void PrintTo(const LayerCase& c, std::ostream* os) { *os << c.name; }

class LayerGradient : public ::testing::TestWithParam<LayerCase> {};

TEST_P(LayerGradient, BackwardKernelMatchesFiniteDifferences) {
  const LayerCase& lc = GetParam();
  const int n = 2;
  Shape s;
  s.h = lc.h;
  s.w = lc.w;
  s.window = lc.window;
  s.stride = lc.stride;
  const auto [oh, ow] = forward_output_size(lc.fwd, s);
  Rng rng(23);
  OwnedTensor x = make_blocked(n, lc.c, lc.h, lc.w, 1);
  if (lc.fwd == Family::maxpool2d_fwd) {
    // Distinct values 0.01 apart, shuffled: eps = 1e-3 never changes which one is the max.
    std::vector<size_t> idx = real_indices(x);
    std::vector<int> order(idx.size());
    std::iota(order.begin(), order.end(), 0);
    for (size_t k = order.size(); k > 1; --k) std::swap(order[k - 1], order[rng.below(static_cast<int>(k))]);
    for (size_t k = 0; k < idx.size(); ++k) x.storage[idx[k]] = 0.01f * order[k] - 1.f;
  } else {
    fill_uniform(x, rng, -1, 1);
  }
  OwnedTensor y = make_blocked(n, lc.c, oh, ow, 1);
  OwnedTensor r = random_blocked(rng, n, lc.c, oh, ow, 1);  // same layout as y
  StepScalars step;
  step.step = 9;
  step.image_base = 6;

  KernelCall call;
  call.t[0] = x.view;
  call.t[1] = y.view;
  call.i[kAttrStride] = lc.stride;
  call.i[kAttrWindow] = lc.window;
  call.i[kAttrSeedLo] = 1234;
  call.i[kAttrSeedHi] = 5;
  call.f[0] = 0.3f;
  call.step = &step;
  auto loss = [&] {
    run_ref(lc.fwd, call);
    return weighted_sum(y, r);
  };
  loss();

  OwnedTensor dx = make_blocked(n, lc.c, lc.h, lc.w, 1);  // same layout as x
  fill_view(dx, kStaleOutput);
  KernelCall back = call;
  if (lc.bwd == Family::maxpool2d_bwd) {
    back.t[2] = r.view;
    back.t[3] = dx.view;
  } else {
    back.t[0] = r.view;
    back.t[1] = dx.view;
  }
  back.i[kAttrAccumulate] = 0;
  run_ref(lc.bwd, back);

  FdSettings fd;
  fd.eps = lc.fwd == Family::maxpool2d_fwd ? 1e-3 : 0.05;
  fd.max_points = 400;
  fd.abs = 1e-3;
  expect_gradients_match(loss, {{&x, &dx, "dx"}}, fd);
  EXPECT_TRUE(check_padding(dx, "dx").ok);
}

INSTANTIATE_TEST_SUITE_P(
    Kernels, LayerGradient,
    ::testing::Values(
        LayerCase{"maxpool_w2s2_7x5", Family::maxpool2d_fwd, Family::maxpool2d_bwd, 3, 7, 5, 2, 2},
        LayerCase{"maxpool_w3s2_overlap_7x7", Family::maxpool2d_fwd, Family::maxpool2d_bwd, 20, 7, 7, 3, 2},
        LayerCase{"upsample_f2_3x5", Family::upsample2d_fwd, Family::upsample2d_bwd, 3, 3, 5, 2, 1},
        LayerCase{"upsample_f3_c20_2x3", Family::upsample2d_fwd, Family::upsample2d_bwd, 20, 2, 3, 3, 1},
        LayerCase{"dropout_c20_5x7", Family::dropout_fwd, Family::dropout_bwd, 20, 5, 7, 0, 1},
        LayerCase{"copy_channels_c17_4x3", Family::copy_channels, Family::copy_channels, 17, 4, 3, 0, 1}),
    [](const auto& info) { return std::string(info.param.name); });

// ---- output head: L = -log((2I + 1) / (P + T + 1)) from the partials ----

TEST(SigmoidDiceGradient, BackwardKernelMatchesFiniteDifferencesOfMinusLogDice) {
  const int n = 2, h = 5, w = 7;
  Rng rng(31);
  OwnedTensor z = random_blocked(rng, n, 1, h, w, 1);
  for_each_real(z, [&](size_t k) { z.storage[k] *= 2.f; });
  OwnedTensor target = make_plain(n, h, w), p = make_plain(n, h, w), partials = make_flat(3 * n);
  for (float& v : target.storage) v = rng.below(2) ? 1.f : 0.f;
  KernelCall fwd;
  fwd.t[0] = z.view;
  fwd.t[1] = target.view;
  fwd.t[2] = p.view;
  fwd.t[3] = partials.view;
  struct Sums {
    double inter = 0, pred = 0, truth = 0;
  };
  auto sums = [&] {
    run_ref(Family::sigmoid_dice_fwd, fwd);
    Sums s;
    for (int i = 0; i < n; ++i) {
      s.inter += partials.storage[3 * i];
      s.pred += partials.storage[3 * i + 1];
      s.truth += partials.storage[3 * i + 2];
    }
    return s;
  };
  auto loss = [&] {
    const Sums s = sums();
    return -std::log((2 * s.inter + 1) / (s.pred + s.truth + 1));
  };
  const Sums s = sums();
  StepScalars step;
  step.dice_a = static_cast<float>(-2 / (2 * s.inter + 1));
  step.dice_b = static_cast<float>(1 / (s.pred + s.truth + 1));
  OwnedTensor dz = make_blocked(n, 1, h, w, 1);
  fill_view(dz, kStaleOutput);
  KernelCall bwd;
  bwd.t[0] = p.view;
  bwd.t[1] = target.view;
  bwd.t[2] = dz.view;
  bwd.step = &step;
  run_ref(Family::sigmoid_dice_bwd, bwd);

  FdSettings fd;
  fd.eps = 1e-2;
  fd.abs = 2e-5;
  fd.max_points = 1000;
  expect_gradients_match(loss, {{&z, &dz, "dz"}}, fd);
  EXPECT_TRUE(check_padding(dz, "dz").ok);
}

}  // namespace
}  // namespace unet::kernels
