// Checks a decoded (or freshly compiled) plan for everything the runtime relies on, so a
// corrupt or hostile plan whose checksum is right is an error message, never a crash:
// dims bounded, tensors inside the arena and large enough for their layout, views inside
// their base, parameters matching their tensors, every op's kernel known, of the op's
// family and tier, and every op's tensors present with the layouts and shapes its family
// needs (kernels/kernel_family.h).
#pragma once
#include <span>
#include <string>
#include <string_view>

#include "base/limits.h"
#include "kernels/kernel_registry.h"
#include "kernels/family_signature.h"  // the slots and names the checks are stated in
#include "plan/plan.h"
#include "plan/plan_io.h"
#include "plan/plan_names.h"

namespace unet::plan {

// Largest value of any single dimension (n, c, h, w, kernel sizes, strides, windows).
inline constexpr uint32_t kMaxDim = limits::kMaxPlanDim;
// Largest arena a plan may ask for (1 TiB): anything bigger is a corrupt number.
inline constexpr uint64_t kMaxArenaBytes = limits::kMaxPlanArenaBytes;

// Bytes a tensor of this layout and these dims needs (channel and block padding included);
// 0 if the product overflows 64 bits.
uint64_t required_bytes(Layout layout, uint32_t n, uint32_t c, uint32_t h, uint32_t w);

// Does an output extent (rows or columns) follow from an input extent for a conv with this
// kernel size, stride and leading pad, with a trailing pad of pad_before or pad_before + 1
// (TensorFlow 'same' and 'valid' both do)? tconv: the same for a transposed conv, checked
// as the conv from its output back to its input ('same': in*stride, 'valid':
// (in-1)*stride + kernel).
bool conv_extent_fits(int64_t in, int64_t kernel, int64_t stride, int64_t pad_before,
                      int64_t out);
bool tconv_extent_fits(int64_t in, int64_t kernel, int64_t stride, int64_t pad_before,
                       int64_t out);

// Finds a kernel's metadata by name; the default is the registry (kernels::find_kernel).
using KernelLookup = const kernels::KernelInfo* (*)(std::string_view name);

// Throws PlanError "<source>: <where>: <what is wrong>" for the first inconsistency found.
void validate_plan(const Plan& plan, const std::string& source);
void validate_plan(const Plan& plan, const std::string& source, KernelLookup lookup);

}  // namespace unet::plan
