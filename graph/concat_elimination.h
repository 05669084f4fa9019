// Concat elimination: a concat's inputs are written by their producers straight into channel
// slices of the concat's tensor (views), so no copy runs; an input that cannot be a view is
// copied into its slice instead.
#pragma once
#include "graph/lowering_state.h"

namespace unet::graph {

// Decides every concat slot (state.concat_slots), turning aliased inputs' tensors into views
// of the concat's tensor and creating slice views for copied ones. Runs after create_values.
//
// An input is aliased when its tensor is an activation produced by a conv, transposed conv,
// upsample, max-pool or dropout op, is not already a view of another concat, and its other
// consumers all come before the concat's last consumer: backward then writes the concat's
// whole gradient first and the other consumers' contributions add to the slice.
void eliminate_concats(LoweringState& state);

}  // namespace unet::graph
