// A single-thread fp32 FMA throughput probe: the peak that kernel timings are a share of
// (runtime/fma_peak.h measures all the compute threads at once).
#pragma once

namespace unet::bench {

// Floating-point operations per second (an FMA counts 2 per lane) of independent 512-bit FMA
// chains on one thread per second of its CPU time, best of a few runs. Needs AVX-512F; the caller checks the host.
double measure_fma_peak_flops();

}  // namespace unet::bench
