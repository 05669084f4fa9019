// Which tensors an op reads and which it writes, from its family's slot table
// (plan/family_slots.h: one table serves validation and liveness alike): what
// the memory planner's liveness and the plan checkers are built on.
#pragma once
#include <vector>

#include "plan/plan.h"

namespace unet::graph {

struct OpAccess {
  std::vector<int32_t> reads;   // tensor ids the op reads (not counting accumulation)
  std::vector<int32_t> writes;  // tensor ids it writes or accumulates into
  // In-place modifiers (relu_bwd, sigmoid_bwd) list their tensor in both.
};

OpAccess op_access(const plan::Op& op);

bool op_reads(const plan::Op& op, int32_t tensor);
bool op_writes(const plan::Op& op, int32_t tensor);  // writes or accumulates into

// The index of the last op of ops[0, end) that writes `tensor`, or -1: whose value a reader at
// position `end` sees (the fusion passes fold an op into that writer).
int last_writer(const std::vector<plan::Op>& ops, size_t end, int32_t tensor);

}  // namespace unet::graph
