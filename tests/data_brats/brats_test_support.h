// Shared by the data_brats suites: a scratch folder per test, and Debian's Python with
// nibabel + numpy as the independent reference (a missing one FAILS the test, naming the fix).
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace unet::data::testing {

class BratsScratchTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  const std::filesystem::path& dir() const { return dir_; }

  // Runs /usr/bin/python3 tests/data_brats/<script> args...; its exit code, output kept.
  int python(const std::string& script, const std::vector<std::string>& args);
  const std::string& python_output() const { return output_; }

 private:
  std::filesystem::path dir_;
  std::string output_;
};

std::vector<uint8_t> read_bytes(const std::string& path);
void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace unet::data::testing
