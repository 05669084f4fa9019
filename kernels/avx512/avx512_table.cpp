// Placeholder until the AVX-512 kernels land: no optimised kernels are registered yet.
#include "kernels/kernel_registry.h"

namespace unet::kernels {
std::span<const KernelInfo> avx512_kernels() { return {}; }
}  // namespace unet::kernels
