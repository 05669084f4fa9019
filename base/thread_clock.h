// CPU time of the calling thread: on a shared machine, what the thread got rather than how
// long it waited for a core, which is what single-thread kernel figures are quoted against.
#pragma once
#include <ctime>

namespace unet::base {

inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace unet::base
