// Each kernel family's tensor slots: position in Op::tensors, name, layout, whether required,
// and how the op uses it. One table serves the plan validator, the memory planner's liveness
// (graph/op_access) and --dump alike.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>

#include "plan/plan.h"

namespace unet::plan {

// How an op uses the tensor in a slot: what liveness (the memory planner) and the order
// checks are built on. Accumulating into an output counts as writing it.
enum class Access : uint8_t { read, write, read_write /* modified in place */ };

// One tensor slot of a kernel family: its position in Op::tensors is its index in the span.
struct TensorSlot {
  std::string_view name;  // "x", "w", "b", "y", "dy", ...
  Layout layout;
  bool required;
  Access access;
};
std::span<const TensorSlot> family_slots(Family family);

}  // namespace unet::plan
