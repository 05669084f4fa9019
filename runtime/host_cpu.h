// The name of this host's CPU model, as /proc/cpuinfo gives it: what a tune file records, so
// that a plan tuned on one machine says so when it is compiled for another.
#pragma once
#include <string>

namespace unet::runtime {

// The first "model name" of /proc/cpuinfo ("AMD EPYC", "Intel(R) Xeon(R) Platinum 8480+"),
// spaces trimmed; "unknown" where there is none (no /proc, another architecture).
std::string host_cpu_model();

}  // namespace unet::runtime
