// The one allocation a plan runs in: activations, gradients, parameters and moments.
#pragma once
#include <cstddef>

namespace unet::runtime {

class Arena {
 public:
  // numa_node < 0: anywhere (first touch). Otherwise memory is preferred on that node, as
  // `numactl -p` does: MCDRAM on KNL is such a node, and allocation falls back when it is full.
  Arena(size_t bytes, int numa_node);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  std::byte* data() const { return data_; }
  size_t size() const { return bytes_; }

 private:
  std::byte* data_ = nullptr;
  size_t bytes_ = 0;
  size_t mapped_ = 0;
};

}  // namespace unet::runtime
