#include "kernels/family_signature.h"
#include "plan/plan_validate.h"
#include "plan/plan_views.h"

#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "kernels/tensor_arg.h"

namespace unet::plan {

// TensorFlow pads 'same' convs with pad_after = pad_before or pad_before + 1 (the odd pixel
// goes last) and 'valid' ones with 0, 0; the rows a stride leaves over are dropped.
bool conv_extent_fits(int64_t in, int64_t kernel, int64_t stride, int64_t pad_before,
                      int64_t out) {
  if (in < 1 || kernel < 1 || stride < 1 || pad_before < 0 || pad_before >= kernel || out < 1)
    return false;
  for (int64_t pad_after : {pad_before, pad_before + 1}) {
    const int64_t padded = in + pad_before + pad_after;
    if (pad_after < kernel && padded >= kernel && (padded - kernel) / stride + 1 == out)
      return true;
  }
  return false;
}

// A transposed conv is the adjoint of the conv from its output back to its input (the
// kernels index y[iy*s - pad + ky] exactly as a conv reads x), so the same rule applies with
// the roles swapped: Keras 'same' gives in*stride, 'valid' (in-1)*stride + kernel.
bool tconv_extent_fits(int64_t in, int64_t kernel, int64_t stride, int64_t pad_before,
                       int64_t out) {
  return conv_extent_fits(out, kernel, stride, pad_before, in);
}

namespace {

using kernels::Activation;
using kernels::kAttrAccumulate;
using kernels::kAttrActivation;
using kernels::kAttrPadLeft;
using kernels::kAttrPadTop;
using kernels::kAttrStride;
using kernels::kAttrWindow;

constexpr uint64_t kFloatBytes = 4;
constexpr uint64_t kBlock = kernels::kBlock;

std::optional<uint64_t> checked_mul(std::initializer_list<uint64_t> factors) {
  uint64_t product = 1;
  for (uint64_t f : factors)
    if (__builtin_mul_overflow(product, f, &product)) return std::nullopt;
  return product;
}

uint64_t round_up_block(uint64_t c) { return (c + kBlock - 1) / kBlock * kBlock; }

std::string dims_text(const Tensor& t) {
  if (t.layout == Layout::flat) return fmt::format("[{}]", t.w);
  return fmt::format("[{},{},{},{}]", t.n, t.c, t.h, t.w);
}

std::string tensor_text(const Plan& p, int32_t id) {
  return fmt::format("tensor {} '{}'", id, p.tensors[static_cast<size_t>(id)].name);
}

bool same_dims(const Tensor& a, const Tensor& b) {
  return a.n == b.n && a.c == b.c && a.h == b.h && a.w == b.w;
}

bool finite_in(float v, float lo, float hi_exclusive) {
  return std::isfinite(v) && v >= lo && v < hi_exclusive;
}

class Validator {
 public:
  Validator(const Plan& p, const std::string& source, KernelLookup lookup)
      : p_(p), source_(source), lookup_(lookup) {}

  void run() {
    check_plan_fields();
    for (size_t k = 0; k < p_.tensors.size(); ++k) check_tensor(static_cast<int32_t>(k));
    check_plan_tensors();
    for (size_t k = 0; k < p_.params.size(); ++k) check_param(k);
    check_ops(p_.forward, "forward");
    check_ops(p_.backward, "backward");
    check_ops(p_.update, "update");
  }

 private:
  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw PlanError(fmt::format("{}: {}: {}", source_, where, what));
  }
  void expect(bool ok, const std::string& where, const std::string& what) const {
    if (!ok) fail(where, what);
  }

  bool valid_id(int32_t id) const {
    return id >= 0 && static_cast<size_t>(id) < p_.tensors.size();
  }
  const Tensor& tensor(int32_t id) const { return p_.tensors[static_cast<size_t>(id)]; }

  // [offset, offset + bytes) inside the arena, without overflowing.
  bool in_arena(uint64_t offset, uint64_t bytes) const {
    return bytes <= p_.arena_bytes && offset <= p_.arena_bytes - bytes;
  }
  static bool inside(const Region& r, uint64_t offset, uint64_t bytes) {
    return offset >= r.offset && bytes <= r.bytes && offset - r.offset <= r.bytes - bytes;
  }

