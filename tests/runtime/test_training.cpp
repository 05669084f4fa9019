// Training semantics: micro-batch accumulation, resume, learning, inference, checkpoints, and
// unetrun's handling of bad input.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "data/npy.h"
#include "plan/plan_io.h"
#include "runtime/checkpoint.h"
#include "runtime/engine.h"
#include "runtime/param_init.h"
#include "runtime/trainer.h"
#include "runtime_fixtures.h"

namespace unet::runtime {
namespace {

using test::compile;
using test::kTinyModel;

EngineOptions one_thread() {
  EngineOptions o;
  o.threads.num_threads = 1;
  o.threads.pin = false;
  return o;
}

TrainOptions options_for(const std::string& data_dir) {
  TrainOptions o;
  o.data_dir = data_dir;
  o.selection.channels = {2, 3};  // flair, t1ce: the tiny model takes two channels
  o.shuffle = false;
  o.test_at_end = false;
  o.epochs = 1;
  o.lr.initial = 0.002f;
  o.lr.constant = true;
  return o;
}

// Every parameter's gradient, in Keras layout, concatenated in plan order.
std::vector<float> gradients(Engine& e) {
  std::vector<float> all;
  for (const plan::Param& p : e.plan().params) {
    size_t n = 1;
    for (size_t d : keras_shape(p)) n *= d;
    std::vector<float> g(n);
    load_param(e.plan(), e.arena(), p, p.grad, g.data());
    all.insert(all.end(), g.begin(), g.end());
  }
  return all;
}

TEST(Training, MicroBatchAccumulationEqualsOneBigBatch) {
  const std::string dir = test::temp_dir("accumulate");
  test::write_dataset(dir, "train", 8, 16, 16, 11);
  TrainingLog log("", false);
  Engine small(compile(kTinyModel, 2), one_thread());  // 4 micro-batches of 2
  Engine big(compile(kTinyModel, 8), one_thread());    // 1 batch of 8
  Trainer ts(small, options_for(dir), log), tb(big, options_for(dir), log);
  const std::array<size_t, 8> idx = {5, 1, 7, 0, 3, 6, 2, 4};
  const StepResult rs = ts.step(idx.data(), 8), rb = tb.step(idx.data(), 8);
  EXPECT_NEAR(rs.loss, rb.loss, 1e-5 * std::abs(rb.loss));
  EXPECT_NEAR(rs.dice, rb.dice, 1e-6);
  const std::vector<float> gs = gradients(small), gb = gradients(big);
  ASSERT_EQ(gs.size(), gb.size());
  float scale = 0;
  for (float g : gb) scale = std::max(scale, std::abs(g));
  ASSERT_GT(scale, 0.f);
  for (size_t k = 0; k < gs.size(); ++k) ASSERT_NEAR(gs[k], gb[k], 1e-4f * scale) << "gradient element " << k;
}

TEST(Training, ResumeEqualsUninterruptedRun) {
  const std::string dir = test::temp_dir("resume");
  test::write_dataset(dir, "train", 8, 16, 16, 12);
  TrainingLog log("", false);
  TrainOptions o = options_for(dir);
  o.epochs = 2;  // 8 images, global batch 4: 2 steps an epoch, 4 in all
  o.batch_size = 4;
  o.shuffle = true;
  o.lr.constant = false;
  o.lr.decay_steps = 3;

  Engine straight(compile(kTinyModel, 2), one_thread());
  Trainer(straight, o, log).run();

  TrainOptions first = o;
  first.max_steps = 3;  // stops mid-epoch
  first.checkpoint_dir = dir + "/ckpt";
  {
    Engine e(compile(kTinyModel, 2), one_thread());
    EXPECT_EQ(Trainer(e, first, log).run().global_step, 3u);
  }
  TrainOptions second = o;
  second.resume = dir + "/ckpt/latest.npz";
  Engine resumed(compile(kTinyModel, 2), one_thread());
  Trainer t(resumed, second, log);
  EXPECT_EQ(t.global_step(), 3u);
  EXPECT_EQ(t.run().global_step, 4u);

  const plan::Plan& p = straight.plan();
  for (const plan::Region& r : {p.params_region, p.adam_m_region, p.adam_v_region})
    EXPECT_EQ(0, std::memcmp(straight.arena() + r.offset, resumed.arena() + r.offset, r.bytes));
}

// Issue 15: a resumed global step of 2^33 wrapped the start epoch through an int and started
// about 2^31 epochs. Past the last epoch, a resume trains nothing and ends at once.
TEST(Training, ResumePastTheLastEpochTrainsNothing) {
  const std::string dir = test::temp_dir("resume_far");
  test::write_dataset(dir, "train", 8, 16, 16, 15);
  TrainingLog log("", false);
  const uint64_t far = uint64_t{1} << 33;
  {
    Engine e(compile(kTinyModel, 2), one_thread());
    initialise_params(e.plan(), e.arena());
    save_checkpoint(dir + "/ckpt", e.plan(), e.arena(), far);
  }
  TrainOptions o = options_for(dir);
  o.epochs = 3;
  o.batch_size = 4;
  o.resume = dir + "/ckpt/latest.npz";
  Engine e(compile(kTinyModel, 2), one_thread());
  const TrainSummary s = Trainer(e, o, log).run();
  EXPECT_TRUE(s.losses.empty());
  EXPECT_EQ(s.global_step, far);
}

TEST(Training, ShortRunLowersTheLossAndInferenceWritesPredictions) {
  const std::string dir = test::temp_dir("learn");
  test::write_dataset(dir, "train", 16, 16, 16, 13);
  test::write_dataset(dir, "test", 6, 16, 16, 14);
  TrainingLog log(dir + "/training.log", false);
  TrainOptions o = options_for(dir);
  o.epochs = 25;
  o.batch_size = 8;
  o.shuffle = true;
  o.test_at_end = true;
  EngineOptions eo;
  eo.threads.num_threads = 2;
  Engine e(compile(kTinyModel, 4), eo);
  const TrainSummary s = Trainer(e, o, log).run();
  ASSERT_EQ(s.losses.size(), 50u);
  const double first = s.losses.front();
  double last = 0;
  for (size_t k = s.losses.size() - 5; k < s.losses.size(); ++k) last += s.losses[k] / 5;
  EXPECT_LT(last, 0.6 * first) << "first loss " << first;
  EXPECT_GT(s.test_dice, 0.5);

  // Inference output agrees with a Dice computed here from the written file.
  DataSelection sel = o.selection;
  Dataset test(dir, "test", sel, 2, 16, 16, 4);
  const double dice = evaluate(e, test, dir + "/preds.npy");
  EXPECT_NEAR(dice, s.test_dice, 1e-9);
  const data::NpyReader preds = data::NpyReader::open(dir + "/preds.npy");
  ASSERT_EQ(preds.shape(), (std::vector<size_t>{6, 16, 16, 1}));
  const data::NpyReader masks = data::NpyReader::open(dir + "/msks_test.npy");
  std::vector<float> p(6 * 256), m(6 * 256 * 4);
  preds.read_rows_f32(0, 6, p.data());
  masks.read_rows_f32(0, 6, m.data());
  double inter = 0, sp = 0, st = 0;
  for (size_t k = 0; k < p.size(); ++k) {
    ASSERT_GE(p[k], 0.f);
    ASSERT_LE(p[k], 1.f);
    const double t = 1.0 - m[k * 4];  // whole tumour = not background
    inter += p[k] * t;
    sp += p[k];
    st += t;
  }
  EXPECT_NEAR(dice, (2 * inter + 1) / (sp + st + 1), 1e-5);

  // The training log holds the seed's line.
  std::FILE* f = std::fopen((dir + "/training.log").c_str(), "r");
  ASSERT_NE(f, nullptr);
  char line[512];
  ASSERT_NE(std::fgets(line, sizeof line, f), nullptr);
  std::fclose(f);
  EXPECT_EQ(std::string(line).rfind("Epoch 1/25, ETE: ", 0), 0u) << line;
  EXPECT_NE(std::string(line).find(", Batch: 1/2, Loss: "), std::string::npos) << line;
  EXPECT_NE(std::string(line).find(", Global Step: 1, Learn rate: 0.002000"), std::string::npos) << line;
}

// Only the newest --keep_checkpoints stay; temporaries a killed writer left are removed, those
// of a live one are not.
TEST(Checkpoint, KeepsTheNewestAndRemovesStaleTemporaries) {
  const std::string dir = test::temp_dir("ckpt_prune");
  Engine e(compile(kTinyModel, 2), one_thread());
  initialise_params(e.plan(), e.arena());
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  waitpid(dead, nullptr, 0);
  const std::string stale = fmt::format("{}/model-00000003.npz.tmp.{}", dir, dead);
  const std::string stale_latest = fmt::format("{}/.latest.npz.tmp.{}", dir, dead);
  const std::string live = dir + "/model-00000004.npz.tmp.1";  // init: running
  for (const std::string& p : {stale, stale_latest, live}) std::fclose(std::fopen(p.c_str(), "w"));
  for (uint64_t step : {5, 1, 7, 3, 6, 2}) save_checkpoint(dir, e.plan(), e.arena(), step, 3);
  std::vector<std::string> left;
  for (const auto& x : std::filesystem::directory_iterator(dir)) left.push_back(x.path().filename().string());
  std::sort(left.begin(), left.end());
  // latest.npz points at the last one written (step 2, older than the others): it stays, and
  // the folder never holds more than 3, so only the two newest others are left beside it.
  const std::vector<std::string> expected = {"latest.npz", "model-00000002.npz", "model-00000004.npz.tmp.1",
                                             "model-00000006.npz", "model-00000007.npz"};
  EXPECT_EQ(left, expected);
  EXPECT_EQ(std::filesystem::read_symlink(dir + "/latest.npz").string(), "model-00000002.npz");
}

TEST(Checkpoint, NumpyReadsKerasLayoutsAndWeightsRoundTrip) {
  const std::string dir = test::temp_dir("ckpt");
  Engine e(compile(kTinyModel, 2), one_thread());
  initialise_params(e.plan(), e.arena());
  const std::string path = save_checkpoint(dir, e.plan(), e.arena(), 42);
  EXPECT_TRUE(std::filesystem::exists(dir + "/latest.npz"));
  const std::string py =
      "import numpy as np, sys\n"
      "z = np.load(sys.argv[1])\n"
      "assert z['c1/kernel'].shape == (3, 3, 2, 16), z['c1/kernel'].shape\n"
      "assert z['t3/kernel'].shape == (2, 2, 16, 32), z['t3/kernel'].shape\n"
      "assert z['c1/bias'].shape == (16,)\n"
      "assert z['c1/kernel/adam_m'].shape == (3, 3, 2, 16)\n"
      "assert int(z['global_step']) == 42\n"
      "lim = np.sqrt(6 / (9 * 2))\n"
      "k = z['c1/kernel']; assert np.all(np.abs(k) <= lim) and k.std() > lim / 3\n";
  const std::string script = dir + "/check.py";
  std::FILE* f = std::fopen(script.c_str(), "w");
  std::fputs(py.c_str(), f);
  std::fclose(f);
  ASSERT_EQ(0, std::system(("/usr/bin/python3 " + script + " " + dir + "/latest.npz").c_str()))
      << "numpy could not read the checkpoint as expected (run scripts/setup.sh if numpy is missing)";

  Engine other(compile(kTinyModel, 4), one_thread());  // another batch: same parameters
  EXPECT_EQ(load_checkpoint(path, other.plan(), other.arena(), CheckpointUse::resume), 42u);
  const plan::Plan& p = e.plan();
  EXPECT_EQ(0, std::memcmp(e.arena() + p.params_region.offset, other.arena() + other.plan().params_region.offset,
                           p.params_region.bytes));
}

TEST(Checkpoint, MismatchedShapeIsNamed) {
  const std::string dir = test::temp_dir("ckpt_mismatch");
  Engine e(compile(kTinyModel, 2), one_thread());
  initialise_params(e.plan(), e.arena());
  const std::string path = save_checkpoint(dir, e.plan(), e.arena(), 1);
  std::string wider = kTinyModel;
  wider.replace(wider.find("filters=16, kernel=3, activation=relu, init=he_uniform)\np1"), 10, "filters=32");
  Engine w(compile(wider, 2), one_thread());
  try {
    load_checkpoint(path, w.plan(), w.arena(), CheckpointUse::init_weights);
    FAIL() << "expected an error";
  } catch (const std::exception& ex) {
    EXPECT_NE(std::string(ex.what()).find("c1/kernel"), std::string::npos) << ex.what();
  }
}

// Runs unetrun with `args`; returns its exit status and combined output.
std::pair<int, std::string> unetrun(const std::string& args) {
  std::string out;
  std::FILE* p = popen((std::string(UNETRUN_PATH) + " " + args + " 2>&1").c_str(), "r");
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int status = pclose(p);
  return {WEXITSTATUS(status), out};
}

class UnetrunErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir("cli");
    test::write_dataset(dir_ + "/data", "train", 4, 16, 16, 1);
    test::write_dataset(dir_ + "/data", "test", 2, 16, 16, 2);
    test::write_dataset(dir_ + "/wrong", "train", 4, 32, 32, 1);
    plan::write_plan_file(compile(kTinyModel, 2), dir_ + "/plan.bin");
    base_ = dir_ + "/plan.bin --num_threads 1 --channels flair,t1ce --log " + dir_ + "/log --checkpoint_dir " +
            dir_ + "/ck --epochs 1 --batch_size 2";
  }
  void expect_error(const std::string& args, const std::string& needle) {
    const auto [status, out] = unetrun(args);
    EXPECT_NE(status, 0) << out;
    EXPECT_NE(out.find(needle), std::string::npos) << out;
    EXPECT_EQ(out.find('\n'), out.size() - 1) << "not one line: " << out;
  }
  std::string dir_, base_;
};

