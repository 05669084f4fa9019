// plan.bin encoding: round trips, corruption caught by the header and checksum, truncation
// and hostile lengths reported as PlanError with the place named.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "plan/plan_io.h"
#include "tests/plan/tiny_plan.h"

namespace unet::plan {
namespace {

using testing::first_difference;
using testing::make_tiny_plan;

// The what() of the PlanError that f throws ("" when it throws none).
template <typename F>
std::string plan_error(F&& f) {
  try {
    f();
  } catch (const PlanError& e) {
    return e.what();
  }
  return "";
}

std::span<const uint8_t> body_of(const std::vector<uint8_t>& file) {
  return std::span<const uint8_t>(file).subspan(kHeaderBytes);
}

// First byte where two encodings differ: locates a field without restating the format.
size_t first_diff_byte(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  size_t k = 0;
  while (k < a.size() && k < b.size() && a[k] == b[k]) ++k;
  return k;
}

TEST(PlanIo, RoundTripKeepsEveryFieldAndBytes) {
  const Plan plan = make_tiny_plan();
  const std::vector<uint8_t> bytes = encode_plan(plan);
  const Plan back = decode_plan(bytes, "plan.bin");
  EXPECT_EQ(first_difference(plan, back), "");
  EXPECT_EQ(encode_plan(back), bytes);
  EXPECT_EQ(plan_fingerprint(back), plan_fingerprint(plan));
}

TEST(PlanIo, HeaderCarriesMagicVersionLengthAndFingerprint) {
  const Plan plan = make_tiny_plan();
  const std::vector<uint8_t> bytes = encode_plan(plan);
  ASSERT_GT(bytes.size(), kHeaderBytes);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 8), "UNETPLAN");
  EXPECT_EQ(bytes[8], kFormatVersion);  // little-endian u32
  EXPECT_EQ(bytes[9], 0);
  uint64_t body_length = 0, fingerprint = 0;
  for (int b = 0; b < 8; ++b) body_length |= uint64_t{bytes[20 + b]} << (8 * b);
  for (int b = 0; b < 8; ++b) fingerprint |= uint64_t{bytes[32 + b]} << (8 * b);
  EXPECT_EQ(body_length, bytes.size() - kHeaderBytes);
  EXPECT_EQ(fingerprint, plan_fingerprint(plan));
  EXPECT_EQ(fingerprint, body_fingerprint(body_of(bytes)));
}

TEST(PlanIo, FileRoundTripIsAtomic) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("unet_plan_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "plan.bin").string();
  const Plan plan = make_tiny_plan();
  write_plan_file(plan, path);
  Plan other = plan;
  other.model_name = "overwritten";
  write_plan_file(other, path);  // replaces the old file in one rename
  const Plan back = read_plan_file(path);
  EXPECT_EQ(first_difference(other, back), "");
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1u) << "a temporary file was left behind";
  std::filesystem::remove_all(dir);
}

TEST(PlanIo, MissingFileIsAPlanError) {
  EXPECT_EQ(plan_error([] { read_plan_file("/nonexistent/plan.bin"); }),
            "/nonexistent/plan.bin: cannot open: No such file or directory");
}

TEST(PlanIo, WriteIntoMissingFolderIsAPlanError) {
  const std::string message =
      plan_error([] { write_plan_file(make_tiny_plan(), "/nonexistent/dir/plan.bin"); });
  EXPECT_EQ(message.rfind("/nonexistent/dir/plan.bin: cannot create /nonexistent/dir/plan.bin.tmp", 0), 0u)
      << message;
}

TEST(PlanIo, EveryFlippedBodyByteFailsTheChecksum) {
  const std::vector<uint8_t> good = encode_plan(make_tiny_plan());
  for (size_t k = kHeaderBytes; k < good.size(); ++k) {
    std::vector<uint8_t> bad = good;
    bad[k] ^= 0x10;
    ASSERT_EQ(plan_error([&] { decode_plan(bad, "plan.bin"); }),
              "plan.bin: checksum mismatch (body corrupt)")
        << "byte " << k;
  }
}

