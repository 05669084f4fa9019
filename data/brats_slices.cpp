#include "data/brats_slices.h"

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "base/limits.h"
#include "data/data_error.h"
#include "data/nifti_reader.h"

namespace unet::data {

void crop_or_pad(const float* src, int64_t nx, int64_t ny, int size, float* out) {
  // numpy's centre crop start (n - size) // 2; negative starts pad with zeros.
  const int64_t ox = (nx - size) >= 0 ? (nx - size) / 2 : -((size - nx + 1) / 2);
  const int64_t oy = (ny - size) >= 0 ? (ny - size) / 2 : -((size - ny + 1) / 2);
  for (int i = 0; i < size; ++i) {
    const int64_t x = ox + i;
    for (int j = 0; j < size; ++j) {
      const int64_t y = oy + j;
      out[i * size + j] = (x >= 0 && x < nx && y >= 0 && y < ny) ? src[x * ny + y] : 0.f;
    }
  }
}

namespace {

// For each output cell along one axis, the input cells it covers and the fraction of the
// output cell each covers (the weights sum to 1): area resampling as cv2's INTER_AREA.
struct AreaWeights {
  std::vector<int64_t> first, count;
  std::vector<float> weight;  // concatenated
  std::vector<size_t> offset;
};

AreaWeights area_weights(int64_t n, int size) {
  AreaWeights w;
  const double step = static_cast<double>(n) / size;
  for (int o = 0; o < size; ++o) {
    const double lo = o * step, hi = (o + 1) * step;
    const int64_t a = static_cast<int64_t>(std::floor(lo)), b = std::min<int64_t>(n, static_cast<int64_t>(std::ceil(hi)));
    w.first.push_back(a);
    w.count.push_back(b - a);
    w.offset.push_back(w.weight.size());
    for (int64_t i = a; i < b; ++i) {
      const double cover = std::min<double>(hi, static_cast<double>(i + 1)) - std::max<double>(lo, static_cast<double>(i));
      w.weight.push_back(static_cast<float>(cover / step));
    }
  }
  return w;
}

}  // namespace

void area_resize(const float* src, int64_t nx, int64_t ny, int size, float* out) {
  const AreaWeights wx = area_weights(nx, size), wy = area_weights(ny, size);
  for (int i = 0; i < size; ++i)
    for (int j = 0; j < size; ++j) {
      float acc = 0.f;
      for (int64_t a = 0; a < wx.count[i]; ++a) {
        const float* row = src + (wx.first[i] + a) * ny;
        float r = 0.f;
        for (int64_t b = 0; b < wy.count[j]; ++b) r += wy.weight[wy.offset[j] + b] * row[wy.first[j] + b];
        acc += wx.weight[wx.offset[i] + a] * r;
      }
      out[i * size + j] = acc;
    }
}

void rot90_square(const float* src, int n, int k, float* out) {
  k = ((k % 4) + 4) % 4;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      int si = i, sj = j;
      switch (k) {
        case 1: si = j; sj = n - 1 - i; break;
        case 2: si = n - 1 - i; sj = n - 1 - j; break;
        case 3: si = n - 1 - j; sj = i; break;
        default: break;
      }
      out[i * n + j] = src[si * n + sj];
    }
}

namespace {

int label_class(float v) {
  if (v == 0.f) return 0;
  if (v == 1.f) return 1;
  if (v == 2.f) return 2;
  if (v == 4.f) return 3;
  return -1;
}

// Labels 0, 1, 2, 4 -> classes 0..3 in place. Returns the offset of the first voxel with
// another label, having stopped there, or n when all are BraTS labels.
size_t map_labels(float* v, size_t n) {
  size_t i = 0;
#ifdef __SSE2__
  const __m128 zero = _mm_setzero_ps(), one = _mm_set1_ps(1.f), two = _mm_set1_ps(2.f), four = _mm_set1_ps(4.f);
  for (; i + 4 <= n; i += 4) {
    const __m128 x = _mm_loadu_ps(v + i);
    const __m128 is4 = _mm_cmpeq_ps(x, four);
    const __m128 known = _mm_or_ps(_mm_or_ps(_mm_cmpeq_ps(x, zero), _mm_cmpeq_ps(x, one)),
                                   _mm_or_ps(_mm_cmpeq_ps(x, two), is4));
    const int bits = _mm_movemask_ps(known);
    if (bits != 0xf) return i + static_cast<size_t>(std::countr_one(static_cast<unsigned>(bits)));
    _mm_storeu_ps(v + i, _mm_sub_ps(x, _mm_and_ps(is4, one)));  // 4 -> 3, the rest stay
  }
#endif
  for (; i < n; ++i) {
    const int c = label_class(v[i]);
    if (c < 0) return i;
    v[i] = static_cast<float>(c);
  }
  return n;
}

// Sum, sum of squares and count of the nonzero voxels, fed a run of voxels at a time.
// Background voxels are 0 and add nothing to the sums, so only the count needs a test.
// Float64 sums (numpy's accuracy) in two-lane SSE2 registers, which baseline x86-64 has.
struct BrainMoments {
  double sum = 0, sumsq = 0;
  size_t count = 0;