// SIGTERM (or Ctrl-C): the step finishes, the final checkpoint is written, the exit status is
// 128 + the signal, as a shell reports a process the signal ended.
TEST_F(UnetrunErrors, SignalStopsAfterTheStepWithAFinalCheckpoint) {
  test::write_dataset(dir_ + "/many", "train", 64, 16, 16, 3);
  test::write_dataset(dir_ + "/many", "test", 2, 16, 16, 4);
  const std::string log = dir_ + "/stop.out";
  const std::string cmd = std::string("exec '") + UNETRUN_PATH + "' " + dir_ + "/plan.bin --num_threads 1 --channels " +
                          "flair,t1ce --data " + dir_ + "/many --checkpoint_dir " + dir_ + "/stopck --epochs 1000 " +
                          "--batch_size 2 --log " + dir_ + "/stop.log > " + log + " 2>&1";
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  auto text = [&] {
    std::string s;
    if (std::FILE* f = std::fopen(log.c_str(), "r")) {
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
      std::fclose(f);
    }
    return s;
  };
  for (int i = 0; i < 20000 && text().find("Global Step: 3,") == std::string::npos; ++i) usleep(1000);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  const std::string out = text();
  ASSERT_TRUE(WIFEXITED(status)) << out;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM) << out;
  EXPECT_NE(out.find("Stopping after global step"), std::string::npos) << out;
  EXPECT_NE(out.find("Saved checkpoint"), std::string::npos) << out;
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/stopck/latest.npz"));
}

