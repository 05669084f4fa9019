// unetrun --infer --png_dir --report --subject end to end on a tiny trained model, checked by
// check_report.py (numpy recomputes every Dice, the picks, each overlay pixel, the report's
// table, images and SVG) and here: each overlay's corner label read back glyph by glyph with
// the font, the --subject errors (one line naming manifest.json, nothing written), and the
// report without a usable training log.
#include <gtest/gtest.h>
#include <png.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "data/bitmap_font.h"
#include "data/json_value.h"
#include "plan/plan_io.h"
#include "runtime_fixtures.h"

namespace unet {
namespace {

namespace fs = std::filesystem;
using test::run;
using test::read_file;
using test::write_file;

constexpr const char* kPython = "/usr/bin/python3";

struct Rgb {
  uint32_t width = 0, height = 0;
  std::vector<uint8_t> px;
  const uint8_t* at(uint32_t x, uint32_t y) const { return &px[(static_cast<size_t>(y) * width + x) * 3]; }
  bool white(uint32_t x, uint32_t y) const { return at(x, y)[0] == 255 && at(x, y)[1] == 255 && at(x, y)[2] == 255; }
};

// An 8-bit RGB PNG file through libpng's reader, fed from memory; an empty image (and a
// failure) otherwise.
Rgb decode_rgb_png(const std::string& path) {
  struct Source {
    std::string bytes;
    size_t at = 0;
  } src{read_file(path)};
  Rgb img;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    ADD_FAILURE() << path << ": libpng could not read it";
    return Rgb{};
  }
  png_set_read_fn(png, &src, [](png_structp p, png_bytep out, png_size_t n) {
    auto* s = static_cast<Source*>(png_get_io_ptr(p));
    if (s->at + n > s->bytes.size()) png_error(p, "read past the end");
    std::memcpy(out, s->bytes.data() + s->at, n);
    s->at += n;
  });
  png_read_info(png, info);
  const uint32_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  if (png_get_bit_depth(png, info) != 8 || png_get_color_type(png, info) != PNG_COLOR_TYPE_RGB) {
    png_destroy_read_struct(&png, &info, nullptr);
    ADD_FAILURE() << path << ": not 8-bit RGB";
    return img;
  }
  img.width = w;
  img.height = h;
  img.px.resize(static_cast<size_t>(w) * h * 3);
  for (uint32_t y = 0; y < h; ++y) png_read_row(png, img.px.data() + static_cast<size_t>(y) * w * 3, nullptr);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return img;
}

// Reads `chars` characters of the label in the overlay's top-left corner: the text starts at
// (scale, scale) on black, and its first glyph ('D') has its top-left pixel set, so the scale
// is where the diagonal first turns white. Each glyph cell is sampled at its font pixels'
// centres and matched against every glyph of the font; '?' where none matches.
std::string read_label(const Rgb& img, size_t chars) {
  uint32_t scale = 0;
  for (uint32_t k = 1; k < std::min(img.width, img.height) && !scale; ++k)
    if (img.white(k, k)) scale = k;
  if (!scale) return "";
  const std::string alphabet = "0123456789.:-/ Dicena";
  std::string text;
  for (size_t i = 0; i < chars; ++i) {
    uint8_t rows[data::kGlyphHeight] = {};
    const uint32_t x0 = scale + static_cast<uint32_t>(i) * data::kGlyphAdvance * scale;
    for (int r = 0; r < data::kGlyphHeight; ++r)
      for (int c = 0; c < data::kGlyphWidth; ++c) {
        const uint32_t x = x0 + static_cast<uint32_t>(c) * scale + scale / 2;
        const uint32_t y = scale + static_cast<uint32_t>(r) * scale + scale / 2;
        if (x < img.width && y < img.height && img.white(x, y))
          rows[r] = static_cast<uint8_t>(rows[r] | 1 << (data::kGlyphWidth - 1 - c));
      }
    char found = '?';
    for (char ch : alphabet)
      if (std::equal(rows, rows + data::kGlyphHeight, data::glyph_rows(ch))) found = ch;
    text += found;
  }
  return text;
}

// Test split: subjects Alpha (rows 0-2, slices 40-42) and Beta (rows 3-5, slices 7, 9, 11);
// training split: TrainA and TrainB.
constexpr const char* kManifest = R"({
  "format": "unetconvert-manifest-1",
  "train": {"images": "imgs_train.npy", "masks": "msks_train.npy", "rows": 8, "subjects": [
    {"id": "TrainA", "first_row": 0, "slices": [50, 51, 52, 53]},
    {"id": "TrainB", "first_row": 4, "slices": [20, 21, 22, 23]}]},
  "test": {"images": "imgs_test.npy", "masks": "msks_test.npy", "rows": 6, "subjects": [
    {"id": "Alpha", "first_row": 0, "slices": [40, 41, 42]},
    {"id": "Beta", "first_row": 3, "slices": [7, 9, 11]}]},
  "skipped": []
}
)";

