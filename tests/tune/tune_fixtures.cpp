#include "tune_fixtures.h"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "graph/graph_ir.h"
#include "graph/lower.h"
#include "plan/kernel_fit.h"
#include "plan/op_lists.h"
#include "plan/op_shape.h"

namespace unet::test {

namespace fs = std::filesystem;

const char* const kTuneModel = R"(model tiny_tune
seed 5
input images shape 16x16x2
target masks shape 16x16x1
c1 = conv(images, filters=16, kernel=3, activation=relu, init=he_uniform)
c1b = conv(c1, filters=32, kernel=3, activation=relu, init=he_uniform)
p1 = maxpool(c1b, size=2)
c2 = conv(p1, filters=32, kernel=3, activation=relu, init=he_uniform)
d2 = dropout(c2, rate=0.2)
t3 = conv_transpose(d2, filters=16, kernel=2, stride=2)
u3 = concat(t3, c1b)
c3 = conv(u3, filters=16, kernel=3, activation=relu, init=he_uniform)
pred = conv(c3, filters=1, kernel=1, activation=sigmoid)
loss = dice_loss(pred, masks, smooth=1.0)
optimizer adam(learning_rate=0.002, beta1=0.9, beta2=0.999, epsilon=1e-8, decay_steps=350, lr_fraction=0.2)
)";

std::string scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir =
      fs::path(::testing::TempDir()) / ("tune_" + std::string(info->test_suite_name()) + "_" + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  spit((dir / "model.def").string(), kTuneModel);
  return dir.string();
}

std::string model_path(const std::string& dir) { return dir + "/model.def"; }

plan::Plan compile_model(uint32_t batch, kernels::Tier tier) {
  graph::LowerOptions o;
  o.batch = batch;
  o.tier = tier;
  return graph::lower_to_plan(graph::parse_model(kTuneModel, "model.def"), o);
}

runtime::TuneFile hand_tune(const plan::Plan& plan, const Chooser& choose) {
  runtime::TuneFile f;
  f.cpu = "test cpu";
  f.tier = plan.tier;
  f.threads = 2;
  f.batch = plan.batch;
  f.model = plan.model_name;
  f.date = "2025-01-01T00:00:00Z";
  f.budget_seconds = 1;
  for (plan::OpListKind l : plan::kOpLists)
    for (const plan::Op& op : plan::op_list(plan, l)) {
      const auto fitting = plan::fitting_kernels(plan, op);
      if (fitting.size() < 2) continue;
      runtime::TunedOp t;
      t.list = plan::op_list_name(l);
      t.label = op.label;
      t.family = kernels::family_name(op.family);
      t.shape = plan::op_shape(plan, op);
      t.default_kernel = op.kernel;
      const kernels::KernelInfo* chosen = choose(op, fitting);
      t.chosen_kernel = chosen ? std::string(chosen->name) : op.kernel;
      double s = 1e-3;
      for (const kernels::KernelInfo* k : fitting) {
        s *= 1.5;
        t.candidates.push_back({std::string(k->name), s, 0.9 * s, 3});
      }
      f.ops.push_back(std::move(t));
    }
  return f;
}

const kernels::KernelInfo* another_kernel(const plan::Op& op, const std::vector<const kernels::KernelInfo*>& fitting) {
  for (const kernels::KernelInfo* k : fitting)
    if (k->name != op.kernel) return k;
  return nullptr;
}

Result unetc(const std::string& args) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir = fs::path(::testing::TempDir()) / ("tune_out_" + std::string(info->name()));
  fs::create_directories(dir);
  const std::string command = std::string("'") + UNETC_PATH + "' " + args + " > '" + (dir / "out").string() + "' 2> '" +
                              (dir / "err").string() + "'";
  const int status = std::system(command.c_str());
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp((dir / "out").string());
  r.err = slurp((dir / "err").string());
  return r;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace unet::test
