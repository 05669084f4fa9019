#include "data/synth_subject.h"

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/info.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <mutex>

#include "base/limits.h"
#include "data/data_error.h"
#include "data/nifti_writer.h"
#include "data/synth_field.h"
#include "data/synth_tumour.h"

namespace unet::data {

std::array<int64_t, 3> parse_volume_shape(const std::string& text) {
  std::array<int64_t, 3> shape{};
  size_t pos = 0;
  for (int a = 0; a < 3; ++a) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(text.substr(pos), &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || v < 1) throw DataError(fmt::format("--shape '{}': expected NXxNYxNZ, e.g. 240x240x155", text));
    shape[a] = v;
    pos += used;
    if (a < 2) {
      if (pos >= text.size() || (text[pos] != 'x' && text[pos] != 'X'))
        throw DataError(fmt::format("--shape '{}': expected NXxNYxNZ, e.g. 240x240x155", text));
      ++pos;
    }
  }
  if (pos != text.size()) throw DataError(fmt::format("--shape '{}': expected NXxNYxNZ, e.g. 240x240x155", text));
  return shape;
}

std::string synth_subject_id(int index) { return fmt::format("Synth_{:04d}", index + 1); }

SynthSubject render_synth_subject(const SynthOptions& o, int index) {
  const auto& dims = o.shape;
  for (int a = 0; a < 3; ++a)
    if (dims[a] < limits::kMinSynthAxis || dims[a] > limits::kMaxSynthAxis)
      throw DataError(fmt::format("synth: shape axis {} is {}: expected {}..{} voxels", a, dims[a],
                                  limits::kMinSynthAxis, limits::kMaxSynthAxis));

  SynthRandom rng(synth_mix(o.seed) ^ synth_mix(0x5eedull + static_cast<uint64_t>(index)));
  HeadPhantom head(rng, o.brain_template);
  // Every compartment must cover whole voxels even in the tests' tiny volumes.
  const float min_radius =
      std::max(0.07f, 6.f / static_cast<float>(std::min({dims[0], dims[1], dims[2]})));
  const Tumour tumour(rng, head, min_radius);
  const ContrastTable contrast = draw_contrasts(rng);
  const SmoothField warp[3] = {SmoothField(rng, dims, 3, 1.5, 0.035), SmoothField(rng, dims, 3, 1.5, 0.035),
                               SmoothField(rng, dims, 3, 1.5, 0.035)};
  std::array<SmoothField, kModalityCount> bias{SmoothField(rng, dims, 3, 1.0, o.bias), SmoothField(rng, dims, 3, 1.0, o.bias),
                                               SmoothField(rng, dims, 3, 1.0, o.bias), SmoothField(rng, dims, 3, 1.0, o.bias)};
  float scale[3];
  for (float& s : scale) s = static_cast<float>(rng.uniform(0.92, 1.08));
  const float angle = static_cast<float>(rng.uniform(-0.12, 0.12));
  const float ca = std::cos(angle), sa = std::sin(angle);
  float shift[3];
  for (float& t : shift) t = static_cast<float>(rng.uniform(-0.03, 0.03));
  std::array<uint64_t, kModalityCount> noise_stream{};
  for (uint64_t& s : noise_stream) s = rng.next();

  SynthSubject out;
  out.id = synth_subject_id(index);
  out.dims = dims;
  // The head keeps its physical size (240 x 240 x 155 mm) whatever the voxel count.
  out.voxel_mm = {240.f / static_cast<float>(dims[0]), 240.f / static_cast<float>(dims[1]),
                  155.f / static_cast<float>(dims[2])};
  const size_t count = static_cast<size_t>(dims[0] * dims[1] * dims[2]);
  for (auto& img : out.images) img.assign(count, 0);
  out.seg.assign(count, 0);

  tbb::parallel_for(tbb::blocked_range<int64_t>(0, dims[2]), [&](const tbb::blocked_range<int64_t>& zs) {
    for (int64_t z = zs.begin(); z != zs.end(); ++z)
      for (int64_t y = 0; y < dims[1]; ++y)
        for (int64_t x = 0; x < dims[0]; ++x) {
          const size_t i = static_cast<size_t>((z * dims[1] + y) * dims[0] + x);
          const float px = (static_cast<float>(x) + 0.5f) / static_cast<float>(dims[0]) * 2.f - 1.f + warp[0].at(x, y, z);
          const float py = (static_cast<float>(y) + 0.5f) / static_cast<float>(dims[1]) * 2.f - 1.f + warp[1].at(x, y, z);
          const float pz = (static_cast<float>(z) + 0.5f) / static_cast<float>(dims[2]) * 2.f - 1.f + warp[2].at(x, y, z);
          const float rx = px - shift[0], ry = py - shift[1];
          const Point3 q{(ca * rx - sa * ry) / scale[0], (sa * rx + ca * ry) / scale[1], (pz - shift[2]) / scale[2]};
          const Tissue healthy = head.tissue_at(tumour.displaced(q));
          const Tissue t = tumour.tissue_at(q, healthy);
          if (t == Tissue::background || (!o.keep_skull && !inside_brain(t))) continue;
          out.seg[i] = brats_label(t);
          const int ti = static_cast<int>(t);
          for (int m = 0; m < kModalityCount; ++m) {
            const float sigma = o.noise * contrast.mean[m][static_cast<int>(Tissue::white)];
            const float v = contrast.mean[m][ti] * (1.f + bias[m].at(x, y, z)) + sigma * voxel_noise(noise_stream[m], i);
            // Stay >= 1 so "nonzero" still means "head" to the converter's brain mask.
            out.images[m][i] = static_cast<int16_t>(std::clamp(std::lround(v), 1L, 32767L));
          }
        }
  });
  return out;
}

void write_brats_subject(const std::string& root, const SynthSubject& s, int gzip_level) {
  const std::filesystem::path dir = std::filesystem::path(root) / s.id;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw DataError(fmt::format("{}: cannot create folder: {}", dir.string(), ec.message()));
  tbb::task_group files;
  for (int m = 0; m < kModalityCount; ++m)
    files.run([&, m] {
      write_nifti((dir / fmt::format("{}_{}.nii.gz", s.id, kModalityNames[m])).string(), s.dims, s.voxel_mm,
                  NiftiDatatype::i16, s.images[m].data(), gzip_level);
    });
  files.run([&] {
    write_nifti((dir / fmt::format("{}_seg.nii.gz", s.id)).string(), s.dims, s.voxel_mm, NiftiDatatype::u8,
                s.seg.data(), gzip_level);
  });
  files.wait();
}

void write_synth_dataset(const std::string& root, int count, const SynthOptions& opts, int jobs,
                         const std::function<void(int, const std::string&)>& on_done) {
  tbb::task_arena arena(std::clamp(jobs, 1, tbb::info::default_concurrency()));
  std::mutex report;
  std::atomic<int> done{0};
  arena.execute([&] {
    tbb::parallel_for(0, count, [&](int index) {
      // Isolated, so a thread waiting inside this subject's loops does not start another
      // subject: at most `jobs` subjects are in memory.
      std::string id;
      tbb::this_task_arena::isolate([&] {
        const SynthSubject s = render_synth_subject(opts, index);
        write_brats_subject(root, s, opts.gzip_level);
        id = s.id;
      });
      const int n = ++done;
      if (on_done) {
        std::lock_guard<std::mutex> lock(report);
        on_done(n, id);
      }
    });
  });
}

}  // namespace unet::data
