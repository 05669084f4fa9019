#include "kernels/isa_tier.h"

namespace unet::kernels {

std::string_view tier_name(Tier t) {
  switch (t) {
    case Tier::scalar: return "scalar";
    case Tier::avx512f: return "avx512f";
    case Tier::avx512: return "avx512";
    case Tier::avx512_bf16: return "avx512_bf16";
  }
  return "?";
}

std::optional<Tier> tier_from_name(std::string_view name) {
  for (Tier t : {Tier::scalar, Tier::avx512f, Tier::avx512, Tier::avx512_bf16})
    if (tier_name(t) == name) return t;
  return std::nullopt;
}

bool tier_includes(Tier host, Tier needed) {
  return static_cast<int>(host) >= static_cast<int>(needed);
}

std::string missing_features(Tier t) {
  __builtin_cpu_init();
  std::string missing;
  auto need = [&](bool have, const char* name) {
    if (!have) missing += (missing.empty() ? "" : " ") + std::string(name);
  };
  if (tier_includes(t, Tier::avx512f)) {
    need(__builtin_cpu_supports("avx512f"), "avx512f");
    need(__builtin_cpu_supports("fma"), "fma");
  }
  if (tier_includes(t, Tier::avx512)) {
    need(__builtin_cpu_supports("avx512bw"), "avx512bw");
    need(__builtin_cpu_supports("avx512dq"), "avx512dq");
    need(__builtin_cpu_supports("avx512vl"), "avx512vl");
  }
  if (tier_includes(t, Tier::avx512_bf16)) need(__builtin_cpu_supports("avx512bf16"), "avx512bf16");
  return missing;
}

Tier best_host_tier() {
  for (Tier t : {Tier::avx512_bf16, Tier::avx512, Tier::avx512f})
    if (missing_features(t).empty()) return t;
  return Tier::scalar;
}

}  // namespace unet::kernels
