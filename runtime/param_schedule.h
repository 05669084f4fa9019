// Where each parameter sits in a step's op lists: the forward op that first reads its value
// (a worker waits there for the new weights), the backward op after which its gradient is
// final and the one after which its value is no longer read (a worker pushes and pulls
// there). Derived from the ops' tensor slots: values are only read and gradients only
// written by the forward and backward lists.
#pragma once
#include <cstddef>
#include <vector>

#include "plan/plan.h"

namespace unet::runtime {

struct ParamSchedule {
  static constexpr size_t kNone = static_cast<size_t>(-1);
  struct Entry {
    size_t first_forward_read = kNone;  // forward op index, or kNone
    size_t grad_final = kNone;          // backward op index of the last writer of its gradient
    size_t last_backward_read = kNone;  // backward op index of the last reader of its value
  };
  std::vector<Entry> params;                       // by plan.params index
  std::vector<std::vector<size_t>> forward_reads;  // per forward op: params it reads first
  std::vector<std::vector<size_t>> grads_final;    // per backward op: params final after it
  std::vector<std::vector<size_t>> values_free;    // per backward op: params not read after it
  std::vector<size_t> free_before_backward;        // params the backward never reads

  explicit ParamSchedule(const plan::Plan& plan);
};

}  // namespace unet::runtime
