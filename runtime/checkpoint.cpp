#include "runtime/checkpoint.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "data/npz.h"
#include "runtime/keras_layout.h"
#include "runtime/runtime_error.h"

namespace unet::runtime {

namespace fs = std::filesystem;

namespace {

size_t elements(const std::vector<size_t>& shape) {
  size_t n = 1;
  for (size_t d : shape) n *= d;
  return n;
}

}  // namespace

namespace {

// "model-00000042.npz" -> 42; nullopt for any other name.
std::optional<uint64_t> checkpoint_step(const std::string& name) {
  constexpr std::string_view prefix = "model-", suffix = ".npz";
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return std::nullopt;
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.empty() || digits.size() > 19 || digits.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoull(digits);
}

// "<anything>.npz.tmp.<pid>" (AtomicFile's and latest.npz's temporaries) whose writer is gone.
bool stale_temporary(const std::string& name) {
  const size_t at = name.rfind(".tmp.");
  if (at == std::string::npos || name.find(".npz") == std::string::npos) return false;
  const std::string pid = name.substr(at + 5);
  if (pid.empty() || pid.size() > 9 || pid.find_first_not_of("0123456789") != std::string::npos) return false;
  const pid_t p = static_cast<pid_t>(std::stol(pid));
  return p != getpid() && kill(p, 0) != 0 && errno == ESRCH;
}

// Removes the stale temporaries and all but the newest `limit` model-*.npz (never latest's
// target).
void tidy_checkpoint_dir(const fs::path& dir, size_t limit) {
  std::error_code ec;
  std::vector<std::pair<uint64_t, fs::path>> models;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (stale_temporary(name)) {
      fs::remove(e.path(), ec);
    } else if (auto step = checkpoint_step(name); step && e.is_regular_file(ec)) {
      models.emplace_back(*step, e.path());
    }
  }
  if (models.size() <= limit) return;
  const fs::path latest = fs::read_symlink(dir / "latest.npz", ec);  // never pruned, whatever its step
  std::sort(models.begin(), models.end());
  for (size_t k = 0; k + limit < models.size(); ++k)
    if (models[k].second.filename() != latest.filename()) fs::remove(models[k].second, ec);
}

}  // namespace

std::string save_checkpoint(const std::string& dir, const plan::Plan& plan, std::byte* arena,
                            uint64_t global_step, size_t keep) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw RuntimeError(fmt::format("{}: cannot create the checkpoint directory: {}", dir, ec.message()));
  const std::string name = fmt::format("model-{:08d}.npz", global_step);
  const std::string path = (fs::path(dir) / name).string();
  // Room is made first (one fewer than kept), so however a kill lands the folder never holds
  // more than `keep`, and a nearly full disk gets the space back before the write.
  // A diverged run must not replace its last good checkpoints with NaN weights (checked
  // before anything is pruned; padding lanes are zeros, so the whole tensor is scanned).
  for (const plan::Param& p : plan.params) {
    const plan::Tensor& t = plan.tensors[static_cast<size_t>(p.value)];
    const float* v = reinterpret_cast<const float*>(arena + t.offset);
    bool bad = false;
    for (size_t i = 0; i < t.bytes / sizeof(float); ++i) bad |= !std::isfinite(v[i]);
    if (bad)
      throw RuntimeError(fmt::format("global step {}: parameter '{}' is not finite (the run diverged); {} not "
                                     "written, the checkpoints before it are kept",
                                     global_step, p.name, path));
  }
  const size_t limit = keep == 0 ? SIZE_MAX : keep;
  if (limit != SIZE_MAX) tidy_checkpoint_dir(dir, limit - 1);
  data::NpzWriter npz(path);
  std::vector<float> buf;
  for (const plan::Param& p : plan.params) {
    const std::vector<size_t> shape = keras_shape(p);
    buf.resize(elements(shape));
    load_param(plan, arena, p, p.value, buf.data());
    npz.add_f32(p.name, shape, buf.data());
    if (plan.training) {
      load_param(plan, arena, p, p.adam_m, buf.data());
      npz.add_f32(p.name + "/adam_m", shape, buf.data());
      load_param(plan, arena, p, p.adam_v, buf.data());
      npz.add_f32(p.name + "/adam_v", shape, buf.data());
    }
  }
  const int64_t step = static_cast<int64_t>(global_step);
  npz.add_i64("global_step", {}, &step);
  npz.add_bytes("meta", fmt::format("{{\"model\": \"{}\", \"seed\": {}, \"global_step\": {}}}", plan.model_name,
                                    plan.seed, global_step));
  npz.commit();

  // latest.npz -> model-<step>.npz, swapped in with a rename so a reader never sees it missing.
  const fs::path latest = fs::path(dir) / "latest.npz";
  const fs::path tmp = fs::path(dir) / fmt::format(".latest.npz.tmp.{}", getpid());
  fs::remove(tmp, ec);
  fs::create_symlink(name, tmp, ec);
  if (!ec) fs::rename(tmp, latest, ec);
  if (ec) throw RuntimeError(fmt::format("{}: cannot point latest.npz at {}: {}", dir, name, ec.message()));
  tidy_checkpoint_dir(dir, limit);
  return path;
}

uint64_t load_checkpoint(const std::string& path, const plan::Plan& plan, std::byte* arena,
                         CheckpointUse use) {
  const data::NpzReader npz = data::NpzReader::open(path);
  auto load = [&](const plan::Param& p, const std::string& key, int tensor) {
    if (!npz.has(key)) throw RuntimeError(fmt::format("{}: has no member '{}' that the plan needs", path, key));
    const std::vector<float> v = npz.read_f32(key, keras_shape(p));
    // A NaN weight (a run that diverged, a damaged file) would train on as NaN: name it here.
    bool bad = false;  // one branch-free pass; the search only on failure
    for (float x : v) bad |= !std::isfinite(x);
    for (size_t i = 0; bad && i < v.size(); ++i)
      if (!std::isfinite(v[i]))
        throw RuntimeError(fmt::format("{}: member '{}' holds {} at element {}", path, key, v[i], i));
    store_param(plan, arena, p, tensor, v.data());
  };
  const bool moments = use == CheckpointUse::resume && plan.training;
  for (const plan::Param& p : plan.params) {
    load(p, p.name, p.value);
    if (moments) {
      load(p, p.name + "/adam_m", p.adam_m);
      load(p, p.name + "/adam_v", p.adam_v);
    }
  }
  if (use == CheckpointUse::init_weights || !npz.has("global_step")) return 0;
  const data::NpyArrayView step = npz.get("global_step");
  if (step.dtype() != data::NpyDtype::i64 || step.elements() != 1 || step.big_endian())
    throw RuntimeError(fmt::format("{}: member 'global_step' is not an int64 scalar", path));
  int64_t s = 0;
  std::memcpy(&s, step.data(), sizeof(s));
  if (s < 0) throw RuntimeError(fmt::format("{}: member 'global_step' is negative ({})", path, s));
  return static_cast<uint64_t>(s);
}

}  // namespace unet::runtime