  void check_dim(const std::string& where, std::string_view name, uint64_t v) const {
    expect(v >= 1 && v <= kMaxDim, where,
           fmt::format("{} {} is outside 1..{}", name, v, kMaxDim));
  }

  void check_plan_fields() const {
    const std::string where = "plan";
    expect(static_cast<uint8_t>(p_.tier) <= static_cast<uint8_t>(Tier::avx512_bf16), where,
           fmt::format("tier value {} is not a known ISA tier", static_cast<int>(p_.tier)));
    check_dim(where, "batch", p_.batch);
    check_dim(where, "input channels", p_.in_c);
    check_dim(where, "input height", p_.in_h);
    check_dim(where, "input width", p_.in_w);
    expect(p_.arena_bytes <= kMaxArenaBytes, where,
           fmt::format("arena of {} bytes exceeds the limit of {} bytes", p_.arena_bytes,
                       kMaxArenaBytes));
    expect(std::isfinite(p_.dice_smooth) && p_.dice_smooth >= 0, where,
           fmt::format("dice smooth {} is not a finite value >= 0", p_.dice_smooth));
    if (p_.training) {
      const Optimizer& o = p_.optimizer;
      expect(std::isfinite(o.learning_rate) && o.learning_rate > 0, where,
             fmt::format("learning rate {} is not a finite value > 0", o.learning_rate));
      expect(finite_in(o.beta1, 0, 1), where, fmt::format("beta1 {} is not in [0, 1)", o.beta1));
      expect(finite_in(o.beta2, 0, 1), where, fmt::format("beta2 {} is not in [0, 1)", o.beta2));
      expect(std::isfinite(o.epsilon) && o.epsilon > 0, where,
             fmt::format("epsilon {} is not a finite value > 0", o.epsilon));
      expect(o.decay_steps >= 1, where, "decay steps is 0");
      expect(std::isfinite(o.lr_fraction) && o.lr_fraction > 0, where,
             fmt::format("lr fraction {} is not a finite value > 0", o.lr_fraction));
    }
    const std::pair<const char*, const Region*> regions[] = {{"params region", &p_.params_region},
                                                             {"grads region", &p_.grads_region},
                                                             {"adam_m region", &p_.adam_m_region},
                                                             {"adam_v region", &p_.adam_v_region}};
    for (const auto& [name, r] : regions) {
      expect(r->offset % kArenaAlignment == 0, name,
             fmt::format("offset {} is not a multiple of {}", r->offset, kArenaAlignment));
      expect(in_arena(r->offset, r->bytes), name,
             fmt::format("[{}, +{}) lies outside the arena of {} bytes", r->offset, r->bytes,
                         p_.arena_bytes));
    }
  }

  void check_tensor(int32_t id) const {
    const Tensor& t = tensor(id);
    const std::string where = tensor_text(p_, id);
    expect(!t.name.empty(), where, "has no name");
    expect(static_cast<uint8_t>(t.role) <= static_cast<uint8_t>(TensorRole::region), where,
           fmt::format("role value {} is not a known tensor role", static_cast<int>(t.role)));
    expect(static_cast<uint8_t>(t.layout) <= static_cast<uint8_t>(Layout::oihw16i16o), where,
           fmt::format("layout value {} is not a known layout", static_cast<int>(t.layout)));
    check_dim(where, "n", t.n);
    check_dim(where, "c", t.c);
    check_dim(where, "h", t.h);
    // Flat tensors cover whole parameter regions (millions of floats): their w is bounded by
    // the arena check below instead.
    if (t.layout != Layout::flat) check_dim(where, "w", t.w);
    expect(t.w >= 1, where, "w is 0");
    if (t.layout == Layout::flat)
      expect(t.n == 1 && t.c == 1 && t.h == 1, where,
             fmt::format("flat tensor has n, c, h = {}, {}, {} (must be 1)", t.n, t.c, t.h));
    if (t.layout == Layout::nhw)
      expect(t.c == 1, where, fmt::format("nhw tensor has c = {} (must be 1)", t.c));
    expect(t.offset % kArenaAlignment == 0, where,
           fmt::format("offset {} is not a multiple of {}", t.offset, kArenaAlignment));
    expect(in_arena(t.offset, t.bytes), where,
           fmt::format("bytes [{}, +{}) lie outside the arena of {} bytes", t.offset, t.bytes,
                       p_.arena_bytes));
    if (t.view_of < 0) {
      expect(t.view_of == -1, where, fmt::format("view_of {} is not a tensor id", t.view_of));
      expect(t.channel_offset == 0, where,
             fmt::format("channel offset {} on a tensor that is not a view", t.channel_offset));
      const uint64_t need = required_bytes(t.layout, t.n, t.c, t.h, t.w);
      expect(need != 0, where, fmt::format("dims {} overflow 64-bit byte counts", dims_text(t)));
      expect(t.bytes >= need, where,
             fmt::format("{} bytes, but {} {} needs {}", t.bytes, layout_name(t.layout),
                         dims_text(t), need));
      return;
    }
    check_view(id, t, where);
  }

