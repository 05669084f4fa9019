// runtime/tune_file: the document round-trips exactly, and every kind of damage is one line
// naming the file and the place.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "runtime/runtime_error.h"
#include "runtime/tune_file.h"
#include "tune_fixtures.h"

namespace {

using namespace unet;
using runtime::TuneFile;

TuneFile sample() {
  TuneFile f;
  f.cpu = "Intel(R) Xeon(R) \"quoted\" \xc3\xa9";  // quotes and UTF-8 survive the escaping
  f.tier = kernels::Tier::avx512;
  f.threads = 3;
  f.batch = 2;
  f.model = "tiny_tune";
  f.date = "2025-06-30T23:59:59Z";
  f.budget_seconds = 12.5;
  f.untimed_ops = 4;
  runtime::TunedOp op;
  op.list = "forward";
  op.label = "c1b+p1";
  op.family = "conv2d_fwd";
  op.shape = "mb2ic16ih16iw16oc32oh16ow16kh3kw3ph1pw1_relu_bias_pool";
  op.default_kernel = "conv2d_fwd_f32_3x3_wino2x2_oc32_avx512";
  op.chosen_kernel = "conv2d_fwd_f32_3x3_oc32w12_avx512";
  op.candidates = {{"conv2d_fwd_f32_3x3_wino2x2_oc32_avx512", 1.0 / 3.0 * 1e-4, 1e-5 / 3.0, 5},
                   {"conv2d_fwd_f32_3x3_oc32w12_avx512", 9.87654321012345e-5, 9e-5, 5},
                   {"conv2d_fwd_f32_ref", 0.0123, 0.0123, 0}};
  f.ops.push_back(op);
  op.list = "backward";
  op.label = "c1b.bwd_weights";
  op.family = "conv2d_bwd_weights";
  op.shape = "mb2ic16ih16iw16oc32oh16ow16kh3kw3ph1pw1_bias";
  op.default_kernel = op.chosen_kernel = "conv2d_bwd_weights_f32_3x3_oc32i4x3_avx512";
  op.candidates = {{"conv2d_bwd_weights_f32_3x3_oc32i4x3_avx512", 2e-5, 1.5e-5, 5},
                   {"conv2d_bwd_weights_f32_ref", 1e-3, 1e-3, 0}};
  f.ops.push_back(op);
  return f;
}

void expect_same(const TuneFile& a, const TuneFile& b) {
  EXPECT_EQ(a.cpu, b.cpu);
  EXPECT_EQ(a.tier, b.tier);
  EXPECT_EQ(a.threads, b.threads);
  EXPECT_EQ(a.batch, b.batch);
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.date, b.date);
  EXPECT_EQ(a.budget_seconds, b.budget_seconds);
  EXPECT_EQ(a.untimed_ops, b.untimed_ops);
  ASSERT_EQ(a.ops.size(), b.ops.size());
  for (size_t k = 0; k < a.ops.size(); ++k) {
    const runtime::TunedOp &x = a.ops[k], &y = b.ops[k];
    EXPECT_EQ(x.list, y.list);
    EXPECT_EQ(x.label, y.label);
    EXPECT_EQ(x.family, y.family);
    EXPECT_EQ(x.shape, y.shape);
    EXPECT_EQ(x.default_kernel, y.default_kernel);
    EXPECT_EQ(x.chosen_kernel, y.chosen_kernel);
    ASSERT_EQ(x.candidates.size(), y.candidates.size());
    for (size_t c = 0; c < x.candidates.size(); ++c) {
      EXPECT_EQ(x.candidates[c].kernel, y.candidates[c].kernel);
      EXPECT_EQ(x.candidates[c].seconds, y.candidates[c].seconds);  // bit for bit
      EXPECT_EQ(x.candidates[c].min_seconds, y.candidates[c].min_seconds);
      EXPECT_EQ(x.candidates[c].runs, y.candidates[c].runs);
    }
  }
}

