#include "graph/autodiff.h"

#include <stdexcept>

#include <fmt/format.h>

#include "graph/op_attrs.h"
#include "graph/plan_tensors.h"
#include "kernels/kernel_family.h"

namespace unet::graph {

namespace slot = kernels::slot;

namespace {

using kernels::Family;
using plan::Layout;
using plan::TensorRole;

// Which nodes get a gradient: those downstream of a parameter and upstream of the loss.
std::vector<bool> nodes_needing_grad(const LoweringState& state) {
  const Graph& g = state.graph;
  const size_t count = g.nodes.size();
  std::vector<bool> depends_on_param(count, false), reaches_loss(count, false), needs(count);
  for (size_t id = 0; id < count; ++id) {
    const Node& node = g.nodes[id];
    depends_on_param[id] = node.kind == OpKind::conv2d || node.kind == OpKind::conv2d_transpose;
    for (int in : node.inputs) depends_on_param[id] = depends_on_param[id] || depends_on_param[in];
  }
  reaches_loss[g.loss] = true;
  for (size_t id = count; id-- > 0;)
    if (reaches_loss[id])
      for (int in : g.nodes[id].inputs) reaches_loss[in] = true;
  for (size_t id = 0; id < count; ++id)
    needs[id] = depends_on_param[id] && reaches_loss[id] && g.nodes[id].kind != OpKind::dice_loss;
  return needs;
}

// Tracks which gradients already hold a contribution, to set each op's accumulate flag.
class ContributionTracker {
 public:
  explicit ContributionTracker(const plan::Plan& plan)
      : plan_(plan), written_(plan.tensors.size(), false) {}

  // Returns the accumulate flag for an op writing a full contribution to `tensor`.
  int32_t contribute(int32_t tensor) {
    if (written(tensor)) return 1;
    // Overwriting a base whose view already holds a contribution would lose it; concat
    // elimination only aliases inputs whose other consumers run after this in backward.
    for (size_t v = 0; v < plan_.tensors.size(); ++v)
      if (written_[v] && plan_.tensors[v].view_of >= 0 &&
          view_root(plan_, static_cast<int32_t>(v)) == tensor)
        throw std::logic_error("autodiff: gradient '" + plan_.tensors[tensor].name +
                               "' overwritten after its slice '" + plan_.tensors[v].name +
                               "' was written");
    written_[tensor] = true;
    return 0;
  }

