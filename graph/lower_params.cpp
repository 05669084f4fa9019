#include "graph/lower_params.h"

#include "graph/plan_tensors.h"
#include "graph/seed_streams.h"
#include "kernels/tensor_arg.h"

namespace unet::graph {

namespace {

using plan::Layout;
using plan::TensorRole;

int32_t add_param(LoweringState& state, const std::string& name, plan::ParamKind kind,
                  plan::Init init, uint32_t co, uint32_t ci, uint32_t kh, uint32_t kw) {
  plan::Plan& p = state.plan;
  plan::Param param;
  param.name = name;
  param.kind = kind;
  param.init = init;
  param.co = co;
  const bool is_bias = kind == plan::ParamKind::bias;
  if (!is_bias) {
    param.ci = ci;
    param.kh = kh;
    param.kw = kw;
  }
  const auto index = static_cast<int32_t>(p.params.size());
  param.seed = param_seed(state.graph.seed, static_cast<uint64_t>(index));
  // Every copy of a parameter (value, gradient, moments) has the value's layout and dims,
  // so the regions line up and one flat Adam op covers them.
  const Layout layout = is_bias ? Layout::flat : Layout::oihw16i16o;
  const uint32_t n = is_bias ? 1 : co, c = is_bias ? 1 : ci, h = is_bias ? 1 : kh;
  const uint32_t w = is_bias ? static_cast<uint32_t>(kernels::padded_channels(static_cast<int>(co))) : kw;
  param.value = add_tensor(p, name, TensorRole::param, layout, n, c, h, w);
  if (state.options.training) {
    param.grad = add_tensor(p, name + "/grad", TensorRole::param_grad, layout, n, c, h, w);
    param.adam_m = add_tensor(p, name + "/adam_m", TensorRole::adam_m, layout, n, c, h, w);
    param.adam_v = add_tensor(p, name + "/adam_v", TensorRole::adam_v, layout, n, c, h, w);
  }
  p.params.push_back(std::move(param));
  return index;
}

}  // namespace

void create_params(LoweringState& state) {
  const Graph& g = state.graph;
  for (size_t id = 0; id < g.nodes.size(); ++id) {
    const Node& node = g.nodes[id];
    if (node.kind != OpKind::conv2d && node.kind != OpKind::conv2d_transpose) continue;
    const auto kind = node.kind == OpKind::conv2d ? plan::ParamKind::conv_kernel
                                                  : plan::ParamKind::tconv_kernel;
    const auto co = static_cast<uint32_t>(node.c);
    const auto ci = static_cast<uint32_t>(g.nodes[node.inputs.at(0)].c);
    state.kernel_param[id] = add_param(state, node.name + "/kernel", kind, node.kernel_init, co, ci,
                                       static_cast<uint32_t>(node.kh), static_cast<uint32_t>(node.kw));
    state.bias_param[id] = add_param(state, node.name + "/bias", plan::ParamKind::bias,
                                     node.bias_init, co, 0, 0, 0);
  }
}

}  // namespace unet::graph
