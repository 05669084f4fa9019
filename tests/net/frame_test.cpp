#include "net/frame.h"

#include <gtest/gtest.h>

#include <vector>

#include "base/crc32c.h"

namespace unet::net {
namespace {

std::vector<std::byte> pattern(size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131 + seed) & 0xFF);
  return v;
}

FrameHeader sample_header(uint64_t length) {
  FrameHeader h;
  h.type = FrameType::gradient;
  h.step = 0x0102030405060708ull;
  h.tensor = 0xA1B2C3D4u;
  h.offset = 0x1122334455667788ull;
  h.length = length;
  return h;
}

template <typename F>
std::string frame_error_of(F&& f) {
  try {
    f();
  } catch (const FrameError& e) {
    return e.what();
  }
  return "(no FrameError)";
}

TEST(Frame, RoundTrip) {
  auto a = pattern(100, 1), b = pattern(0, 2), c = pattern(333, 3);
  const std::span<const std::byte> parts[] = {a, b, c};
  FrameHeader h = sample_header(433);
  HeaderBytes bytes = encode_header(h, parts);
  FrameHeader d = decode_header(bytes);
  EXPECT_EQ(d.type, h.type);
  EXPECT_EQ(d.step, h.step);
  EXPECT_EQ(d.tensor, h.tensor);
  EXPECT_EQ(d.offset, h.offset);
  EXPECT_EQ(d.length, h.length);

  std::vector<std::byte> whole(a);
  whole.insert(whole.end(), c.begin(), c.end());
  EXPECT_TRUE(frame_crc_ok(bytes, d, whole));
  // Gathered parts and their concatenation give the same CRC.
  const std::span<const std::byte> one[] = {whole};
  EXPECT_EQ(encode_header(h, one), bytes);
  EXPECT_EQ(d.crc, base::crc32c(whole.data(), whole.size(), base::crc32c(bytes.data(), 40)));
}

TEST(Frame, LittleEndianLayout) {
  HeaderBytes b = encode_header(sample_header(0x99), {});
  auto at = [&](size_t i) { return std::to_integer<unsigned>(b[i]); };
  EXPECT_EQ(at(0), unsigned{'U'});
  EXPECT_EQ(at(1), unsigned{'N'});
  EXPECT_EQ(at(2), unsigned{'P'});
  EXPECT_EQ(at(3), unsigned{'S'});
  EXPECT_EQ(at(4), 1u);  // version
  EXPECT_EQ(at(5), 0u);
  EXPECT_EQ(at(6), 8u);  // gradient
  EXPECT_EQ(at(8), 0x08u);
  EXPECT_EQ(at(15), 0x01u);
  EXPECT_EQ(at(16), 0xD4u);
  EXPECT_EQ(at(24), 0x88u);
  EXPECT_EQ(at(32), 0x99u);
  for (size_t i = 20; i < 24; ++i) EXPECT_EQ(at(i), 0u);
  for (size_t i = 44; i < 48; ++i) EXPECT_EQ(at(i), 0u);
  uint32_t crc = base::crc32c(b.data(), 40);
  EXPECT_EQ(at(40), crc & 0xFF);
  EXPECT_EQ(at(43), crc >> 24);
}

TEST(Frame, BadMagic) {
  HeaderBytes b = encode_header(sample_header(0), {});
  b[0] = std::byte{'G'};
  EXPECT_EQ(frame_error_of([&] { decode_header(b); }),
            "frame header: bad magic 0x53504E47, expected 0x53504E55 (\"UNPS\")");
}

TEST(Frame, OtherProtocolVersion) {
  HeaderBytes b = encode_header(sample_header(0), {});
  b[4] = std::byte{2};
  try {
    decode_header(b);
    FAIL() << "no error";
  } catch (const FrameVersionError& e) {
    EXPECT_EQ(e.version(), 2);
    EXPECT_STREQ(e.what(), "frame header: protocol version 2, this build speaks 1");
  }
}

TEST(Frame, UnknownType) {
  HeaderBytes b = encode_header(sample_header(0), {});
  b[6] = std::byte{99};
  EXPECT_EQ(frame_error_of([&] { decode_header(b); }), "frame header: unknown frame type 99");
  b[6] = std::byte{0};
  EXPECT_EQ(frame_error_of([&] { decode_header(b); }), "frame header: unknown frame type 0");
  b[6] = std::byte{kMaxFrameType + 1};
  EXPECT_EQ(frame_error_of([&] { decode_header(b); }), "frame header: unknown frame type 18");
  b[6] = std::byte{kMaxFrameType};
  EXPECT_EQ(decode_header(b).type, FrameType::abort);
}

TEST(Frame, ReservedBytesNotZero) {
  for (size_t i : {20u, 23u, 44u, 47u}) {
    HeaderBytes b = encode_header(sample_header(0), {});
    b[i] = std::byte{1};
    EXPECT_EQ(frame_error_of([&] { decode_header(b); }), "frame header: reserved bytes not zero") << "byte " << i;
  }
}

TEST(Frame, CrcCatchesAFlippedBitAnywhere) {
  auto payload = pattern(64, 9);
  const std::span<const std::byte> parts[] = {payload};
  HeaderBytes b = encode_header(sample_header(payload.size()), parts);
  FrameHeader h = decode_header(b);
  ASSERT_TRUE(frame_crc_ok(b, h, payload));
  for (size_t i = 0; i < payload.size(); ++i) {
    auto bad = payload;
    bad[i] ^= std::byte{0x10};
    EXPECT_FALSE(frame_crc_ok(b, h, bad)) << "payload byte " << i;
  }
  for (size_t i = 8; i < 40; ++i) {  // step, tensor, reserved, offset, length
    HeaderBytes bad = b;
    bad[i] ^= std::byte{0x01};
    EXPECT_FALSE(frame_crc_ok(bad, h, payload)) << "header byte " << i;
  }
}

TEST(Frame, TypeNames) {
  for (uint16_t t = 1; t <= kMaxFrameType; ++t) EXPECT_NE(frame_type_name(static_cast<FrameType>(t)), "unknown") << t;
  EXPECT_EQ(frame_type_name(FrameType::gradient), "gradient");
  EXPECT_EQ(frame_type_name(FrameType::hello), "hello");
  EXPECT_EQ(frame_type_name(static_cast<FrameType>(99)), "unknown");
}

}  // namespace
}  // namespace unet::net
