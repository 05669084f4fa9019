#include "tests/plan/tiny_plan.h"

#include <bit>
#include <initializer_list>
#include <stdexcept>

#include <fmt/format.h>

#include "kernels/kernel_family.h"
#include "plan/plan_validate.h"

namespace unet::plan::testing {
namespace {

using kernels::Activation;

uint64_t align(uint64_t v) { return (v + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }

// Lays tensors out one after another (a bump allocator); reuse is asked for explicitly.
class Builder {
 public:
  Plan plan;

  int32_t add(const std::string& name, TensorRole role, Layout layout, uint32_t n, uint32_t c,
              uint32_t h, uint32_t w) {
    const uint64_t offset = align(end_);
    const int32_t id = add_at(name, role, layout, n, c, h, w, offset);
    end_ = offset + plan.tensors.back().bytes;
    return id;
  }

  int32_t add_at(const std::string& name, TensorRole role, Layout layout, uint32_t n,
                 uint32_t c, uint32_t h, uint32_t w, uint64_t offset) {
    Tensor t;
    t.name = name;
    t.role = role;
    t.layout = layout;
    t.n = n, t.c = c, t.h = h, t.w = w;
    t.offset = offset;
    t.bytes = required_bytes(layout, n, c, h, w);
    plan.tensors.push_back(t);
    naive_ += t.bytes;
    return static_cast<int32_t>(plan.tensors.size() - 1);
  }

  int32_t view(const std::string& name, TensorRole role, int32_t base, uint32_t channel_offset,
               uint32_t c) {
    const Tensor& b = plan.tensors[static_cast<size_t>(base)];
    Tensor t;
    t.name = name;
    t.role = role;
    t.layout = Layout::nChw16c;
    t.n = b.n, t.c = c, t.h = b.h, t.w = b.w;
    t.offset = b.offset + uint64_t{channel_offset} / 16 * b.h * b.w * 16 * 4;
    t.bytes = b.offset + b.bytes - t.offset;
    t.view_of = base;
    t.channel_offset = channel_offset;
    plan.tensors.push_back(t);
    return static_cast<int32_t>(plan.tensors.size() - 1);
  }

  Region region_from(uint64_t start) const { return Region{start, end_ - start}; }
  uint64_t next_offset() const { return align(end_); }
  uint64_t end() const { return end_; }
  uint64_t naive() const { return naive_; }

 private:
  uint64_t end_ = 0;
  uint64_t naive_ = 0;
};

Op make_op(Family family, const std::string& label, std::initializer_list<int32_t> tensors) {
  Op op;
  op.kernel = ref_kernel(family);
  op.family = family;
  op.label = label;
  size_t k = 0;
  for (int32_t t : tensors) op.tensors[k++] = t;
  return op;
}

void check_id(int32_t got, int32_t expected) {
  if (got != expected)
    throw std::logic_error(fmt::format("tiny plan: tensor id {} where {} was meant", got, expected));
}

}  // namespace

std::string ref_kernel(Family family) {
  return fmt::format("{}_f32_ref", kernels::family_name(family));
}

Plan make_tiny_plan() {
  Builder b;
  Plan& p = b.plan;
  p.model_name = "tiny_unet";
  p.tier = Tier::scalar;
  p.training = true;
  p.batch = 2;
  p.in_c = 4, p.in_h = 8, p.in_w = 8;
  p.seed = 42;
  p.dice_smooth = 1.0f;

  // Persistent regions: the four parameters' values, then their gradients, first and second
  // moments, each region in the same order so relative offsets agree.
  struct ParamShape {
    const char* name;
    ParamKind kind;
    Init init;
    uint32_t kh, kw, ci, co;
  };
  const ParamShape shapes[] = {{"conv1/kernel", ParamKind::conv_kernel, Init::he_uniform, 3, 3, 4, 16},
                               {"conv1/bias", ParamKind::bias, Init::zeros, 1, 1, 1, 16},
                               {"conv2/kernel", ParamKind::conv_kernel, Init::glorot_uniform, 1, 1, 32, 1},
                               {"conv2/bias", ParamKind::bias, Init::zeros, 1, 1, 1, 1}};
  const std::pair<TensorRole, const char*> kinds[] = {{TensorRole::param, ""},
                                                      {TensorRole::param_grad, "/grad"},
                                                      {TensorRole::adam_m, "/adam_m"},
                                                      {TensorRole::adam_v, "/adam_v"}};
  Region* regions[] = {&p.params_region, &p.grads_region, &p.adam_m_region, &p.adam_v_region};
  for (size_t r = 0; r < 4; ++r) {
    const uint64_t start = b.next_offset();
    for (const ParamShape& s : shapes) {
      const std::string name = std::string(s.name) + kinds[r].second;
      if (s.kind == ParamKind::bias)
        b.add(name, kinds[r].first, Layout::flat, 1, 1, 1, (s.co + 15) / 16 * 16);
      else
        b.add(name, kinds[r].first, Layout::oihw16i16o, s.co, s.ci, s.kh, s.kw);
    }
    *regions[r] = b.region_from(start);
  }
  const char* region_names[] = {"params", "grads", "adam_m", "adam_v"};
  int32_t region_tensor[4];
  for (size_t r = 0; r < 4; ++r) {
    region_tensor[r] =
        b.add_at(std::string("region/") + region_names[r], TensorRole::region, Layout::flat, 1, 1,
                 1, static_cast<uint32_t>(regions[r]->bytes / 4), regions[r]->offset);
  }
  for (size_t k = 0; k < 4; ++k) {
    Param q;
    q.name = shapes[k].name;
    q.kind = shapes[k].kind;
    q.init = shapes[k].init;
    q.kh = shapes[k].kh, q.kw = shapes[k].kw, q.ci = shapes[k].ci, q.co = shapes[k].co;
    q.seed = 1000 + k;
    q.value = static_cast<int32_t>(k);
    q.grad = static_cast<int32_t>(4 + k);
    q.adam_m = static_cast<int32_t>(8 + k);
    q.adam_v = static_cast<int32_t>(12 + k);
    p.params.push_back(q);
  }

  using L = Layout;
  using R = TensorRole;
  check_id(b.add("input", R::input, L::nChw16c, 2, 4, 8, 8), tiny::input);
  check_id(b.add("target", R::target, L::nhw, 2, 1, 8, 8), tiny::target);
  check_id(b.add("cat", R::activation, L::nChw16c, 2, 32, 8, 8), tiny::cat);
  check_id(b.view("conv1", R::activation, tiny::cat, 16, 16), tiny::conv1);
  check_id(b.view("up1", R::activation, tiny::cat, 0, 16), tiny::up1);
  check_id(b.add("pool1", R::activation, L::nChw16c, 2, 16, 4, 4), tiny::pool1);
  check_id(b.add("z", R::activation, L::nChw16c, 2, 1, 8, 8), tiny::z);
  check_id(b.add("p", R::activation, L::nhw, 2, 1, 8, 8), tiny::p);
  check_id(b.add("partials", R::loss_partials, L::flat, 1, 1, 1, 6), tiny::partials);
  check_id(b.add("z/grad", R::gradient, L::nChw16c, 2, 1, 8, 8), tiny::z_grad);
  check_id(b.add("cat/grad", R::gradient, L::nChw16c, 2, 32, 8, 8), tiny::cat_grad);
  check_id(b.view("conv1/grad", R::gradient, tiny::cat_grad, 16, 16), tiny::conv1_grad);
  check_id(b.view("up1/grad", R::gradient, tiny::cat_grad, 0, 16), tiny::up1_grad);
  // z is dead once the Dice partials are computed: pool1's gradient reuses its bytes.
  const uint64_t z_offset = p.tensors[tiny::z].offset;
  check_id(b.add_at("pool1/grad", R::gradient, L::nChw16c, 2, 16, 4, 4, z_offset),
           tiny::pool1_grad);

  p.input = tiny::input;
  p.target = tiny::target;
  p.prediction = tiny::p;
  p.loss_partials = tiny::partials;
  p.arena_bytes = b.end();
  // Region tensors alias the parameter tensors: they are not extra memory.
  p.naive_bytes = b.naive() - p.params_region.bytes - p.grads_region.bytes -
                  p.adam_m_region.bytes - p.adam_v_region.bytes;

  using F = Family;
  using kernels::kAttrAccumulate;
  using kernels::kAttrActivation;
  using kernels::kAttrPadLeft;
  using kernels::kAttrPadTop;
  using kernels::kAttrStride;
  using kernels::kAttrWindow;
  const int32_t k1 = tiny::conv1_kernel, b1 = tiny::conv1_bias, k2 = tiny::conv2_kernel,
                b2 = tiny::conv2_bias;

  Op conv1 = make_op(F::conv2d_fwd, "conv1", {tiny::input, k1, b1, tiny::conv1});
  conv1.i[kAttrStride] = 1, conv1.i[kAttrPadTop] = 1, conv1.i[kAttrPadLeft] = 1;
  conv1.i[kAttrActivation] = static_cast<int32_t>(Activation::relu);
  Op pool1 = make_op(F::maxpool2d_fwd, "pool1", {tiny::conv1, tiny::pool1});
  pool1.i[kAttrStride] = 2, pool1.i[kAttrWindow] = 2;
  Op up1 = make_op(F::upsample2d_fwd, "up1", {tiny::pool1, tiny::up1});
  up1.i[kAttrWindow] = 2;
  Op conv2 = make_op(F::conv2d_fwd, "conv2", {tiny::cat, k2, b2, tiny::z});
  conv2.i[kAttrStride] = 1;
  Op dice = make_op(F::sigmoid_dice_fwd, "dice", {tiny::z, tiny::target, tiny::p, tiny::partials});
  p.forward = {conv1, pool1, up1, conv2, dice};

  Op dice_bwd = make_op(F::sigmoid_dice_bwd, "dice.bwd", {tiny::p, tiny::target, tiny::z_grad});
  Op conv2_bw = make_op(F::conv2d_bwd_weights, "conv2.bwd_weights",
                        {tiny::cat, tiny::z_grad, 4 + k2, 4 + b2});
  conv2_bw.i[kAttrStride] = 1;
  Op conv2_bd = make_op(F::conv2d_bwd_data, "conv2.bwd_data", {tiny::z_grad, k2, tiny::cat_grad});
  conv2_bd.i[kAttrStride] = 1;
  Op up1_bwd = make_op(F::upsample2d_bwd, "up1.bwd", {tiny::up1_grad, tiny::pool1_grad});
  up1_bwd.i[kAttrWindow] = 2;
  Op pool1_bwd = make_op(F::maxpool2d_bwd, "pool1.bwd",
                         {tiny::conv1, tiny::pool1, tiny::pool1_grad, tiny::conv1_grad});
  pool1_bwd.i[kAttrStride] = 2, pool1_bwd.i[kAttrWindow] = 2, pool1_bwd.i[kAttrAccumulate] = 1;
  Op relu1 = make_op(F::relu_bwd, "conv1.relu_bwd", {tiny::conv1, tiny::conv1_grad});
  Op conv1_bw = make_op(F::conv2d_bwd_weights, "conv1.bwd_weights",
                        {tiny::input, tiny::conv1_grad, 4 + k1, 4 + b1});
  conv1_bw.i[kAttrStride] = 1, conv1_bw.i[kAttrPadTop] = 1, conv1_bw.i[kAttrPadLeft] = 1;
  p.backward = {dice_bwd, conv2_bw, conv2_bd, up1_bwd, pool1_bwd, relu1, conv1_bw};

  Op adam = make_op(F::adam_update, "adam",
                    {region_tensor[0], region_tensor[1], region_tensor[2], region_tensor[3]});
  adam.f[0] = p.optimizer.beta1, adam.f[1] = p.optimizer.beta2, adam.f[2] = p.optimizer.epsilon;
  p.update = {adam};
  return p;
}

namespace {

// Collects the first difference between two plans, by field path.
class Differ {
 public:
  std::string first;

