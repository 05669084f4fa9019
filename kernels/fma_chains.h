// The fp32 FMA peak probe's kernel (AVX-512F): benchmarks report kernel and step speed as a
// share of what this reaches on the same host, in the same program.
#pragma once

namespace unet::kernels {

// Runs 24 independent chains of 512-bit FMAs for `iterations` rounds; returns a value that
// depends on every chain (keep it, or the work can be dropped). Needs AVX-512F: callers check.
float run_fma_chains(long iterations, float seed);

// The floating-point operations run_fma_chains(iterations) performs (an FMA counts 2 a lane).
double fma_chains_flops(long iterations);

}  // namespace unet::kernels
