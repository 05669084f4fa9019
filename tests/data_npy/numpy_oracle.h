// Debian's numpy (/usr/bin/python3) as the independent implementation the readers and
// writers are checked against, plus a scratch directory per test.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace unet::data::testing {

// Each test gets an empty directory, removed afterwards.
class ScratchDirTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

// Also demands numpy: a missing one is a failure (not a skip) telling how to install it.
class NumpyTest : public ScratchDirTest {
 protected:
  void SetUp() override;
  // Runs the script with cwd = the scratch directory; `import numpy as np` is prepended.
  // Returns the exit code; the script's output is in last_output_.
  int python(const std::string& script);
  // ASSERT-style helper: runs the script and fails the test with its output unless it exits 0.
  void expect_python_ok(const std::string& script);
  std::string last_output_;
};

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);
// Little-endian float32 file written by numpy's tofile().
std::vector<float> read_raw_f32(const std::string& path);
// Same bits, or both nan.
bool same_float(float a, float b);

// A hand-made .npy with the given header dict text (version 1.0, padded) and data bytes.
std::string make_npy(const std::string& dict, const std::string& data, uint8_t major = 1, uint8_t minor = 0);

}  // namespace unet::data::testing
