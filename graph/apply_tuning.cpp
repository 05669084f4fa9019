#include "graph/apply_tuning.h"

#include <map>
#include <utility>

#include <fmt/format.h>

#include "kernels/kernel_registry.h"
#include "plan/kernel_fit.h"
#include "plan/op_lists.h"
#include "plan/op_shape.h"

namespace unet::graph {
namespace {

// Overrides left out for one reason: how many, and the first one's story.
struct Skipped {
  size_t count = 0;
  std::string first;
  void add(std::string what) {
    if (count++ == 0) first = std::move(what);
  }
};

}  // namespace

TuningOutcome apply_kernel_overrides(plan::Plan& plan, std::span<const KernelOverride> overrides,
                                     std::string_view source) {
  std::map<std::pair<std::string_view, std::string_view>, plan::Op*> ops;
  for (plan::OpListKind l : plan::kOpLists)
    for (plan::Op& op : plan::op_list(plan, l))
      ops.emplace(std::pair{plan::op_list_name(l), std::string_view(op.label)}, &op);

  TuningOutcome out;
  Skipped absent, other_family, other_shape, misfit;
  for (const KernelOverride& o : overrides) {
    const std::string name = o.list + "/" + o.label;
    const auto it = ops.find({o.list, o.label});
    if (it == ops.end()) {
      absent.add(name);
      continue;
    }
    plan::Op& op = *it->second;
    const std::string_view family = kernels::family_name(op.family);
    if (o.family != family) {
      other_family.add(fmt::format("{}: {} in the file, {} here", name, o.family, family));
      continue;
    }
    if (const std::string shape = plan::op_shape(plan, op); o.shape != shape) {
      other_shape.add(fmt::format("{}: {} in the file, {} here", name, o.shape, shape));
      continue;
    }
    const kernels::KernelInfo* k = kernels::find_kernel(o.kernel);
    const std::string why = k ? plan::kernel_misfit(plan, op, *k) : "is not a registered kernel";
    if (!why.empty()) {
      misfit.add(fmt::format("{}: '{}' {}", name, o.kernel, why));
      continue;
    }
    (op.kernel == k->name ? out.unchanged : out.changed) += 1;
    op.kernel = std::string(k->name);
  }

  // "1 tuned op has ... (x); it keeps ..." or "3 tuned ops have ... (first: x); they keep ...".
  auto report = [&](const Skipped& s, std::string_view one, std::string_view many, bool kept) {
    if (s.count == 0) return;
    out.ignored += s.count;
    const bool single = s.count == 1;
    out.warnings.push_back(fmt::format("{}: {} tuned op{} {} ({}{}); {}", source, s.count, single ? "" : "s",
                                       single ? one : many, single ? "" : "first: ", s.first,
                                       !kept    ? "ignored"
                                       : single ? "it keeps its default kernel"
                                                : "they keep their default kernels"));
  };
  report(absent, "names no op of this plan", "name no op of this plan", false);
  report(other_family, "has another family in this plan", "have another family in this plan", true);
  report(other_shape, "has another shape in this plan", "have another shape in this plan", true);
  report(misfit, "names a kernel that cannot run it here", "name a kernel that cannot run them here", true);
  return out;
}

}  // namespace unet::graph