  // A channel slice of a wider nChw16c tensor (concat elimination).
  void check_view(int32_t id, const Tensor& t, const std::string& where) const {
    expect(valid_id(t.view_of) && t.view_of != id, where,
           fmt::format("view_of {} is not another tensor's id", t.view_of));
    const Tensor& base = tensor(t.view_of);
    const std::string of = fmt::format("view of {}", tensor_text(p_, t.view_of));
    expect(base.view_of == -1, where, of + ", which is itself a view");
    expect(t.layout == Layout::nChw16c && base.layout == Layout::nChw16c, where,
           of + ": views and their base must both be nChw16c");
    expect(t.n == base.n && t.h == base.h && t.w == base.w, where,
           fmt::format("{}: dims {} and {} differ in n, h or w", of, dims_text(t),
                       dims_text(base)));
    expect(t.channel_offset % kBlock == 0, where,
           fmt::format("{}: channel offset {} is not a multiple of {}", of, t.channel_offset,
                       kBlock));
    expect(uint64_t{t.channel_offset} + t.c <= base.c, where,
           fmt::format("{}: channels [{}, {}) exceed its {} channels", of, t.channel_offset,
                       uint64_t{t.channel_offset} + t.c, base.c));
    // No overflow: every factor is at most kMaxDim (2^20) and base.offset < 2^40.
    const uint64_t expected =
        base.offset + uint64_t{t.channel_offset} / kBlock * t.h * t.w * kBlock * kFloatBytes;
    expect(t.offset == expected, where,
           fmt::format("{} @c{}: offset {}, expected {}", of, t.channel_offset, t.offset,
                       expected));
  }

  // The plan's named tensors: input, target, prediction, loss partials.
  void check_plan_tensors() const {
    auto named = [&](int32_t id, const char* what, bool required, TensorRole role,
                     Layout layout) -> const Tensor* {
      if (id == -1 && !required) return nullptr;
      expect(valid_id(id), "plan",
             fmt::format("{} tensor id {} is out of range ({} tensors)", what, id,
                         p_.tensors.size()));
      const Tensor& t = tensor(id);
      const std::string where = fmt::format("plan {} ({})", what, tensor_text(p_, id));
      expect(t.role == role, where,
             fmt::format("role is {}, expected {}", role_name(t.role), role_name(role)));
      expect(t.layout == layout, where,
             fmt::format("layout is {}, expected {}", layout_name(t.layout), layout_name(layout)));
      return &t;
    };
    const Tensor* input = named(p_.input, "input", true, TensorRole::input, Layout::nChw16c);
    expect(input->n == p_.batch && input->c == p_.in_c && input->h == p_.in_h &&
               input->w == p_.in_w,
           "plan input", fmt::format("dims {} differ from batch {} and input {}x{}x{} (c x h x w)",
                                     dims_text(*input), p_.batch, p_.in_c, p_.in_h, p_.in_w));
    const Tensor* pred =
        named(p_.prediction, "prediction", true, TensorRole::activation, Layout::nhw);
    expect(pred->n == p_.batch && pred->h == p_.in_h && pred->w == p_.in_w, "plan prediction",
           fmt::format("dims {} differ from batch {} and input {}x{} (h x w)", dims_text(*pred),
                       p_.batch, p_.in_h, p_.in_w));
    if (const Tensor* target =
            named(p_.target, "target", p_.training, TensorRole::target, Layout::nhw))
      expect(same_dims(*target, *pred), "plan target",
             fmt::format("dims {} differ from the prediction's {}", dims_text(*target),
                         dims_text(*pred)));
    if (const Tensor* partials = named(p_.loss_partials, "loss partials", p_.training,
                                       TensorRole::loss_partials, Layout::flat))
      expect(partials->w >= uint64_t{3} * p_.batch, "plan loss partials",
             fmt::format("w {} is less than 3 x batch {}", partials->w, p_.batch));
  }

