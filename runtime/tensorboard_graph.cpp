#include "kernels/family_signature.h"
#include "runtime/tensorboard_graph.h"

#include <algorithm>
#include <array>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "kernels/isa_tier.h"
#include "kernels/kernel_family.h"
#include "plan/plan_validate.h"

namespace unet::runtime {
namespace {

using data::GraphAttr;
using data::GraphNode;
using data::Shape;
using kernels::Access;
using plan::Plan;
using plan::Tensor;
using plan::TensorRole;

Shape shape_of(const Tensor& t) {
  if (t.layout == plan::Layout::flat) return {t.w};
  return {t.n, t.c, t.h, t.w};
}

// Where a tensor's value came from: output `index` of node `node`.
struct Output {
  size_t node = 0, index = 0;
  bool operator<(const Output& o) const { return node != o.node ? node < o.node : index < o.index; }
};

class GraphBuilder {
 public:
  explicit GraphBuilder(const Plan& p) : p_(p), writers_(p.tensors.size()), source_(p.tensors.size(), -1) {
    for (size_t t = 0; t < p.tensors.size(); ++t)
      if (p.tensors[t].view_of >= 0) views_[static_cast<size_t>(p.tensors[t].view_of)].push_back(t);
  }

  void add_list(const std::vector<plan::Op>& ops, std::string_view list) {
    for (const plan::Op& op : ops) add_op(op, list);
  }

  std::vector<GraphNode> take() { return std::move(nodes_); }

 private:
  void add_op(const plan::Op& op, std::string_view list) {
    const std::span<const kernels::SlotInfo> slots = kernels::family_signature(op.family).slots;
    GraphNode n;
    n.name = unique_name(fmt::format("{}/{}", list, op.label));
    n.op = std::string(kernels::family_name(op.family));
    std::set<std::string> seen;  // one edge per producer output, however many slots read it
    std::vector<std::pair<size_t, size_t>> outputs;  // (tensor, slot)
    for (size_t s = 0; s < op.tensors.size(); ++s) {
      const int32_t id = op.tensors[s];
      if (id < 0 || static_cast<size_t>(id) >= p_.tensors.size()) continue;
      const Access access = s < slots.size() ? slots[s].access : Access::read;
      // An accumulating op (dx +=) reads what it adds to; a tensor nothing wrote yet is then
      // zeros from the step's start, no source.
      const bool reads = access != Access::write || op.i[kernels::kAttrAccumulate] != 0;
      if (reads)
        for (const Output& o : producers(static_cast<size_t>(id), access != Access::write)) {
          std::string edge = o.index == 0 ? nodes_[o.node].name : fmt::format("{}:{}", nodes_[o.node].name, o.index);
          if (seen.insert(edge).second) n.inputs.push_back(std::move(edge));
        }
      if (access != Access::read) outputs.emplace_back(static_cast<size_t>(id), s);
    }
    n.attrs.push_back({"kernel", op.kernel});
    n.attrs.push_back({"tile", kernel_tile(op.kernel)});
    add_attributes(op, n.attrs);
    std::vector<Shape> shapes;
    for (const auto& [t, slot] : outputs) shapes.push_back(shape_of(p_.tensors[t]));
    n.attrs.push_back({"_output_shapes", shapes});
    const size_t node = nodes_.size();
    nodes_.push_back(std::move(n));
    for (size_t k = 0; k < outputs.size(); ++k) writers_[outputs[k].first] = {{node, k}};
  }

  // The outputs a read of tensor t depends on: its own last writer, or, through concat
  // elimination's views, the writers of its base or of its slices; a region (Adam's flat view
  // of all parameters) depends on the writers of every tensor inside it. Nothing written yet:
  // a source node, when `or_source` (else none).
  std::vector<Output> producers(size_t t, bool or_source) {
    std::set<Output> found;
    auto take = [&](size_t u) { found.insert(writers_[u].begin(), writers_[u].end()); };
    const Tensor& tensor = p_.tensors[t];
    take(t);
    if (tensor.view_of >= 0) take(static_cast<size_t>(tensor.view_of));
    if (auto it = views_.find(t); it != views_.end())
      for (size_t v : it->second) take(v);
    if (tensor.role == TensorRole::region) {
      std::vector<size_t> members = region_members(tensor);
      for (size_t u : members) take(u);
      if (found.empty())  // Adam reading the weights: edges from the weight variables
        for (size_t u : members)
          if (source_[u] >= 0) found.insert({static_cast<size_t>(source_[u]), 0});
    }
    if (found.empty() && or_source) found.insert({source_node(tensor.view_of >= 0 ? static_cast<size_t>(tensor.view_of) : t), 0});
    return {found.begin(), found.end()};
  }

