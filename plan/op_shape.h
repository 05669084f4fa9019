// An op named by its problem alone, as a text descriptor: what a tune file records for each
// op, what the compiler compares before it takes a tuned kernel, and what tells two ops apart
// whose kernels run the same problem (so a tuner times that problem once).
#pragma once
#include <string>

#include "plan/plan.h"

namespace unet::plan {

// The convolutions as oneDNN's benchdnn names problems (mb, ic, ih, iw, oc, oh, ow, kh, kw,
// sh/sw when not 1, ph, pw: "mb2ic32ih64iw64oc64oh64ow64kh3kw3ph1pw1"; a transposed one names
// its smaller input ic/ih/iw as benchdnn's deconvolution does); pools and upsampling alike
// ("mb2ic32ih128iw128oh64ow64kh2kw2sh2sw2", "...f2"); element-wise families by their tensor
// ("mb2c32h64w64"), Adam by its length ("n7759521"). Then, '_'-separated, what else changes
// the work a kernel does or which kernels may take the op: the activation ("relu",
// "sigmoid"), a bias ("bias"), the folded epilogues ("pool", "drop0.2", "mask" for a folded
// ReLU backward), accumulation ("acc"), and every operand that is a channel slice of a wider
// buffer ("dxof64": dx is a slice of a 64-channel tensor). Dropout seeds are left out: they
// change the values, not the work. Tensor ids must be valid (a validated plan).
std::string op_shape(const Plan& plan, const Op& op);

}  // namespace unet::plan
