// The runtime's side of the parameter-server protocol: what the payloads of its control
// frames hold (net/ carries them as bytes). Everything is little-endian.
//   welcome app bytes  u64 the parameter server's global step (updates applied so far)
//   global_sums        3 x f64: intersection, predicted, truth of the global batch
//   dice_partials      3 x f32 an image of the sender's share, in global-batch order
//   refuse / abort     reason text, at most kMaxReasonBytes
//   done (PS -> worker) no payload; tensor kDoneAcknowledged or kDoneRunEnded
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "base/limits.h"
#include "runtime/step_exchange.h"

namespace unet::runtime::wire {

inline constexpr size_t kWelcomeBytes = 8;
inline constexpr size_t kGlobalSumsBytes = 24;
// A PS's done frame: `tensor` says whether it acknowledges the worker's own done, or tells it
// the chief ended the run (step: the run's last).
inline constexpr uint32_t kDoneRunEnded = 0, kDoneAcknowledged = 1;

// The hosts we build for are little-endian (x86-64); memcpy keeps the reads aligned-agnostic.
inline void put_u64(std::byte* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline uint64_t get_u64(const std::byte* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline std::array<std::byte, kGlobalSumsBytes> encode_sums(const DiceSums& s) {
  std::array<std::byte, kGlobalSumsBytes> out;
  const double d[3] = {s.intersection, s.predicted, s.truth};
  std::memcpy(out.data(), d, sizeof d);
  return out;
}
inline DiceSums decode_sums(std::span<const std::byte> bytes) {
  double d[3];
  std::memcpy(d, bytes.data(), sizeof d);
  DiceSums s;
  s.intersection = d[0];
  s.predicted = d[1];
  s.truth = d[2];
  return s;
}

inline std::span<const std::byte> text_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), std::min(s.size(), limits::kMaxReasonBytes)};
}
inline std::string bytes_text(std::span<const std::byte> b) {
  std::string s(reinterpret_cast<const char*>(b.data()), b.size());
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';  // one line, whatever a peer sent
  return s;
}

}  // namespace unet::runtime::wire