 private:
  bool written(int32_t tensor) const {
    for (; tensor >= 0; tensor = plan_.tensors[tensor].view_of)
      if (written_[tensor]) return true;
    return false;
  }
  const plan::Plan& plan_;
  std::vector<bool> written_;
};

void create_grads(LoweringState& state, const std::vector<bool>& needs) {
  const Graph& g = state.graph;
  plan::Plan& p = state.plan;
  // aliased_into[n] = the concat node and channel offset whose tensor n's output is a slice of.
  std::vector<std::pair<int, uint32_t>> aliased_into(g.nodes.size(), {-1, 0});
  for (size_t id = 0; id < g.nodes.size(); ++id)
    for (const ConcatSlot& slot : state.concat_slots[id])
      if (slot.aliased) aliased_into[slot.node] = {static_cast<int>(id), slot.channel_offset};
  const auto grad_name = [&](int id) { return g.nodes[id].name + "/grad"; };
  for (size_t id = 0; id < g.nodes.size(); ++id) {
    const int concat = aliased_into[id].first;
    if (!needs[id] || (concat >= 0 && needs[concat])) continue;
    const Node& node = g.nodes[id];
    state.grad[id] = add_tensor(p, grad_name(static_cast<int>(id)), TensorRole::gradient,
                                Layout::nChw16c, state.options.batch, static_cast<uint32_t>(node.c),
                                static_cast<uint32_t>(node.h), static_cast<uint32_t>(node.w));
  }
  for (size_t id = 0; id < g.nodes.size(); ++id) {
    const auto [concat, offset] = aliased_into[id];
    if (!needs[id] || concat < 0 || !needs[concat]) continue;
    state.grad[id] = add_channel_view(p, grad_name(static_cast<int>(id)), state.grad[concat],
                                      offset, static_cast<uint32_t>(g.nodes[id].c));
  }
  for (size_t id = 0; id < g.nodes.size(); ++id) {
    if (!needs[id]) continue;
    for (ConcatSlot& slot : state.concat_slots[id]) {
      if (slot.aliased || !needs[slot.node]) continue;
      const auto c = static_cast<uint32_t>(g.nodes[slot.node].c);
      slot.grad_slice = add_channel_view(
          p, fmt::format("{}/grad[{}:{}]", g.nodes[id].name, slot.channel_offset, slot.channel_offset + c),
          state.grad[id], slot.channel_offset, c);
    }
  }
}

}  // namespace

void emit_backward(LoweringState& state) {
  const Graph& g = state.graph;
  plan::Plan& p = state.plan;
  const std::vector<bool> needs = nodes_needing_grad(state);
  create_grads(state, needs);
  ContributionTracker tracker(p);
  auto& ops = p.backward;

  {
    plan::Op op = make_op(Family::sigmoid_dice_bwd, g.nodes[g.loss].name + ".bwd");
    op.tensors[slot::sigmoid_dice_bwd::p] = p.prediction;
    op.tensors[slot::sigmoid_dice_bwd::target] = p.target;
    op.tensors[slot::sigmoid_dice_bwd::dz] = state.grad[state.prediction];
    tracker.contribute(op.tensors[slot::sigmoid_dice_bwd::dz]);
    ops.push_back(op);
  }
  for (size_t id = g.nodes.size(); id-- > 0;) {
    if (!needs[id]) continue;
    const Node& node = g.nodes[id];
    const int32_t dy = state.grad[id];
    const int in = node.inputs.empty() ? -1 : node.inputs[0];
    const bool input_needs = in >= 0 && needs[in];
    switch (node.kind) {
      case OpKind::conv2d:
      case OpKind::conv2d_transpose: {
        const bool conv = node.kind == OpKind::conv2d;
        // The prediction conv's sigmoid belongs to the loss: sigmoid_dice_bwd gave dz.
        const auto act = static_cast<int>(id) == state.prediction ? kernels::Activation::none
                                                                  : node.activation;
        if (act != kernels::Activation::none) {
          const bool relu = act == kernels::Activation::relu;
          plan::Op op = make_op(relu ? Family::relu_bwd : Family::sigmoid_bwd,
                                node.name + (relu ? ".relu_bwd" : ".sigmoid_bwd"));
          op.tensors[slot::activation_bwd::y] = state.value[id];
          op.tensors[slot::activation_bwd::dy] = dy;
          ops.push_back(op);
        }
        plan::Op weights = make_op(conv ? Family::conv2d_bwd_weights : Family::tconv2d_bwd_weights,
                                   node.name + ".bwd_weights");
        weights.tensors[slot::conv2d_bwd_weights::x] = state.value[in];
        weights.tensors[slot::conv2d_bwd_weights::dy] = dy;
        weights.tensors[slot::conv2d_bwd_weights::dw] = p.params[state.kernel_param[id]].grad;
        weights.tensors[slot::conv2d_bwd_weights::db] = p.params[state.bias_param[id]].grad;
        set_conv_attrs(g, node, weights);
        ops.push_back(weights);
        if (input_needs) {
          plan::Op data = make_op(conv ? Family::conv2d_bwd_data : Family::tconv2d_bwd_data,
                                  node.name + ".bwd_data");
          data.tensors[slot::conv2d_bwd_data::dy] = dy;
          data.tensors[slot::conv2d_bwd_data::w] = p.params[state.kernel_param[id]].value;
          data.tensors[slot::conv2d_bwd_data::dx] = state.grad[in];
          set_conv_attrs(g, node, data);
          data.i[kernels::kAttrAccumulate] = tracker.contribute(data.tensors[slot::conv2d_bwd_data::dx]);
          ops.push_back(data);
        }
        break;
      }
      case OpKind::maxpool2d:
        if (input_needs) {
          plan::Op op = make_op(Family::maxpool2d_bwd, node.name + ".bwd");
          op.tensors[slot::maxpool2d_bwd::x] = state.value[in];
          op.tensors[slot::maxpool2d_bwd::y] = state.value[id];
          op.tensors[slot::maxpool2d_bwd::dy] = dy;
          op.tensors[slot::maxpool2d_bwd::dx] = state.grad[in];
          op.i[kernels::kAttrStride] = node.stride;
          op.i[kernels::kAttrWindow] = node.pool;
          op.i[kernels::kAttrAccumulate] = tracker.contribute(op.tensors[slot::maxpool2d_bwd::dx]);
          ops.push_back(op);
        }
        break;
      case OpKind::upsample2d:
        if (input_needs) {
          plan::Op op = make_op(Family::upsample2d_bwd, node.name + ".bwd");
          op.tensors[slot::upsample2d_bwd::dy] = dy;
          op.tensors[slot::upsample2d_bwd::dx] = state.grad[in];
          op.i[kernels::kAttrWindow] = node.pool;
          op.i[kernels::kAttrAccumulate] = tracker.contribute(op.tensors[slot::upsample2d_bwd::dx]);
          ops.push_back(op);
        }
        break;
      case OpKind::dropout:
        if (input_needs) {
          plan::Op op = make_op(Family::dropout_bwd, node.name + ".bwd");
          op.tensors[slot::dropout_bwd::dy] = dy;
          op.tensors[slot::dropout_bwd::dx] = state.grad[in];
          set_dropout_attrs(g, static_cast<int>(id), op);
          op.i[kernels::kAttrAccumulate] = tracker.contribute(op.tensors[slot::dropout_bwd::dx]);
          ops.push_back(op);
        }
        break;
      case OpKind::concat: {
        const auto& slots = state.concat_slots[id];
        for (size_t k = 0; k < slots.size(); ++k) {
          const ConcatSlot& part = slots[k];
          if (!needs[part.node]) continue;
          // An aliased input's gradient is its slice of the concat's gradient: nothing to do.
          if (part.aliased) continue;
          plan::Op op = make_op(Family::copy_channels, fmt::format("{}.copy{}.bwd", node.name, k));
          op.tensors[slot::copy_channels::x] = part.grad_slice;
          op.tensors[slot::copy_channels::y] = state.grad[part.node];
          op.i[kernels::kAttrAccumulate] = tracker.contribute(op.tensors[slot::copy_channels::y]);
          ops.push_back(op);
        }
        break;
      }
      case OpKind::input:
      case OpKind::target:
      case OpKind::dice_loss:
        break;
    }
  }
}

}  // namespace unet::graph
