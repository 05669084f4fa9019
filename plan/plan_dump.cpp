#include "plan/plan_dump.h"

#include <algorithm>

#include <fmt/format.h>

#include "plan/plan_io.h"
#include "kernels/family_signature.h"
#include "plan/plan_names.h"

namespace unet::plan {
namespace {

using kernels::kAttrAccumulate;
using kernels::kAttrActivation;
using kernels::kAttrPadLeft;
using kernels::kAttrPadTop;
using kernels::kAttrSeedHi;
using kernels::kAttrSeedLo;
using kernels::kAttrStride;
using kernels::kAttrWindow;

// Dump tolerates unvalidated plans (a --dump of a suspicious file should still print), so
// every id is range-checked here too.
std::string tensor_ref(const Plan& p, int32_t id) {
  if (id < 0) return "-";
  if (static_cast<size_t>(id) >= p.tensors.size()) return fmt::format("#{}?", id);
  return p.tensors[static_cast<size_t>(id)].name;
}

std::string dims_text(const Tensor& t) {
  if (t.layout == Layout::flat) return fmt::format("[{}]", t.w);
  return fmt::format("[{},{},{},{}]", t.n, t.c, t.h, t.w);
}

std::string keras_shape(const Param& q) {
  switch (q.kind) {
    case ParamKind::conv_kernel: return fmt::format("[{},{},{},{}]", q.kh, q.kw, q.ci, q.co);
    case ParamKind::tconv_kernel: return fmt::format("[{},{},{},{}]", q.kh, q.kw, q.co, q.ci);
    case ParamKind::bias: return fmt::format("[{}]", q.co);
  }
  return "?";
}

std::string activation_text(int32_t v) {
  switch (static_cast<kernels::Activation>(v)) {
    case kernels::Activation::none: return "none";
    case kernels::Activation::relu: return "relu";
    case kernels::Activation::sigmoid: return "sigmoid";
  }
  return fmt::format("{}?", v);
}

// The attributes that are set, named by what they mean for this op's family.
std::string attributes_text(const Op& op) {
  std::string s;
  auto add = [&](const std::string& item) { s += (s.empty() ? "" : " ") + item; };
  const auto& i = op.i;
  if (i[kAttrStride] != 0) add(fmt::format("stride={}", i[kAttrStride]));
  if (i[kAttrPadTop] != 0 || i[kAttrPadLeft] != 0)
    add(fmt::format("pad={},{}", i[kAttrPadTop], i[kAttrPadLeft]));
  if (i[kAttrActivation] != 0) add("act=" + activation_text(i[kAttrActivation]));
  if (i[kAttrAccumulate] != 0) add(fmt::format("acc={}", i[kAttrAccumulate]));
  if (i[kAttrWindow] != 0) {
    const bool upsample =
        op.family == Family::upsample2d_fwd || op.family == Family::upsample2d_bwd;
    add(fmt::format("{}={}", upsample ? "factor" : "window", i[kAttrWindow]));
  }
  if (i[kAttrSeedLo] != 0 || i[kAttrSeedHi] != 0) {
    const uint64_t seed = uint64_t{static_cast<uint32_t>(i[kAttrSeedHi])} << 32 |
                          static_cast<uint32_t>(i[kAttrSeedLo]);
    add(fmt::format("seed={:#x}", seed));
  }
  const bool folded_dropout = kernels::has_dropout_epilogue(op.family) && i[kernels::kAttrFoldedDropout] != 0;
  if (folded_dropout) add("dropout");
  for (size_t k = kAttrSeedHi + 1; k < i.size(); ++k)
    if (i[k] != 0 && !(folded_dropout && k == kernels::kAttrFoldedDropout)) add(fmt::format("i{}={}", k, i[k]));

  const bool dropout = op.family == Family::dropout_fwd || op.family == Family::dropout_bwd || folded_dropout;
  const bool adam = op.family == Family::adam_update;
  for (size_t k = 0; k < op.f.size(); ++k) {
    if (op.f[k] == 0.f) continue;
    std::string name = fmt::format("f{}", k);
    if (dropout && k == 0) name = "rate";
    if (adam && k < 3) name = k == 0 ? "beta1" : k == 1 ? "beta2" : "epsilon";
    add(fmt::format("{}={:g}", name, op.f[k]));
  }
  return s;
}

void dump_ops(std::string& out, const Plan& p, const std::vector<Op>& ops, std::string_view list) {
  out += fmt::format("\n{} ops {}\n", list, ops.size());
  size_t label_width = 5, kernel_width = 6;
  for (const Op& op : ops) {
    label_width = std::max(label_width, op.label.size());
    kernel_width = std::max(kernel_width, op.kernel.size());
  }
  for (size_t k = 0; k < ops.size(); ++k) {
    const Op& op = ops[k];
    const std::span<const kernels::SlotInfo> slots = kernels::family_signature(op.family).slots;
    std::string tensors;
    for (size_t s = 0; s < op.tensors.size(); ++s) {
      if (op.tensors[s] < 0) continue;
      const std::string slot = s < slots.size() ? std::string(slots[s].name) : fmt::format("t{}", s);
      tensors += fmt::format("{}{}={}", tensors.empty() ? "" : " ", slot,
                             tensor_ref(p, op.tensors[s]));
    }
    std::string line = fmt::format("  {:>3}  {:<{}}  {:<{}}  {}", k, op.label, label_width,
                                   op.kernel, kernel_width, tensors);
    const std::string attrs = attributes_text(op);
    if (!attrs.empty()) line += "  " + attrs;
    out += line + "\n";
  }
}

}  // namespace

std::string dump_plan(const Plan& p) {
  std::string out;
  const Optimizer& o = p.optimizer;
  out += fmt::format("plan '{}'\n", p.model_name);
  out += fmt::format("  format {}  fingerprint 0x{:016x}  tier {}\n", kFormatVersion,
                     plan_fingerprint(p), kernels::tier_name(p.tier));
  out += fmt::format("  batch {}  training {}  input c{} h{} w{}  seed {}\n", p.batch,
                     p.training ? "yes" : "no", p.in_c, p.in_h, p.in_w, p.seed);
  out += fmt::format(
      "  optimizer adam  lr {:g}  beta1 {:g}  beta2 {:g}  epsilon {:g}  decay_steps {}  "
      "lr_fraction {:g}\n",
      o.learning_rate, o.beta1, o.beta2, o.epsilon, o.decay_steps, o.lr_fraction);
  out += fmt::format("  dice_smooth {:g}\n", p.dice_smooth);
  const double saving =
      p.naive_bytes == 0
          ? 0.0
          : 100.0 * (static_cast<double>(p.naive_bytes) - static_cast<double>(p.arena_bytes)) /
                static_cast<double>(p.naive_bytes);
  out += fmt::format("  arena {} bytes  naive {} bytes  saving {:.1f}%\n", p.arena_bytes,
                     p.naive_bytes, saving);
  out += fmt::format("  input '{}'  target '{}'  prediction '{}'  loss_partials '{}'\n",
                     tensor_ref(p, p.input), tensor_ref(p, p.target), tensor_ref(p, p.prediction),
                     tensor_ref(p, p.loss_partials));
  out += fmt::format("  regions  params @{} +{}  grads @{} +{}  adam_m @{} +{}  adam_v @{} +{}\n",
                     p.params_region.offset, p.params_region.bytes, p.grads_region.offset,
                     p.grads_region.bytes, p.adam_m_region.offset, p.adam_m_region.bytes,
                     p.adam_v_region.offset, p.adam_v_region.bytes);

  size_t name_width = 4;
  for (const Tensor& t : p.tensors) name_width = std::max(name_width, t.name.size());
  out += fmt::format("\ntensors {}\n", p.tensors.size());
  out += fmt::format("  {:>3}  {:<{}}  {:<13}  {:<10}  {:<18}  {:>12}  {:>12}\n", "id", "name",
                     name_width, "role", "layout", "dims", "offset", "bytes");
  for (size_t k = 0; k < p.tensors.size(); ++k) {
    const Tensor& t = p.tensors[k];
    std::string line = fmt::format("  {:>3}  {:<{}}  {:<13}  {:<10}  {:<18}  {:>12}  {:>12}", k,
                                   t.name, name_width, role_name(t.role), layout_name(t.layout),
                                   dims_text(t), t.offset, t.bytes);
    if (t.view_of >= 0)
      line += fmt::format("  view of {} @c{}", tensor_ref(p, t.view_of), t.channel_offset);
    out += line + "\n";
  }

  out += fmt::format("\nparams {}\n", p.params.size());
  size_t param_width = 4;
  for (const Param& q : p.params) param_width = std::max(param_width, q.name.size());
  for (size_t k = 0; k < p.params.size(); ++k) {
    const Param& q = p.params[k];
    out += fmt::format("  {:>3}  {:<{}}  {:<12}  {:<14}  keras {:<16}  seed {}  value {} grad {} "
                       "adam_m {} adam_v {}\n",
                       k, q.name, param_width, param_kind_name(q.kind), init_name(q.init),
                       keras_shape(q), q.seed, q.value, q.grad, q.adam_m, q.adam_v);
  }

  dump_ops(out, p, p.forward, "forward");
  dump_ops(out, p, p.backward, "backward");
  dump_ops(out, p, p.update, "update");
  return out;
}

}  // namespace unet::plan
