#include "runtime/pytorch_peer.h"

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <regex>

#include <fmt/format.h>

namespace unet::runtime {

namespace {

// The argument as one shell word: single-quoted, each ' written as '\''.
std::string shell_word(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `command` through the shell, stderr joined to stdout: its exit status (-1 when it did
// not exit) and its output.
std::pair<int, std::string> run_captured(const std::string& command) {
  std::string out;
  std::FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return {-1, "cannot start a shell"};
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// The last non-empty line of `text` (a Python traceback ends with the error itself).
std::string last_line(const std::string& text) {
  size_t end = text.find_last_not_of("\r\n");
  if (end == std::string::npos) return "";
  const size_t begin = text.rfind('\n', end);
  return text.substr(begin == std::string::npos ? 0 : begin + 1, end - (begin == std::string::npos ? 0 : begin + 1) + 1);
}

}  // namespace

std::string pytorch_unavailable(const std::string& script) {
  if (!std::filesystem::exists(script)) return fmt::format("{} does not exist", script);
  const auto [status, out] = run_captured("python3 -c 'import torch'");
  if (status == 127) return "python3 is not installed";
  if (status != 0) return fmt::format("python3 cannot import torch ({})", last_line(out));
  return "";
}

PytorchStep run_pytorch_peer(const std::string& script, int batch, int threads, int steps, int size) {
  PytorchStep r;
  const auto [status, out] = run_captured(fmt::format("python3 {} --batch {} --threads {} --steps {} --size {}",
                                                      shell_word(script), batch, threads, steps, size));
  r.line = last_line(out);
  // "pytorch 1.13.1 batch 2 threads 2: 7.10 images/s (0.282 s/step)"
  std::smatch m;
  if (status != 0 || !std::regex_search(r.line, m, std::regex(R"(([0-9.]+) images/s)"))) {
    r.why_not = fmt::format("{} failed (exit {}): {}", script, status, r.line);
    return r;
  }
  r.images_per_second = std::stod(m[1].str());
  r.ran = r.images_per_second > 0;
  if (!r.ran) r.why_not = fmt::format("{} reported no images/s: {}", script, r.line);
  return r;
}

}  // namespace unet::runtime