class InferenceReport : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kPython)) << kPython << " is missing: run scripts/setup.sh";
    const auto [py, pyout] = run(fmt::format("{} -c 'import numpy, png'", kPython));
    ASSERT_EQ(py, 0) << "python3-numpy and python3-png are needed (scripts/setup.sh): " << pyout;
    dir_ = test::temp_dir(std::string("ir_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    data_ = dir_ + "/data";
    test::write_dataset(data_, "train", 8, 16, 16, 31);
    test::write_dataset(data_, "test", 6, 16, 16, 32);
    write_file(data_ + "/manifest.json", kManifest);
    plan::write_plan_file(test::compile(test::kTinyModel, 2), dir_ + "/plan.bin");
    // Two epochs of 4 steps: a checkpoint and a log of 8 step lines.
    const auto [status, out] = unetrun(fmt::format("--data {} --batch_size 2 --epochs 2 --learningrate 0.002 --log {}/"
                                                   "training.log --checkpoint_dir {}/ck --no_tensorboard",
                                                   data_, dir_, dir_));
    ASSERT_EQ(status, 0) << out;
  }

  std::pair<int, std::string> unetrun(const std::string& args) const {
    return run(fmt::format("'{}' {}/plan.bin --num_threads 1 --no_pin --channels flair,t1ce {}", UNETRUN_PATH, dir_,
                           args));
  }
  std::pair<int, std::string> infer(const std::string& args) const {
    return unetrun(fmt::format("--data {} --infer --checkpoint {}/ck/latest.npz {}", data_, dir_, args));
  }
  std::pair<int, std::string> check(const std::string& args) const {
    return run(fmt::format("{} {}/tests/inference_report/check_report.py --data {} --smooth 1.0 --size 128 {}",
                           kPython, UNET_SOURCE_DIR, data_, args));
  }

  std::string dir_, data_;
};

TEST_F(InferenceReport, OverlaysAndReportMatchAnIndependentRecomputation) {
  const std::string pred = dir_ + "/pred";
  const auto [status, out] = infer(fmt::format("--out {0} --png_dir {0}/png --report {0}/report.html --subject Beta "
                                               "--log {1}/training.log",
                                               pred, dir_));
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find(" overlays to " + pred + "/png"), std::string::npos) << out;
  EXPECT_NE(out.find("Wrote " + pred + "/report.html"), std::string::npos) << out;
  const auto [cs, json] = check(fmt::format("--pred {0}/msks_test_predictions.npy --png-dir {0}/png --report "
                                            "{0}/report.html --subject Beta --log {1}/training.log",
                                            pred, dir_));
  ASSERT_EQ(cs, 0) << json;
  const data::JsonValue summary = data::parse_json(json, "check_report.py's output");
  // Three picks (or fewer when two coincide) and Beta's three slices.
  const data::JsonValue* files = summary.find("files");
  ASSERT_TRUE(files);
  EXPECT_GE(files->object().size(), 4u);
  for (const char* name : {"Beta_slice007.png", "Beta_slice009.png", "Beta_slice011.png"})
    EXPECT_TRUE(files->find(name)) << name;
  EXPECT_EQ(summary.find("report")->find("images")->number(), static_cast<double>(files->object().size()));
  EXPECT_EQ(summary.find("report")->find("curves")->number(), 3);
  // The corner of every overlay reads "Dice: " and the recomputed Dice to 3 decimals.
  for (const auto& [name, label] : summary.find("labels")->object()) {
    const Rgb img = decode_rgb_png(pred + "/png/" + name);
    ASSERT_EQ(img.width, 128u) << name;  // 16 x 16 drawn 8 times larger
    EXPECT_EQ(read_label(img, label.string().size()), label.string()) << name;
  }
}

TEST_F(InferenceReport, PngDirAloneWritesOnlyTheThreePicks) {
  const std::string pred = dir_ + "/pred";
  const auto [status, out] = infer(fmt::format("--out {0} --png_dir {0}/png", pred));
  ASSERT_EQ(status, 0) << out;
  const auto [cs, json] = check(fmt::format("--pred {0}/msks_test_predictions.npy --png-dir {0}/png", pred));
  EXPECT_EQ(cs, 0) << json;
  EXPECT_FALSE(fs::exists(pred + "/report.html"));
}