TEST(PlanIo, EveryFlippedHeaderByteIsCaught) {
  const std::vector<uint8_t> good = encode_plan(make_tiny_plan());
  for (size_t k = 0; k < kHeaderBytes; ++k) {
    std::vector<uint8_t> bad = good;
    bad[k] ^= 0x01;
    const std::string message = plan_error([&] { decode_plan(bad, "plan.bin"); });
    ASSERT_EQ(message.rfind("plan.bin: ", 0), 0u) << "byte " << k << ": '" << message << "'";
  }
}

TEST(PlanIo, HeaderErrorsNameWhatIsWrong) {
  const std::vector<uint8_t> good = encode_plan(make_tiny_plan());
  auto with = [&](size_t at, uint8_t value) {
    std::vector<uint8_t> bad = good;
    bad[at] = value;
    return plan_error([&] { decode_plan(bad, "plan.bin"); });
  };
  EXPECT_EQ(with(0, 'X'), "plan.bin: not a plan file (magic 'XNETPLAN', expected 'UNETPLAN')");
  EXPECT_EQ(with(8, 7), "plan.bin: format version 7, this unetrun reads version 1");
  EXPECT_EQ(with(12, 41), "plan.bin: byte 12: header size 41, version 1 headers are 40 bytes");
  EXPECT_EQ(with(16, 9), "plan.bin: byte 16: tier value 9 is not a known ISA tier");
  EXPECT_EQ(with(16, 2), "plan.bin: header tier avx512 differs from the body's tier scalar");
  EXPECT_EQ(with(18, 1), "plan.bin: byte 17: reserved header bytes are not zero");
  EXPECT_EQ(with(33, good[33] ^ 0xff), "plan.bin: fingerprint mismatch (header corrupt)");
}

TEST(PlanIo, NotAPlanAtAll) {
  const std::string text = "hello, world: this is not a plan but it is long enough";
  const std::vector<uint8_t> bytes(text.begin(), text.end());
  EXPECT_EQ(plan_error([&] { decode_plan(bytes, "notes.txt"); }),
            "notes.txt: not a plan file (magic 'hello, w', expected 'UNETPLAN')");
  EXPECT_EQ(plan_error([&] { decode_plan({}, "empty.bin"); }),
            "empty.bin: truncated at byte 0 reading the header magic");
}

TEST(PlanIo, EveryTruncatedFileIsAPlanError) {
  const std::vector<uint8_t> good = encode_plan(make_tiny_plan());
  for (size_t n = 0; n < good.size(); ++n) {
    const std::string message =
        plan_error([&] { decode_plan(std::span(good).first(n), "plan.bin"); });
    ASSERT_EQ(message.rfind("plan.bin: ", 0), 0u) << "length " << n << ": '" << message << "'";
  }
  EXPECT_EQ(plan_error([&] { decode_plan(std::span(good).first(20), "plan.bin"); }),
            "plan.bin: truncated at byte 20 reading the header");
  EXPECT_EQ(plan_error([&] { decode_plan(std::span(good).first(50), "plan.bin"); }),
            fmt::format("plan.bin: truncated at byte 50: the header says the body has {} bytes, "
                        "10 are present",
                        good.size() - kHeaderBytes));
}

// A body cut short but framed with a right checksum: the body reader itself must notice.
TEST(PlanIo, EveryTruncatedBodyWithAValidChecksumIsAPlanError) {
  const std::vector<uint8_t> good = encode_plan(make_tiny_plan());
  const std::span<const uint8_t> body = body_of(good);
  for (size_t n = 0; n < body.size(); ++n) {
    const std::vector<uint8_t> framed = frame_plan_body(Tier::scalar, body.first(n));
    const std::string message = plan_error([&] { decode_plan(framed, "plan.bin"); });
    // Either a field runs past the end, or a list count is seen not to fit in what is left.
    const bool named = message.rfind(fmt::format("plan.bin: truncated at byte {} reading ", 40 + n), 0) == 0 ||
                       (message.rfind("plan.bin: byte ", 0) == 0 &&
                        message.find("cannot fit in the") != std::string::npos);
    ASSERT_TRUE(named) << "length " << n << ": '" << message << "'";
  }
  EXPECT_EQ(plan_error([&] { decode_plan(frame_plan_body(Tier::scalar, {}), "plan.bin"); }),
            "plan.bin: truncated at byte 40 reading model name");
  // 4 + 9 bytes of "tiny_unet", then tier, training, batch (4 bytes): cut inside batch.
  EXPECT_EQ(plan_error([&] {
              decode_plan(frame_plan_body(Tier::scalar, body.first(4 + 9 + 2 + 3)), "plan.bin");
            }),
            "plan.bin: truncated at byte 58 reading batch");
}

