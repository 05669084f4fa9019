#include "graph/lower.h"

#include <fmt/format.h>

#include "graph/autodiff.h"
#include "graph/concat_elimination.h"
#include "graph/dropout_fold.h"
#include "graph/kernel_choice.h"
#include "graph/lower_forward.h"
#include "graph/lower_params.h"
#include "graph/lower_update.h"
#include "graph/lowering_state.h"
#include "graph/max_pool_fold.h"
#include "graph/memory_planner.h"
#include "graph/relu_backward_fold.h"

namespace unet::graph {

void fail_at(const Graph& graph, const Node& node, const std::string& what) {
  throw LowerError(fmt::format("model '{}': node '{}' (line {}:{}): {}", graph.name, node.name,
                               node.loc.line, node.loc.col, what));
}

plan::Plan lower_to_plan(const Graph& graph, const LowerOptions& options) {
  if (options.batch < 1)
    throw LowerError(fmt::format("model '{}': batch must be at least 1", graph.name));
  LoweringState state(graph, options);
  check_loss_structure(state);

  plan::Plan& p = state.plan;
  p.model_name = graph.name;
  p.tier = options.tier;
  p.training = options.training;
  p.batch = options.batch;
  p.seed = graph.seed;
  p.optimizer = graph.optimizer;
  p.dice_smooth = graph.nodes[graph.loss].smooth;
  const Node& input = graph.nodes[graph.input];
  p.in_c = static_cast<uint32_t>(input.c);
  p.in_h = static_cast<uint32_t>(input.h);
  p.in_w = static_cast<uint32_t>(input.w);

  create_params(state);
  create_values(state);
  eliminate_concats(state);
  emit_forward(state);
  if (options.training) emit_backward(state);
  place_persistent(p);
  if (options.training) emit_update(p);
  choose_kernels(p);
  if (options.training && options.fold_dropouts) fold_dropouts(p);  // before: a pool may read its output
  if (options.fold_max_pools) fold_max_pools(p);
  if (options.training && options.fold_relu_backward) fold_relu_backward(p);
  place_transient(p);
  return std::move(state.plan);
}

}  // namespace unet::graph