  void check_param(size_t k) const {
    const Param& q = p_.params[k];
    const std::string where = fmt::format("param {} '{}'", k, q.name);
    expect(!q.name.empty(), where, "has no name");
    expect(static_cast<uint8_t>(q.kind) <= static_cast<uint8_t>(ParamKind::bias), where,
           fmt::format("kind value {} is not a known parameter kind", static_cast<int>(q.kind)));
    expect(static_cast<uint8_t>(q.init) <= static_cast<uint8_t>(Init::glorot_uniform), where,
           fmt::format("init value {} is not a known initialiser", static_cast<int>(q.init)));
    check_dim(where, "kh", q.kh);
    check_dim(where, "kw", q.kw);
    check_dim(where, "ci", q.ci);
    check_dim(where, "co", q.co);
    expect(valid_id(q.value), where,
           fmt::format("value tensor id {} is out of range ({} tensors)", q.value,
                       p_.tensors.size()));
    const Tensor& v = tensor(q.value);
    const std::string vt = fmt::format("value {}", tensor_text(p_, q.value));
    expect(v.role == TensorRole::param, where,
           fmt::format("{} has role {}, expected param", vt, role_name(v.role)));
    if (q.kind == ParamKind::bias) {
      expect(v.layout == Layout::flat && v.w >= q.co &&
                 v.bytes >= round_up_block(q.co) * kFloatBytes,
             where,
             fmt::format("{} is {} {} of {} bytes; a bias of {} needs flat, w >= {}, {} bytes",
                         vt, layout_name(v.layout), dims_text(v), v.bytes, q.co, q.co,
                         round_up_block(q.co) * kFloatBytes));
    } else {
      expect(v.layout == Layout::oihw16i16o && v.n == q.co && v.c == q.ci && v.h == q.kh &&
                 v.w == q.kw,
             where,
             fmt::format("{} is {} {}; kernel kh {} kw {} ci {} co {} needs oihw16i16o "
                         "[{},{},{},{}]",
                         vt, layout_name(v.layout), dims_text(v), q.kh, q.kw, q.ci, q.co, q.co,
                         q.ci, q.kh, q.kw));
    }
    expect(inside(p_.params_region, v.offset, v.bytes), where,
           fmt::format("{} lies outside the params region", vt));
    // The regions hold every parameter's tensors at the same relative offsets, so one flat
    // Adam op over the regions updates each parameter with its own gradient and moments.
    const uint64_t relative = v.offset - p_.params_region.offset;
    const std::tuple<const char*, int32_t, TensorRole, const Region*> companions[] = {
        {"grad", q.grad, TensorRole::param_grad, &p_.grads_region},
        {"adam_m", q.adam_m, TensorRole::adam_m, &p_.adam_m_region},
        {"adam_v", q.adam_v, TensorRole::adam_v, &p_.adam_v_region}};
    for (const auto& [what, id, role, region] : companions) {
      if (id == -1 && !p_.training) continue;
      expect(valid_id(id), where,
             fmt::format("{} tensor id {} is out of range ({} tensors)", what, id,
                         p_.tensors.size()));
      const Tensor& c = tensor(id);
      const std::string ct = fmt::format("{} {}", what, tensor_text(p_, id));
      expect(c.role == role, where,
             fmt::format("{} has role {}, expected {}", ct, role_name(c.role), role_name(role)));
      expect(c.layout == v.layout && same_dims(c, v) && c.bytes == v.bytes, where,
             fmt::format("{} is {} {} of {} bytes, the value is {} {} of {} bytes", ct,
                         layout_name(c.layout), dims_text(c), c.bytes, layout_name(v.layout),
                         dims_text(v), v.bytes));
      expect(inside(*region, c.offset, c.bytes) && c.offset - region->offset == relative, where,
             fmt::format("{} is not at the value's relative offset {} in the {} region", ct,
                         relative, what));
    }
  }

