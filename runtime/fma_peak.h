// The fp32 FMA peak of the compute threads together: what a whole-step figure is a share of
// on this host, with these threads and this placement (a shared or virtual machine may give
// 16 threads far less than 16 times one).
#pragma once

#include "runtime/thread_pool.h"

namespace unet::runtime {

// Floating-point operations per second (an FMA counts 2 a lane) of every pool thread running
// independent 512-bit FMA chains at once, over wall-clock time, best of a few runs. Throws if
// the host lacks AVX-512F.
double measure_fma_peak_flops(ThreadPool& pool);

}  // namespace unet::runtime
