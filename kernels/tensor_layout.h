// How the elements of a tensor lie in memory: the layouts kernels are written for
// (kernels/tensor_arg.h says what each field of a view means in each). The plan records one
// per tensor; a family's signature (kernels/family_signature.h) names the one of each slot.
#pragma once
#include <cstdint>

namespace unet::kernels {

enum class Layout : uint8_t {
  nChw16c = 0,     // activations (kernels/tensor_arg.h)
  nhw = 1,         // one-channel plain images: targets and predictions
  flat = 2,        // w elements
  oihw16i16o = 3,  // conv and transposed-conv weights (kernels/kernel_family.h)
};

}  // namespace unet::kernels