  void check_ops(const std::vector<Op>& ops, std::string_view list) const {
    for (size_t k = 0; k < ops.size(); ++k) check_op(ops[k], fmt::format("{} op {} '{}'", list, k, ops[k].label));
  }

  void check_op(const Op& op, const std::string& where) const {
    expect(static_cast<uint8_t>(op.family) < static_cast<uint8_t>(Family::count), where,
           fmt::format("family value {} is not a known kernel family",
                       static_cast<int>(op.family)));
    const std::string_view family = kernels::family_name(op.family);
    const kernels::KernelInfo* info = lookup_(op.kernel);
    expect(info != nullptr, where,
           fmt::format("kernel '{}' is not known to this build (recompile the plan with unetc)", op.kernel));
    expect(info->family == op.family, where,
           fmt::format("kernel '{}' has family {}, the op has {}", op.kernel,
                       kernels::family_name(info->family), family));
    expect(kernels::tier_includes(p_.tier, info->tier), where,
           fmt::format("kernel '{}' needs tier {}, the plan is for tier {}", op.kernel,
                       kernels::tier_name(info->tier), kernels::tier_name(p_.tier)));

    const std::span<const kernels::SlotInfo> slots = kernels::family_signature(op.family).slots;
    for (size_t s = 0; s < op.tensors.size(); ++s) {
      const int32_t id = op.tensors[s];
      expect(id == -1 || valid_id(id), where,
             fmt::format("tensor slot {} id {} is out of range ({} tensors)", s, id,
                         p_.tensors.size()));
      if (s >= slots.size()) {
        expect(id == -1, where,
               fmt::format("tensor slot {} is used, {} has {} slots", s, family, slots.size()));
        continue;
      }
      const kernels::SlotInfo& slot = slots[s];
      if (id == -1) {
        expect(!slot.required, where, fmt::format("{} (slot {}) is missing", slot.name, s));
        continue;
      }
      const Tensor& t = tensor(id);
      expect(t.layout == slot.layout, where,
             fmt::format("{} {} is {}, {} needs {}", slot.name, tensor_text(p_, id),
                         layout_name(t.layout), family, layout_name(slot.layout)));
    }
    const int relu_slot = kernels::relu_mask_slot(op.family);
    if (relu_slot >= 0 && op.tensors[static_cast<size_t>(relu_slot)] >= 0)
      expect(info->relu_mask, where,
             fmt::format("kernel '{}' does not fold a ReLU backward, but the op gives it relu_y",
                         op.kernel));
    if (kernels::has_dropout_epilogue(op.family) && op.i[kernels::kAttrFoldedDropout] != 0)
      expect(info->dropout_epilogue, where,
             fmt::format("kernel '{}' does not fold a dropout, but the op asks it to", op.kernel));
    const int pool_slot = kernels::pool_epilogue_slot(op.family);
    if (pool_slot >= 0 && op.tensors[static_cast<size_t>(pool_slot)] >= 0)
      expect(info->pool_epilogue, where,
             fmt::format("kernel '{}' does not fold a max-pool, but the op gives it pool_y", op.kernel));
    OpCheck(*this, op, where, slots).run();
    // Last, on an op whose shapes are known to be its family's: a kernel runs only the shapes
    // it states (no kernel hands a shape on to another), so a plan that names one for a shape
    // it declines would compute garbage.
    if (info->supports)
      expect(info->supports(op_call(p_, op, nullptr)), where,
             fmt::format("kernel '{}' does not take this op's shape (recompile the plan with unetc)", op.kernel));
  }

