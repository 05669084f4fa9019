// runtime/training_log_reader against the lines runtime/training_log writes (the seed's format),
// and the report's pieces: base64, escaping, the histogram's bins, the picks of best, median
// and worst, and a page without curves or subjects.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "runtime/inference.h"
#include "runtime/inference_report.h"
#include "runtime/runtime_error.h"
#include "runtime/training_log.h"
#include "runtime/training_log_reader.h"
#include "runtime_fixtures.h"

namespace unet::runtime {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(TrainingLogReader, ParsesTheSeedsStepLine) {
  const auto s = parse_log_step(
      "Epoch 3/10, ETE: 42 s, Batch: 7/48, Loss: 0.512, Dice: 0.599, Global Step: 103, Learn rate: 0.000495");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->epoch, 3);
  EXPECT_EQ(s->epochs, 10);
  EXPECT_EQ(s->batch, 7);
  EXPECT_EQ(s->batches, 48);
  EXPECT_DOUBLE_EQ(s->loss, 0.512);
  EXPECT_DOUBLE_EQ(s->dice, 0.599);
  EXPECT_EQ(s->global_step, 103u);
  EXPECT_DOUBLE_EQ(s->lr, 0.000495);
  // A CR (a log copied from Windows) and surrounding blanks are fine; a non-finite loss reads.
  EXPECT_TRUE(parse_log_step("  Epoch 1/1, ETE: 0 s, Batch: 1/1, Loss: nan, Dice: 0.000, Global Step: 1, Learn rate: "
                             "0.001000\r"));
  for (const char* bad : {
           "Epoch 1/1, ETE: 0 s, Batch: 1/1, Loss: 0.5, Dice: 0.5, Global Step: 1",  // cut short
           "Epoch 1/1, ETE: 0 s, Batch: 1/1, Loss: x, Dice: 0.5, Global Step: 1, Learn rate: 0.1",
           "Epoch 1/1, ETE: 0 s, Batch: 1/1, Loss: 0.5, Dice: 0.5, Global Step: -1, Learn rate: 0.1",
           "Epoch 1/1, ETE: 0 s, Batch: 1/1, Loss: 0.5, Dice: 0.5, Global Step: 1, Learn rate: 0.1 extra",
           "Epoch 1/2 finished in 0.3 s (26.67 images/s), training Dice 0.123",
           "Step 3: 0.010 s, compute 0.010 s, blocked on the network 0.000 s, sent 0.00 MB, received 0.00 MB",
           "",
       })
    EXPECT_FALSE(parse_log_step(bad)) << bad;
}

// The writer's own lines read back: if runtime/training_log.cpp's format drifts, this fails.
TEST(TrainingLogReader, ReadsWhatTrainingLogWrites) {
  const std::string dir = test::temp_dir("log_reader");
  const std::string path = dir + "/training.log";
  {
    TrainingLog log(path, /*echo=*/false);
    log.note("unetrun: plan.bin (tiny), 1 threads");
    for (int run = 0; run < 2; ++run) {
      for (uint64_t g = 1; g <= 6; ++g) {
        StepRecord r;
        r.global_step = g;
        r.epoch = static_cast<int>((g - 1) / 3);
        r.epochs = 2;
        r.batch = (g - 1) % 3;
        r.batches = 3;
        r.loss = 1.0 / static_cast<double>(g) + run;
        r.dice = 0.1 * static_cast<double>(g);
        r.lr = 0.002 / static_cast<double>(g);
        r.profiled = g == 2;  // a --profile line between steps is skipped
        log.step(r);
        if (g % 3 == 0) log.epoch(EpochRecord{r.epoch, 2, g, 0.5, 12.0, 0.3});
      }
      if (run == 0) log.test(TestRecord{6, 0.8124});
    }
  }
  const auto curves = read_training_log(path);
  ASSERT_TRUE(curves);
  // The second run starts again at step 1: two runs, the first with its test Dice.
  ASSERT_EQ(curves->runs.size(), 2u) << read_file(path);
  for (const LogRun& run : curves->runs) {
    ASSERT_EQ(run.steps.size(), 6u);
    for (size_t k = 0; k < 6; ++k) {
      EXPECT_EQ(run.steps[k].global_step, k + 1);
      EXPECT_EQ(run.steps[k].batch, static_cast<int64_t>(k % 3 + 1));  // printed 1-based
      EXPECT_EQ(run.steps[k].epoch, static_cast<int>(k / 3 + 1));
      EXPECT_NEAR(run.steps[k].dice, 0.1 * static_cast<double>(k + 1), 5e-4);
      EXPECT_NEAR(run.steps[k].lr, 0.002 / static_cast<double>(k + 1), 5e-7);
    }
  }
  ASSERT_TRUE(curves->runs[0].test_dice);
  EXPECT_DOUBLE_EQ(*curves->runs[0].test_dice, 0.812);
  EXPECT_FALSE(curves->runs[1].test_dice);
  EXPECT_NEAR(curves->runs[1].steps[0].loss, 2.0, 5e-4);
}

TEST(TrainingLogReader, MissingIsNulloptAndNotAFileIsAnErrorNamingIt) {
  const std::string dir = test::temp_dir("log_reader_missing");
  EXPECT_FALSE(read_training_log(dir + "/absent.log"));
  try {
    read_training_log(dir);
    ADD_FAILURE() << "a folder was read as a log";
  } catch (const RuntimeError& e) {
    EXPECT_EQ(std::string(e.what()), dir + ": cannot read the training log: not a regular file");
  }
  // Text with no step lines: no runs (the report then says so).
  std::ofstream(dir + "/junk.log") << "\x01\x02garbage\nEpoch x\nTest Dice Coef = 0.5\n";
  const auto junk = read_training_log(dir + "/junk.log");
  ASSERT_TRUE(junk);
  EXPECT_TRUE(junk->runs.empty());
  // A resumed run goes on counting: one run.
  const auto resumed = parse_training_log(
      "Epoch 1/2, ETE: 1 s, Batch: 1/2, Loss: 0.5, Dice: 0.5, Global Step: 1, Learn rate: 0.001\n"
      "unetrun: resuming\n"
      "Epoch 2/2, ETE: 1 s, Batch: 1/2, Loss: 0.4, Dice: 0.6, Global Step: 3, Learn rate: 0.001\n");
  EXPECT_EQ(resumed.runs.size(), 1u);
}

