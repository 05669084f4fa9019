#include "runtime/training_log_reader.h"

#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <type_traits>

#include <fmt/format.h>

#include "data/data_error.h"
#include "data/npy_mapped_file.h"
#include "runtime/runtime_error.h"

namespace unet::runtime {
namespace {

// Reads a number at the front of `s` and drops it (and nothing else) from `s`.
template <typename T>
  requires std::is_arithmetic_v<T>
bool take(std::string_view& s, T& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc() || end == s.data()) return false;
  s.remove_prefix(static_cast<size_t>(end - s.data()));
  return true;
}

bool take(std::string_view& s, std::string_view literal) {
  if (s.substr(0, literal.size()) != literal) return false;
  s.remove_prefix(literal.size());
  return true;
}

// Drops everything up to and including `key`.
bool skip_to(std::string_view& s, std::string_view key) {
  const size_t at = s.find(key);
  if (at == std::string_view::npos) return false;
  s.remove_prefix(at + key.size());
  return true;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<LogStep> parse_log_step(std::string_view line) {
  std::string_view s = trimmed(line);
  LogStep r;
  if (!take(s, "Epoch ") || !take(s, r.epoch) || !take(s, "/") || !take(s, r.epochs) || !take(s, ", ETE: "))
    return std::nullopt;
  if (!skip_to(s, ", Batch: ") || !take(s, r.batch) || !take(s, "/") || !take(s, r.batches)) return std::nullopt;
  if (!take(s, ", Loss: ") || !take(s, r.loss)) return std::nullopt;
  if (!take(s, ", Dice: ") || !take(s, r.dice)) return std::nullopt;
  if (!take(s, ", Global Step: ") || !take(s, r.global_step)) return std::nullopt;
  if (!take(s, ", Learn rate: ") || !take(s, r.lr)) return std::nullopt;
  if (!s.empty()) return std::nullopt;
  return r;
}

TrainingLogCurves parse_training_log(std::string_view text) {
  TrainingLogCurves out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (std::optional<LogStep> step = parse_log_step(line)) {
      if (out.runs.empty() ||
          (!out.runs.back().steps.empty() && step->global_step <= out.runs.back().steps.back().global_step))
        out.runs.emplace_back();
      out.runs.back().steps.push_back(*step);
      continue;
    }
    std::string_view s = trimmed(line);
    double dice = 0;
    if (take(s, "Test Dice Coef = ") && take(s, dice) && s.empty() && !out.runs.empty())
      out.runs.back().test_dice = dice;
  }
  return out;
}

std::optional<TrainingLogCurves> read_training_log(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::nullopt;
    throw RuntimeError(fmt::format("{}: cannot read the training log: {}", path, std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) throw RuntimeError(fmt::format("{}: cannot read the training log: not a regular file", path));
  try {
    const data::MappedFile file = data::MappedFile::open(path);
    return parse_training_log(std::string_view(reinterpret_cast<const char*>(file.data()), file.size()));
  } catch (const data::DataError& e) {
    throw RuntimeError(fmt::format("{} (the training log)", e.what()));
  }
}

}  // namespace unet::runtime