  // The per-family attribute and shape rules of one op whose slots are already checked.
  class OpCheck {
   public:
    OpCheck(const Validator& v, const Op& op, const std::string& where,
            std::span<const kernels::SlotInfo> slots)
        : v_(v), op_(op), where_(where), slots_(slots) {}

    void run() const {
      const int relu_slot = kernels::relu_mask_slot(op_.family);
      if (has(relu_slot)) same(relu_slot, relu_slot - 1);  // relu_y follows dx
      using F = Family;
      namespace fwd = kernels::slot::conv2d_fwd;
      namespace bwd_data = kernels::slot::conv2d_bwd_data;
      namespace bwd_weights = kernels::slot::conv2d_bwd_weights;
      namespace unary_fwd = kernels::slot::unary_fwd;
      namespace unary_bwd = kernels::slot::unary_bwd;
      namespace pool_bwd = kernels::slot::maxpool2d_bwd;
      namespace act_bwd = kernels::slot::activation_bwd;
      namespace dice_fwd = kernels::slot::sigmoid_dice_fwd;
      namespace dice_bwd = kernels::slot::sigmoid_dice_bwd;
      switch (op_.family) {
        case F::conv2d_fwd:
          conv(fwd::x, fwd::w, fwd::y, fwd::b, false, true);
          attr_in(kernels::kAttrFoldedDropout, "folded_dropout", 0, 1);
          if (attr(kernels::kAttrFoldedDropout)) rate();
          if (has(fwd::pool_y)) pooled(fwd::y, fwd::pool_y, kernels::kFoldedPoolWindow, kernels::kFoldedPoolWindow);
          return;
        case F::conv2d_bwd_data: return conv(bwd_data::dx, bwd_data::w, bwd_data::dy, -1, false, false), accumulate();
        case F::conv2d_bwd_weights:
          return conv(bwd_weights::x, bwd_weights::dw, bwd_weights::dy, bwd_weights::db, false, false);
        case F::tconv2d_fwd: return conv(fwd::x, fwd::w, fwd::y, fwd::b, true, true);
        case F::tconv2d_bwd_data: return conv(bwd_data::dx, bwd_data::w, bwd_data::dy, -1, true, false), accumulate();
        case F::tconv2d_bwd_weights:
          return conv(bwd_weights::x, bwd_weights::dw, bwd_weights::dy, bwd_weights::db, true, false);
        case F::maxpool2d_fwd: return maxpool(unary_fwd::x, unary_fwd::y);
        case F::maxpool2d_bwd:
          maxpool(pool_bwd::x, pool_bwd::y);
          same(pool_bwd::dy, pool_bwd::y);
          same(pool_bwd::dx, pool_bwd::x);
          return accumulate();
        case F::upsample2d_fwd: return upsample(unary_fwd::x, unary_fwd::y);
        case F::upsample2d_bwd: return upsample(unary_bwd::dx, unary_bwd::dy), accumulate();
        case F::dropout_fwd: return same(unary_fwd::x, unary_fwd::y), rate();
        case F::dropout_bwd: return same(unary_bwd::dy, unary_bwd::dx), rate(), accumulate();
        case F::relu_bwd:
        case F::sigmoid_bwd: return same(act_bwd::y, act_bwd::dy);
        case F::copy_channels: return same(unary_fwd::x, unary_fwd::y), accumulate();
        case F::sigmoid_dice_fwd:
          return dice(dice_fwd::z, dice_fwd::target, dice_fwd::p), partials(dice_fwd::partials);
        case F::sigmoid_dice_bwd: return dice(dice_bwd::dz, dice_bwd::target, dice_bwd::p);
        case F::adam_update: return adam();
        case F::count: break;
      }
    }

