// unetc --tune, run as a program: a tuned plan is the plan with those kernels set by hand (and
// trains to the same bits), --dump names them, a damaged tune file is one line and no plan,
// and a file for another batch or tier warns and compiles with the defaults where it no
// longer fits.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "plan/kernel_fit.h"
#include "plan/op_lists.h"
#include "plan/op_shape.h"
#include "plan/plan_dump.h"
#include "plan/plan_io.h"
#include "runtime/engine.h"
#include "runtime/step_benchmark.h"
#include "runtime/tune_file.h"
#include "tune_fixtures.h"

namespace {

using namespace unet;
namespace fs = std::filesystem;
using OpName = std::pair<std::string, std::string>;  // list, label

std::string q(const std::string& path) { return "'" + path + "'"; }

// Every op's kernel by list and label, as `unetc --dump` prints them.
std::map<OpName, std::string> dumped_kernels(const std::string& dump) {
  std::map<OpName, std::string> out;
  std::istringstream in(dump);
  std::string line, list;
  while (std::getline(in, line)) {
    for (plan::OpListKind l : plan::kOpLists)
      if (line.rfind(std::string(plan::op_list_name(l)) + " ops ", 0) == 0) list = plan::op_list_name(l);
    std::istringstream words(line);
    std::string index, label, kernel;
    if (list.empty() || !(words >> index >> label >> kernel) ||
        index.find_first_not_of("0123456789") != std::string::npos)
      continue;
    out[{list, label}] = kernel;
  }
  return out;
}

std::map<OpName, std::string> plan_kernels(const plan::Plan& p) {
  std::map<OpName, std::string> out;
  for (plan::OpListKind l : plan::kOpLists)
    for (const plan::Op& op : plan::op_list(p, l)) out[{std::string(plan::op_list_name(l)), op.label}] = op.kernel;
  return out;
}

std::vector<float> params_after_training(plan::Plan p, int steps) {
  runtime::EngineOptions o;
  o.threads.num_threads = 2;
  o.threads.pin = false;
  runtime::Engine e(std::move(p), o);
  runtime::time_training_steps(e, steps, 0);
  const plan::Region r = e.plan().params_region;
  std::vector<float> out(r.bytes / sizeof(float));
  std::memcpy(out.data(), e.arena() + r.offset, r.bytes);
  return out;
}

// Half the tunable ops take their reference kernel, the others another optimised one where
// there is one: every choice computes the same maths as the default with other rounding.
runtime::TuneFile mixed_choices(const plan::Plan& p) {
  int k = 0;
  return test::hand_tune(p, [&](const plan::Op& op, const std::vector<const kernels::KernelInfo*>& fitting) {
    const kernels::KernelInfo* pick = nullptr;
    for (const kernels::KernelInfo* c : fitting)
      if (c->name != op.kernel && (k % 2 == 0) == (c->tier == kernels::Tier::scalar)) pick = c;
    ++k;
    return pick ? pick : test::another_kernel(op, fitting);
  });
}

TEST(UnetcTune, ATunedPlanIsThePlanWithThoseKernelsSetByHand) {
  const std::string dir = test::scratch_dir();
  const plan::Plan plain = test::compile_model(2, kernels::Tier::avx512);
  const runtime::TuneFile tune = mixed_choices(plain);
  runtime::write_tune_file(tune, dir + "/tune.json");
  const test::Result c = test::unetc(q(test::model_path(dir)) + " -o " + q(dir + "/tuned.bin") +
                                     " --batch 2 --target avx512 --tune " + q(dir + "/tune.json"));
  ASSERT_EQ(c.exit_code, 0) << c.err;

  plan::Plan by_hand = plain;
  size_t changed = 0;
  for (const runtime::TunedOp& t : tune.ops)
    for (plan::Op& op : plan::op_list(by_hand, *plan::op_list_from_name(t.list)))
      if (op.label == t.label) changed += op.kernel != t.chosen_kernel, op.kernel = t.chosen_kernel;
  ASSERT_GE(changed, 10u);  // most ops run another kernel than the compiler's default
  EXPECT_NE(c.err.find(fmt::format("{} ops run a tuned kernel", changed)), std::string::npos) << c.err;

  const plan::Plan tuned = plan::read_plan_file(dir + "/tuned.bin");
  EXPECT_EQ(plan::dump_plan(tuned), plan::dump_plan(by_hand));  // fingerprint included

  // --dump names exactly the chosen kernels, and the defaults everywhere else.
  const test::Result d = test::unetc("--dump " + q(dir + "/tuned.bin"));
  ASSERT_EQ(d.exit_code, 0) << d.err;
  const auto shown = dumped_kernels(d.out);
  EXPECT_EQ(shown, plan_kernels(by_hand));
  for (const runtime::TunedOp& t : tune.ops) EXPECT_EQ(shown.at({t.list, t.label}), t.chosen_kernel);

  if (!kernels::missing_features(kernels::Tier::avx512).empty()) GTEST_SKIP() << "no AVX-512 here to train on";
  const std::vector<float> a = params_after_training(tuned, 3), b = params_after_training(by_hand, 3);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  // And the kernels did change the run: the untuned plan ends elsewhere (other rounding).
  const std::vector<float> u = params_after_training(plain, 3);
  EXPECT_NE(std::memcmp(a.data(), u.data(), a.size() * sizeof(float)), 0);
}

// A valid file for the avx512f tier with its text damaged: the first chosen kernel replaced.
std::string with_first_chosen(const std::string& text, const std::string& kernel) {
  const size_t at = text.find("\"chosen\": \"");
  const size_t value = at + std::strlen("\"chosen\": \""), end = text.find('"', value);
  return text.substr(0, value) + kernel + text.substr(end);
}

TEST(UnetcTune, ADamagedTuneFileIsOneLineAndNoPlan) {
  const std::string dir = test::scratch_dir();
  const plan::Plan p = test::compile_model(2, kernels::Tier::avx512f);
  const std::string good = runtime::tune_file_json(test::hand_tune(p, test::another_kernel));
  ASSERT_NE(good.find("\"ops\": [\n    {\"list\": \"forward\", \"label\": \"c1\""), std::string::npos) << good;
  std::string wrong_type = good;
  wrong_type.replace(wrong_type.find("\"batch\": 2"), 10, "\"batch\": [2]");
  const struct {
    const char* name;
    std::string text, error;  // error: what follows "unetc: <file>: "
  } cases[] = {
      {"truncated", good.substr(0, good.size() / 2), "line "},
      {"empty", "", "line 1, column 1: "},
      {"not_json", "this is not JSON\n", "line 1, column 1: "},
      {"foreign", "{\"format\": \"unetconvert-manifest-1\", \"train\": {}}\n", "not a tune file"},
      {"wrong_type", wrong_type, "batch: is an array, expected a number"},
      {"unknown_kernel", with_first_chosen(good, "conv2d_fwd_f32_warp_drive"),
       "ops[0] (forward/c1).chosen: 'conv2d_fwd_f32_warp_drive' is not a registered kernel"},
      {"wrong_family", with_first_chosen(good, "adam_update_f32_zmm_avx512f"),
       "ops[0] (forward/c1).chosen: 'adam_update_f32_zmm_avx512f' is a adam_update kernel, the op is conv2d_fwd"},
      {"tier_not_included", with_first_chosen(good, "conv2d_fwd_f32_3x3_oc32w12_avx512"),
       "ops[0] (forward/c1).chosen: 'conv2d_fwd_f32_3x3_oc32w12_avx512' needs tier avx512, the file is for tier "
       "avx512f"},
  };
  for (const auto& c : cases) {
    const std::string file = dir + "/" + c.name + ".json", plan = dir + "/" + c.name + ".bin";
    test::spit(file, c.text);
    const test::Result r =
        test::unetc(q(test::model_path(dir)) + " -o " + q(plan) + " --batch 2 --target avx512f --tune " + q(file));
    EXPECT_NE(r.exit_code, 0) << c.name;
    EXPECT_EQ(test::count_lines(r.err), 1u) << c.name << ": " << r.err;
    EXPECT_EQ(r.err.rfind("unetc: " + file + ": " + c.error, 0), 0u) << c.name << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << c.name;
    EXPECT_FALSE(fs::exists(plan)) << c.name;
  }
  // The good one compiles: the damage alone was refused.
  test::spit(dir + "/good.json", good);
  EXPECT_EQ(test::unetc(q(test::model_path(dir)) + " -o " + q(dir + "/good.bin") +
                        " --batch 2 --target avx512f --tune " + q(dir + "/good.json"))
                .exit_code,
            0);
}

TEST(UnetcTune, AFileForAnotherBatchWarnsAndKeepsTheDefaultsWhereShapesChanged) {
  const std::string dir = test::scratch_dir();
  const plan::Plan at2 = test::compile_model(2, kernels::Tier::avx512f);
  const runtime::TuneFile tune = test::hand_tune(at2, test::another_kernel);
  runtime::write_tune_file(tune, dir + "/tune.json");
  const test::Result c = test::unetc(q(test::model_path(dir)) + " -o " + q(dir + "/plan.bin") +
                                     " --batch 4 --target avx512f --num_threads 1 --tune " + q(dir + "/tune.json"));
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.err.find("tuned at batch 2, the plan is for batch 4"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("tuned with 2 threads, the plan is for 1"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("have another shape in this plan (first: forward/c1: mb2ic2"), std::string::npos) << c.err;

  // Where the shape still matches (Adam's length does not depend on the batch) the tuned
  // kernel runs; everywhere else the default.
  const plan::Plan at4 = test::compile_model(4, kernels::Tier::avx512f);
  const plan::Plan got = plan::read_plan_file(dir + "/plan.bin");
  std::map<OpName, const runtime::TunedOp*> tuned;
  for (const runtime::TunedOp& t : tune.ops) tuned[{t.list, t.label}] = &t;
  size_t applied = 0;
  for (plan::OpListKind l : plan::kOpLists)
    for (size_t i = 0; i < plan::op_list(at4, l).size(); ++i) {
      const plan::Op &def = plan::op_list(at4, l)[i], &op = plan::op_list(got, l)[i];
      const auto it = tuned.find({std::string(plan::op_list_name(l)), def.label});
      const bool same_shape = it != tuned.end() && it->second->shape == plan::op_shape(at4, def);
      EXPECT_EQ(op.kernel, same_shape ? it->second->chosen_kernel : def.kernel) << def.label;
      applied += same_shape;
    }
  EXPECT_EQ(applied, 1u);  // adam
}

TEST(UnetcTune, AFileForAnotherTierWarnsAndKeepsTheDefaultsItCannotRun) {
  const std::string dir = test::scratch_dir();
  const plan::Plan at512 = test::compile_model(2, kernels::Tier::avx512);
  // Only kernels of the avx512 tier itself: none of them runs in an avx512f plan.
  const runtime::TuneFile tune = test::hand_tune(at512, [](const plan::Op& op, const auto& fitting) {
    const kernels::KernelInfo* pick = nullptr;
    for (const kernels::KernelInfo* k : fitting)
      if (k->tier == kernels::Tier::avx512 && k->name != op.kernel) pick = k;
    return pick;
  });
  runtime::write_tune_file(tune, dir + "/tune.json");
  const test::Result c = test::unetc(q(test::model_path(dir)) + " -o " + q(dir + "/plan.bin") +
                                     " --batch 2 --target avx512f --tune " + q(dir + "/tune.json"));
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.err.find("tuned at tier avx512, the plan is for tier avx512f"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("name a kernel that cannot run them here"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("needs tier avx512, the plan is for avx512f"), std::string::npos) << c.err;
  EXPECT_EQ(plan_kernels(plan::read_plan_file(dir + "/plan.bin")),
            plan_kernels(test::compile_model(2, kernels::Tier::avx512f)));
}

TEST(UnetcTune, TuneNeedsAModelToCompile) {
  const std::string dir = test::scratch_dir();
  ASSERT_EQ(test::unetc(q(test::model_path(dir)) + " -o " + q(dir + "/plan.bin") + " --batch 2").exit_code, 0);
  const test::Result r = test::unetc("--dump " + q(dir + "/plan.bin") + " --tune " + q(dir + "/tune.json"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(test::count_lines(r.err), 1u) << r.err;
}

}  // namespace