  std::vector<size_t> region_members(const Tensor& region) const {
    std::vector<size_t> members;
    for (size_t u = 0; u < p_.tensors.size(); ++u) {
      const Tensor& m = p_.tensors[u];
      if (m.role != TensorRole::region && m.offset >= region.offset && m.offset + m.bytes <= region.offset + region.bytes)
        members.push_back(u);
    }
    return members;
  }

  size_t source_node(size_t t) {
    if (source_[t] >= 0) return static_cast<size_t>(source_[t]);
    const Tensor& tensor = p_.tensors[t];
    const bool data = tensor.role == TensorRole::input || tensor.role == TensorRole::target;
    GraphNode n;
    n.name = unique_name(fmt::format("{}/{}", data ? "data" : "state", tensor.name));
    n.op = data ? "Placeholder" : "VariableV2";
    n.attrs.push_back({"role", std::string(plan::role_name(tensor.role))});
    n.attrs.push_back({"_output_shapes", std::vector<Shape>{shape_of(tensor)}});
    source_[t] = static_cast<int>(nodes_.size());
    nodes_.push_back(std::move(n));
    return static_cast<size_t>(source_[t]);
  }

  std::string unique_name(std::string name) {
    std::string candidate = name;
    for (int k = 1; !names_.insert(candidate).second; ++k) candidate = fmt::format("{}_{}", name, k);
    return candidate;
  }

  // The attributes that are set, named as --dump names them.
  static void add_attributes(const plan::Op& op, std::vector<GraphAttr>& attrs) {
    using namespace kernels;
    const auto& i = op.i;
    auto add_int = [&](const char* key, int32_t v) {
      if (v != 0) attrs.push_back({key, int64_t{v}});
    };
    add_int("stride", i[kAttrStride]);
    add_int("pad_top", i[kAttrPadTop]);
    add_int("pad_left", i[kAttrPadLeft]);
    add_int("accumulate", i[kAttrAccumulate]);
    const bool upsample = op.family == Family::upsample2d_fwd || op.family == Family::upsample2d_bwd;
    add_int(upsample ? "factor" : "window", i[kAttrWindow]);
    if (i[kAttrActivation] != 0) {
      static constexpr std::array<const char*, 3> kNames = {"none", "relu", "sigmoid"};
      const auto a = static_cast<size_t>(i[kAttrActivation]);
      attrs.push_back({"activation", std::string(a < kNames.size() ? kNames[a] : "?")});
    }
    const bool folded = has_dropout_epilogue(op.family) && i[kAttrFoldedDropout] != 0;
    if (folded || op.family == Family::dropout_fwd || op.family == Family::dropout_bwd)
      attrs.push_back({"dropout_rate", op.f[0]});
  }

  const Plan& p_;
  std::vector<std::vector<Output>> writers_;
  std::vector<int> source_;
  std::unordered_map<size_t, std::vector<size_t>> views_;
  std::set<std::string> names_;
  std::vector<GraphNode> nodes_;
};

}  // namespace

std::vector<data::GraphNode> plan_graph(const plan::Plan& plan) {
  GraphBuilder b(plan);
  b.add_list(plan.forward, "forward");
  b.add_list(plan.backward, "backward");
  b.add_list(plan.update, "update");
  return b.take();
}

std::string kernel_tile(std::string_view kernel) {
  size_t at = std::string_view::npos;
  for (std::string_view dtype : {"_f32_", "_bf16_"})
    if ((at = kernel.find(dtype)) != std::string_view::npos) {
      kernel.remove_prefix(at + dtype.size());
      break;
    }
  if (at == std::string_view::npos || kernel == "ref") return "";
  for (std::string_view isa : {std::string_view("ref"), kernels::tier_name(kernels::Tier::avx512_bf16),
                               kernels::tier_name(kernels::Tier::avx512f), kernels::tier_name(kernels::Tier::avx512),
                               kernels::tier_name(kernels::Tier::scalar)})
    if (kernel.size() > isa.size() && kernel.ends_with(isa) && kernel[kernel.size() - isa.size() - 1] == '_') {
      kernel.remove_suffix(isa.size() + 1);
      break;
    }
  return std::string(kernel);
}

}  // namespace unet::runtime
