// unetbench run as a user runs it, on a small plan compiled by unetc: `layers --json` read
// back by Python's json lists every op of every list; `compare` checks every convolution op
// against oneDNN and times both sides (or, in a build without oneDNN, says what is missing);
// `train --json` is one object; bad input (no file, a corrupt plan, a forward-only plan, a bad
// flag) is one line on stderr naming it and a non-zero exit. No test asserts a timing.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "plan/plan_io.h"
#include "runtime/conv_problem.h"
#include "runtime/pytorch_peer.h"
#include "runtime_fixtures.h"

namespace unet {
namespace {

namespace fs = std::filesystem;
using test::read_file;
using test::run;
using test::write_file;

constexpr const char* kPython = "/usr/bin/python3";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

struct Result {
  int status = -1;
  std::string out, err;
};

class Unetbench : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kPython)) << kPython << " is missing: run scripts/setup.sh";
    dir_ = test::temp_dir(std::string("unetbench_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    // The runtime suites' tiny UNet (3x3 and 1x1 convs, max-pool, a folded dropout, a
    // transposed conv, a concat), compiled by unetc for this host's best tier.
    write_file(dir_ + "/tiny.def", test::kTinyModel);
    for (const auto& [out, extra] : {std::pair<std::string, std::string>{"plan.bin", ""}, {"infer.bin", " --infer"}}) {
      const auto [status, text] =
          run(fmt::format("'{}' '{}/tiny.def' -o '{}/{}' --batch 2 --target native{}", UNETC_PATH, dir_, dir_, out, extra));
      ASSERT_EQ(status, 0) << text;
    }
  }

  // unetbench with `args`, stdout and stderr kept apart.
  Result bench(const std::string& args) {
    const auto [status, joined] =
        run(fmt::format("('{}' {} > '{}/out' 2> '{}/err')", UNETBENCH_PATH, args, dir_, dir_));
    return {status, read_file(dir_ + "/out"), read_file(dir_ + "/err") + (status < 0 ? joined : "")};
  }

  // Runs a Python snippet on the file at `path` (as sys.argv[1]); its stdout.
  std::string python(const std::string& code, const std::string& path) {
    write_file(dir_ + "/check.py", code);
    const auto [status, out] = run(fmt::format("{} '{}/check.py' '{}'", kPython, dir_, path));
    EXPECT_EQ(status, 0) << out;
    return out;
  }

  std::string plan() const { return dir_ + "/plan.bin"; }

  std::string dir_;
};

TEST_F(Unetbench, LayersJsonListsEveryOpOfEveryList) {
  const Result r = bench(fmt::format("layers '{}' --json --steps 1 --num_threads 2", plan()));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  write_file(dir_ + "/layers.json", r.out);
  // One line of facts, then one an op: list, label, family, kernel, whether it has a FLOP
  // rate and whether its time is positive.
  const std::string text = python(R"(import json, sys
d = json.load(open(sys.argv[1]))
print(d["model"], d["tier"], d["batch"], d["threads"], d["steps"], d["seconds_per_step"] > 0)
for op in d["ops"]:
    print(op["list"], op["label"], op["family"], op["kernel"], op["gflops"] is not None, op["seconds_per_call"] > 0,
          op["calls"])
)",
                                  dir_ + "/layers.json");
  const std::vector<std::string> lines = lines_of(text);
  const plan::Plan p = plan::read_plan_file(plan());
  ASSERT_EQ(lines.size(), 1 + p.forward.size() + p.backward.size() + p.update.size()) << text;
  EXPECT_EQ(lines[0], fmt::format("tiny {} 2 2 1 True", kernels::tier_name(p.tier)));
  size_t k = 1;
  for (const auto& [name, ops] : {std::pair<const char*, const std::vector<plan::Op>*>{"forward", &p.forward},
                                  {"backward", &p.backward},
                                  {"update", &p.update}})
    for (const plan::Op& op : *ops) {
      const bool conv = runtime::conv_problem(p, op).has_value();
      // One timed step: each op ran once.
      EXPECT_EQ(lines[k++], fmt::format("{} {} {} {} {} True 1", name, op.label, kernels::family_name(op.family),
                                        op.kernel, conv ? "True" : "False"));
    }
}

