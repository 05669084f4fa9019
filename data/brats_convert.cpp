#include "data/brats_convert.h"

#include <fmt/format.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_pipeline.h>
#include <tbb/concurrent_queue.h>
#include <tbb/info.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>

#include "data/atomic_file.h"
#include "data/data_error.h"
#include "data/npy.h"
#include "data/synth_random.h"

namespace fs = std::filesystem;

namespace unet::data {

std::vector<bool> split_by_subject(const std::vector<std::string>& sorted_ids, double fraction, uint64_t seed) {
  // NaN passes a range check (every comparison with it is false), and llround(NaN) is
  // unspecified: refuse it here, where the fraction becomes a count.
  if (!(fraction >= 0.0 && fraction <= 1.0))
    throw DataError(fmt::format("--train_test_split {}: not a fraction from 0 to 1", fraction));
  const size_t n = sorted_ids.size();
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  SynthRandom rng(seed ^ 0x5b11ull);
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.next() % i]);
  size_t n_train = static_cast<size_t>(std::llround(std::clamp(fraction, 0.0, 1.0) * static_cast<double>(n)));
  if (fraction > 0.0 && fraction < 1.0 && n >= 2) n_train = std::clamp<size_t>(n_train, 1, n - 1);
  std::vector<bool> train(n, false);
  for (size_t i = 0; i < n_train; ++i) train[order[i]] = true;
  return train;
}

namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<int>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

struct ManifestEntry {
  std::string id;
  size_t first_row;
  std::vector<int> slices;
};

// One side of the split: its two writers, and for --norm stack the raw image scratch.
struct SplitOutput {
  std::string images_path, masks_path;
  std::optional<NpyWriter> images, masks;
  std::string scratch_path;  // raw float32 images awaiting the stack's statistics
  size_t rows = 0;
  std::vector<ManifestEntry> entries;
  std::vector<std::string> ids;
};

// Mask rows by class: background, label 1, label 2, label 4.
constexpr float kOneHot[4][4] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};

// A subject whose images are written, on its way to the masks stage.
struct WrittenSubject {
  std::shared_ptr<SubjectSlices> slices;
  SplitOutput* side = nullptr;
};

const char* norm_name(BratsNorm n) { return n == BratsNorm::brain ? "brain" : "stack"; }

}  // namespace