  void add(const float* x, size_t n) {
    size_t i = 0;
#ifdef __SSE2__
    __m128d s0 = _mm_setzero_pd(), s1 = _mm_setzero_pd(), q0 = _mm_setzero_pd(), q1 = _mm_setzero_pd();
    const __m128 zero = _mm_setzero_ps();
    for (size_t block = 0; block < n / 4;) {
      // Per-lane 32-bit counts, flushed before they could overflow.
      const size_t end = std::min(n / 4, block + (size_t{1} << 30));
      __m128i c = _mm_setzero_si128();
      for (; block < end; ++block, i += 4) {
        const __m128 v = _mm_loadu_ps(x + i);
        const __m128d lo = _mm_cvtps_pd(v), hi = _mm_cvtps_pd(_mm_movehl_ps(v, v));
        s0 = _mm_add_pd(s0, lo);
        s1 = _mm_add_pd(s1, hi);
        q0 = _mm_add_pd(q0, _mm_mul_pd(lo, lo));
        q1 = _mm_add_pd(q1, _mm_mul_pd(hi, hi));
        c = _mm_sub_epi32(c, _mm_castps_si128(_mm_cmpneq_ps(v, zero)));  // -1 per nonzero lane
      }
      alignas(16) uint32_t lanes[4];
      _mm_store_si128(reinterpret_cast<__m128i*>(lanes), c);
      count += size_t{lanes[0]} + lanes[1] + lanes[2] + lanes[3];
    }
    alignas(16) double a[2], b[2];
    _mm_store_pd(a, _mm_add_pd(s0, s1));
    _mm_store_pd(b, _mm_add_pd(q0, q1));
    sum += a[0] + a[1];
    sumsq += b[0] + b[1];
#endif
    for (; i < n; ++i) {
      const double e = x[i];
      sum += e;
      sumsq += e * e;
      count += x[i] != 0.f;
    }
  }
};

// Axial plane z as [nx][ny] (x the row), the orientation nibabel's img[:, :, z] has.
void axial_plane(const NiftiVolume& v, int64_t z, float* plane) {
  const int64_t nx = v.dims[0], ny = v.dims[1];
  const float* base = v.voxels.data() + static_cast<size_t>(z * nx * ny);
  for (int64_t y = 0; y < ny; ++y)
    for (int64_t x = 0; x < nx; ++x) plane[x * ny + y] = base[y * nx + x];
}

// Mean and 1/sd of the nonzero voxels: {0, 1} (no change) when there are none.
struct ZScore {
  float mean = 0.f, inv_sd = 1.f;
  // Background stays exactly 0 (+0 or -0 alike) without a branch.
  float operator()(float v) const {
    const uint32_t keep = (std::bit_cast<uint32_t>(v) << 1) != 0 ? ~0u : 0u;
    return std::bit_cast<float>(std::bit_cast<uint32_t>((v - mean) * inv_sd) & keep);
  }
};

ZScore brain_z_score(const BrainMoments& m) {
  if (m.count == 0) return {};
  const double n = static_cast<double>(m.count);
  const double mean = m.sum / n;
  const double var = std::max(0.0, m.sumsq / n - mean * mean);
  const double sd = var > 0 ? std::sqrt(var) : 1.0;
  return {static_cast<float>(mean), static_cast<float>(1.0 / sd)};
}

// For a centre crop the whole geometry is a gather: output pixel p of a slice reads
// voxel x + nx * y of the axial plane, or nothing (padding). Built by running crop_or_pad
// and rot90_square on a plane of voxel numbers, so both paths agree by construction.
std::vector<int64_t> crop_gather_table(int64_t nx, int64_t ny, int size, int rotate) {
  std::vector<float> numbers(static_cast<size_t>(nx * ny)), staged(static_cast<size_t>(size) * size),
      turned(static_cast<size_t>(size) * size);
  for (int64_t x = 0; x < nx; ++x)
    for (int64_t y = 0; y < ny; ++y) numbers[static_cast<size_t>(x * ny + y)] = static_cast<float>(y * nx + x + 1);
  crop_or_pad(numbers.data(), nx, ny, size, staged.data());
  rot90_square(staged.data(), size, rotate, turned.data());
  std::vector<int64_t> table(turned.size());
  for (size_t p = 0; p < turned.size(); ++p) table[p] = static_cast<int64_t>(turned[p]) - 1;
  return table;
}


// The gather table as runs: dst[t] = src[start + step * t] for t < len, or zeros where the
// slice is padding (start < 0). A crop's rows are unit-stride runs (forward or, turned,
// backward), which SSE2 normalises four pixels at a time.
struct GatherRun {
  size_t dst;
  int64_t start, step;
  size_t len;
};

std::vector<GatherRun> gather_runs(const std::vector<int64_t>& table) {
  std::vector<GatherRun> runs;
  const size_t n = table.size();
  for (size_t p = 0; p < n;) {
    size_t q = p + 1;
    if (table[p] < 0) {
      while (q < n && table[q] < 0) ++q;
      runs.push_back({p, -1, 0, q - p});
    } else {
      const int64_t step = q < n && table[q] >= 0 ? table[q] - table[p] : 1;
      while (q < n && table[q] >= 0 && table[q] - table[q - 1] == step) ++q;
      runs.push_back({p, table[p], step, q - p});
    }
    p = q;
  }
  return runs;
}

void gather_normalised(const float* base, const std::vector<GatherRun>& runs, const ZScore& norm, float* dst) {
  for (const GatherRun& r : runs) {
    float* out = dst + r.dst;
    if (r.start < 0) {
      std::fill(out, out + r.len, 0.f);
      continue;
    }
    const float* src = base + r.start;
    size_t t = 0;
#ifdef __SSE2__
    if (r.step == 1 || r.step == -1) {
      const __m128 mean = _mm_set1_ps(norm.mean), inv_sd = _mm_set1_ps(norm.inv_sd), zero = _mm_setzero_ps();
      for (; t + 4 <= r.len; t += 4) {
        __m128 v;
        if (r.step == 1) {
          v = _mm_loadu_ps(src + t);
        } else {
          v = _mm_loadu_ps(src - t - 3);
          v = _mm_shuffle_ps(v, v, _MM_SHUFFLE(0, 1, 2, 3));
        }
        // The scalar ZScore's arithmetic, so both give the same bits; background stays 0.
        const __m128 z = _mm_mul_ps(_mm_sub_ps(v, mean), inv_sd);
        _mm_storeu_ps(out + t, _mm_and_ps(z, _mm_cmpneq_ps(v, zero)));
      }
    }
#endif
    for (; t < r.len; ++t) out[t] = norm(src[static_cast<int64_t>(t) * r.step]);
  }
}

void gather_classes(const float* base, const std::vector<GatherRun>& runs, uint8_t* dst) {
  for (const GatherRun& r : runs) {
    uint8_t* out = dst + r.dst;
    if (r.start < 0) {
      std::fill(out, out + r.len, uint8_t{0});
      continue;
    }
    const float* src = base + r.start;
    for (size_t t = 0; t < r.len; ++t) out[t] = static_cast<uint8_t>(src[static_cast<int64_t>(t) * r.step]);
  }
}

}  // namespace

