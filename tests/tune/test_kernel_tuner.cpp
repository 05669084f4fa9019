// runtime/kernel_tuner: every op with several candidates is timed within the budget, the file
// it writes is one unetc accepts, and a spent budget leaves the defaults and says so.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "kernels/isa_tier.h"
#include "plan/kernel_fit.h"
#include "plan/op_lists.h"
#include "plan/plan_io.h"
#include "runtime/kernel_tuner.h"
#include "runtime/tune_file.h"
#include "tune_fixtures.h"

namespace {

using namespace unet;

runtime::TuneOptions quick(double budget) {
  runtime::TuneOptions o;
  o.threads.num_threads = 2;
  o.threads.pin = false;  // a shared test machine
  o.budget_seconds = budget;
  o.runs = 2;
  return o;
}

// AVX-512 hosts only: below that every op has its reference kernel alone.
#define REQUIRE_AVX512()                                                                               \
  do {                                                                                                 \
    if (!kernels::missing_features(kernels::Tier::avx512f).empty()) GTEST_SKIP() << "no AVX-512 here"; \
  } while (0)

TEST(KernelTuner, TimesEveryProblemOnceAndChoosesAmongItsCandidates) {
  REQUIRE_AVX512();
  const plan::Plan p = test::compile_model(2, kernels::best_host_tier());
  std::vector<runtime::TuneProgress> seen;
  const runtime::TuneResult r =
      runtime::tune_kernels(p, quick(30), [&](const runtime::TuneProgress& s) { seen.push_back(s); });
  ASSERT_FALSE(r.problems.empty());
  EXPECT_EQ(r.untimed, 0u);
  ASSERT_EQ(seen.size(), r.problems.size());
  EXPECT_EQ(seen.back().done, seen.back().total);

  size_t tunable_ops = 0;
  for (plan::OpListKind l : plan::kOpLists)
    for (const plan::Op& op : plan::op_list(p, l)) tunable_ops += plan::fitting_kernels(p, op).size() >= 2;
  size_t covered = 0;
  std::set<std::pair<int, std::string>> problems;
  for (const runtime::TuneProblem& q : r.problems) {
    EXPECT_TRUE(problems.insert({static_cast<int>(q.family), q.shape}).second) << q.shape << " timed twice";
    covered += q.ops.size();
    ASSERT_TRUE(q.timed());
    EXPECT_EQ(q.times.size(), q.candidates.size());
    EXPECT_EQ(q.candidates.front(), q.default_kernel);  // timed first: the bar for the others
    EXPECT_TRUE(std::count(q.candidates.begin(), q.candidates.end(), q.chosen)) << q.shape;
    for (const runtime::CandidateTime& t : q.times) {
      EXPECT_GT(t.min_seconds, 0) << t.kernel->name;
      EXPECT_LE(t.min_seconds, t.seconds) << t.kernel->name;
    }
    // The chosen kernel is the default unless it is clearly faster.
    if (q.chosen != q.default_kernel) {
      EXPECT_LT(q.seconds_of(q.chosen), q.seconds_of(q.default_kernel));
      EXPECT_LT(q.time_of(q.chosen)->min_seconds, q.time_of(q.default_kernel)->min_seconds);
    }
  }
  EXPECT_EQ(covered, tunable_ops);
  EXPECT_EQ(r.file.ops.size(), tunable_ops);
  EXPECT_EQ(r.file.batch, 2u);
  EXPECT_EQ(r.file.tier, p.tier);
  EXPECT_EQ(r.file.threads, 2);
  EXPECT_EQ(r.file.model, "tiny_tune");
  EXPECT_EQ(r.file.date.size(), 20u) << r.file.date;  // 2025-01-01T00:00:00Z
  // What the tuner writes, the reader takes.
  runtime::parse_tune_file(runtime::tune_file_json(r.file), "t.json");
  const std::string table = runtime::tune_table(r);
  EXPECT_NE(table.find("forward/c1b+p1"), std::string::npos) << table;
}

TEST(KernelTuner, ASpentBudgetKeepsTheDefaultsAndSaysSo) {
  REQUIRE_AVX512();
  const plan::Plan p = test::compile_model(2, kernels::best_host_tier());
  const runtime::TuneResult r = runtime::tune_kernels(p, quick(0), [](const runtime::TuneProgress&) {});
  EXPECT_EQ(r.untimed, r.problems.size());
  EXPECT_TRUE(r.file.ops.empty());
  EXPECT_GT(r.file.untimed_ops, 0u);
  EXPECT_NE(runtime::tune_table(r).find("problems untimed: the budget of 0 s was spent"), std::string::npos)
      << runtime::tune_table(r);
}

TEST(KernelTuner, RefusesAForwardOnlyPlan) {
  plan::Plan p = test::compile_model(2, kernels::Tier::scalar);
  p.training = false;
  EXPECT_THROW(runtime::tune_kernels(p, quick(1), [](const runtime::TuneProgress&) {}), std::exception);
}

// tune_model, the unetbench tune of the lead's CLI, with a small budget: it finishes, and unetc
// compiles the file it writes into a plan running the chosen kernels.
TEST(KernelTuner, TuneModelWritesAFileUnetcAccepts) {
  REQUIRE_AVX512();
  const std::string dir = test::scratch_dir();
  const kernels::Tier tier = kernels::best_host_tier();
  const plan::Plan p = test::compile_model(2, tier);
  const runtime::TuneResult r =
      runtime::tune_model(p, quick(3), dir + "/tune.json", [](const runtime::TuneProgress&) {});
  const test::Result c =
      test::unetc("'" + test::model_path(dir) + "' -o '" + dir + "/plan.bin' --batch 2 --target " +
                  std::string(kernels::tier_name(tier)) + " --tune '" + dir + "/tune.json' --num_threads 2");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(test::count_lines(c.err), 1u) << c.err;  // the summary alone: same CPU, tier, batch, threads
  const plan::Plan tuned = plan::read_plan_file(dir + "/plan.bin");
  for (const runtime::TunedOp& t : r.file.ops)
    for (plan::OpListKind l : plan::kOpLists)
      if (plan::op_list_name(l) == t.list)
        for (const plan::Op& op : plan::op_list(tuned, l))
          if (op.label == t.label) {
            EXPECT_EQ(op.kernel, t.chosen_kernel) << t.label;
          }
}

}  // namespace
