// Writes the seed corpus of every fuzz target (tests/fuzz/corpus/<target>/), each seed made
// by the project's own writers, so the seeds are what the readers meet in practice and stay
// in step with the formats. Run by hand after a format change:
//   build-fuzz/tests/fuzz/fuzz_make_corpus tests/fuzz/corpus
// Seeds are small on purpose (libFuzzer mutates small inputs faster).
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "data/nifti_writer.h"
#include "data/npy.h"
#include "data/npz.h"
#include "data/npz_zip_format.h"
#include "graph/graph_ir.h"
#include "graph/lower.h"
#include "net/frame.h"
#include "plan/plan_io.h"
#include "runtime/checkpoint.h"
#include "runtime/param_init.h"
#include "runtime/tune_file.h"
#include "tests/plan/tiny_plan.h"

namespace fs = std::filesystem;
using namespace unet;

namespace {

fs::path out_root;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  if (!in && !in.eof()) throw std::runtime_error("cannot read " + p.string());
  return s.str();
}

void put(const std::string& target, const std::string& name, std::span<const uint8_t> bytes) {
  const fs::path dir = out_root / target;
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
}
void put(const std::string& target, const std::string& name, const std::string& bytes) {
  put(target, name, std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

// Writers that take a path write into a scratch folder; the seed is the file they made.
fs::path scratch;
std::string via_file(const std::string& name, const auto& write) {
  const fs::path p = scratch / name;
  write(p.string());
  return slurp(p);
}

// The smallest model the language allows: one conv level, a pool and an upsample back, so
// the seed reaches every stage (shapes, concat, the loss) in a few hundred bytes.
constexpr const char* kTinyModel = R"(# tiny
model tiny
seed 7
input  images shape 8x8x2
target masks  shape 8x8x1
c1 = conv(images, filters=16, kernel=3, activation=relu, init=he_uniform)
p1 = maxpool(c1, size=2)
d1 = dropout(p1, rate=0.5)
u1 = upsample(d1, factor=2)
t1 = conv_transpose(c1, filters=16, kernel=2, stride=1, padding=same)
j1 = concat(u1, t1)
out = conv(j1, filters=1, kernel=1, activation=sigmoid)
loss = dice_loss(out, masks, smooth=1.0)
optimizer adam(learning_rate=0.001, decay_steps=100, lr_fraction=0.5)
)";

void model_def_seeds() {
  const fs::path models = fs::path(UNET_SOURCE_DIR) / "models";
  put("model_def", "unet_brats.def", slurp(models / "unet_brats.def"));
  put("model_def", "unet_brats_upsampling.def", slurp(models / "unet_brats_upsampling.def"));
  put("model_def", "tiny.def", kTinyModel);
}

void plan_seeds() {
  std::vector<plan::Plan> plans;
  plans.push_back(plan::testing::make_tiny_plan());
  // The tiny model compiled as unetc would, training and inference.
  const graph::Graph g = graph::parse_model(kTinyModel, "tiny.def");
  graph::LowerOptions training;
  plans.push_back(graph::lower_to_plan(g, training));
  graph::LowerOptions inference;
  inference.training = false;
  plans.push_back(graph::lower_to_plan(g, inference));
  const char* names[] = {"tiny_plan", "tiny_model_train", "tiny_model_infer"};
  for (size_t i = 0; i < plans.size(); ++i) {
    const std::vector<uint8_t> bytes = plan::encode_plan(plans[i]);
    put("plan", std::string(names[i]) + ".bin", bytes);
    // fuzz_plan_body: the tier byte, then the body without its header.
    std::vector<uint8_t> body{static_cast<uint8_t>(plans[i].tier)};
    body.insert(body.end(), bytes.begin() + plan::kHeaderBytes, bytes.end());
    put("plan_body", std::string(names[i]) + ".body", body);
  }
}

void npy_seeds() {
  const float f[] = {0.f, 1.5f, -2.25f, 3e38f, 1e-40f, 6.f};
  put("npy", "f32_2x3.npy", via_file("a.npy", [&](const std::string& p) { data::write_npy_f32(p, {2, 3}, f); }));
  put("npy", "f32_scalar.npy", via_file("b.npy", [&](const std::string& p) { data::write_npy_f32(p, {}, f); }));
  put("npy", "f32_empty.npy", via_file("c.npy", [&](const std::string& p) { data::write_npy_f32(p, {0, 4}, f); }));
  // Every dtype the reader converts, as rows of 2x2 (mask files are uint8, images f16/f32).
  const struct {
    data::NpyDtype dtype;
    const char* name;
  } dtypes[] = {{data::NpyDtype::u8, "u8"},   {data::NpyDtype::f16, "f16"}, {data::NpyDtype::i16, "i16"},
                {data::NpyDtype::f64, "f64"}, {data::NpyDtype::b1, "b1"},   {data::NpyDtype::i64, "i64"}};
  for (const auto& d : dtypes) {
    const std::string bytes = via_file(std::string(d.name) + ".npy", [&](const std::string& p) {
      data::NpyWriter w(p, d.dtype, {2, 2});
      const float rows[] = {0.f, 1.f, 1.f, 0.f, 1.f, 1.f, 0.f, 0.f};
      w.append_rows_f32(rows, 2);
      w.commit();
    });
    put("npy", std::string("rows_") + d.name + ".npy", bytes);
  }
  // Big-endian, which numpy writes on request and the writer never does.
  const std::string header = data::format_npy_header(data::NpyDtype::i32, true, {3});
  const uint8_t be[] = {0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe, 0x7f, 0, 0, 0};
  put("npy", "i32_big_endian.npy", header + std::string(reinterpret_cast<const char*>(be), sizeof be));
}

// A zip of one deflated member, as numpy.savez_compressed writes it (the writer only stores).
std::string deflated_npz(const std::string& member, const std::string& content) {
  std::string packed(compressBound(static_cast<uLong>(content.size())) + 64, '\0');
  z_stream z{};
  if (deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(content.data()));
  z.avail_in = static_cast<uInt>(content.size());
  z.next_out = reinterpret_cast<Bytef*>(packed.data());
  z.avail_out = static_cast<uInt>(packed.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) std::abort();
  packed.resize(z.total_out);
  deflateEnd(&z);
  const uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(content.data()),
                                                   static_cast<uInt>(content.size())));
  using namespace data::zip;
  std::string zip;
  auto common = [&](std::string& out) {
    put16(out, kVersionDefault);  // version needed
    put16(out, 0);                // flags
    put16(out, kMethodDeflate);
    put16(out, 0);  // time
    put16(out, 0x21);  // date (1980-01-01)
    put32(out, crc);
    put32(out, static_cast<uint32_t>(packed.size()));
    put32(out, static_cast<uint32_t>(content.size()));
    put16(out, static_cast<uint16_t>(member.size()));
    put16(out, 0);  // extra
  };
  put32(zip, kLocalHeaderSignature);
  common(zip);
  zip += member;
  zip += packed;
  const uint32_t directory_at = static_cast<uint32_t>(zip.size());
  put32(zip, kCentralHeaderSignature);
  put16(zip, kVersionDefault);  // version made by
  common(zip);
  put16(zip, 0);  // comment
  put16(zip, 0);  // disk
  put16(zip, 0);  // internal attributes
  put32(zip, 0);  // external attributes
  put32(zip, 0);  // local header offset
  zip += member;
  const uint32_t directory_size = static_cast<uint32_t>(zip.size()) - directory_at;
  put32(zip, kEndSignature);
  put16(zip, 0);
  put16(zip, 0);
  put16(zip, 1);
  put16(zip, 1);
  put32(zip, directory_size);
  put32(zip, directory_at);
  put16(zip, 0);
  return zip;
}