ConvertSummary convert_brats(const std::string& root, const std::string& out_dir, const ConvertOptions& opts,
                             const ConvertCallbacks& cb) {
  if (opts.image_dtype != NpyDtype::f32 && opts.image_dtype != NpyDtype::f16)
    throw DataError(fmt::format("image dtype {} unsupported: float32 or float16", npy_dtype_name(opts.image_dtype)));
  if (opts.mask_dtype != NpyDtype::f32 && opts.mask_dtype != NpyDtype::f16 && opts.mask_dtype != NpyDtype::u8)
    throw DataError(fmt::format("mask dtype {} unsupported: float32, float16 or uint8", npy_dtype_name(opts.mask_dtype)));
  ConvertSummary summary;
  auto warn = [&](const std::string& line) {
    summary.warnings.push_back(line);
    if (cb.warn) cb.warn(line);
  };

  const BratsTree tree = find_brats_subjects(root);
  std::vector<BratsSubjectFiles> subjects;
  auto skip_incomplete = [&](const BratsSubjectFiles& s) {
    std::string missing;
    for (const std::string& m : s.missing) missing += (missing.empty() ? "" : ", ") + m;
    warn(fmt::format("{}: skipped: missing {}", s.id, missing));
  };
  if (opts.only_subjects.empty()) {
    subjects = tree.complete;
    for (const auto& s : tree.incomplete) skip_incomplete(s);
  } else {
    for (const std::string& id : opts.only_subjects) {
      auto same = [&](const BratsSubjectFiles& s) { return s.id == id; };
      if (auto it = std::find_if(tree.complete.begin(), tree.complete.end(), same); it != tree.complete.end()) {
        if (std::none_of(subjects.begin(), subjects.end(), same)) subjects.push_back(*it);
      } else if (auto jt = std::find_if(tree.incomplete.begin(), tree.incomplete.end(), same);
                 jt != tree.incomplete.end()) {
        skip_incomplete(*jt);
      } else {
        throw DataError(fmt::format("{}: no subject folder named {}", root, id));
      }
    }
    std::sort(subjects.begin(), subjects.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  }
  if (subjects.empty()) throw DataError(fmt::format("{}: no complete BraTS subject to convert", root));

  std::vector<std::string> ids;
  for (const auto& s : subjects) ids.push_back(s.id);
  const std::vector<bool> is_train = split_by_subject(ids, opts.train_fraction, opts.seed);

  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw DataError(fmt::format("{}: cannot create folder: {}", out_dir, ec.message()));
  const int S = opts.slices.size;
  const std::vector<size_t> row_shape{static_cast<size_t>(S), static_cast<size_t>(S), 4};
  const bool stack = opts.slices.norm == BratsNorm::stack;
  std::array<SplitOutput, 2> sides;  // 0 train, 1 test
  for (int side = 0; side < 2; ++side) {
    const char* name = side == 0 ? "train" : "test";
    SplitOutput& o = sides[static_cast<size_t>(side)];
    o.images_path = (fs::path(out_dir) / fmt::format("imgs_{}.npy", name)).string();
    o.masks_path = (fs::path(out_dir) / fmt::format("msks_{}.npy", name)).string();
    if (stack) {
      o.scratch_path = (fs::path(out_dir) / fmt::format(".imgs_{}.unnormalised.npy", name)).string();
      o.images.emplace(o.scratch_path, NpyDtype::f32, row_shape);
    } else {
      o.images.emplace(o.images_path, opts.image_dtype, row_shape);
    }
    o.masks.emplace(o.masks_path, opts.mask_dtype, row_shape);
  }

  std::array<double, 4> sum{}, sumsq{};
  size_t stack_pixels = 0;
  const int total = static_cast<int>(subjects.size());
  int done = 0;
  const size_t plane = static_cast<size_t>(S) * S;
  constexpr size_t kChunkRows = 8;
  std::vector<float> onehot(kChunkRows * plane * 4), interleaved(kChunkRows * plane * 4);

  if (cb.begin) cb.begin(total);
  const int jobs = std::max(1, opts.jobs);
  // At most `jobs` subjects are in flight; their buffers are recycled rather than freed, so
  // the kernel does not zero fresh pages for every subject.
  tbb::concurrent_queue<std::shared_ptr<SubjectSlices>> pool;
  // Threads beyond the cores only make TBB complain; `jobs` still bounds the subjects in flight.
  tbb::task_arena arena(std::min(jobs, tbb::info::default_concurrency()));
  arena.execute([&] {
    size_t next = 0;
    // One subject more than the converters in flight: a converter that finishes while the
    // (serial) writers are still busy starts the next subject instead of idling.
    tbb::parallel_pipeline(
        static_cast<size_t>(jobs > 1 ? jobs + 1 : 1),
        tbb::make_filter<void, size_t>(tbb::filter_mode::serial_in_order,
                                       [&](tbb::flow_control& fc) -> size_t {
                                         if (next == subjects.size()) {
                                           fc.stop();
                                           return 0;
                                         }
                                         return next++;
                                       }) &
            tbb::make_filter<size_t, std::shared_ptr<SubjectSlices>>(
                tbb::filter_mode::parallel,
                [&](size_t i) {
                  std::shared_ptr<SubjectSlices> s;
                  if (!pool.try_pop(s)) s = std::make_shared<SubjectSlices>();
                  slice_brats_subject(subjects[i], opts.slices, *s);
                  return s;
                }) &
            // Writing is two serial stages, images then masks, so the kernel's copies into
            // the page cache (most of the writing time) run on two threads, not one.
            tbb::make_filter<std::shared_ptr<SubjectSlices>, WrittenSubject>(
                tbb::filter_mode::serial_in_order, [&](std::shared_ptr<SubjectSlices> s) {
                  const size_t index = static_cast<size_t>(std::find(ids.begin(), ids.end(), s->id) - ids.begin());
                  SplitOutput& o = sides[is_train[index] ? 0 : 1];
                  o.entries.push_back({s->id, o.rows, s->slice_index});
                  o.ids.push_back(s->id);
                  const size_t rows = s->rows();
                  if (stack) {
                    for (int c = 0; c < 4; ++c) {
                      const float* channel = s->modality(c);
                      for (size_t p = 0; p < rows * plane; ++p) {
                        const double v = channel[p];
                        sum[static_cast<size_t>(c)] += v;
                        sumsq[static_cast<size_t>(c)] += v * v;
                      }
                    }
                    stack_pixels += rows * plane;
                  }
                  for (size_t r0 = 0; r0 < rows; r0 += kChunkRows) {
                    const size_t n = std::min(kChunkRows, rows - r0);
                    s->interleave_rows(r0, n, interleaved.data());
                    o.images->append_rows_f32(interleaved.data(), n);
                  }
                  o.rows += rows;
                  return WrittenSubject{std::move(s), &o};
                }) &
            tbb::make_filter<WrittenSubject, void>(
                tbb::filter_mode::serial_in_order, [&](WrittenSubject w) {
                  const SubjectSlices& s = *w.slices;
                  const size_t rows = s.rows();
                  for (size_t r0 = 0; r0 < rows; r0 += kChunkRows) {
                    const size_t n = std::min(kChunkRows, rows - r0);
                    const uint8_t* cls = s.classes.data() + r0 * plane;
                    // One 16-byte copy a pixel: no clearing pass over the chunk first.
                    for (size_t p = 0; p < n * plane; ++p) std::memcpy(&onehot[p * 4], kOneHot[cls[p]], sizeof kOneHot[0]);
                    w.side->masks->append_rows_f32(onehot.data(), n);
                  }
                  ++done;
                  if (cb.progress) cb.progress(done, total, s.id);
                  pool.push(std::move(w.slices));
                }));
  });

  std::array<float, 4> mean{}, inv_sd{};
  if (stack && stack_pixels > 0) {
    for (int c = 0; c < 4; ++c) {
      const double m = sum[static_cast<size_t>(c)] / static_cast<double>(stack_pixels);
      const double var = std::max(0.0, sumsq[static_cast<size_t>(c)] / static_cast<double>(stack_pixels) - m * m);
      mean[static_cast<size_t>(c)] = static_cast<float>(m);
      inv_sd[static_cast<size_t>(c)] = static_cast<float>(var > 0 ? 1.0 / std::sqrt(var) : 1.0);
    }
  }
  // The four files' fsyncs (most of a second for a large conversion) overlap.
  arena.execute([&] {
    tbb::parallel_for(0, 4, [&](int k) {
      SplitOutput& o = sides[static_cast<size_t>(k / 2)];
      (k % 2 == 0 ? o.images : o.masks)->commit();
    });
  });
  for (SplitOutput& o : sides) {
    if (!stack) continue;
    // Second pass over the unnormalised scratch, a chunk at a time: memory stays flat.
    {
      const NpyReader raw = NpyReader::open(o.scratch_path);
      NpyWriter images(o.images_path, opts.image_dtype, row_shape);
      std::vector<float> chunk(kChunkRows * plane * 4);
      for (size_t r0 = 0; r0 < raw.count(); r0 += kChunkRows) {
        const size_t n = std::min(kChunkRows, raw.count() - r0);
        raw.read_rows_f32(r0, n, chunk.data());
        for (size_t p = 0; p < n * plane; ++p)
          for (size_t c = 0; c < 4; ++c) chunk[p * 4 + c] = (chunk[p * 4 + c] - mean[c]) * inv_sd[c];
        images.append_rows_f32(chunk.data(), n);
      }
      images.commit();
    }
    fs::remove(o.scratch_path, ec);
  }

  // The manifest last: its presence says the npy files beside it are complete.
  std::string json = "{\n";
  json += fmt::format("  \"format\": \"unetconvert-manifest-1\",\n  \"source\": {},\n", json_string(root));
  json += fmt::format(
      "  \"size\": {},\n  \"resize\": {},\n  \"rotate\": {},\n  \"norm\": \"{}\",\n  \"dtype\": \"{}\",\n"
      "  \"mask_dtype\": \"{}\",\n  \"seed\": {},\n  \"train_test_split\": {},\n",
      S, opts.slices.resize ? "true" : "false", opts.slices.rotate, norm_name(opts.slices.norm),
      npy_dtype_name(opts.image_dtype), npy_dtype_name(opts.mask_dtype), opts.seed, opts.train_fraction);
  json += "  \"channels\": [\"t1\", \"t2\", \"flair\", \"t1ce\"],\n";
  json += "  \"mask_channels\": [\"background\", \"label 1 necrotic core\", \"label 2 edema\", \"label 4 enhancing\"],\n";
  if (stack)
    json += fmt::format("  \"stack_mean\": [{}, {}, {}, {}],\n  \"stack_inv_sd\": [{}, {}, {}, {}],\n", mean[0],
                        mean[1], mean[2], mean[3], inv_sd[0], inv_sd[1], inv_sd[2], inv_sd[3]);
  for (int side = 0; side < 2; ++side) {
    const SplitOutput& o = sides[static_cast<size_t>(side)];
    json += fmt::format("  \"{}\": {{\n    \"images\": {},\n    \"masks\": {},\n    \"rows\": {},\n    \"subjects\": [",
                        side == 0 ? "train" : "test", json_string(fs::path(o.images_path).filename().string()),
                        json_string(fs::path(o.masks_path).filename().string()), o.rows);
    for (size_t e = 0; e < o.entries.size(); ++e) {
      const ManifestEntry& m = o.entries[e];
      json += fmt::format("{}\n      {{\"id\": {}, \"first_row\": {}, \"slices\": [{}]}}", e ? "," : "",
                          json_string(m.id), m.first_row, fmt::join(m.slices, ", "));
    }
    json += o.entries.empty() ? "]\n  },\n" : "\n    ]\n  },\n";
  }
  json += "  \"skipped\": [";
  for (size_t w = 0; w < summary.warnings.size(); ++w)
    json += fmt::format("{}{}", w ? ", " : "", json_string(summary.warnings[w]));
  json += "]\n}\n";
  AtomicFile manifest((fs::path(out_dir) / "manifest.json").string());
  manifest.write(json);
  manifest.commit();

  summary.train_subjects = sides[0].ids;
  summary.test_subjects = sides[1].ids;
  summary.train_rows = sides[0].rows;
  summary.test_rows = sides[1].rows;
  return summary;
}

}  // namespace unet::data
