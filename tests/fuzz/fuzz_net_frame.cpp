// A frame as it arrives: the 48-byte header through decode_header (magic, version, type,
// reserved bytes), then the CRC check over header and payload. A header that decodes must
// re-encode to the same 48 bytes (nothing in it is dropped or defaulted), and the CRC check
// must agree with the CRC encode_header computes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "net/frame.h"
#include "tests/fuzz/fuzz_support.h"

using namespace unet::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kFrameHeaderBytes) return 0;
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  const std::span<const std::byte, kFrameHeaderBytes> header(bytes, kFrameHeaderBytes);
  const std::span<const std::byte> payload(bytes + kFrameHeaderBytes, size - kFrameHeaderBytes);
  FrameHeader h;
  try {
    h = decode_header(header);
  } catch (const FrameVersionError& e) {
    UNET_FUZZ_CHECK(e.version() != kProtocolVersion, "version error for our own version");
    return 0;
  } catch (const FrameError&) {
    return 0;
  }
  UNET_FUZZ_CHECK(static_cast<uint16_t>(h.type) >= 1 && static_cast<uint16_t>(h.type) <= kMaxFrameType, "type");
  UNET_FUZZ_CHECK(frame_type_name(h.type) != "unknown", "a decoded type has no name");
  const std::span<const std::byte> parts[] = {payload};
  const HeaderBytes again = encode_header(h, parts);
  // Bytes [40, 44) are the CRC: the re-encoding computes it, so only the rest must match as
  // is, and the CRC must match exactly when frame_crc_ok says the received one is right.
  UNET_FUZZ_CHECK(std::memcmp(again.data(), header.data(), 40) == 0, "re-encoded header differs");
  UNET_FUZZ_CHECK(std::memcmp(again.data() + 44, header.data() + 44, 4) == 0, "reserved tail differs");
  const bool crc_ok = frame_crc_ok(header, h, payload);
  UNET_FUZZ_CHECK(crc_ok == (std::memcmp(again.data() + 40, header.data() + 40, 4) == 0), "CRC check disagrees");
  // The payload split in two parts (scatter-gather) gives the same CRC as in one.
  const size_t half = payload.size() / 2;
  const std::span<const std::byte> split[] = {payload.first(half), payload.subspan(half)};
  UNET_FUZZ_CHECK(encode_header(h, split) == again, "split payload changes the CRC");
  return 0;
}
