// The wire format of the parameter-server protocol: a fixed little-endian header, then a
// payload of `length` bytes. net/ knows bytes and (tensor id, offset, length) only; what a
// tensor id means is the runtime's business.
//
//   offset size field
//   0      4    magic "UNPS"
//   4      2    protocol version (kProtocolVersion)
//   6      2    type (FrameType)
//   8      8    step
//   16     4    tensor id
//   20     4    reserved, zero
//   24     8    offset (bytes into the tensor the payload starts at)
//   32     8    length (payload bytes)
//   40     4    CRC32C of header bytes [0, 40) followed by the payload
//   44     4    reserved, zero
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace unet::net {

inline constexpr uint32_t kFrameMagic = 0x53504E55;  // "UNPS" read as a little-endian u32
inline constexpr uint16_t kProtocolVersion = 1;
inline constexpr size_t kFrameHeaderBytes = 48;

// Every message of the protocol (docs/distributed.md gives the sequence).
enum class FrameType : uint16_t {
  hello = 1,          // worker -> PS: handshake opening (handshake.h)
  challenge = 2,      // PS -> worker: server nonce
  proof = 3,          // worker -> PS: HMAC of the challenge
  welcome = 4,        // PS -> worker: accepted, server's proof + application bytes
  refuse = 5,         // either way: refused, payload is the reason (text)
  dice_partials = 6,  // worker -> PS 0: per-image Dice partials of its share (3 f32 an image)
  global_sums = 7,    // PS 0 -> worker: the global batch's Dice sums (3 f64)
  gradient = 8,       // worker -> PS shard: a parameter's gradient (its share's sum)
  pull = 9,           // worker -> PS shard: send me this parameter once it is updated for `step`
  value = 10,         // PS shard -> worker: a parameter's value for `step`
  state_request = 11, // chief -> PS shard: values and Adam moments after `step` updates
  adam_m = 12,        // PS shard -> chief: a parameter's first moments (reply to state_request)
  adam_v = 13,        // PS shard -> chief: a parameter's second moments
  state_done = 14,    // PS shard -> chief: every tensor of the state reply has been sent
  heartbeat = 15,     // either way: I am alive (sent when idle; no payload)
  done = 16,          // worker -> PS: finished; PS -> worker: acknowledged
  abort = 17,         // either way: the run stops, payload is the reason (text)
};
inline constexpr uint16_t kMaxFrameType = 17;
std::string_view frame_type_name(FrameType t);

struct FrameHeader {
  FrameType type = FrameType::heartbeat;
  uint64_t step = 0;
  uint32_t tensor = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint32_t crc = 0;  // as received; encode_header fills it
};

// A frame that breaks the format (bad magic, version, type, reserved bytes, CRC, length over
// the caller's bound, truncation). what() is one line naming the field.
class FrameError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The one format error a peer of another build makes on purpose: the PS answers it with a
// refuse frame naming both versions (handshake.h) instead of just dropping the connection.
class FrameVersionError : public FrameError {
 public:
  FrameVersionError(const std::string& what, uint16_t version) : FrameError(what), version_(version) {}
  uint16_t version() const { return version_; }

 private:
  uint16_t version_;
};

using HeaderBytes = std::array<std::byte, kFrameHeaderBytes>;

// The header with its CRC32C computed over the header's first 40 bytes and the payload given
// as parts (scatter-gather: the parts are never copied).
HeaderBytes encode_header(const FrameHeader& h, std::span<const std::span<const std::byte>> payload);

// Parses and checks magic, version, type and reserved bytes; does not check the CRC (the
// payload has not been read yet). Throws FrameError.
FrameHeader decode_header(std::span<const std::byte, kFrameHeaderBytes> bytes);

// Checks the CRC of a received frame: `header_bytes` as received, `payload` its bytes.
bool frame_crc_ok(std::span<const std::byte, kFrameHeaderBytes> header_bytes, const FrameHeader& h,
                  std::span<const std::byte> payload);

}  // namespace unet::net