void npz_seeds() {
  const float w[] = {0.25f, -1.f, 2.f, 0.f, 1e-3f, -7.5f};
  const int64_t step = 42;
  for (const bool zip64 : {false, true}) {
    const std::string bytes = via_file("a.npz", [&](const std::string& p) {
      data::NpzWriter z(p, zip64);
      z.add_f32("layer/kernel", {1, 1, 2, 3}, w);
      z.add_f32("layer/bias", {3}, w);
      z.add_i64("global_step", {}, &step);
      z.add_bytes("meta", R"({"model": "x", "seed": 1})");
      z.commit();
    });
    put("npz", zip64 ? "zip64.npz" : "stored.npz", bytes);
  }
  std::string npy = data::format_npy_header(data::NpyDtype::f32, false, {2, 3});
  npy.append(reinterpret_cast<const char*>(w), sizeof w);
  put("npz", "deflated.npz", deflated_npz("w.npy", npy));
}

void checkpoint_seeds() {
  const plan::Plan plan = plan::testing::make_tiny_plan();
  std::vector<std::byte> arena(plan.arena_bytes + plan::kArenaAlignment);
  void* p = arena.data();
  size_t room = arena.size();
  auto* aligned = static_cast<std::byte*>(std::align(plan::kArenaAlignment, plan.arena_bytes, p, room));
  runtime::initialise_params(plan, aligned);
  const fs::path dir = scratch / "ckpt";
  const std::string path = runtime::save_checkpoint(dir.string(), plan, aligned, 12, 0);
  put("checkpoint", "tiny_step12.npz", slurp(path));
}

