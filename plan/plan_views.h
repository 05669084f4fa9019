// Kernel views of a plan's tensors and ops: what the runtime binds to arena memory, and what
// the compiler asks kernels about (shapes only, no memory) when it chooses among them.
#pragma once
#include <cstddef>

#include "kernels/kernel_call.h"
#include "plan/plan.h"

namespace unet::plan {

// The view of tensor `id` inside `arena` (layouts as in kernels/tensor_arg.h). With a null
// arena, data pointers are null: a shape-only view.
kernels::TensorArg tensor_arg(const Plan& plan, int id, std::byte* arena);

// The call an op makes: its tensors' views and its attributes (step scalars not set).
kernels::KernelCall op_call(const Plan& plan, const Op& op, std::byte* arena);

}  // namespace unet::plan