  template <typename T>
  void same(const std::string& path, const T& a, const T& b) {
    if (first.empty() && !(a == b)) first = path;
  }
  void same_float(const std::string& path, float a, float b) {
    same(path, std::bit_cast<uint32_t>(a), std::bit_cast<uint32_t>(b));
  }
  void same_region(const std::string& path, const Region& a, const Region& b) {
    same(path + ".offset", a.offset, b.offset);
    same(path + ".bytes", a.bytes, b.bytes);
  }
  void same_ops(const std::string& path, const std::vector<Op>& a, const std::vector<Op>& b) {
    same(path + ".size", a.size(), b.size());
    for (size_t k = 0; k < std::min(a.size(), b.size()); ++k) {
      const std::string at = fmt::format("{}[{}]", path, k);
      same(at + ".kernel", a[k].kernel, b[k].kernel);
      same(at + ".family", a[k].family, b[k].family);
      same(at + ".label", a[k].label, b[k].label);
      same(at + ".tensors", a[k].tensors, b[k].tensors);
      same(at + ".i", a[k].i, b[k].i);
      for (size_t f = 0; f < a[k].f.size(); ++f)
        same_float(fmt::format("{}.f[{}]", at, f), a[k].f[f], b[k].f[f]);
    }
  }
};

}  // namespace

std::string first_difference(const Plan& a, const Plan& b) {
  Differ d;
  d.same("model_name", a.model_name, b.model_name);
  d.same("tier", a.tier, b.tier);
  d.same("training", a.training, b.training);
  d.same("batch", a.batch, b.batch);
  d.same("in_c", a.in_c, b.in_c);
  d.same("in_h", a.in_h, b.in_h);
  d.same("in_w", a.in_w, b.in_w);
  d.same("seed", a.seed, b.seed);
  d.same_float("optimizer.learning_rate", a.optimizer.learning_rate, b.optimizer.learning_rate);
  d.same_float("optimizer.beta1", a.optimizer.beta1, b.optimizer.beta1);
  d.same_float("optimizer.beta2", a.optimizer.beta2, b.optimizer.beta2);
  d.same_float("optimizer.epsilon", a.optimizer.epsilon, b.optimizer.epsilon);
  d.same("optimizer.decay_steps", a.optimizer.decay_steps, b.optimizer.decay_steps);
  d.same_float("optimizer.lr_fraction", a.optimizer.lr_fraction, b.optimizer.lr_fraction);
  d.same_float("dice_smooth", a.dice_smooth, b.dice_smooth);
  d.same("arena_bytes", a.arena_bytes, b.arena_bytes);
  d.same("naive_bytes", a.naive_bytes, b.naive_bytes);
  d.same("input", a.input, b.input);
  d.same("target", a.target, b.target);
  d.same("prediction", a.prediction, b.prediction);
  d.same("loss_partials", a.loss_partials, b.loss_partials);
  d.same_region("params_region", a.params_region, b.params_region);
  d.same_region("grads_region", a.grads_region, b.grads_region);
  d.same_region("adam_m_region", a.adam_m_region, b.adam_m_region);
  d.same_region("adam_v_region", a.adam_v_region, b.adam_v_region);
  d.same("tensors.size", a.tensors.size(), b.tensors.size());
  for (size_t k = 0; k < std::min(a.tensors.size(), b.tensors.size()); ++k) {
    const Tensor &x = a.tensors[k], &y = b.tensors[k];
    const std::string at = fmt::format("tensors[{}]", k);
    d.same(at + ".name", x.name, y.name);
    d.same(at + ".role", x.role, y.role);
    d.same(at + ".layout", x.layout, y.layout);
    d.same(at + ".n", x.n, y.n);
    d.same(at + ".c", x.c, y.c);
    d.same(at + ".h", x.h, y.h);
    d.same(at + ".w", x.w, y.w);
    d.same(at + ".offset", x.offset, y.offset);
    d.same(at + ".bytes", x.bytes, y.bytes);
    d.same(at + ".view_of", x.view_of, y.view_of);
    d.same(at + ".channel_offset", x.channel_offset, y.channel_offset);
  }
  d.same("params.size", a.params.size(), b.params.size());
  for (size_t k = 0; k < std::min(a.params.size(), b.params.size()); ++k) {
    const Param &x = a.params[k], &y = b.params[k];
    const std::string at = fmt::format("params[{}]", k);
    d.same(at + ".name", x.name, y.name);
    d.same(at + ".kind", x.kind, y.kind);
    d.same(at + ".init", x.init, y.init);
    d.same(at + ".kh", x.kh, y.kh);
    d.same(at + ".kw", x.kw, y.kw);
    d.same(at + ".ci", x.ci, y.ci);
    d.same(at + ".co", x.co, y.co);
    d.same(at + ".seed", x.seed, y.seed);
    d.same(at + ".value", x.value, y.value);
    d.same(at + ".grad", x.grad, y.grad);
    d.same(at + ".adam_m", x.adam_m, y.adam_m);
    d.same(at + ".adam_v", x.adam_v, y.adam_v);
  }
  d.same_ops("forward", a.forward, b.forward);
  d.same_ops("backward", a.backward, b.backward);
  d.same_ops("update", a.update, b.update);
  return d.first;
}

}  // namespace unet::plan::testing
