#include "net/frame.h"

#include <fmt/format.h>

#include "base/crc32c.h"

namespace unet::net {
namespace {

// Field by field, so the wire format does not depend on struct layout or host byte order.
template <typename T>
void put_le(std::span<std::byte, kFrameHeaderBytes> out, size_t at, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out[at + i] = static_cast<std::byte>((v >> (8 * i)) & 0xFFu);
}

template <typename T>
T get_le(std::span<const std::byte, kFrameHeaderBytes> in, size_t at) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(std::to_integer<T>(in[at + i]) << (8 * i));
  return v;
}

constexpr size_t kCrcAt = 40;

uint32_t frame_crc(std::span<const std::byte, kFrameHeaderBytes> header,
                   std::span<const std::span<const std::byte>> payload) {
  uint32_t crc = base::crc32c(header.data(), kCrcAt);
  for (auto part : payload) crc = base::crc32c(part.data(), part.size(), crc);
  return crc;
}

}  // namespace

std::string_view frame_type_name(FrameType t) {
  switch (t) {
    case FrameType::hello: return "hello";
    case FrameType::challenge: return "challenge";
    case FrameType::proof: return "proof";
    case FrameType::welcome: return "welcome";
    case FrameType::refuse: return "refuse";
    case FrameType::dice_partials: return "dice_partials";
    case FrameType::global_sums: return "global_sums";
    case FrameType::gradient: return "gradient";
    case FrameType::pull: return "pull";
    case FrameType::value: return "value";
    case FrameType::state_request: return "state_request";
    case FrameType::adam_m: return "adam_m";
    case FrameType::adam_v: return "adam_v";
    case FrameType::state_done: return "state_done";
    case FrameType::heartbeat: return "heartbeat";
    case FrameType::done: return "done";
    case FrameType::abort: return "abort";
  }
  return "unknown";
}

HeaderBytes encode_header(const FrameHeader& h, std::span<const std::span<const std::byte>> payload) {
  HeaderBytes b{};  // reserved fields stay zero
  put_le<uint32_t>(b, 0, kFrameMagic);
  put_le<uint16_t>(b, 4, kProtocolVersion);
  put_le<uint16_t>(b, 6, static_cast<uint16_t>(h.type));
  put_le<uint64_t>(b, 8, h.step);
  put_le<uint32_t>(b, 16, h.tensor);
  put_le<uint64_t>(b, 24, h.offset);
  put_le<uint64_t>(b, 32, h.length);
  put_le<uint32_t>(b, kCrcAt, frame_crc(b, payload));
  return b;
}

FrameHeader decode_header(std::span<const std::byte, kFrameHeaderBytes> bytes) {
  uint32_t magic = get_le<uint32_t>(bytes, 0);
  if (magic != kFrameMagic)
    throw FrameError(fmt::format("frame header: bad magic 0x{:08X}, expected 0x{:08X} (\"UNPS\")", magic,
                                 kFrameMagic));
  uint16_t version = get_le<uint16_t>(bytes, 4);
  if (version != kProtocolVersion)
    throw FrameVersionError(
        fmt::format("frame header: protocol version {}, this build speaks {}", version, kProtocolVersion),
        version);
  uint16_t type = get_le<uint16_t>(bytes, 6);
  if (type == 0 || type > kMaxFrameType)
    throw FrameError(fmt::format("frame header: unknown frame type {}", type));
  if (get_le<uint32_t>(bytes, 20) != 0 || get_le<uint32_t>(bytes, 44) != 0)
    throw FrameError("frame header: reserved bytes not zero");
  FrameHeader h;
  h.type = static_cast<FrameType>(type);
  h.step = get_le<uint64_t>(bytes, 8);
  h.tensor = get_le<uint32_t>(bytes, 16);
  h.offset = get_le<uint64_t>(bytes, 24);
  h.length = get_le<uint64_t>(bytes, 32);
  h.crc = get_le<uint32_t>(bytes, kCrcAt);
  return h;
}

bool frame_crc_ok(std::span<const std::byte, kFrameHeaderBytes> header_bytes, const FrameHeader& h,
                  std::span<const std::byte> payload) {
  const std::span<const std::byte> parts[] = {payload};
  return frame_crc(header_bytes, parts) == h.crc;
}

}  // namespace unet::net