TEST_F(Unetbench, LayersTableHasARowForEveryOp) {
  const Result r = bench(fmt::format("layers '{}' --steps 1 --num_threads 1", plan()));
  ASSERT_EQ(r.status, 0) << r.err;
  const std::vector<std::string> lines = lines_of(r.out);
  const plan::Plan p = plan::read_plan_file(plan());
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[0].rfind("unetbench layers " + plan() + ": tiny tier ", 0), 0u) << lines[0];
  // Header, peak, column names, the ops, the sum.
  EXPECT_EQ(lines.size(), 4 + p.forward.size() + p.backward.size() + p.update.size()) << r.out;
  size_t k = 3;
  for (const auto* ops : {&p.forward, &p.backward, &p.update})
    for (const plan::Op& op : *ops) {
      ASSERT_LT(k, lines.size());
      EXPECT_NE(lines[k].find(" " + op.label + " "), std::string::npos) << lines[k];
      EXPECT_NE(lines[k].find(" " + op.kernel + " "), std::string::npos) << lines[k];
      ++k;
    }
}

TEST_F(Unetbench, TrainJsonIsOneObject) {
  const Result r = bench(fmt::format("train '{}' --json --steps 1 --num_threads 1", plan()));
  ASSERT_EQ(r.status, 0) << r.err;
  write_file(dir_ + "/train.json", r.out);
  const std::string text = python(R"(import json, math, sys
d = json.load(open(sys.argv[1]))
print(sorted(d))
print(d["model"], d["batch"], d["threads"], d["seconds_per_step"] > 0, d["images_per_second"] > 0,
      math.isfinite(d["first_loss"]), math.isfinite(d["last_loss"]))
)",
                                  dir_ + "/train.json");
  EXPECT_EQ(text,
            "['batch', 'first_loss', 'images_per_second', 'last_loss', 'model', 'plan', 'seconds_per_step', 'steps', "
            "'threads', 'tier']\ntiny 2 1 True True True True\n");
}

#ifdef UNET_HAVE_ONEDNN

// Every convolution op of both lists, in the order the step runs them, matched and timed.
TEST_F(Unetbench, CompareChecksEveryConvOpAgainstOneDnn) {
  const Result r = bench(fmt::format("compare '{}' --json --reps 2 --num_threads 2", plan()));
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  EXPECT_EQ(r.err, "");
  write_file(dir_ + "/compare.json", r.out);
  const std::string text = python(R"(import json, sys
d = json.load(open(sys.argv[1]))
print(d["model"], d["threads"]["ours"], d["threads"]["onednn"], d["reps"], d["ok"], "skipped" in d["pytorch"])
for r in d["rows"]:
    print(r["list"], r["label"], r["direction"], r["kind"], r["descriptor"], r["ok"], r["error"] == "",
          r["max_rel_error"] <= d["tolerance"], r["ours_ms"] > 0, r["onednn_ms"] > 0, r["ratio"] > 0,
          r["onednn_impl"] != "")
)",
                                  dir_ + "/compare.json");
  const std::vector<std::string> lines = lines_of(text);
  ASSERT_FALSE(lines.empty());
  // The tiny model is not the PyTorch peer's: the whole step is skipped, saying why.
  EXPECT_EQ(lines[0], "tiny 2 2 2 True True");
  const plan::Plan p = plan::read_plan_file(plan());
  size_t k = 1, convs = 0;
  for (const auto& [name, ops] :
       {std::pair<const char*, const std::vector<plan::Op>*>{"forward", &p.forward}, {"backward", &p.backward}})
    for (const plan::Op& op : *ops) {
      const auto problem = runtime::conv_problem(p, op);
      if (!problem) continue;
      ++convs;
      ASSERT_LT(k, lines.size()) << text;
      EXPECT_EQ(lines[k++], fmt::format("{} {} {} {} {} True True True True True True True", name, op.label,
                                        runtime::direction_name(problem->direction),
                                        problem->transposed ? "deconv" : "conv", runtime::descriptor(*problem)));
    }
  EXPECT_EQ(lines.size(), 1 + convs) << text;
  // The model has every kind: 3x3 and 1x1 convs and a transposed conv, each direction.
  EXPECT_GE(convs, 13u);
}

TEST_F(Unetbench, CompareTableEndsWithTheMeansAndThePeerLine) {
  const Result r = bench(fmt::format("compare '{}' --reps 1 --num_threads 1 --pytorch_script '{}/none.py'", plan(), dir_));
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  const std::vector<std::string> lines = lines_of(r.out);
  ASSERT_GE(lines.size(), 4u);
  EXPECT_NE(lines[0].find("ours: 1 thread (TBB, not pinned); oneDNN "), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find(": 1 thread (OpenMP, not pinned); median of 1 runs each"), std::string::npos) << lines[0];
  EXPECT_NE(lines[lines.size() - 3].find("all passed"), std::string::npos) << r.out;
  EXPECT_EQ(lines[lines.size() - 2].rfind("geometric mean of oneDNN time / ours (> 1: ours faster): fwd ", 0), 0u)
      << r.out;
  EXPECT_EQ(lines.back().rfind("whole step against PyTorch: skipped: ", 0), 0u) << r.out;
}

