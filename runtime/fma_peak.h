// The fp32 FMA peak: what a whole-step figure is a share of on this host, with these threads
// and this placement (a shared or virtual machine may give 16 threads far less than 16 times
// one), and what one thread's kernel timings are a share of. One probe, two ways to count.
#pragma once

#include "runtime/thread_pool.h"

namespace unet::runtime {

// Floating-point operations per second (an FMA counts 2 a lane) of every pool thread running
// independent 512-bit FMA chains at once, over wall-clock time, best of a few runs. Throws if
// the host lacks AVX-512F.
double measure_fma_peak_flops(ThreadPool& pool);

// The same chains on the calling thread alone, per second of its CPU time (base/thread_clock.h),
// best of a few runs: the peak single-thread kernel benchmarks quote. Throws without AVX-512F.
double measure_fma_peak_flops_this_thread();

}  // namespace unet::runtime
