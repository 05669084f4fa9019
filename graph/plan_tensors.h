// Creating plan tensors: sizes by layout, channel-slice views for concat elimination.
#pragma once
#include <cstdint>
#include <string>

#include "plan/plan.h"

namespace unet::graph {

// Bytes a tensor of this layout and shape spans (channel blocks and weight blocks padded).
uint64_t layout_bytes(plan::Layout layout, uint32_t n, uint32_t c, uint32_t h, uint32_t w);

// Appends a tensor with its size filled in; returns its id.
int32_t add_tensor(plan::Plan& plan, std::string name, plan::TensorRole role,
                   plan::Layout layout, uint32_t n, uint32_t c, uint32_t h, uint32_t w);

// Turns `tensor` into channels [channel_offset, channel_offset + its c) of `base` (same n, h,
// w, nChw16c); a view `base` is followed to its root. Its bytes become the span from its
// first element to the end of its last image.
void make_channel_view(plan::Plan& plan, int32_t tensor, int32_t base, uint32_t channel_offset);

// Appends a new view tensor of `c` channels of `base` at `channel_offset`; returns its id.
int32_t add_channel_view(plan::Plan& plan, std::string name, int32_t base,
                         uint32_t channel_offset, uint32_t c);

// Removes a tensor nothing refers to (no op slot, parameter, view or plan field) and renumbers
// the ids above it; throws std::logic_error if something does.
void remove_tensor(plan::Plan& plan, int32_t tensor);

// Follows view_of to the tensor that owns the memory; `channel_offset` gets the sum of the
// offsets along the way.
int32_t view_root(const plan::Plan& plan, int32_t tensor, uint32_t* channel_offset = nullptr);

}  // namespace unet::graph
