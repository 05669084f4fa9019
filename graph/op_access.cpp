#include "graph/op_access.h"

#include <initializer_list>
#include <stdexcept>

namespace unet::graph {

OpAccess op_access(const plan::Op& op) {
  using kernels::Family;
  OpAccess a;
  const auto pick = [&](std::initializer_list<int> reads, std::initializer_list<int> writes) {
    for (int r : reads)
      if (op.tensors[r] >= 0) a.reads.push_back(op.tensors[r]);
    for (int w : writes)
      if (op.tensors[w] >= 0) a.writes.push_back(op.tensors[w]);
  };
  switch (op.family) {
    case Family::conv2d_fwd:
    case Family::tconv2d_fwd:
      pick({0, 1, 2}, {3});
      break;
    case Family::conv2d_bwd_data:
    case Family::tconv2d_bwd_data:
      pick({0, 1}, {2});
      break;
    case Family::conv2d_bwd_weights:
    case Family::tconv2d_bwd_weights:
      pick({0, 1}, {2, 3});
      break;
    case Family::maxpool2d_fwd:
    case Family::upsample2d_fwd:
    case Family::dropout_fwd:
    case Family::upsample2d_bwd:
    case Family::dropout_bwd:
    case Family::copy_channels:
      pick({0}, {1});
      break;
    case Family::maxpool2d_bwd:
      pick({0, 1, 2}, {3});
      break;
    case Family::relu_bwd:
    case Family::sigmoid_bwd:
      pick({0, 1}, {1});
      break;
    case Family::sigmoid_dice_fwd:
      pick({0, 1}, {2, 3});
      break;
    case Family::sigmoid_dice_bwd:
      pick({0, 1}, {2});
      break;
    case Family::adam_update:
      pick({0, 1, 2, 3}, {0, 2, 3});
      break;
    case Family::count:
      throw std::logic_error("op_access: invalid family");
  }
  if (const int relu = kernels::relu_mask_slot(op.family); relu >= 0) pick({relu}, {});
  return a;
}

}  // namespace unet::graph