TEST(PlanIo, TrailingBytesAreRefused) {
  const std::vector<uint8_t> good = encode_plan(make_tiny_plan());
  std::vector<uint8_t> body(good.begin() + kHeaderBytes, good.end());
  body.push_back(0);
  EXPECT_EQ(plan_error([&] { decode_plan(frame_plan_body(Tier::scalar, body), "plan.bin"); }),
            fmt::format("plan.bin: byte {}: 1 bytes after the end of the plan", good.size()));
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  EXPECT_EQ(plan_error([&] { decode_plan(longer, "plan.bin"); }),
            fmt::format("plan.bin: byte {}: 1 bytes after the end of the body", good.size()));
}

std::vector<uint8_t> body_vector(const Plan& plan) {
  const std::vector<uint8_t> file = encode_plan(plan);
  return std::vector<uint8_t>(file.begin() + kHeaderBytes, file.end());
}

// The file offset of the first body byte that differs between two plans' encodings.
size_t field_offset(const Plan& a, const Plan& b) {
  return kHeaderBytes + first_diff_byte(body_vector(a), body_vector(b));
}

TEST(PlanIo, OutOfRangeEnumsNameTheFieldAndByte) {
  const Plan plan = make_tiny_plan();
  {
    Plan bad = plan;
    bad.tensors[17].layout = static_cast<Layout>(9);
    EXPECT_EQ(plan_error([&] { decode_plan(encode_plan(bad), "plan.bin"); }),
              fmt::format("plan.bin: byte {}: tensor 17 'region/grads': layout value 9 is not a "
                          "known layout",
                          field_offset(plan, bad)));
  }
  {
    Plan bad = plan;
    bad.tensors[3].role = static_cast<TensorRole>(10);
    EXPECT_EQ(plan_error([&] { decode_plan(encode_plan(bad), "plan.bin"); }),
              fmt::format("plan.bin: byte {}: tensor 3 'conv2/bias': role value 10 is not a "
                          "known tensor role",
                          field_offset(plan, bad)));
  }
  {
    Plan bad = plan;
    bad.params[1].init = static_cast<Init>(3);
    EXPECT_EQ(plan_error([&] { decode_plan(encode_plan(bad), "plan.bin"); }),
              fmt::format("plan.bin: byte {}: param 1 'conv1/bias': init value 3 is not a known "
                          "initialiser",
                          field_offset(plan, bad)));
  }
  {
    Plan bad = plan;
    bad.backward[2].family = static_cast<Family>(200);
    EXPECT_EQ(plan_error([&] { decode_plan(encode_plan(bad), "plan.bin"); }),
              fmt::format("plan.bin: byte {}: backward op 2: family value 200 is not a known "
                          "kernel family",
                          field_offset(plan, bad)));
  }
  {
    Plan bad = plan;
    bad.tier = static_cast<Tier>(4);
    const std::vector<uint8_t> body = body_vector(bad);
    EXPECT_EQ(plan_error([&] { decode_plan(frame_plan_body(Tier::scalar, body), "plan.bin"); }),
              "plan.bin: byte 53: tier value 4 is not a known ISA tier");
  }
}