void SubjectSlices::interleave_rows(size_t first, size_t n, float* out) const {
  const size_t plane = static_cast<size_t>(size) * static_cast<size_t>(size);
  const size_t count = n * plane;
  const float* c0 = modality(0) + first * plane;
  const float* c1 = modality(1) + first * plane;
  const float* c2 = modality(2) + first * plane;
  const float* c3 = modality(3) + first * plane;
  size_t p = 0;
#ifdef __SSE2__
  for (; p + 4 <= count; p += 4) {
    __m128 a = _mm_loadu_ps(c0 + p), b = _mm_loadu_ps(c1 + p), c = _mm_loadu_ps(c2 + p), d = _mm_loadu_ps(c3 + p);
    _MM_TRANSPOSE4_PS(a, b, c, d);
    _mm_storeu_ps(out + p * 4, a);
    _mm_storeu_ps(out + p * 4 + 4, b);
    _mm_storeu_ps(out + p * 4 + 8, c);
    _mm_storeu_ps(out + p * 4 + 12, d);
  }
#endif
  for (; p < count; ++p) {
    out[p * 4] = c0[p];
    out[p * 4 + 1] = c1[p];
    out[p * 4 + 2] = c2[p];
    out[p * 4 + 3] = c3[p];
  }
}

SubjectSlices slice_brats_subject(const BratsSubjectFiles& files, const SliceOptions& o) {
  SubjectSlices out;
  slice_brats_subject(files, o, out);
  return out;
}