   private:
    const Tensor& t(int slot) const { return v_.tensor(op_.tensors[static_cast<size_t>(slot)]); }
    bool has(int slot) const { return slot >= 0 && op_.tensors[static_cast<size_t>(slot)] >= 0; }
    std::string name(int slot) const {
      return fmt::format("{} '{}'", slots_[static_cast<size_t>(slot)].name, t(slot).name);
    }
    void expect(bool ok, const std::string& what) const { v_.expect(ok, where_, what); }
    int32_t attr(int index) const { return op_.i[static_cast<size_t>(index)]; }

    void attr_in(int index, const char* what, int64_t lo, int64_t hi) const {
      expect(attr(index) >= lo && attr(index) <= hi,
             fmt::format("{} {} is outside {}..{}", what, attr(index), lo, hi));
    }
    void accumulate() const { attr_in(kAttrAccumulate, "accumulate", 0, 1); }
    void rate() const {
      expect(finite_in(op_.f[0], 0, 1), fmt::format("dropout rate {} is not in [0, 1)", op_.f[0]));
    }

    // dims of slot a equal dims of slot b
    void same(int a, int b) const {
      expect(same_dims(t(a), t(b)), fmt::format("{} is {}, {} is {}: they must match", name(a),
                                                dims_text(t(a)), name(b), dims_text(t(b))));
    }

    // Conv and transposed conv, forward and backward: `in` is the tensor the forward op
    // reads (x or dx), `out` the one it writes (y or dy), `wt` the weights, `bias` the
    // optional bias (or bias gradient).
    void conv(int in, int wt, int out, int bias, bool transposed, bool forward) const {
      const Tensor &x = t(in), &w = t(wt), &y = t(out);
      attr_in(kAttrStride, "stride", 1, kMaxDim);
      attr_in(kAttrPadTop, "pad_top", 0, static_cast<int64_t>(w.h) - 1);
      attr_in(kAttrPadLeft, "pad_left", 0, static_cast<int64_t>(w.w) - 1);
      if (forward) attr_in(kAttrActivation, "activation", 0, static_cast<int>(Activation::sigmoid));
      expect(w.c == x.c, fmt::format("{} has {} input channels, {} has {}", name(wt), w.c,
                                     name(in), x.c));
      expect(w.n == y.c, fmt::format("{} has {} output channels, {} has {}", name(wt), w.n,
                                     name(out), y.c));
      expect(x.n == y.n, fmt::format("{} has {} images, {} has {}", name(in), x.n, name(out), y.n));
      const int64_t s = attr(kAttrStride);
      auto extent_ok = transposed ? tconv_extent_fits : conv_extent_fits;
      expect(extent_ok(x.h, w.h, s, attr(kAttrPadTop), y.h),
             fmt::format("{} height {} does not follow from {} height {}, kernel {}, stride {}, "
                         "pad_top {}",
                         name(out), y.h, name(in), x.h, w.h, s, attr(kAttrPadTop)));
      expect(extent_ok(x.w, w.w, s, attr(kAttrPadLeft), y.w),
             fmt::format("{} width {} does not follow from {} width {}, kernel {}, stride {}, "
                         "pad_left {}",
                         name(out), y.w, name(in), x.w, w.w, s, attr(kAttrPadLeft)));
      if (has(bias)) {
        const Tensor& b = t(bias);
        const uint64_t need = round_up_block(y.c) * kFloatBytes;
        expect(b.w >= y.c && b.bytes >= need,
               fmt::format("{} has w {} and {} bytes, {} output channels need w >= {} and {} "
                           "bytes",
                           name(bias), b.w, b.bytes, y.c, y.c, need));
      }
    }

    void maxpool(int in, int out) const {
      attr_in(kAttrStride, "stride", 1, kMaxDim);
      attr_in(kAttrWindow, "window", 1, kMaxDim);
      pooled(in, out, attr(kAttrWindow), attr(kAttrStride));
    }

    // out is the max-pool of in with this window and stride (valid padding).
    void pooled(int in, int out, int64_t win, int64_t s) const {
      const Tensor &x = t(in), &y = t(out);
      expect(x.n == y.n && x.c == y.c,
             fmt::format("{} is {}, {} is {}: n and c must match", name(in), dims_text(x),
                         name(out), dims_text(y)));
      auto pooled = [&](int64_t e) { return e >= win ? (e - win) / s + 1 : 0; };
      expect(pooled(x.h) == y.h && pooled(x.w) == y.w,
             fmt::format("{} is {}, a {}x{} window with stride {} over {} {} gives {}x{}",
                         name(out), dims_text(y), win, win, s, name(in), dims_text(x),
                         pooled(x.h), pooled(x.w)));
    }

