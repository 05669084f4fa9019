#include "runtime/checkpoint.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "data/npz.h"
#include "runtime/param_init.h"
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

std::string save_checkpoint(const std::string& dir, const plan::Plan& plan, std::byte* arena,
                            uint64_t global_step) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw RuntimeError(fmt::format("{}: cannot create the checkpoint directory: {}", dir, ec.message()));
  const std::string name = fmt::format("model-{:08d}.npz", global_step);
  const std::string path = (fs::path(dir) / name).string();
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
  return path;
}

uint64_t load_checkpoint(const std::string& path, const plan::Plan& plan, std::byte* arena,
                         CheckpointUse use) {
  const data::NpzReader npz = data::NpzReader::open(path);
  auto load = [&](const plan::Param& p, const std::string& key, int tensor) {
    if (!npz.has(key)) throw RuntimeError(fmt::format("{}: has no member '{}' that the plan needs", path, key));
    const std::vector<float> v = npz.read_f32(key, keras_shape(p));
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