TEST(PlanIo, HostileLengthsAreRefusedBeforeAllocating) {
  Plan plan = make_tiny_plan();
  plan.model_name = std::string(5000, 'm');
  EXPECT_EQ(plan_error([&] { decode_plan(encode_plan(plan), "plan.bin"); }),
            "plan.bin: byte 40: model name length 5000 exceeds the limit of 4096 bytes");

  // Find the tensor count by adding a tensor, then claim absurd counts there.
  const Plan base = make_tiny_plan();
  Plan more = base;
  more.tensors.push_back(more.tensors.back());
  const size_t at = field_offset(base, more) - kHeaderBytes;
  std::vector<uint8_t> body = body_vector(base);
  ASSERT_EQ(body[at], base.tensors.size());
  auto with_count = [&](uint32_t count) {
    std::vector<uint8_t> hostile = body;
    for (int b = 0; b < 4; ++b) hostile[at + b] = static_cast<uint8_t>(count >> (8 * b));
    return plan_error([&] { decode_plan(frame_plan_body(Tier::scalar, hostile), "plan.bin"); });
  };
  EXPECT_EQ(with_count(0xffffffffu),
            fmt::format("plan.bin: byte {}: tensor count 4294967295 exceeds the limit of 1048576",
                        kHeaderBytes + at));
  EXPECT_EQ(with_count(1u << 20),
            fmt::format("plan.bin: byte {}: tensor count 1048576 cannot fit in the {} bytes left",
                        kHeaderBytes + at, body.size() - at - 4));
}

TEST(PlanIo, FingerprintChangesWithEveryOpAttribute) {
  const Plan base = make_tiny_plan();
  const uint64_t reference = plan_fingerprint(base);
  EXPECT_EQ(plan_fingerprint(make_tiny_plan()), reference) << "the fingerprint is deterministic";
  size_t variants = 0;
  for (auto list : {&Plan::forward, &Plan::backward, &Plan::update}) {
    for (size_t k = 0; k < (base.*list).size(); ++k) {
      for (size_t a = 0; a < kernels::kMaxIntAttrs; ++a) {
        Plan p = base;
        (p.*list)[k].i[a] += 1;
        EXPECT_NE(plan_fingerprint(p), reference) << "op " << k << " i[" << a << "]";
        ++variants;
      }
      for (size_t a = 0; a < kernels::kMaxFloatAttrs; ++a) {
        Plan p = base;
        (p.*list)[k].f[a] = std::nextafter((p.*list)[k].f[a], 1.0f);
        EXPECT_NE(plan_fingerprint(p), reference) << "op " << k << " f[" << a << "]";
        ++variants;
      }
      for (size_t t = 0; t < kernels::kMaxTensors; ++t) {
        Plan p = base;
        (p.*list)[k].tensors[t] += 1;
        EXPECT_NE(plan_fingerprint(p), reference) << "op " << k << " tensors[" << t << "]";
      }
      Plan p = base;
      (p.*list)[k].kernel += "x";
      EXPECT_NE(plan_fingerprint(p), reference) << "op " << k << " kernel";
    }
  }
  EXPECT_EQ(variants, 13u * (kernels::kMaxIntAttrs + kernels::kMaxFloatAttrs));
  Plan other = base;
  other.tensors[5].offset += 64;
  EXPECT_NE(plan_fingerprint(other), reference);
  other = base;
  other.tier = Tier::avx512;
  EXPECT_NE(plan_fingerprint(other), reference);
}

// Found by tests/fuzz (fuzz_plan_body): a tensor name holding a newline split the one-line
// error that quotes it; every string of a plan is refused with a control character in it.
TEST(PlanIo, ControlCharacterInANameIsRefusedAtItsByte) {
  Plan plan = make_tiny_plan();
  const std::string name = plan.tensors[1].name;
  plan.tensors[1].name = name.substr(0, 1) + "\n" + name.substr(1);
  const std::vector<uint8_t> bytes = encode_plan(plan);
  const std::string message = plan_error([&] { decode_plan(bytes, "plan.bin"); });
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_NE(message.find("plan.bin: byte "), std::string::npos) << message;
  EXPECT_NE(message.find("has control character 0x0a"), std::string::npos) << message;
}

}  // namespace
}  // namespace unet::plan