TEST(Report, Base64AndEscaping) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode(std::string("\xff\x00\xfe", 3)), "/wD+");
  EXPECT_EQ(html_escape("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(html_escape(std::string("a\x01" "b", 3)), "a&#xfffd;b");
}

TEST(Report, HistogramBinsCoverZeroToOne) {
  const std::vector<size_t> h = dice_histogram({0.0, 0.049, 0.05, 0.5, 0.999, 1.0, 1.5, -0.2, NAN}, 20);
  ASSERT_EQ(h.size(), 20u);
  EXPECT_EQ(h[0], 3u);   // 0, 0.049 and -0.2 clamped
  EXPECT_EQ(h[1], 1u);   // 0.05
  EXPECT_EQ(h[10], 1u);  // 0.5
  EXPECT_EQ(h[19], 3u);  // 0.999, 1 (the last bin is closed) and 1.5 clamped
  size_t total = 0;
  for (size_t c : h) total += c;
  EXPECT_EQ(total, 8u);  // NaN left out
}

TEST(Report, PicksBestMedianWorstWithTiesOnTheLowerRow) {
  const std::vector<double> dice = {0.5, 0.9, 0.1, 0.9, 0.1, 0.7, NAN};
  const std::vector<SlicePick> p = pick_slices(dice);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].roles, std::vector<std::string>{"best"});
  EXPECT_EQ(p[0].row, 1u);
  EXPECT_EQ(p[1].roles, std::vector<std::string>{"median"});
  EXPECT_EQ(p[1].row, 0u);  // sorted 0.1 0.1 0.5 0.7 0.9 0.9: the lower median, 0.5
  EXPECT_EQ(p[2].roles, std::vector<std::string>{"worst"});
  EXPECT_EQ(p[2].row, 2u);
  // Only rows 3 and 5 eligible: best 3, median = worst = 5.
  const std::vector<SlicePick> q = pick_slices(dice, {false, false, false, true, false, true});
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].row, 3u);
  EXPECT_EQ(q[1].row, 5u);
  EXPECT_EQ(q[1].roles, (std::vector<std::string>{"median", "worst"}));
  const std::vector<SlicePick> one = pick_slices({0.4});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].roles, (std::vector<std::string>{"best", "median", "worst"}));
  EXPECT_TRUE(pick_slices({}).empty());
  EXPECT_TRUE(pick_slices({NAN}).empty());
}

TEST(Report, ImageDiceIsTheSoftDice) {
  const float p[] = {1, 0.5f, 0, 0}, t[] = {1, 1, 0, 0};
  EXPECT_DOUBLE_EQ(image_dice(p, t, 4, 1.0), (2 * 1.5 + 1) / (1.5 + 2 + 1));
  const float z[] = {0, 0};
  EXPECT_DOUBLE_EQ(image_dice(z, z, 2, 1.0), 1.0);  // empty predicted empty
}

TEST(Report, PageWithoutCurvesOrSubjectsSaysWhy) {
  ReportInput in;
  in.title = "t <1>";
  in.facts = {{"plan", "p&q.bin"}};
  in.slice_dice = {0.2, 0.8};
  in.subjects_note = "No manifest.";
  in.curves_note = "No training log at x.log.";
  in.images_note = "No overlays.";
  const std::string h = render_report_html(in);
  EXPECT_EQ(h.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(h.find("<title>t &lt;1&gt;</title>"), std::string::npos);
  EXPECT_NE(h.find("p&amp;q.bin"), std::string::npos);
  EXPECT_NE(h.find("No manifest."), std::string::npos);
  EXPECT_NE(h.find("No training log at x.log."), std::string::npos);
  EXPECT_EQ(h.find("<polyline"), std::string::npos);
  EXPECT_EQ(h.find("<table"), std::string::npos);
  EXPECT_NE(h.find("Dice of each test slice (2 slices)"), std::string::npos);
  for (const char* word : {"http:", "https:", "<script", "url("}) EXPECT_EQ(h.find(word), std::string::npos) << word;
}

TEST(Report, LongCurveKeepsItsEndsAndAtMost2001Points) {
  ReportInput in;
  ReportCurve c{"Loss", "loss", {}, {}, false};
  for (int k = 1; k <= 5001; ++k) {
    c.x.push_back(k);
    c.y.push_back(1.0 / k);
  }
  c.y[10] = NAN;  // left out
  in.curves = {c};
  const std::string h = render_report_html(in);
  const size_t at = h.find("points=\"");
  ASSERT_NE(at, std::string::npos);
  const std::string pts = h.substr(at + 8, h.find('"', at + 8) - at - 8);
  std::istringstream s(pts);
  std::string p, first, last;
  size_t n = 0;
  while (s >> p) {
    if (!n) first = p;
    last = p;
    ++n;
  }
  EXPECT_LE(n, 2001u);
  EXPECT_GE(n, 1000u);
  EXPECT_EQ(first.substr(0, first.find(',')), "72.0");   // the chart's left edge: step 1
  EXPECT_EQ(last.substr(0, last.find(',')), "544.0");    // its right edge: step 5001
}

}  // namespace
}  // namespace unet::runtime
