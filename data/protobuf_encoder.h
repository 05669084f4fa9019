// Protocol-buffer wire format, writing side only: varints, fixed 32/64-bit values and
// length-delimited fields (strings, bytes, nested messages, packed arrays). It is all the event
// files need (data/tensorboard_event.h), so no libprotobuf and no generated code: a nested
// message is encoded into its own ProtoEncoder and added with message().
//
// Every field given is written, zeros included. That is valid protobuf (a proto3 reader takes
// an explicit default as the default) and it is what a oneof needs: Summary.Value's
// simple_value of 0.0 must be on the wire, or the reader sees no value at all.
#pragma once
#include <bit>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace unet::data {

class ProtoEncoder {
 public:
  enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

  // int32, int64, uint64, bool, enum. A negative int32/int64 takes ten bytes, as protobuf
  // sign-extends them.
  void varint(uint32_t field, uint64_t value) {
    tag(field, kVarint);
    raw_varint(value);
  }
  void int64(uint32_t field, int64_t value) { varint(field, static_cast<uint64_t>(value)); }
  void boolean(uint32_t field, bool value) { varint(field, value ? 1 : 0); }
  void float32(uint32_t field, float value) {
    tag(field, kFixed32);
    raw_fixed(std::bit_cast<uint32_t>(value));
  }
  void float64(uint32_t field, double value) {
    tag(field, kFixed64);
    raw_fixed(std::bit_cast<uint64_t>(value));
  }
  void bytes(uint32_t field, std::string_view value) {
    tag(field, kLengthDelimited);
    raw_varint(value.size());
    out_.append(value);
  }
  void message(uint32_t field, const ProtoEncoder& nested) { bytes(field, nested.out_); }
  // repeated double [packed = true]: one length-delimited field of fixed64 values.
  void packed_float64(uint32_t field, std::span<const double> values) {
    tag(field, kLengthDelimited);
    raw_varint(values.size() * sizeof(double));
    for (double v : values) raw_fixed(std::bit_cast<uint64_t>(v));
  }

  const std::string& str() const { return out_; }
  std::string take() { return std::move(out_); }
  size_t size() const { return out_.size(); }

 private:
  void tag(uint32_t field, WireType type) { raw_varint(uint64_t{field} << 3 | type); }
  void raw_varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  template <typename U>
  void raw_fixed(U v) {  // little-endian byte by byte, so the host's byte order does not matter
    for (size_t k = 0; k < sizeof(U); ++k) out_.push_back(static_cast<char>(v >> (8 * k)));
  }

  std::string out_;
};

}  // namespace unet::data
