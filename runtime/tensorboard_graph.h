// The compiled plan as a GraphDef, so TensorBoard's Graphs tab draws the UNet as it runs: one
// node per op of each list, named "<list>/<label>" with the label `unetc --dump` prints
// ("forward/conv1b+pool1", "backward/pool1.bwd+conv1b.relu_bwd", "update/adam"), so the three
// lists are three boxes to open; its family as the op type; the kernel, its tile and the set
// attributes as attributes; and an edge from the op that last wrote each tensor it reads.
// Tensors no op wrote before (images, masks, weights, Adam's moments) are source nodes:
// "data/<name>" placeholders and "state/<name>" variables.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "data/tensorboard_event.h"
#include "plan/plan.h"

namespace unet::runtime {

std::vector<data::GraphNode> plan_graph(const plan::Plan& plan);

// The tile part of a kernel's name (DESIGN.md names a kernel op_dtype_tile_isa):
// "conv2d_fwd_f32_3x3_wino2x2_oc32_avx512" -> "3x3_wino2x2_oc32"; "" for the reference
// kernels ("conv2d_fwd_f32_ref") and names outside that scheme.
std::string kernel_tile(std::string_view kernel);

}  // namespace unet::runtime