void slice_brats_subject(const BratsSubjectFiles& files, const SliceOptions& o, SubjectSlices& out) {
  if (o.size < 1 || o.size > limits::kMaxSliceSize)
    throw DataError(fmt::format("{}: --size {} is not 1..{}", files.id, o.size, limits::kMaxSliceSize));
  const int S = o.size;
  const size_t plane_out = static_cast<size_t>(S) * S;
  out.id = files.id;
  out.size = S;
  out.slice_index.clear();
  NiftiVolume& vol = out.scratch;

  const std::string& seg_path = files.files[4];
  // Every header is checked against the others before anything is sized by them: one
  // hostile 1x1x32767 label volume must not make us allocate 9 GB of slices.
  const auto head_dims = read_nifti_header(seg_path).dims;
  for (size_t m = 0; m < 4; ++m) {
    const auto d = read_nifti_header(files.files[m]).dims;
    if (d != head_dims)
      throw DataError(fmt::format("{}: dims {}x{}x{} differ from {}x{}x{} of {}", files.files[m], d[0], d[1], d[2],
                                  head_dims[0], head_dims[1], head_dims[2], seg_path));
  }
  const uint64_t stack_bytes = static_cast<uint64_t>(head_dims[2]) * plane_out * (4 * sizeof(float) + 1);
  if (stack_bytes > limits::kMaxSubjectSliceBytes)
    throw DataError(fmt::format("{}: {} slices of {}x{} would take {:.1f} GB (limit {:.1f} GB a subject)", seg_path,
                                head_dims[2], S, S, stack_bytes / 1e9, limits::kMaxSubjectSliceBytes / 1e9));
  NiftiVolume& seg = vol;
  size_t first_bad = SIZE_MAX;
  read_nifti(seg_path, seg, [&](float* v, size_t first, size_t n) {
    if (first_bad != SIZE_MAX) return;
    if (const size_t bad = map_labels(v, n); bad < n) first_bad = first + bad;
  });
  const auto dims = seg.dims;
  const int64_t nx = dims[0], ny = dims[1], nz = dims[2];
  const size_t plane_in = static_cast<size_t>(nx * ny);
  if (first_bad != SIZE_MAX) {
    const int64_t i = static_cast<int64_t>(first_bad);
    throw DataError(fmt::format("{}: voxel ({}, {}, {}) has label {}: BraTS labels are 0, 1, 2, 4", seg_path, i % nx,
                                i / nx % ny, i / static_cast<int64_t>(plane_in), seg.voxels[first_bad]));
  }

  try {
    out.images.resize(static_cast<size_t>(nz) * plane_out * 4);
    out.classes.resize(static_cast<size_t>(nz) * plane_out);
  } catch (const std::bad_alloc&) {
    throw DataError(fmt::format("{}: out of memory for {} slices of {}x{} ({:.1f} GB)", seg_path, nz, S, S,
                                static_cast<double>(nz) * plane_out * (4 * sizeof(float) + 1) / 1e9));
  }
  const std::vector<GatherRun> runs = o.resize ? std::vector<GatherRun>() : gather_runs(crop_gather_table(nx, ny, S, o.rotate));
  auto geometry = [&](const float* plane, float* staged, float* result) {
    if (o.resize) area_resize(plane, nx, ny, S, staged);
    else crop_or_pad(plane, nx, ny, S, staged);
    rot90_square(staged, S, o.rotate, result);
  };

  tbb::parallel_for(tbb::blocked_range<int64_t>(0, nz), [&](const tbb::blocked_range<int64_t>& zs) {
    std::vector<float> plane(plane_in), onehot(plane_in), staged(plane_out), result(plane_out), best(plane_out);
    for (int64_t z = zs.begin(); z != zs.end(); ++z) {
      uint8_t* cls = out.classes.data() + static_cast<size_t>(z) * plane_out;
      if (!o.resize) {
        gather_classes(seg.voxels.data() + static_cast<size_t>(z) * plane_in, runs, cls);
        continue;
      }
      axial_plane(seg, z, plane.data());
      // Resized labels: the class covering most of each output pixel.
      std::fill(best.begin(), best.end(), -1.f);
      for (int c = 0; c < 4; ++c) {
        for (size_t p = 0; p < plane_in; ++p) onehot[p] = plane[p] == static_cast<float>(c) ? 1.f : 0.f;
        geometry(onehot.data(), staged.data(), result.data());
        for (size_t p = 0; p < plane_out; ++p)
          if (result[p] > best[p] + 1e-6f) {
            best[p] = result[p];
            cls[p] = static_cast<uint8_t>(c);
          }
      }
    }
  });
  for (int m = 0; m < 4; ++m) {
    BrainMoments moments;
    read_nifti(files.files[static_cast<size_t>(m)], vol,
               [&](float* v, size_t, size_t n) { if (o.norm == BratsNorm::brain) moments.add(v, n); });
    if (vol.dims != dims)
      throw DataError(fmt::format("{}: dims {}x{}x{} differ from {}x{}x{} of {}", files.files[static_cast<size_t>(m)],
                                  vol.dims[0], vol.dims[1], vol.dims[2], nx, ny, nz, seg_path));
    // Normalised while gathered: only the kept pixels pay for it.
    const ZScore norm = o.norm == BratsNorm::brain ? brain_z_score(moments) : ZScore{};
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, nz), [&](const tbb::blocked_range<int64_t>& zs) {
      std::vector<float> plane(plane_in), staged(plane_out), result(plane_out);
      for (int64_t z = zs.begin(); z != zs.end(); ++z) {
        float* dst = out.images.data() + (static_cast<size_t>(m) * static_cast<size_t>(nz) + static_cast<size_t>(z)) * plane_out;
        if (!o.resize) {
          gather_normalised(vol.voxels.data() + static_cast<size_t>(z) * plane_in, runs, norm, dst);
          continue;
        }
        axial_plane(vol, z, plane.data());
        for (float& v : plane) v = norm(v);
        geometry(plane.data(), staged.data(), result.data());
        std::copy(result.begin(), result.end(), dst);
      }
    });
  }

  // Keep the slices the options ask for, compacting in place: each plane moves to or before
  // where it was, never onto a plane still to move.
  auto img = [&](size_t m, size_t z, size_t stack) { return out.images.data() + (m * stack + z) * plane_out; };
  for (int64_t z = 0; z < nz; ++z) {
    const size_t zs = static_cast<size_t>(z);
    const uint8_t* cls = out.classes.data() + zs * plane_out;
    auto empty = [&](size_t m) {
      const float* v = img(m, zs, static_cast<size_t>(nz));
      return std::all_of(v, v + plane_out, [](float x) { return x == 0.f; });
    };
    if (o.skip_empty && empty(0) && empty(1) && empty(2) && empty(3)) continue;
    if (o.min_tumour_pixels > 0 &&
        std::count_if(cls, cls + plane_out, [](uint8_t c) { return c != 0; }) < o.min_tumour_pixels)
      continue;
    out.slice_index.push_back(static_cast<int>(z));
  }
  const size_t kept = out.slice_index.size(), stack = static_cast<size_t>(nz);
  for (size_t m = 0; m < 4; ++m)
    for (size_t k = 0; k < kept; ++k) {
      const size_t z = static_cast<size_t>(out.slice_index[k]);
      if (m * kept + k != m * stack + z) std::memmove(img(m, k, kept), img(m, z, stack), plane_out * sizeof(float));
      if (m == 0 && k != z)
        std::memcpy(out.classes.data() + k * plane_out, out.classes.data() + z * plane_out, plane_out);
    }
  out.images.resize(kept * plane_out * 4);
  out.classes.resize(kept * plane_out);
}

}  // namespace unet::data