TEST_F(UnetrunErrors, MissingDataFolder) { expect_error(base_ + " --data " + dir_ + "/nowhere", "imgs_train.npy"); }

TEST_F(UnetrunErrors, ImageSizeDiffersFromPlan) {
  expect_error(base_ + " --data " + dir_ + "/wrong", "images are 32x32, the plan was compiled for 16x16");
}

TEST_F(UnetrunErrors, TruncatedImages) {
  std::filesystem::resize_file(dir_ + "/data/imgs_train.npy", 2000);
  expect_error(base_ + " --data " + dir_ + "/data", "imgs_train.npy: truncated");
}

TEST_F(UnetrunErrors, ChannelsDoNotMatchPlan) {
  expect_error(dir_ + "/plan.bin --num_threads 1 --data " + dir_ + "/data --channels flair --log " + dir_ + "/log",
               "the plan takes 2 input channel(s), 1 selected");
}

TEST_F(UnetrunErrors, BadModeFlag) { expect_error(base_ + " --mode 7", "--mode"); }

TEST_F(UnetrunErrors, BatchNotMultipleOfMicroBatch) {
  expect_error(dir_ + "/plan.bin --num_threads 1 --channels flair,t1ce --data " + dir_ + "/data --batch_size 3 --log " +
                   dir_ + "/log",
               "--batch_size 3 is not a positive multiple of the plan's micro-batch 2");
}

