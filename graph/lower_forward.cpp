#include "graph/lower_forward.h"

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

uint32_t dim(int v) { return static_cast<uint32_t>(v); }

}  // namespace

void check_loss_structure(LoweringState& state) {
  const Graph& g = state.graph;
  const auto count = static_cast<int>(g.nodes.size());
  const auto valid = [&](int id, OpKind kind) {
    return id >= 0 && id < count && g.nodes[id].kind == kind;
  };
  if (!valid(g.input, OpKind::input) || !valid(g.target, OpKind::target) ||
      !valid(g.loss, OpKind::dice_loss))
    throw LowerError(fmt::format("model '{}': needs an input, a target and a dice_loss", g.name));
  const Node& loss = g.nodes[g.loss];
  if (loss.inputs.empty() || loss.inputs[0] < 0 || loss.inputs[0] >= count)
    fail_at(g, loss, "the loss has no prediction input");
  const Node& pred = g.nodes[loss.inputs[0]];
  if (pred.kind != OpKind::conv2d)
    fail_at(g, pred, "the loss's prediction must come straight from a conv");
  if (pred.c != 1) fail_at(g, pred, fmt::format("the prediction has {} channels, needs 1", pred.c));
  if (pred.activation == kernels::Activation::relu)
    fail_at(g, pred, "the prediction conv must use sigmoid (the loss applies it), not relu");
  const Node& target = g.nodes[g.target];
  if (target.c != 1) fail_at(g, target, fmt::format("the target has {} channels, needs 1", target.c));
  if (target.h != pred.h || target.w != pred.w)
    fail_at(g, target, fmt::format("the target is {}x{} but the prediction is {}x{}", target.h,
                                   target.w, pred.h, pred.w));
  for (size_t id = 0; id < g.nodes.size(); ++id)
    for (int in : g.nodes[id].inputs)
      if (in < 0 || in >= static_cast<int>(id)) fail_at(g, g.nodes[id], "an input does not precede its node");
  state.prediction = loss.inputs[0];
}

void create_values(LoweringState& state) {
  const Graph& g = state.graph;
  plan::Plan& p = state.plan;
  const uint32_t b = state.options.batch;
  for (size_t id = 0; id < g.nodes.size(); ++id) {
    const Node& node = g.nodes[id];
    switch (node.kind) {
      case OpKind::input:
        state.value[id] = add_tensor(p, node.name, TensorRole::input, Layout::nChw16c, b,
                                     dim(node.c), dim(node.h), dim(node.w));
        break;
      case OpKind::target:
        state.value[id] = add_tensor(p, node.name, TensorRole::target, Layout::nhw, b, 1,
                                     dim(node.h), dim(node.w));
        break;
      case OpKind::dropout:
        if (!state.options.training) {  // identity at inference: no op, no copy
          state.value[id] = state.value[node.inputs.at(0)];
          break;
        }
        [[fallthrough]];
      case OpKind::conv2d:
      case OpKind::conv2d_transpose:
      case OpKind::maxpool2d:
      case OpKind::upsample2d:
      case OpKind::concat:
        state.value[id] = add_tensor(p, node.name, TensorRole::activation, Layout::nChw16c, b,
                                     dim(node.c), dim(node.h), dim(node.w));
        break;
      case OpKind::dice_loss: {
        const Node& pred = g.nodes[state.prediction];
        p.prediction = add_tensor(p, pred.name + "/prob", TensorRole::activation, Layout::nhw, b,
                                  1, dim(pred.h), dim(pred.w));
        p.loss_partials = add_tensor(p, "loss/partials", TensorRole::loss_partials, Layout::flat,
                                     1, 1, 1, 3 * b);
        break;
      }
    }
  }
  p.input = state.value[g.input];
  p.target = state.value[g.target];
}

void emit_forward(LoweringState& state) {
  const Graph& g = state.graph;
  plan::Plan& p = state.plan;
  for (size_t id = 0; id < g.nodes.size(); ++id) {
    const Node& node = g.nodes[id];
    switch (node.kind) {
      case OpKind::input:
      case OpKind::target:
        break;
      case OpKind::conv2d:
      case OpKind::conv2d_transpose: {
        const bool conv = node.kind == OpKind::conv2d;
        plan::Op op = make_op(conv ? Family::conv2d_fwd : Family::tconv2d_fwd, node.name);
        op.tensors[slot::conv2d_fwd::x] = state.value[node.inputs[0]];
        op.tensors[slot::conv2d_fwd::w] = p.params[state.kernel_param[id]].value;
        op.tensors[slot::conv2d_fwd::b] = p.params[state.bias_param[id]].value;
        op.tensors[slot::conv2d_fwd::y] = state.value[id];
        set_conv_attrs(g, node, op);
        // The loss applies the sigmoid itself (sigmoid_dice_fwd), so the prediction conv
        // outputs the logits.
        const bool logits = static_cast<int>(id) == state.prediction;
        op.i[kernels::kAttrActivation] =
            static_cast<int32_t>(logits ? kernels::Activation::none : node.activation);
        p.forward.push_back(op);
        break;
      }
      case OpKind::maxpool2d: {
        plan::Op op = make_op(Family::maxpool2d_fwd, node.name);
        op.tensors[slot::maxpool2d_fwd::x] = state.value[node.inputs[0]];
        op.tensors[slot::maxpool2d_fwd::y] = state.value[id];
        op.i[kernels::kAttrStride] = node.stride;
        op.i[kernels::kAttrWindow] = node.pool;
        p.forward.push_back(op);
        break;
      }
      case OpKind::upsample2d: {
        plan::Op op = make_op(Family::upsample2d_fwd, node.name);
        op.tensors[slot::upsample2d_fwd::x] = state.value[node.inputs[0]];
        op.tensors[slot::upsample2d_fwd::y] = state.value[id];
        op.i[kernels::kAttrWindow] = node.pool;
        p.forward.push_back(op);
        break;
      }
      case OpKind::dropout: {
        if (!state.options.training) break;
        plan::Op op = make_op(Family::dropout_fwd, node.name);
        op.tensors[slot::dropout_fwd::x] = state.value[node.inputs[0]];
        op.tensors[slot::dropout_fwd::y] = state.value[id];
        set_dropout_attrs(g, static_cast<int>(id), op);
        p.forward.push_back(op);
        break;
      }
      case OpKind::concat: {
        const auto& slots = state.concat_slots[id];
        for (size_t k = 0; k < slots.size(); ++k) {
          if (slots[k].aliased) continue;  // its producer already wrote into the slice
          plan::Op op = make_op(Family::copy_channels, fmt::format("{}.copy{}", node.name, k));
          op.tensors[slot::copy_channels::x] = state.value[slots[k].node];
          op.tensors[slot::copy_channels::y] = slots[k].slice;
          op.i[kernels::kAttrAccumulate] = 0;
          p.forward.push_back(op);
        }
        break;
      }
      case OpKind::dice_loss: {
        plan::Op op = make_op(Family::sigmoid_dice_fwd, node.name);
        op.tensors[slot::sigmoid_dice_fwd::z] = state.value[state.prediction];
        op.tensors[slot::sigmoid_dice_fwd::target] = p.target;
        op.tensors[slot::sigmoid_dice_fwd::p] = p.prediction;
        op.tensors[slot::sigmoid_dice_fwd::partials] = p.loss_partials;
        p.forward.push_back(op);
        break;
      }
    }
  }
}

}  // namespace unet::graph
