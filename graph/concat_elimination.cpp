#include "graph/concat_elimination.h"

#include <algorithm>

#include <fmt/format.h>

#include "graph/plan_tensors.h"
#include "kernels/tensor_arg.h"

namespace unet::graph {

namespace {

// The node whose op writes a node's tensor (an inference dropout has no op of its own).
int producer_of(const LoweringState& state, int node) {
  const Graph& g = state.graph;
  while (g.nodes[node].kind == OpKind::dropout && !state.options.training)
    node = g.nodes[node].inputs.at(0);
  return node;
}

bool can_write_into_slice(OpKind kind) {
  return kind == OpKind::conv2d || kind == OpKind::conv2d_transpose ||
         kind == OpKind::upsample2d || kind == OpKind::maxpool2d || kind == OpKind::dropout;
}

// Nodes that read each tensor, in node order.
std::vector<std::vector<int>> readers_by_tensor(const LoweringState& state) {
  const Graph& g = state.graph;
  std::vector<std::vector<int>> readers(state.plan.tensors.size());
  for (size_t id = 0; id < g.nodes.size(); ++id) {
    const Node& node = g.nodes[id];
    if (node.kind == OpKind::dropout && !state.options.training) continue;
    for (int in : node.inputs) {
      const int32_t t = state.value[in];
      if (t >= 0 && (readers[t].empty() || readers[t].back() != static_cast<int>(id)))
        readers[t].push_back(static_cast<int>(id));
    }
  }
  return readers;
}

}  // namespace

void eliminate_concats(LoweringState& state) {
  const Graph& g = state.graph;
  plan::Plan& p = state.plan;
  const auto readers = readers_by_tensor(state);
  for (size_t id = 0; id < g.nodes.size(); ++id) {
    const Node& node = g.nodes[id];
    if (node.kind != OpKind::concat) continue;
    const int32_t whole = state.value[id];
    const auto& concat_readers = readers[whole];
    const int last_reader = concat_readers.empty() ? -1 : concat_readers.back();
    uint32_t offset = 0;
    for (int in : node.inputs) {
      const Node& input = g.nodes[in];
      if (offset % kernels::kBlock != 0)
        fail_at(g, node, fmt::format("input '{}' starts at channel {}; concat inputs must start "
                                     "at multiples of {} channels",
                                     input.name, offset, kernels::kBlock));
      ConcatSlot slot;
      slot.node = in;
      slot.channel_offset = offset;
      const int32_t t = state.value[in];
      const plan::Tensor& tensor = p.tensors[t];
      bool alias = tensor.role == plan::TensorRole::activation && tensor.view_of < 0 &&
                   can_write_into_slice(g.nodes[producer_of(state, in)].kind);
      if (alias && last_reader >= 0)
        for (int reader : readers[t])
          if (reader != static_cast<int>(id) && reader >= last_reader) alias = false;
      if (alias) {
        make_channel_view(p, t, whole, offset);
        slot.aliased = true;
      } else {
        slot.slice = add_channel_view(
            p, fmt::format("{}[{}:{}]", node.name, offset, offset + static_cast<uint32_t>(input.c)),
            whole, offset, static_cast<uint32_t>(input.c));
      }
      state.concat_slots[id].push_back(slot);
      offset += static_cast<uint32_t>(input.c);
    }
  }
}

}  // namespace unet::graph
