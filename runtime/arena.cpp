#include "runtime/arena.h"

#include <numa.h>
#include <numaif.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "runtime/runtime_error.h"

namespace unet::runtime {

Arena::Arena(size_t bytes, int numa_node) : bytes_(bytes) {
  // mmap gives page-aligned, zeroed memory, so every 64-byte plan offset is aligned too.
  mapped_ = bytes == 0 ? 4096 : (bytes + 4095) / 4096 * 4096;
  void* p = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw RuntimeError(fmt::format("cannot allocate the plan's arena of {} bytes: {}", bytes,
                                   std::strerror(errno)));
  madvise(p, mapped_, MADV_HUGEPAGE);
  if (numa_node >= 0) {
    if (numa_available() < 0 || numa_node > numa_max_node()) {
      munmap(p, mapped_);
      throw RuntimeError(fmt::format("--numa_node {}: no such NUMA node on this host (nodes 0..{})",
                                     numa_node, numa_available() < 0 ? 0 : numa_max_node()));
    }
    unsigned long mask[16] = {};
    mask[numa_node / (8 * sizeof(unsigned long))] |= 1ul << (numa_node % (8 * sizeof(unsigned long)));
    if (mbind(p, mapped_, MPOL_PREFERRED, mask, sizeof(mask) * 8, 0) != 0) {
      munmap(p, mapped_);
      throw RuntimeError(fmt::format("--numa_node {}: mbind failed: {}", numa_node, std::strerror(errno)));
    }
  }
  data_ = static_cast<std::byte*>(p);
}

Arena::~Arena() {
  if (data_) munmap(data_, mapped_);
}

}  // namespace unet::runtime
