// Placeholder until the AVX-512 kernels of the non-3x3 families land.
#include "kernels/kernel_registry.h"

namespace unet::kernels {
std::span<const KernelInfo> avx512_more_kernels() { return {}; }
}  // namespace unet::kernels
