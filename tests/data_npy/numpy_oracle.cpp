#include "numpy_oracle.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace unet::data::testing {
namespace {

constexpr const char* kPython = "/usr/bin/python3";

// Checked once per process: "" when numpy works, otherwise why not.
const std::string& numpy_problem() {
  static const std::string problem = [] {
    if (::access(kPython, X_OK) != 0)
      return std::string(kPython) + " is missing: run scripts/setup.sh to install Debian's python3-numpy";
    std::string command = std::string(kPython) + " -c 'import numpy' >/dev/null 2>&1";
    if (std::system(command.c_str()) != 0)
      return std::string("numpy is not importable by ") + kPython + ": run scripts/setup.sh to install python3-numpy";
    return std::string();
  }();
  return problem;
}

}  // namespace

void ScratchDirTest::SetUp() {
  std::string pattern = (std::filesystem::temp_directory_path() / "unet_data_npy_XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << "mkdtemp failed: " << std::strerror(errno);
  dir_ = pattern;
}

void ScratchDirTest::TearDown() {
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

void NumpyTest::SetUp() {
  ScratchDirTest::SetUp();
  ASSERT_EQ(numpy_problem(), "") << "these tests need numpy as the reference implementation";
}

int NumpyTest::python(const std::string& script) {
  std::string path = file("check.py");
  write_file(path, "import numpy as np\n" + script + "\n");
  std::string command = "cd '" + dir_.string() + "' && " + kPython + " check.py 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  last_output_.clear();
  std::array<char, 4096> chunk;
  size_t n;
  while ((n = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0) last_output_.append(chunk.data(), n);
  int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void NumpyTest::expect_python_ok(const std::string& script) {
  int rc = python(script);
  EXPECT_EQ(rc, 0) << "python script failed:\n" << script << "\n--- output ---\n" << last_output_;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<float> read_raw_f32(const std::string& path) {
  std::string bytes = read_file(path);
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
  return out;
}

bool same_float(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

std::string make_npy(const std::string& dict, const std::string& data, uint8_t major, uint8_t minor) {
  std::string text = dict;
  size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + text.size() + 1) % 64 != 0) text.push_back(' ');
  text.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back(static_cast<char>(major));
  out.push_back(static_cast<char>(minor));
  for (size_t i = 0; i < prefix - 8; ++i) out.push_back(static_cast<char>((text.size() >> (8 * i)) & 0xff));
  return out + text + data;
}

}  // namespace unet::data::testing
