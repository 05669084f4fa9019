// The one error of the compiler's back half, apart from lower.h so the passes (autodiff,
// kernel choice) name it without reaching back to the entry point.
#pragma once
#include <stdexcept>

namespace unet::graph {

// A graph that cannot be lowered (no kernel for an op at the tier, an unsupported concat
// layout, a malformed loss): what() is one line naming the model and the node.
class LowerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace unet::graph