TEST_F(UnetrunErrors, CorruptPlan) {
  std::FILE* f = std::fopen((dir_ + "/plan.bin").c_str(), "r+b");
  std::fseek(f, 200, SEEK_SET);
  std::fputc(0x5a, f);
  std::fclose(f);
  expect_error(base_ + " --data " + dir_ + "/data", "plan.bin");
}

TEST_F(UnetrunErrors, InferWithoutCheckpoint) {
  expect_error(base_ + " --data " + dir_ + "/data --infer", "--infer needs --checkpoint");
}

TEST_F(UnetrunErrors, TrainsAndInfersEndToEnd) {
  auto [status, out] = unetrun(base_ + " --data " + dir_ + "/data");
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("Test Dice Coef = "), std::string::npos) << out;
  std::tie(status, out) = unetrun(base_ + " --data " + dir_ + "/data --infer --checkpoint " + dir_ +
                                  "/ck/latest.npz --out " + dir_ + "/preds");
  ASSERT_EQ(status, 0) << out;
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/preds/msks_test_predictions.npy"));
}

}  // namespace
}  // namespace unet::runtime

namespace unet::runtime {
namespace {

// Returns the sums it was given (or its own, recording them) and updates nothing: one worker's
// view of a step, with the global sums coming from elsewhere.
class FixedSumsExchange final : public StepExchange {
 public:
  bool fixed = false;
  DiceSums sums;
  DiceSums dice_sums(uint64_t, std::span<const float> partials) override {
    if (!fixed) {
      sums = {};
      sums.add_partials(partials.data(), partials.size() / 3);
    }
    return sums;
  }
  void update(uint64_t, double) override {}
};

// The premise of exact synchronous training: a share of several micro-batches has the
// gradient g0 + g1 (in order) of its micro-batches computed apart, to the bit, so one
// micro-batch per worker summed in worker order is one process on the whole batch. Run on
// the AVX-512 tier too, whose backward-weights kernels add into dw per chunk of rows.
TEST(Training, SeveralMicroBatchesSumTheirGradientsInOrderToTheBit) {
  const std::string dir = test::temp_dir("micro_sum");
  test::write_dataset(dir, "train", 4, 16, 16, 21);
  for (kernels::Tier tier : {kernels::Tier::scalar, kernels::Tier::avx512}) {
    if (!kernels::missing_features(tier).empty()) continue;  // the scalar tier always runs
    Engine e(compile(kTinyModel, 2, true, tier), one_thread());
    initialise_params(e.plan(), e.arena());
    Dataset data(dir, "train", options_for(dir).selection, e.plan());
    const std::array<size_t, 4> idx = {3, 0, 2, 1};
    auto load_from = [&](size_t first) {
      return [&, first](size_t j) { data.load(idx.data() + first + 2 * j, 2, e.view(e.plan().input), e.view(e.plan().target)); };
    };
    LearningRate lr;
    FixedSumsExchange x;
    StepRunner whole(e, x, 2);
    whole.run({5, 2, 0}, lr, load_from(0));
    const std::vector<float> both = gradients(e);
    x.fixed = true;  // each half alone, with the whole batch's sums
    StepRunner half(e, x, 1);
    half.run({5, 1, 0}, lr, load_from(0));
    const std::vector<float> g0 = gradients(e);
    half.run({5, 1, 2}, lr, load_from(2));
    const std::vector<float> g1 = gradients(e);
    ASSERT_EQ(both.size(), g0.size());
    size_t nonzero = 0;
    for (size_t k = 0; k < both.size(); ++k) {
      ASSERT_EQ(both[k], g0[k] + g1[k]) << "tier " << kernels::tier_name(tier) << " element " << k;
      nonzero += both[k] != 0.f;
    }
    EXPECT_GT(nonzero, both.size() / 2);
  }
}

}  // namespace
}  // namespace unet::runtime
