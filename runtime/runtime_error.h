#pragma once
#include <stdexcept>

namespace unet::runtime {

// A failure the user can act on (bad flags, files, shapes): what() is one line.
class RuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace unet::runtime
