// The unetc tool, run as a program: golden --dump of the shipped models, plan round trip,
// and one-line errors with a non-zero exit.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>

namespace {

namespace fs = std::filesystem;

struct Result {
  int exit_code = -1;
  std::string out, err;
};

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path scratch() {
  const fs::path dir = fs::path(::testing::TempDir()) /
                       ("unetc_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
  fs::create_directories(dir);
  return dir;
}

Result unetc(const std::string& args) {
  const fs::path dir = scratch();
  const std::string command = std::string("'") + UNETC_PATH + "' " + args + " > '" +
                              (dir / "out").string() + "' 2> '" + (dir / "err").string() + "'";
  const int status = std::system(command.c_str());
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(dir / "out");
  r.err = slurp(dir / "err");
  return r;
}

std::string model(const std::string& name) { return std::string(UNET_SOURCE_DIR) + "/models/" + name + ".def"; }

size_t lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

class Golden : public ::testing::TestWithParam<std::tuple<const char*, const char*>> {};

// The dump of each shipped model (batch 8, training) at the scalar and the avx512 tier is
// stored in tests/golden (<model>.txt, <model>.avx512.txt: the kernels that really run); run
// with UPDATE_GOLDEN=1 to rewrite them after an intended change.
TEST_P(Golden, DumpMatchesStoredText) {
  const auto [name, tier] = GetParam();
  const Result r = unetc("'" + model(name) + "' --dump --batch 8 --target " + tier);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string file = std::string(name) + (std::string(tier) == "scalar" ? "" : "." + std::string(tier)) + ".txt";
  const fs::path golden = fs::path(UNET_SOURCE_DIR) / "tests/golden" / file;
  if (const char* update = std::getenv("UPDATE_GOLDEN"); update && std::string(update) == "1") {
    const fs::path temp = golden.string() + ".tmp";
    std::ofstream(temp, std::ios::binary) << r.out;
    fs::rename(temp, golden);
  }
  ASSERT_TRUE(fs::exists(golden)) << golden << " missing: run with UPDATE_GOLDEN=1";
  EXPECT_EQ(r.out, slurp(golden));
}

INSTANTIATE_TEST_SUITE_P(Models, Golden,
                         ::testing::Combine(::testing::Values("unet_brats", "unet_brats_upsampling"),
                                            ::testing::Values("scalar", "avx512")));

TEST(Unetc, WrittenPlanDumpsTheSameAsTheCompiledOne) {
  const fs::path plan = scratch() / "plan.bin";
  const std::string flags = " --batch 3 --target scalar --seed 99";
  const Result compiled = unetc("'" + model("unet_brats") + "' -o '" + plan.string() + "'" + flags);
  ASSERT_EQ(compiled.exit_code, 0) << compiled.err;
  EXPECT_EQ(compiled.out, "");
  const Result direct = unetc("'" + model("unet_brats") + "' --dump" + flags);
  const Result read = unetc("--dump '" + plan.string() + "'");
  ASSERT_EQ(read.exit_code, 0) << read.err;
  EXPECT_EQ(read.out, direct.out);
  EXPECT_NE(read.out.find("batch 3"), std::string::npos);
  EXPECT_NE(read.out.find("seed 99"), std::string::npos);
}

TEST(Unetc, InferPlanHasNoBackwardOps) {
  const Result r = unetc("'" + model("unet_brats") + "' --dump --infer --batch 1 --target scalar");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("bwd"), std::string::npos);
  EXPECT_EQ(r.out.find("dropout_fwd"), std::string::npos);
}

TEST(Unetc, MissingModelFileIsOneLineError) {
  const Result r = unetc("'" + (scratch() / "absent.def").string() + "' -o '" + (scratch() / "p.bin").string() + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("absent.def"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(scratch() / "p.bin"));
}

TEST(Unetc, BadTargetIsOneLineError) {
  const Result r = unetc("'" + model("unet_brats") + "' --dump --target sse2");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("sse2"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(Unetc, ZeroBatchIsOneLineError) {
  const Result r = unetc("'" + model("unet_brats") + "' --dump --batch 0");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("--batch"), std::string::npos) << r.err;
}

TEST(Unetc, CorruptPlanFileIsOneLineError) {
  const fs::path plan = scratch() / "plan.bin";
  ASSERT_EQ(unetc("'" + model("unet_brats") + "' -o '" + plan.string() + "' --batch 1 --target scalar").exit_code, 0);
  std::string bytes = slurp(plan);
  bytes[bytes.size() / 2] ^= 0x5a;
  std::ofstream(plan, std::ios::binary) << bytes;
  const Result r = unetc("--dump '" + plan.string() + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("plan.bin"), std::string::npos) << r.err;
}

TEST(Unetc, NothingToDoWithoutOutputOrDump) {
  const Result r = unetc("'" + model("unet_brats") + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
}

}  // namespace
