#include "graph/op_access.h"

#include <stdexcept>

#include "plan/plan_validate.h"

namespace unet::graph {

// The family's slot table (plan/plan_validate.h) says how each slot is used.
OpAccess op_access(const plan::Op& op) {
  if (op.family >= kernels::Family::count) throw std::logic_error("op_access: invalid family");
  OpAccess a;
  const auto slots = plan::family_slots(op.family);
  for (size_t s = 0; s < slots.size(); ++s) {
    const int32_t id = op.tensors[s];
    if (id < 0) continue;
    if (slots[s].access != plan::Access::write) a.reads.push_back(id);
    if (slots[s].access != plan::Access::read) a.writes.push_back(id);
  }
  return a;
}

}  // namespace unet::graph