#else

TEST_F(Unetbench, CompareWithoutOneDnnSaysWhatIsMissing) {
  const Result r = bench(fmt::format("compare '{}'", plan()));
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("libdnnl-dev"), std::string::npos) << r.err;
}

#endif

// The whole-step peer's plumbing, with stand-ins for bench/peers/unet_pytorch.py (PyTorch
// itself need not be installed): the flags it is given, the rate read from its line, and a
// failing or silent script reported as not run, saying why.
TEST_F(Unetbench, PytorchPeerReadsTheScriptsLine) {
  write_file(dir_ + "/peer.py", R"py(import sys
print("loading...")
print("pytorch 0.0 " + " ".join(sys.argv[1:]) + ": 12.50 images/s (0.160 s/step)")
)py");
  const runtime::PytorchStep ran = runtime::run_pytorch_peer(dir_ + "/peer.py", 2, 3, 4, 16);
  EXPECT_TRUE(ran.ran) << ran.why_not;
  EXPECT_EQ(ran.images_per_second, 12.5);
  EXPECT_EQ(ran.line, "pytorch 0.0 --batch 2 --threads 3 --steps 4 --size 16: 12.50 images/s (0.160 s/step)");

  write_file(dir_ + "/fails.py", "raise SystemExit('no peer today')\n");
  const runtime::PytorchStep failed = runtime::run_pytorch_peer(dir_ + "/fails.py", 2, 3, 4, 16);
  EXPECT_FALSE(failed.ran);
  EXPECT_NE(failed.why_not.find("(exit 1): no peer today"), std::string::npos) << failed.why_not;

  write_file(dir_ + "/silent.py", "print('nothing measured')\n");
  EXPECT_FALSE(runtime::run_pytorch_peer(dir_ + "/silent.py", 2, 3, 4, 16).ran);

  EXPECT_EQ(runtime::pytorch_unavailable(dir_ + "/none.py"), dir_ + "/none.py does not exist");
  // Here: whatever python3 says about torch.
  const bool torch = run(fmt::format("{} -c 'import torch'", kPython)).first == 0;
  const std::string why = runtime::pytorch_unavailable(dir_ + "/peer.py");
  EXPECT_EQ(why.empty(), torch) << why;
  if (!torch) {
    EXPECT_EQ(why.rfind("python3 cannot import torch (", 0), 0u) << why;
  }
}

// Each subcommand that reads a plan, on each kind of bad input.
class UnetbenchBadInput : public Unetbench, public ::testing::WithParamInterface<const char*> {};

TEST_P(UnetbenchBadInput, IsOneLineNamingItAndAFailure) {
  const std::string sub = GetParam();
  const std::string bytes = read_file(plan());
  write_file(dir_ + "/truncated.bin", bytes.substr(0, bytes.size() / 2));
  std::string flipped = bytes;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x5a);
  write_file(dir_ + "/flipped.bin", flipped);
  write_file(dir_ + "/empty.bin", "");
  // (arguments, what the line must name, whether it is about the plan file)
  struct Case {
    std::string args, named;
    bool file;
  };
  std::vector<Case> cases;
  for (const char* file : {"missing.bin", "empty.bin", "truncated.bin", "flipped.bin", "infer.bin"})
    cases.push_back({fmt::format("'{}/{}' --num_threads 1", dir_, file), fmt::format("{}/{}", dir_, file), true});
  cases.push_back({fmt::format("'{}' --no_such_flag", plan()), "--no_such_flag", false});
  cases.push_back({fmt::format("'{}' --num_threads many", plan()), "--num_threads", false});
  cases.push_back({"", "plan", false});
  for (const Case& c : cases) {
    const Result r = bench(fmt::format("{} {}", sub, c.args));
    SCOPED_TRACE(fmt::format("{} {}", sub, c.args));
    EXPECT_NE(r.status, 0);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("unetbench: ", 0), 0u) << r.err;
#ifndef UNET_HAVE_ONEDNN
    // Without oneDNN, compare says that before it reads the plan (the flags come first).
    if (sub == "compare" && c.file) {
      EXPECT_NE(r.err.find("libdnnl-dev"), std::string::npos) << r.err;
      continue;
    }
#endif
    EXPECT_NE(r.err.find(c.named), std::string::npos) << r.err;
  }
  // What the forward-only plan lacks is said.
  const Result r = bench(fmt::format("{} '{}/infer.bin'", sub, dir_));
#ifndef UNET_HAVE_ONEDNN
  if (sub == "compare") return;
#endif
  EXPECT_NE(r.err.find("forward-only plan (unetc --infer)"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Subcommands, UnetbenchBadInput, ::testing::Values("layers", "compare", "train"));

}  // namespace
}  // namespace unet
