// ISA tiers a plan is compiled for, and what the host CPU offers.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace unet::kernels {

enum class Tier : uint8_t {
  scalar = 0,       // reference kernels, any x86-64
  avx512f = 1,      // the subset Knights Landing has: AVX-512 F (+CD), no BW/DQ/VL
  avx512 = 2,       // Skylake-SP and later, Zen 4/5: F, CD, BW, DQ, VL
  avx512_bf16 = 3,  // avx512 + AVX512_BF16 (Cooper Lake, Sapphire Rapids, Zen 4/5)
};

std::string_view tier_name(Tier t);
std::optional<Tier> tier_from_name(std::string_view name);  // "scalar", "avx512f", ...
// A tier "includes" every lower one: code for avx512f runs on an avx512 host.
bool tier_includes(Tier host, Tier needed);

// The CPU features a tier needs that this host lacks, space-separated ("" if none).
std::string missing_features(Tier t);
Tier best_host_tier();

}  // namespace unet::kernels
