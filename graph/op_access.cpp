#include "graph/op_access.h"

#include <algorithm>
#include <stdexcept>

#include "kernels/family_signature.h"

namespace unet::graph {

// The family's slot table (plan/family_slots.h) says how each slot is used.
OpAccess op_access(const plan::Op& op) {
  if (op.family >= kernels::Family::count) throw std::logic_error("op_access: invalid family");
  OpAccess a;
  const auto slots = kernels::family_signature(op.family).slots;
  for (size_t s = 0; s < slots.size(); ++s) {
    const int32_t id = op.tensors[s];
    if (id < 0) continue;
    if (slots[s].access != kernels::Access::write) a.reads.push_back(id);
    if (slots[s].access != kernels::Access::read) a.writes.push_back(id);
  }
  return a;
}

namespace {
bool holds(const std::vector<int32_t>& ids, int32_t tensor) {
  return std::find(ids.begin(), ids.end(), tensor) != ids.end();
}
}  // namespace

bool op_reads(const plan::Op& op, int32_t tensor) { return holds(op_access(op).reads, tensor); }
bool op_writes(const plan::Op& op, int32_t tensor) { return holds(op_access(op).writes, tensor); }

int last_writer(const std::vector<plan::Op>& ops, size_t end, int32_t tensor) {
  for (size_t k = std::min(end, ops.size()); k-- > 0;)
    if (op_writes(ops[k], tensor)) return static_cast<int>(k);
  return -1;
}

}  // namespace unet::graph