// The error of parsing `text` as "t.json" (empty when it parses).
std::string error_of(const std::string& text) {
  try {
    runtime::parse_tune_file(text, "t.json");
  } catch (const runtime::RuntimeError& e) {
    return e.what();
  }
  return "";
}

// The sample's text with the first `from` replaced by `to`.
std::string edited(const std::string& from, const std::string& to) {
  std::string s = runtime::tune_file_json(sample());
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? s : s.replace(at, from.size(), to);
}

TEST(TuneFile, RoundTripsThroughTheFileExactly) {
  const std::string dir = test::scratch_dir();
  const std::string path = dir + "/tune.json";
  runtime::write_tune_file(sample(), path);
  expect_same(runtime::read_tune_file(path), sample());
  // Written atomically: nothing but the file is left in the folder.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 2u);  // model.def and tune.json
}

TEST(TuneFile, AnEmptyOpListRoundTrips) {
  TuneFile f = sample();
  f.ops.clear();
  expect_same(runtime::parse_tune_file(runtime::tune_file_json(f), "t.json"), f);
}

TEST(TuneFile, SyntaxErrorsNameTheLineAndColumn) {
  const std::string text = runtime::tune_file_json(sample());
  const std::string e = error_of(text.substr(0, text.size() / 2));
  EXPECT_EQ(e.rfind("t.json: line ", 0), 0u) << e;
  EXPECT_NE(e.find(", column "), std::string::npos) << e;
  EXPECT_EQ(error_of("not json").rfind("t.json: line 1, column 1: ", 0), 0u) << error_of("not json");
  EXPECT_EQ(error_of("").rfind("t.json: line 1, column 1: ", 0), 0u) << error_of("");
}

TEST(TuneFile, AForeignDocumentIsNotATuneFile) {
  EXPECT_EQ(error_of(R"({"format": "unetconvert-manifest-1"})"),
            "t.json: not a tune file (its \"format\" is not \"unet-tune\": write one with unetbench tune)");
  EXPECT_EQ(error_of("[1, 2]"), "t.json: the document is an array, expected a tune file's object");
  EXPECT_EQ(error_of(edited("\"version\": 1", "\"version\": 2")), "t.json: version: is 2; this build reads version 1");
}

TEST(TuneFile, EachDamagedFieldIsNamed) {
  const struct {
    std::string from, to, error;
  } cases[] = {
      {"\"threads\": 3", "\"threads\": \"3\"", "t.json: threads: is a string, expected a number"},
      {"\"threads\": 3", "\"threads\": 0", "t.json: threads: is 0, expected a whole number from 1 to 1048576"},
      {"\"batch\": 2", "\"batch\": 2.5", "t.json: batch: is 2.5, expected a whole number from 1 to 65536"},
      {"\"tier\": \"avx512\"", "\"tier\": \"sse2\"",
       "t.json: tier: 'sse2' is not scalar, avx512f, avx512 or avx512_bf16"},
      {"\"model\": \"tiny_tune\", ", "", "t.json: model: missing"},
      {"\"list\": \"forward\"", "\"list\": \"sideways\"",
       "t.json: ops[0].list: 'sideways' is not forward, backward or update"},
      {"\"family\": \"conv2d_fwd\"", "\"family\": \"conv9d\"",
       "t.json: ops[0] (forward/c1b+p1).family: 'conv9d' is not a kernel family"},
      {"\"chosen\": \"conv2d_fwd_f32_3x3_oc32w12_avx512\"", "\"chosen\": \"conv2d_fwd_f32_fastest\"",
       "t.json: ops[0] (forward/c1b+p1).chosen: 'conv2d_fwd_f32_fastest' is not a registered kernel"},
      {"\"chosen\": \"conv2d_fwd_f32_3x3_oc32w12_avx512\"", "\"chosen\": \"maxpool2d_fwd_f32_zmm_avx512\"",
       "t.json: ops[0] (forward/c1b+p1).chosen: 'maxpool2d_fwd_f32_zmm_avx512' is a maxpool2d_fwd kernel, the op is "
       "conv2d_fwd"},
      {"\"tier\": \"avx512\"", "\"tier\": \"avx512f\"",
       "t.json: ops[0] (forward/c1b+p1).default: 'conv2d_fwd_f32_3x3_wino2x2_oc32_avx512' needs tier avx512, the file "
       "is for tier avx512f"},
      {"\"seconds\": 0.0123", "\"seconds\": -1",
       "t.json: ops[0] (forward/c1b+p1).candidates[2].seconds: is -1, expected seconds (0 or more)"},
      {"\"min_seconds\": 0.0123", "\"min_seconds\": 0.5",
       "t.json: ops[0] (forward/c1b+p1).candidates[2].min_seconds: is 0.5, more than the median 0.0123"},
      {"{\"kernel\": \"conv2d_fwd_f32_ref\"", "{\"kernel\": \"conv2d_fwd_f32_3x3_oc32w12_avx512\"",
       "t.json: ops[0] (forward/c1b+p1).candidates[2].kernel: 'conv2d_fwd_f32_3x3_oc32w12_avx512' is listed twice"},
      {"\"label\": \"c1b.bwd_weights\"", "\"label\": \"c1b\\nx\"", "t.json: ops[1].label: holds a control character"},
  };
  for (const auto& c : cases) EXPECT_EQ(error_of(edited(c.from, c.to)), c.error) << c.from << " -> " << c.to;
}

