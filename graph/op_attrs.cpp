#include "graph/op_attrs.h"

#include "graph/keras_padding.h"
#include "graph/seed_streams.h"
#include "kernels/kernel_family.h"

namespace unet::graph {

void set_conv_attrs(const Graph& g, const Node& node, plan::Op& op) {
  const bool conv = node.kind == OpKind::conv2d;
  const Node& in = g.nodes[node.inputs.at(0)];
  op.i[kernels::kAttrStride] = node.stride;
  if (node.padding == Padding::same) {
    op.i[kernels::kAttrPadTop] = conv ? conv_same_pad_before(in.h, node.kh, node.stride)
                                      : tconv_same_pad_before(node.kh, node.stride);
    op.i[kernels::kAttrPadLeft] = conv ? conv_same_pad_before(in.w, node.kw, node.stride)
                                       : tconv_same_pad_before(node.kw, node.stride);
  }
}

void set_dropout_attrs(const Graph& g, int node, plan::Op& op) {
  op.f[0] = g.nodes[node].rate;
  const uint64_t seed = dropout_seed(g.seed, static_cast<uint64_t>(node));
  op.i[kernels::kAttrSeedLo] = static_cast<int32_t>(static_cast<uint32_t>(seed));
  op.i[kernels::kAttrSeedHi] = static_cast<int32_t>(static_cast<uint32_t>(seed >> 32));
}

}  // namespace unet::graph