    // `small` is the low-resolution side (x of the forward op), `big` the other.
    void upsample(int small, int big) const {
      attr_in(kAttrWindow, "factor", 1, kMaxDim);
      const uint64_t f = static_cast<uint64_t>(attr(kAttrWindow));
      const Tensor &x = t(small), &y = t(big);
      expect(x.n == y.n && x.c == y.c && uint64_t{x.h} * f == y.h && uint64_t{x.w} * f == y.w,
             fmt::format("{} is {}, {} is {}: upsampling by {} does not map one to the other",
                         name(small), dims_text(x), name(big), dims_text(y), f));
    }

    // Sigmoid + Dice: the logits z (one channel, nChw16c) and the plain target and p.
    void dice(int z_slot, int target_slot, int p_slot) const {
      const Tensor &z = t(z_slot), &target = t(target_slot), &p = t(p_slot);
      expect(z.c == 1, fmt::format("{} has {} channels, expected 1", name(z_slot), z.c));
      for (int other : {target_slot, p_slot})
        expect(t(other).n == z.n && t(other).h == z.h && t(other).w == z.w,
               fmt::format("{} is {}, {} is {}: n, h and w must match", name(other),
                           dims_text(t(other)), name(z_slot), dims_text(z)));
      (void)target;
      (void)p;
    }

    // sigmoid_dice_fwd's partials: three sums per image of z.
    void partials(int slot) const {
      const uint64_t need = uint64_t{3} * t(kernels::slot::sigmoid_dice_fwd::z).n;
      expect(t(slot).w >= need, fmt::format("{} has w {}, 3 x {} images need {}", name(slot), t(slot).w,
                                            t(kernels::slot::sigmoid_dice_fwd::z).n, need));
    }

    void adam() const {
      namespace adam = kernels::slot::adam_update;
      for (int s : {adam::grad, adam::m, adam::v})
        expect(t(s).w == t(adam::param).w, fmt::format("{} has w {}, {} has {}: they must match", name(s), t(s).w,
                                                       name(adam::param), t(adam::param).w));
      expect(finite_in(op_.f[0], 0, 1), fmt::format("beta1 {} is not in [0, 1)", op_.f[0]));
      expect(finite_in(op_.f[1], 0, 1), fmt::format("beta2 {} is not in [0, 1)", op_.f[1]));
      expect(std::isfinite(op_.f[2]) && op_.f[2] > 0,
             fmt::format("epsilon {} is not a finite value > 0", op_.f[2]));
    }

    const Validator& v_;
    const Op& op_;
    const std::string& where_;
    std::span<const kernels::SlotInfo> slots_;
  };

  const Plan& p_;
  const std::string& source_;
  KernelLookup lookup_;
};

}  // namespace

uint64_t required_bytes(Layout layout, uint32_t n, uint32_t c, uint32_t h, uint32_t w) {
  std::optional<uint64_t> elements;
  switch (layout) {
    case Layout::nChw16c: elements = checked_mul({n, round_up_block(c), h, w}); break;
    case Layout::nhw: elements = checked_mul({n, h, w}); break;
    case Layout::flat: elements = w; break;
    case Layout::oihw16i16o:
      elements = checked_mul({round_up_block(n), round_up_block(c), h, w});
      break;
  }
  if (!elements) return 0;
  const std::optional<uint64_t> bytes = checked_mul({*elements, kFloatBytes});
  return bytes ? *bytes : 0;
}

void validate_plan(const Plan& plan, const std::string& source, KernelLookup lookup) {
  Validator(plan, source, lookup).run();
}

void validate_plan(const Plan& plan, const std::string& source) {
  validate_plan(plan, source, &kernels::find_kernel);
}

}  // namespace unet::plan