TEST(TuneFile, TheChoiceMustHaveBeenTimed) {
  TuneFile f = sample();
  f.ops[0].candidates.pop_back();
  f.ops[0].candidates.pop_back();  // the chosen direct kernel is gone
  EXPECT_EQ(error_of(runtime::tune_file_json(f)),
            "t.json: ops[0] (forward/c1b+p1).chosen: 'conv2d_fwd_f32_3x3_oc32w12_avx512' is not among the candidates");
  f = sample();
  f.ops.push_back(f.ops[0]);
  EXPECT_EQ(error_of(runtime::tune_file_json(f)), "t.json: ops[2]: forward/c1b+p1 is named twice");
}

TEST(TuneFile, ReadingAMissingOrHugeFileIsOneLine) {
  const std::string dir = test::scratch_dir();
  try {
    runtime::read_tune_file(dir + "/absent.json");
    FAIL();
  } catch (const runtime::RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/absent.json"), std::string::npos) << e.what();
  }
  // Refused by its size before it is parsed (a sparse file: no disk is used).
  const std::string huge = dir + "/huge.json";
  test::spit(huge, "{");
  std::filesystem::resize_file(huge, (uint64_t{64} << 20) + 1);
  try {
    runtime::read_tune_file(huge);
    FAIL();
  } catch (const runtime::RuntimeError& e) {
    EXPECT_EQ(std::string(e.what()), huge + ": 67108865 bytes; a tune file is at most 67108864");
  }
}

TEST(TuneFile, MismatchesAreOneLineEach) {
  const TuneFile f = sample();
  EXPECT_TRUE(runtime::tune_file_mismatches(f, "t.json", f.cpu, f.tier, f.batch, f.threads).empty());
  EXPECT_TRUE(runtime::tune_file_mismatches(f, "t.json", f.cpu, f.tier, f.batch, 0).empty());
  const auto w = runtime::tune_file_mismatches(f, "t.json", "Other CPU", kernels::Tier::avx512f, 8, 1);
  ASSERT_EQ(w.size(), 4u);
  EXPECT_NE(w[0].find("this host is 'Other CPU'"), std::string::npos) << w[0];
  EXPECT_EQ(w[1], "t.json: tuned at tier avx512, the plan is for tier avx512f");
  EXPECT_EQ(w[2].rfind("t.json: tuned at batch 2, the plan is for batch 8", 0), 0u) << w[2];
  EXPECT_EQ(w[3], "t.json: tuned with 3 threads, the plan is for 1");
  for (const std::string& line : w) EXPECT_EQ(line.find('\n'), std::string::npos);
}

}  // namespace