void nifti_seeds() {
  const std::array<int64_t, 3> dims{3, 2, 2};
  const uint8_t u8[12] = {0, 1, 2, 4, 1, 1, 0, 0, 2, 2, 4, 0};
  int16_t i16[12];
  float f32[12];
  for (int i = 0; i < 12; ++i) i16[i] = static_cast<int16_t>(i * 300 - 1000), f32[i] = 0.5f * i;
  struct Seed {
    const char* name;
    data::NiftiDatatype dtype;
    const void* voxels;
  } seeds[] = {{"labels_u8", data::NiftiDatatype::u8, u8},
               {"t1_i16", data::NiftiDatatype::i16, i16},
               {"flair_f32", data::NiftiDatatype::f32, f32}};
  for (const Seed& s : seeds) {
    const std::string plain = via_file(std::string(s.name) + ".nii", [&](const std::string& p) {
      data::write_nifti(p, dims, {1.f, 1.f, 1.5f}, s.dtype, s.voxels, 0);
    });
    put("nifti", std::string(s.name) + ".nii", plain);
    put("nifti", std::string(s.name) + ".nii.gz", via_file(std::string(s.name) + ".nii.gz", [&](const std::string& p) {
      data::write_nifti(p, dims, {1.f, 1.f, 1.5f}, s.dtype, s.voxels, 6);
    }));
    // fuzz_nifti_gz: a control byte (0: one whole member), then the decompressed bytes.
    put("nifti_gz", std::string(s.name) + ".ctl0", std::string(1, '\0') + plain);
    put("nifti_gz", std::string(s.name) + ".ctl1", std::string(1, '\x81') + plain);  // two members, cut at half
  }
}

std::string frame_bytes(net::FrameType type, uint64_t step, uint32_t tensor, uint64_t offset, const std::string& payload) {
  net::FrameHeader h;
  h.type = type;
  h.step = step;
  h.tensor = tensor;
  h.offset = offset;
  h.length = payload.size();
  const std::span<const std::byte> parts[] = {std::as_bytes(std::span(payload.data(), payload.size()))};
  const net::HeaderBytes header = net::encode_header(h, parts);
  return std::string(reinterpret_cast<const char*>(header.data()), header.size()) + payload;
}

// A tune file of two ops as unetbench tune writes it: one changed kernel, one cut reference.
void tune_file_seeds() {
  runtime::TuneFile f;
  f.cpu = "AMD EPYC";
  f.tier = kernels::Tier::avx512;
  f.threads = 2;
  f.batch = 2;
  f.model = "tiny";
  f.date = "2025-01-01T00:00:00Z";
  f.budget_seconds = 60;
  runtime::TunedOp op;
  op.list = "forward";
  op.label = "c1";
  op.family = "conv2d_fwd";
  op.shape = "mb2ic2ih8iw8oc16oh8ow8kh3kw3ph1pw1_relu_bias_pool";
  op.default_kernel = "conv2d_fwd_f32_3x3_oc32w12_avx512";
  op.chosen_kernel = "conv2d_fwd_f32_3x3_oc32w12_avx512f";
  op.candidates = {{"conv2d_fwd_f32_3x3_oc32w12_avx512", 2.5e-6, 2.25e-6, 25},
                   {"conv2d_fwd_f32_3x3_oc32w12_avx512f", 2.0e-6, 1.9e-6, 25},
                   {"conv2d_fwd_f32_ref", 5.1e-5, 5.1e-5, 0}};
  f.ops.push_back(op);
  op.list = "update";
  op.label = "adam";
  op.family = "adam_update";
  op.shape = "n2336";
  op.default_kernel = op.chosen_kernel = "adam_update_f32_zmm_avx512";
  op.candidates = {{"adam_update_f32_zmm_avx512", 1e-6, 9e-7, 50}, {"adam_update_f32_ref", 4e-6, 4e-6, 0}};
  f.ops.push_back(op);
  put("tune_file", "two_ops.json", runtime::tune_file_json(f));
}

void net_seeds() {
  const std::string grad(64, '\x3f');
  const std::string frames[] = {
      frame_bytes(net::FrameType::heartbeat, 0, 0, 0, ""),
      frame_bytes(net::FrameType::gradient, 17, 3, 256, grad),
      frame_bytes(net::FrameType::refuse, 0, 0, 0, "wrong cluster token"),
      frame_bytes(net::FrameType::dice_partials, 5, 0, 0, std::string(24, '\0')),
  };
  const char* names[] = {"heartbeat", "gradient", "refuse", "dice_partials"};
  for (size_t i = 0; i < std::size(frames); ++i) put("net_frame", std::string(names[i]) + ".frame", frames[i]);
  // fuzz_net_handshake: a mode byte, then the script; zeros are the well-behaved peer (see the
  // target), so these are a successful handshake on each side.
  put("net_handshake", "worker_ok", std::string(1, '\0') + std::string(96, '\0'));
  put("net_handshake", "ps_ok", std::string(1, '\1') + std::string(96, '\0'));
  // Stream mode: frames, then a last byte 0 (the default payload bound).
  put("net_handshake", "stream", std::string(1, '\2') + frames[0] + frames[1] + frames[2] + std::string(1, '\0'));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR (normally tests/fuzz/corpus)\n", argv[0]);
    return 2;
  }
  out_root = argv[1];
  scratch = fs::temp_directory_path() / ("unet-make-corpus." + std::to_string(getpid()));
  fs::create_directories(scratch);
  try {
    model_def_seeds();
    plan_seeds();
    npy_seeds();
    npz_seeds();
    checkpoint_seeds();
    nifti_seeds();
    net_seeds();
    tune_file_seeds();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_corpus: %s\n", e.what());
    fs::remove_all(scratch);
    return 1;
  }
  fs::remove_all(scratch);
  return 0;
}
