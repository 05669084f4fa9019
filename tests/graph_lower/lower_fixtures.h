// Helpers shared by the lowering tests: compile model.def text, find tensors and ops by name.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "graph/graph_ir.h"
#include "graph/lower.h"
#include "kernels/kernel_registry.h"
#include "plan/plan.h"
#include "plan/plan_validate.h"

namespace unet::test {

// The plan as autodiff and the other lowering passes leave it; fold_relu / fold_pools /
// fold_dropouts: with the fusion passes that fold ReLU backwards into their gradient's last
// writer, max-pools and dropouts into their conv's epilogue (each tested on its own).
inline plan::Plan compile(const std::string& text, bool training = true, uint32_t batch = 2,
                          bool fold_relu = false, bool fold_pools = false, bool fold_dropouts = false) {
  const graph::Graph g = graph::parse_model(text, "test.def");
  graph::LowerOptions options{batch, kernels::Tier::scalar, training};
  options.fold_relu_backward = fold_relu;
  options.fold_max_pools = fold_pools;
  options.fold_dropouts = fold_dropouts;
  return graph::lower_to_plan(g, options);
}

inline int32_t tensor_id(const plan::Plan& p, const std::string& name) {
  for (size_t t = 0; t < p.tensors.size(); ++t)
    if (p.tensors[t].name == name) return static_cast<int32_t>(t);
  ADD_FAILURE() << "no tensor named " << name;
  return -1;
}

inline const plan::Tensor& tensor(const plan::Plan& p, const std::string& name) {
  static const plan::Tensor missing;
  const int32_t id = tensor_id(p, name);
  return id >= 0 ? p.tensors[id] : missing;
}

inline const plan::Op* find_op(const std::vector<plan::Op>& ops, const std::string& label) {
  for (const auto& op : ops)
    if (op.label == label) return &op;
  return nullptr;
}

inline std::string first_problems(const std::vector<std::string>& problems) {
  std::string out;
  for (size_t k = 0; k < problems.size() && k < 8; ++k) out += problems[k] + "\n";
  return out;
}

// model.def header: one 16x16 single-channel image and its mask.
inline int count_family(const std::vector<plan::Op>& ops, kernels::Family f) {
  int n = 0;
  for (const auto& op : ops) n += op.family == f;
  return n;
}

// Validates p with a kernel lookup that knows `kernel` without one capability (a bool member
// of KernelInfo, e.g. &KernelInfo::relu_mask) and returns the error it throws ("" if none).
inline std::string validation_error_without(const plan::Plan& p, const std::string& kernel,
                                            bool kernels::KernelInfo::*capability) {
  static kernels::KernelInfo blind;  // a plain function pointer cannot capture: one at a time
  blind = *kernels::find_kernel(kernel);
  blind.*capability = false;
  const plan::KernelLookup lookup = [](std::string_view name) -> const kernels::KernelInfo* {
    return name == blind.name ? &blind : kernels::find_kernel(name);
  };
  try {
    plan::validate_plan(p, "plan.bin", lookup);
  } catch (const plan::PlanError& e) {
    return e.what();
  }
  return "";
}

inline const char* kHeader =
    "model t\nseed 7\ninput images shape 16x16x1\ntarget masks shape 16x16x1\n";

}  // namespace unet::test
