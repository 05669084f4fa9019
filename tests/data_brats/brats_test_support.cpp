#include "brats_test_support.h"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

namespace unet::data::testing {

namespace {

constexpr const char* kPython = "/usr/bin/python3";

const std::string& python_problem() {
  static const std::string problem = [] {
    if (::access(kPython, X_OK) != 0)
      return std::string(kPython) + " is missing: run scripts/setup.sh (python3-nibabel, python3-numpy)";
    const std::string probe = std::string(kPython) + " -c 'import nibabel, numpy' >/dev/null 2>&1";
    if (std::system(probe.c_str()) != 0)
      return std::string("nibabel/numpy not importable by ") + kPython + ": run scripts/setup.sh";
    return std::string();
  }();
  return problem;
}

std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

void BratsScratchTest::SetUp() {
  std::string pattern = (std::filesystem::temp_directory_path() / "unet_data_brats_XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
  dir_ = pattern;
}

void BratsScratchTest::TearDown() {
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

int BratsScratchTest::python(const std::string& script, const std::vector<std::string>& args) {
  const std::string& problem = python_problem();
  if (!problem.empty()) {
    output_ = problem;
    ADD_FAILURE() << problem;
    return -1;
  }
  std::string command = std::string(kPython) + " " + quoted(std::string(UNET_SOURCE_DIR) + "/" + script);
  for (const std::string& a : args) command += " " + quoted(a);
  command += " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  output_.clear();
  std::array<char, 4096> chunk;
  size_t n;
  while ((n = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0) output_.append(chunk.data(), n);
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace unet::data::testing