// A missing log or one holding no step lines still gives the whole report, saying why it has no
// curves; a log that is not a file is refused before any inference.
TEST_F(InferenceReport, ReportWithoutAUsableLogSaysSoAndHasNoCurves) {
  write_file(dir_ + "/garbled.log", std::string("\x01\x02not a log\nEpoch 1/2, ETE: x s\n\xff\xfe", 33));
  for (const std::string& log : {dir_ + "/absent.log", dir_ + "/garbled.log"}) {
    const std::string pred = dir_ + "/pred_" + fs::path(log).stem().string();
    const auto [status, out] = infer(fmt::format("--out {0} --report {0}/report.html --log {1}", pred, log));
    ASSERT_EQ(status, 0) << out;
    const auto [cs, json] = check(fmt::format("--pred {0}/msks_test_predictions.npy --report {0}/report.html --log {1}",
                                              pred, log));
    EXPECT_EQ(cs, 0) << json;
    const std::string html = read_file(pred + "/report.html");
    EXPECT_NE(html.find(log.ends_with("absent.log") ? "No training log at " + log : log + " holds no step lines"),
              std::string::npos)
        << html.substr(0, 3000);
    EXPECT_NE(html.find("Dice per test subject"), std::string::npos);
  }
  fs::create_directories(dir_ + "/a_folder.log");
  const auto [status, out] = infer(fmt::format("--out {0}/pred_dir --report {0}/pred_dir/report.html --log {0}/"
                                               "a_folder.log",
                                               dir_));
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(out.find(dir_ + "/a_folder.log: cannot read the training log"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir_ + "/pred_dir"));
}

// Without manifest.json the report says the rows cannot be traced to subjects; the rest is there.
TEST_F(InferenceReport, ReportWithoutManifestHasNoSubjectTable) {
  fs::remove(data_ + "/manifest.json");
  const std::string pred = dir_ + "/pred";
  const auto [status, out] = infer(fmt::format("--out {0} --png_dir {0}/png --report {0}/report.html --log {1}/"
                                               "training.log",
                                               pred, dir_));
  ASSERT_EQ(status, 0) << out;
  const auto [cs, json] = check(fmt::format("--pred {0}/msks_test_predictions.npy --png-dir {0}/png --report "
                                            "{0}/report.html --log {1}/training.log",
                                            pred, dir_));
  EXPECT_EQ(cs, 0) << json;
  EXPECT_NE(read_file(pred + "/report.html").find("cannot be traced to subjects"), std::string::npos);
}

// A --subject that is not a test subject, or with no manifest, or a garbled one: one line naming
// manifest.json, a non-zero exit, and no predictions, overlays or report.
TEST_F(InferenceReport, BadSubjectIsOneLineNamingTheManifestAndWritesNothing) {
  const std::string manifest = data_ + "/manifest.json";
  struct Case {
    std::string subject, expect;
  };
  const Case cases[] = {
      {"Nobody", manifest + ": no test subject 'Nobody' (the 2 test subjects: Alpha, Beta)"},
      {"TrainA", manifest + ": subject 'TrainA' is in the training split; --subject takes a test subject"},
  };
  const std::string pred = dir_ + "/pred";
  const std::string flags = fmt::format("--out {0} --png_dir {0}/png --report {0}/report.html", pred);
  for (const Case& c : cases) {
    const auto [status, out] = infer(flags + " --subject " + c.subject);
    EXPECT_NE(status, 0) << out;
    EXPECT_EQ(out, "unetrun: " + c.expect + "\n");
    EXPECT_FALSE(fs::exists(pred)) << c.subject;
  }
  write_file(manifest, "{\"format\": \"unetconvert-manifest-1\", \"train\": {\"rows\": 8,,}}");
  auto [status, out] = infer(flags + " --subject Beta");
  EXPECT_NE(status, 0) << out;
  EXPECT_EQ(out, "unetrun: " + manifest + ": line 1, column 58: expected a member name in quotes\n");
  EXPECT_FALSE(fs::exists(pred));
  fs::remove(manifest);
  std::tie(status, out) = infer(flags + " --subject Beta");
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(out.find(manifest + ": no such file; --subject Beta needs the manifest"), std::string::npos) << out;
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;
  EXPECT_FALSE(fs::exists(pred));
  // --subject alone chooses nothing to draw.
  std::tie(status, out) = infer(fmt::format("--out {} --subject Beta", pred));
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(out.find("--subject chooses slices for --png_dir or --report"), std::string::npos) << out;
}

}  // namespace
}  // namespace unet
