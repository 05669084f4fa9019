// Which kernels exist: name, family, ISA tier and entry points. The graph compiler reads the
// metadata (names, families, tiers) to choose kernels; the runtime resolves names to code.
#pragma once
#include <span>
#include <string_view>

#include "kernels/family_signature.h"
#include "kernels/isa_tier.h"
#include "kernels/kernel_call.h"
#include "kernels/kernel_family.h"

namespace unet::kernels {

// Name a kernel by what it is: op, data type, tile, ISA, e.g. "conv2d_fwd_f32_ref",
// "conv2d_fwd_f32_oc32x14w_avx512".
struct KernelInfo {
  std::string_view name;
  Family family;
  Tier tier;     // the lowest tier whose CPU features it needs
  int priority;  // among kernels usable for a family and tier, the highest is preferred
  WorkFn work;
  RunFn run;
  // The shapes and attributes it computes (only dims and attributes of the call are set, no
  // data); nullptr: every call its family allows (the reference kernels). work() and run()
  // see only calls it accepts: a shape it declines goes to the next-best kernel when the plan
  // is compiled (best_kernel), never from inside its body, so --dump names the kernel that
  // runs, and the plan validator refuses a plan naming it for a shape it declines.
  bool (*supports)(const KernelCall&) = nullptr;
  // Honours the family's optional relu_y tensor (kernel_family.h, relu_mask_slot): the graph
  // compiler folds a ReLU backward into this kernel only when it is set.
  bool relu_mask = false;
  // Honours the family's optional pool_y tensor (kernel_family.h, pool_epilogue_slot): the
  // graph compiler folds a max-pool into this kernel only when it is set.
  bool pool_epilogue = false;
  // Honours i[kAttrFoldedDropout] (kernel_family.h, has_dropout_epilogue).
  bool dropout_epilogue = false;
};

std::span<const KernelInfo> all_kernels();
const KernelInfo* find_kernel(std::string_view name);  // nullptr if unknown
const KernelInfo* reference_kernel(Family family);     // the scalar specification
// The preferred kernel of `family` that a plan compiled for `tier` may use; with `shape`,
// only kernels that support that call.
const KernelInfo* best_kernel(Family family, Tier tier, const KernelCall* shape = nullptr);

// Tables contributed by each implementation folder.
std::span<const KernelInfo> reference_kernels();  // kernels/ref/
std::span<const KernelInfo> avx512_kernels();     // kernels/avx512/: 3x3 convolution
std::span<const KernelInfo> avx512_more_kernels();  // kernels/avx512/: the other families

}  // namespace unet::kernels
