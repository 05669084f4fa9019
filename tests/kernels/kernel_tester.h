// Tools for testing kernels of any family against each other (an optimised kernel against the
// reference) on views built like the runtime builds them: random nChw16c / nhw / flat /
// OIhw16i16o tensors with zeroed padding lanes, and, optionally, nChw16c views whose image
// stride is wider than dense (channel slices of a concat buffer) with the gap between images
// filled with a NaN sentinel so that reading or writing outside the view shows.
//
// Typical use, for an optimised kernel K of family F:
//   for (const Shape& s : standard_shapes(F)) {
//     auto r = compare_kernels(*reference_kernel(F), K, F, s);
//     EXPECT_TRUE(r.ok) << describe(s) << r.report;
//   }
// Header-only and free of GoogleTest, so benchmarks may use the builders too.
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "kernels/family_signature.h"
#include "kernels/kernel_call.h"
#include "kernels/kernel_family.h"
#include "kernels/kernel_registry.h"
#include "kernels/tensor_arg.h"

namespace unet::kernels {
// GoogleTest prints parameters with PrintTo when it exists: families by name.
inline void PrintTo(Family f, std::ostream* os) { *os << family_name(f); }
}  // namespace unet::kernels

namespace unet::kernels::testing {

// ---------------------------------------------------------------------------------------------
// Random numbers: splitmix64, so values do not depend on the standard library's distributions.

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * ((next() >> 11) * 0x1.0p-53); }
  int below(int n) { return static_cast<int>(next() % static_cast<uint64_t>(n)); }

 private:
  uint64_t state_;
};

// ---------------------------------------------------------------------------------------------
// Tensors that own their storage.

enum class Kind { blocked, plain, flat, weights };

// The bits of the sentinel that fills the gap between the images of a sliced nChw16c view.
inline constexpr uint32_t kGapBits = 0x7FC0DEADu;
inline float gap_sentinel() { return std::bit_cast<float>(kGapBits); }

// A tensor and the view of it a kernel gets. Move-only: the view points into `storage`
// (moving a vector keeps its buffer); use clone() for an independent copy.
struct OwnedTensor {
  Kind kind = Kind::flat;
  std::vector<float> storage;
  TensorArg view;

  OwnedTensor() = default;
  OwnedTensor(OwnedTensor&&) = default;
  OwnedTensor& operator=(OwnedTensor&&) = default;
  OwnedTensor(const OwnedTensor&) = delete;
  OwnedTensor& operator=(const OwnedTensor&) = delete;

  OwnedTensor clone() const {
    OwnedTensor t;
    t.kind = kind;
    t.storage = storage;
    t.view = view;
    t.view.data = t.storage.data();
    return t;
  }
  bool empty() const { return storage.empty(); }
};

// nChw16c, n x c x h x w; image_stride wider than dense by `extra_blocks` channel blocks.
// Real channels and padding lanes start at zero; the gaps hold the sentinel.
inline OwnedTensor make_blocked(int n, int c, int h, int w, int extra_blocks = 0) {
  OwnedTensor t;
  t.kind = Kind::blocked;
  const int64_t dense = static_cast<int64_t>(channel_blocks(c)) * h * w * kBlock;
  const int64_t stride = dense + static_cast<int64_t>(extra_blocks) * h * w * kBlock;
  t.storage.assign(static_cast<size_t>(n * stride), 0.f);
  for (int i = 0; i < n; ++i)
    std::fill(t.storage.begin() + i * stride + dense, t.storage.begin() + (i + 1) * stride,
              gap_sentinel());
  t.view = TensorArg{t.storage.data(), n, c, h, w, stride};
  return t;
}

inline OwnedTensor make_plain(int n, int h, int w) {  // nhw, zeros
  OwnedTensor t;
  t.kind = Kind::plain;
  t.storage.assign(static_cast<size_t>(n) * h * w, 0.f);
  t.view = TensorArg{t.storage.data(), n, 1, h, w, static_cast<int64_t>(h) * w};
  return t;
}

inline OwnedTensor make_flat(int64_t count) {  // flat, zeros
  OwnedTensor t;
  t.kind = Kind::flat;
  t.storage.assign(static_cast<size_t>(count), 0.f);
  t.view = TensorArg{t.storage.data(), 1, 1, 1, static_cast<int32_t>(count), count};
  return t;
}

inline OwnedTensor make_weights(int co, int ci, int kh, int kw) {  // OIhw16i16o, zeros
  OwnedTensor t;
  t.kind = Kind::weights;
  t.storage.assign(static_cast<size_t>(padded_channels(co)) * padded_channels(ci) * kh * kw, 0.f);
  t.view = TensorArg{t.storage.data(), co, ci, kh, kw, 0};
  return t;
}

// A bias (or bias gradient): flat, padded_channels(co) floats, of which co are real.
inline OwnedTensor make_bias(int co) {
  OwnedTensor t = make_flat(padded_channels(co));
  t.view.c = 1;
  return t;
}

// Calls fn(storage index) for every real element (not padding, not gap). A bias made by
// make_bias counts all its padded floats as real unless `bias_channels` is given.
template <typename Fn>
void for_each_real(const OwnedTensor& t, Fn&& fn, int bias_channels = -1) {
  const TensorArg& v = t.view;
  switch (t.kind) {
    case Kind::blocked:
      for (int i = 0; i < v.n; ++i)
        for (int c = 0; c < v.c; ++c)
          for (int y = 0; y < v.h; ++y)
            for (int x = 0; x < v.w; ++x) fn(static_cast<size_t>(&v.at(i, c, y, x) - v.data));
      break;
    case Kind::plain:
      for (size_t k = 0; k < t.storage.size(); ++k) fn(k);
      break;
    case Kind::flat:
      for (size_t k = 0; k < t.storage.size() && (bias_channels < 0 || k < size_t(bias_channels));
           ++k)
        fn(k);
      break;
    case Kind::weights:
      for (int o = 0; o < v.n; ++o)
        for (int i = 0; i < v.c; ++i)
          for (int ky = 0; ky < v.h; ++ky)
            for (int kx = 0; kx < v.w; ++kx)
              fn(static_cast<size_t>(weight_index(v.n, v.c, v.h, v.w, o, i, ky, kx)));
      break;
  }
}

inline std::vector<size_t> real_indices(const OwnedTensor& t, int bias_channels = -1) {
  std::vector<size_t> out;
  for_each_real(t, [&](size_t k) { out.push_back(k); }, bias_channels);
  return out;
}

// Fills the real elements with uniform values in [lo, hi).
inline void fill_uniform(OwnedTensor& t, Rng& rng, double lo, double hi, int bias_channels = -1) {
  for_each_real(t, [&](size_t k) { t.storage[k] = static_cast<float>(rng.uniform(lo, hi)); },
                bias_channels);
}

// Fills every element the view spans (real and padding, not gaps) with `value`: what an
// output the kernel overwrites looks like before it runs, so unwritten lanes show.
inline void fill_view(OwnedTensor& t, float value) {
  if (t.kind != Kind::blocked) {
    std::fill(t.storage.begin(), t.storage.end(), value);
    return;
  }
  const TensorArg& v = t.view;
  const int64_t dense = static_cast<int64_t>(channel_blocks(v.c)) * v.h * v.w * kBlock;
  for (int i = 0; i < v.n; ++i)
    std::fill(t.storage.begin() + i * v.image_stride, t.storage.begin() + i * v.image_stride + dense,
              value);
}

// Where a storage index lies, in words: "(n=1, c=17, y=2, x=0)", "[o=3, i=5, ky=1, kx=2]", ...
inline std::string describe_index(const OwnedTensor& t, size_t k) {
  const TensorArg& v = t.view;
  std::ostringstream s;
  switch (t.kind) {
    case Kind::blocked: {
      const int64_t n = static_cast<int64_t>(k) / v.image_stride;
      const int64_t r = static_cast<int64_t>(k) % v.image_stride;
      const int64_t plane = static_cast<int64_t>(v.h) * v.w * kBlock;
      if (r >= channel_blocks(v.c) * plane) {
        s << "(n=" << n << ", gap +" << r - channel_blocks(v.c) * plane << ")";
        break;
      }
      const int64_t cb = r / plane, p = (r % plane) / kBlock, lane = r % kBlock;
      s << "(n=" << n << ", c=" << cb * kBlock + lane << ", y=" << p / v.w << ", x=" << p % v.w
        << ")";
      break;
    }
    case Kind::plain:
      s << "(n=" << k / (size_t(v.h) * v.w) << ", y=" << (k / v.w) % v.h << ", x=" << k % v.w << ")";
      break;
    case Kind::flat: s << "[" << k << "]"; break;
    case Kind::weights: {
      const int64_t tile = k / 256, i_lane = (k % 256) / 16, o_lane = k % 16;
      const int64_t kx = tile % v.w, ky = (tile / v.w) % v.h, rest = tile / (v.w * v.h);
      const int64_t ib = rest % channel_blocks(v.c), ob = rest / channel_blocks(v.c);
      s << "[o=" << ob * 16 + o_lane << ", i=" << ib * 16 + i_lane << ", ky=" << ky
        << ", kx=" << kx << "]";
      break;
    }
  }
  return s.str();
}

// ---------------------------------------------------------------------------------------------
// Checks.

struct Tolerance {
  double rel = 1e-4;  // |a - b| <= abs + rel * max(|a|, |b|)
  double abs = 1e-5;
};

struct Comparison {
  bool ok = true;
  int mismatches = 0;
  std::string report;  // the first few mismatches, one per line

  void fail(const std::string& line) {
    ok = false;
    if (++mismatches <= 8) report += line + "\n";
  }
  void merge(const Comparison& other) {
    if (other.ok) return;
    ok = false;
    mismatches += other.mismatches;
    report += other.report;
  }
};

inline bool close_enough(float a, float b, Tolerance tol) {
  if (std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b)) return true;
  if (!std::isfinite(a) || !std::isfinite(b)) return false;
  const double d = std::fabs(double(a) - b);
  return d <= tol.abs + tol.rel * std::max(std::fabs(double(a)), std::fabs(double(b)));
}

// Element-wise over all storage (padding and gaps included: they must match too).
inline Comparison compare_tensors(const OwnedTensor& expected, const OwnedTensor& actual,
                                  Tolerance tol, std::string_view name) {
  Comparison r;
  if (expected.storage.size() != actual.storage.size()) {
    r.fail(std::string(name) + ": sizes differ");
    return r;
  }
  for (size_t k = 0; k < expected.storage.size(); ++k)
    if (!close_enough(expected.storage[k], actual.storage[k], tol)) {
      std::ostringstream s;
      s << name << describe_index(expected, k) << ": expected " << expected.storage[k] << ", got "
        << actual.storage[k];
      r.fail(s.str());
    }
  return r;
}

// Padding lanes of an nChw16c tensor and padding entries of weights are zero; the gaps
// between images still hold the sentinel.
inline Comparison check_padding(const OwnedTensor& t, std::string_view name, int bias_channels = -1) {
  Comparison r;
  std::vector<char> real(t.storage.size(), 0);
  for_each_real(t, [&](size_t k) { real[k] = 1; }, bias_channels);
  const int64_t dense = t.kind == Kind::blocked
                            ? static_cast<int64_t>(channel_blocks(t.view.c)) * t.view.h * t.view.w * kBlock
                            : 0;
  for (size_t k = 0; k < t.storage.size(); ++k) {
    if (real[k]) continue;
    const bool in_gap = t.kind == Kind::blocked && static_cast<int64_t>(k) % t.view.image_stride >= dense;
    const uint32_t bits = std::bit_cast<uint32_t>(t.storage[k]);
    if (in_gap ? bits != kGapBits : bits != 0u) {
      std::ostringstream s;
      s << name << describe_index(t, k) << (in_gap ? ": gap overwritten with " : ": padding is ")
        << t.storage[k];
      r.fail(s.str());
    }
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Running a kernel.

// Runs items [0, work) as `pieces` contiguous ranges of uneven sizes, last range first, so a
// kernel whose result depends on the split or on the order of ranges shows it.
// The kernel that computes `call` when a plan for k's tier names k's family: k itself, or for
// a shape k declines (its supports()), the one the kernel chooser picks instead (another
// optimised kernel or the reference). No kernel hands a shape on by itself, so a test of k
// over a list of shapes tests what would really run for each.
inline const KernelInfo& kernel_running(const KernelInfo& k, const KernelCall& call) {
  if (!k.supports || k.supports(call)) return k;
  return *best_kernel(k.family, k.tier, &call);  // the reference takes every shape
}

inline void run_split(const KernelInfo& chosen, const KernelCall& call, int pieces = 1) {
  const KernelInfo& k = kernel_running(chosen, call);
  const size_t work = k.work(call);
  std::vector<size_t> cuts{0};
  for (int p = 1; p < pieces; ++p) {
    // Uneven cuts: piece p ends near p^2 / pieces^2 of the work.
    const size_t cut = work * static_cast<size_t>(p) * p / (static_cast<size_t>(pieces) * pieces);
    cuts.push_back(std::max(cuts.back(), cut));
  }
  cuts.push_back(work);
  for (size_t r = cuts.size() - 1; r > 0; --r)
    if (cuts[r - 1] < cuts[r]) k.run(call, cuts[r - 1], cuts[r]);
}

// The same ranges as run_split, each on its own thread at once: items must be independent,
// so a kernel whose items share writes (a race) can show it here.
inline void run_concurrently(const KernelInfo& chosen, const KernelCall& call, int pieces = 2) {
  const KernelInfo& k = kernel_running(chosen, call);
  const size_t work = k.work(call);
  std::vector<std::thread> threads;
  for (int p = 0; p < pieces; ++p) {
    const size_t begin = work * static_cast<size_t>(p) * p / (static_cast<size_t>(pieces) * pieces);
    const size_t end = work * static_cast<size_t>(p + 1) * (p + 1) / (static_cast<size_t>(pieces) * pieces);
    if (begin < end) threads.emplace_back([&k, &call, begin, end] { k.run(call, begin, end); });
  }
  for (auto& t : threads) t.join();
}

// ---------------------------------------------------------------------------------------------
// A family-generic problem: a shape descriptor, and a fixture holding every tensor of one call.

struct Shape {
  int n = 2;
  int c = 3;       // channels of the forward op's input (the only count of one-tensor families)
  int c_out = 20;  // conv / tconv output channels
  int h = 7, w = 5;  // spatial size of the forward op's input
  int kh = 3, kw = 3;
  int stride = 1;  // conv / tconv / maxpool stride
  int pad_top = 1, pad_left = 1;
  int out_h = 0, out_w = 0;  // forward output size; 0: derived (conv/tconv: symmetric padding)
  Activation act = Activation::none;
  int window = 2;  // maxpool window; upsample factor
  bool accumulate = false;
  float rate = 0.25f;                // dropout
  uint64_t seed = 0x9E3779B97F4A7C15ull;  // dropout seed
  uint64_t step = 11, image_base = 5;
  int extra_blocks = 0;   // nChw16c views are slices: image stride wider by this many blocks
  int elements = 10000;   // adam_update: parameter count
  // Families with a relu_y slot (kernel_family.h, relu_mask_slot): give it, a ReLU output
  // with dx's dims (half exact zeros) and an image stride of its own. Ignored elsewhere.
  bool relu_mask = false;
  // Families with a pool_y slot (kernel_family.h, pool_epilogue_slot): give it, an output of
  // floor(h / 2) x floor(w / 2) of y, with an image stride of its own. Ignored elsewhere.
  bool pool = false;
  // Families with a folded dropout (kernel_family.h, has_dropout_epilogue): ask for it (rate,
  // seed and step as dropout_fwd's above). Ignored elsewhere.
  bool dropout = false;
};

inline std::string describe(const Shape& s) {
  std::ostringstream o;
  o << "n=" << s.n << " c=" << s.c << " c_out=" << s.c_out << " h=" << s.h << " w=" << s.w
    << " k=" << s.kh << "x" << s.kw << " stride=" << s.stride << " pad=" << s.pad_top << ","
    << s.pad_left << " out=" << s.out_h << "x" << s.out_w << " act=" << int(s.act)
    << " window=" << s.window << " acc=" << s.accumulate << " rate=" << s.rate
    << " extra_blocks=" << s.extra_blocks << " elements=" << s.elements
    << " relu_mask=" << s.relu_mask << " pool=" << s.pool << " dropout=" << s.dropout << "\n";
  return o.str();
}

// Forward output size along one axis.
inline int conv_out(int in, int k, int stride, int pad) { return (in + 2 * pad - k) / stride + 1; }
inline int tconv_out(int in, int k, int stride, int pad) { return (in - 1) * stride + k - 2 * pad; }

inline std::pair<int, int> forward_output_size(Family f, const Shape& s) {
  if (s.out_h > 0 && s.out_w > 0) return {s.out_h, s.out_w};
  switch (f) {
    case Family::conv2d_fwd:
    case Family::conv2d_bwd_data:
    case Family::conv2d_bwd_weights:
      return {conv_out(s.h, s.kh, s.stride, s.pad_top), conv_out(s.w, s.kw, s.stride, s.pad_left)};
    case Family::tconv2d_fwd:
    case Family::tconv2d_bwd_data:
    case Family::tconv2d_bwd_weights:
      return {tconv_out(s.h, s.kh, s.stride, s.pad_top), tconv_out(s.w, s.kw, s.stride, s.pad_left)};
    case Family::maxpool2d_fwd:
    case Family::maxpool2d_bwd:
      return {(s.h - s.window) / s.stride + 1, (s.w - s.window) / s.stride + 1};
    case Family::upsample2d_fwd:
    case Family::upsample2d_bwd:
      return {s.h * s.window, s.w * s.window};
    default: return {s.h, s.w};
  }
}

// The value every element of an overwritten output holds before the kernel runs.
inline constexpr float kStaleOutput = 777.f;

// Every tensor of one call of `family` on `shape`, filled from `data_seed`: two fixtures made
// with the same arguments hold identical data. Not copyable (call.step points into it).
class Fixture {
 public:
  Fixture(Family family, const Shape& shape, uint64_t data_seed = 1)
      : family_(family), shape_(shape) {
    build(data_seed);
    bind();
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  Family family() const { return family_; }
  const Shape& shape() const { return shape_; }
  KernelCall& call() { return call_; }
  StepScalars& step() { return step_; }
  OwnedTensor& tensor(int role) { return tensors_[role]; }
  const OwnedTensor& tensor(int role) const { return tensors_[role]; }
  const std::vector<int>& outputs() const { return outputs_; }  // roles the kernel writes
  int bias_channels(int role) const { return role == bias_role_ ? bias_channels_ : -1; }

  // Re-points the call at the tensors (after a tensor was replaced).
  void bind() {
    for (int r = 0; r < kMaxTensors; ++r) call_.t[r] = tensors_[r].empty() ? TensorArg{} : tensors_[r].view;
    call_.step = &step_;
  }

 private:
  void build(uint64_t data_seed);

  Family family_;
  Shape shape_;
  OwnedTensor tensors_[kMaxTensors];
  std::vector<int> outputs_;
  int bias_role_ = -1, bias_channels_ = -1;
  KernelCall call_;
  StepScalars step_;
};

inline void Fixture::build(uint64_t data_seed) {
  Rng rng(data_seed);
  const Shape& s = shape_;
  const auto [oh, ow] = forward_output_size(family_, s);
  auto& t = tensors_;
  auto& i = call_.i;
  i[kAttrStride] = s.stride;
  i[kAttrPadTop] = s.pad_top;
  i[kAttrPadLeft] = s.pad_left;
  i[kAttrActivation] = static_cast<int32_t>(s.act);
  i[kAttrAccumulate] = s.accumulate ? 1 : 0;
  i[kAttrWindow] = s.window;
  i[kAttrSeedLo] = static_cast<int32_t>(static_cast<uint32_t>(s.seed));
  i[kAttrSeedHi] = static_cast<int32_t>(static_cast<uint32_t>(s.seed >> 32));
  i[kAttrFoldedDropout] = s.dropout && has_dropout_epilogue(family_) ? 1 : 0;
  call_.f[0] = s.rate;
  step_.step = s.step;
  step_.image_base = s.image_base;

  auto blocked = [&](int c, int h, int w) {
    OwnedTensor x = make_blocked(s.n, c, h, w, s.extra_blocks);
    fill_uniform(x, rng, -1.0, 1.0);
    return x;
  };
  // An output: overwritten ones start stale (padding included), accumulated ones random.
  auto output = [&](OwnedTensor x, bool accumulated, int bias = -1) {
    if (accumulated)
      fill_uniform(x, rng, -1.0, 1.0, bias);
    else
      fill_view(x, kStaleOutput);
    return x;
  };
  auto weights = [&](int co, int ci) {
    OwnedTensor w = make_weights(co, ci, s.kh, s.kw);
    fill_uniform(w, rng, -0.5, 0.5);
    return w;
  };
  auto bias = [&](int co) {
    OwnedTensor b = make_bias(co);
    fill_uniform(b, rng, -0.5, 0.5, co);
    return b;
  };

  switch (family_) {
    case Family::conv2d_fwd:
    case Family::tconv2d_fwd:
      t[0] = blocked(s.c, s.h, s.w);
      t[1] = weights(s.c_out, s.c);
      t[2] = bias(s.c_out);
      t[3] = output(make_blocked(s.n, s.c_out, oh, ow, s.extra_blocks), false);
      outputs_ = {3};
      break;
    case Family::conv2d_bwd_data:
    case Family::tconv2d_bwd_data:
      t[0] = blocked(s.c_out, oh, ow);
      t[1] = weights(s.c_out, s.c);
      t[2] = output(make_blocked(s.n, s.c, s.h, s.w, s.extra_blocks), s.accumulate);
      outputs_ = {2};
      break;
    case Family::conv2d_bwd_weights:
    case Family::tconv2d_bwd_weights:
      t[0] = blocked(s.c, s.h, s.w);
      t[1] = blocked(s.c_out, oh, ow);
      t[2] = weights(s.c_out, s.c);  // accumulated into: starts random
      t[3] = bias(s.c_out);  // accumulated into: starts random
      bias_role_ = 3;
      bias_channels_ = s.c_out;
      outputs_ = {2, 3};
      break;
    case Family::maxpool2d_fwd:
    case Family::upsample2d_fwd:
    case Family::dropout_fwd:
      t[0] = blocked(s.c, s.h, s.w);
      t[1] = output(make_blocked(s.n, s.c, family_ == Family::dropout_fwd ? s.h : oh,
                                 family_ == Family::dropout_fwd ? s.w : ow, s.extra_blocks),
                    false);
      outputs_ = {1};
      break;
    case Family::maxpool2d_bwd: {
      // Values on a coarse grid, so windows hold ties and the first-position rule matters.
      t[0] = make_blocked(s.n, s.c, s.h, s.w, s.extra_blocks);
      for_each_real(t[0], [&](size_t k) { t[0].storage[k] = static_cast<float>(rng.below(9) - 4) * 0.25f; });
      t[1] = make_blocked(s.n, s.c, oh, ow, s.extra_blocks);
      for (int n = 0; n < s.n; ++n)
        for (int c = 0; c < s.c; ++c)
          for (int y = 0; y < oh; ++y)
            for (int x = 0; x < ow; ++x) {
              float m = -std::numeric_limits<float>::infinity();
              for (int wy = 0; wy < s.window; ++wy)
                for (int wx = 0; wx < s.window; ++wx)
                  m = std::max(m, t[0].view.at(n, c, y * s.stride + wy, x * s.stride + wx));
              t[1].view.at(n, c, y, x) = m;
            }
      t[2] = blocked(s.c, oh, ow);
      t[3] = output(make_blocked(s.n, s.c, s.h, s.w, s.extra_blocks), s.accumulate);
      outputs_ = {3};
      break;
    }
    case Family::upsample2d_bwd:
      t[0] = blocked(s.c, oh, ow);
      t[1] = output(make_blocked(s.n, s.c, s.h, s.w, s.extra_blocks), s.accumulate);
      outputs_ = {1};
      break;
    case Family::dropout_bwd:
    case Family::copy_channels:
      t[0] = blocked(s.c, s.h, s.w);
      t[1] = output(make_blocked(s.n, s.c, s.h, s.w, s.extra_blocks), s.accumulate);
      outputs_ = {1};
      break;
    case Family::relu_bwd:
    case Family::sigmoid_bwd: {
      t[0] = make_blocked(s.n, s.c, s.h, s.w, s.extra_blocks);
      const bool relu = family_ == Family::relu_bwd;
      // ReLU outputs: half exact zeros. Sigmoid outputs: inside (0, 1).
      for_each_real(t[0], [&](size_t k) {
        t[0].storage[k] = static_cast<float>(relu ? std::max(0.0, rng.uniform(-1, 1)) : rng.uniform(0.001, 0.999));
      });
      t[1] = blocked(s.c, s.h, s.w);  // dy, scaled in place
      outputs_ = {1};
      break;
    }
    case Family::sigmoid_dice_fwd:
      t[0] = make_blocked(s.n, 1, s.h, s.w, s.extra_blocks);
      fill_uniform(t[0], rng, -3.0, 3.0);
      t[1] = make_plain(s.n, s.h, s.w);
      for (float& v : t[1].storage) v = rng.below(2) ? 1.f : 0.f;
      t[2] = output(make_plain(s.n, s.h, s.w), false);
      t[3] = output(make_flat(3 * s.n), false);
      outputs_ = {2, 3};
      break;
    case Family::sigmoid_dice_bwd: {
      t[0] = make_plain(s.n, s.h, s.w);
      fill_uniform(t[0], rng, 0.001, 0.999);
      t[1] = make_plain(s.n, s.h, s.w);
      for (float& v : t[1].storage) v = rng.below(2) ? 1.f : 0.f;
      t[2] = output(make_blocked(s.n, 1, s.h, s.w, s.extra_blocks), false);
      double inter = 0, pred = 0, truth = 0;
      for (size_t k = 0; k < t[0].storage.size(); ++k) {
        inter += double(t[0].storage[k]) * t[1].storage[k];
        pred += t[0].storage[k];
        truth += t[1].storage[k];
      }
      step_.dice_a = static_cast<float>(-2.0 / (2 * inter + 1));
      step_.dice_b = static_cast<float>(1.0 / (pred + truth + 1));
      outputs_ = {2};
      break;
    }
    case Family::adam_update:
      t[0] = make_flat(s.elements);
      fill_uniform(t[0], rng, -1, 1);
      t[1] = make_flat(s.elements);
      fill_uniform(t[1], rng, -1, 1);
      t[2] = make_flat(s.elements);
      fill_uniform(t[2], rng, -0.1, 0.1);
      t[3] = make_flat(s.elements);
      fill_uniform(t[3], rng, 0.0, 0.01);
      call_.f[0] = 0.9f;
      call_.f[1] = 0.999f;
      call_.f[2] = 1e-7f;
      step_.lr_t = 1e-3f;
      step_.grad_scale = 0.5f;
      outputs_ = {0, 2, 3};
      break;
    case Family::count: break;
  }
  const int relu = relu_mask_slot(family_);
  if (s.relu_mask && relu >= 0) {
    const TensorArg& dx = t[relu - 1].view;
    t[relu] = make_blocked(dx.n, dx.c, dx.h, dx.w, s.extra_blocks + 1);
    for_each_real(t[relu], [&](size_t k) { t[relu].storage[k] = static_cast<float>(std::max(0.0, rng.uniform(-1, 1))); });
  }
  const int pool = pool_epilogue_slot(family_);
  if (s.pool && pool >= 0) {
    const TensorArg& y = t[pool - 1].view;
    t[pool] = output(make_blocked(y.n, y.c, y.h / kFoldedPoolWindow, y.w / kFoldedPoolWindow, s.extra_blocks + 1), false);
    outputs_.push_back(pool);
  }
}

// Runs `expected` in one range and `actual` split into `pieces` ranges (one after the other,
// or on `pieces` threads at once when `concurrent`) on identical fixtures, then compares
// every output (padding and gaps included) and checks both left padding zero and gaps
// untouched. A kernel that does not honour relu_y (KernelInfo::relu_mask) or pool_y
// (KernelInfo::pool_epilogue) is never given one (the plan validator refuses it), so both run
// the shape without it then.
inline Comparison compare_kernels(const KernelInfo& expected, const KernelInfo& actual,
                                  Family family, const Shape& requested, Tolerance tol = {},
                                  int pieces = 3, uint64_t data_seed = 1, bool concurrent = false) {
  Shape shape = requested;
  if (!actual.relu_mask || !expected.relu_mask) shape.relu_mask = false;
  if (!actual.pool_epilogue || !expected.pool_epilogue) shape.pool = false;
  if (!actual.dropout_epilogue || !expected.dropout_epilogue) shape.dropout = false;
  Fixture a(family, shape, data_seed), b(family, shape, data_seed);
  run_split(expected, a.call(), 1);
  if (concurrent)
    run_concurrently(actual, b.call(), pieces);
  else
    run_split(actual, b.call(), pieces);
  Comparison r;
  for (int role : a.outputs()) {
    const std::string name = "t" + std::to_string(role);
    r.merge(compare_tensors(a.tensor(role), b.tensor(role), tol, name));
    r.merge(check_padding(a.tensor(role), std::string(expected.name) + " " + name, a.bias_channels(role)));
    r.merge(check_padding(b.tensor(role), std::string(actual.name) + " " + name, b.bias_channels(role)));
  }
  return r;
}

// Shapes worth testing a family on: odd spatial sizes, channel counts below, at and across a
// block (1, 3, 16, 20, 33), sliced views, accumulate on and off, every activation.
inline std::vector<Shape> standard_shapes(Family f) {
  std::vector<Shape> out;
  auto add = [&](auto&& edit) {
    Shape s;
    edit(s);
    out.push_back(s);
  };
  switch (f) {
    case Family::conv2d_fwd:
    case Family::conv2d_bwd_data:
    case Family::conv2d_bwd_weights:
      add([](Shape& s) { s.c = 3; s.c_out = 20; s.h = 7; s.w = 5; s.relu_mask = true; s.pool = true; });
      add([](Shape& s) { s.c = 20; s.c_out = 16; s.h = 9; s.w = 14; s.act = Activation::relu; s.accumulate = true; s.relu_mask = true; s.pool = true; });
      add([](Shape& s) { s.c = 16; s.c_out = 33; s.h = 6; s.w = 6; s.kh = s.kw = 1; s.pad_top = s.pad_left = 0; s.act = Activation::sigmoid; });
      add([](Shape& s) { s.c = 33; s.c_out = 1; s.h = 8; s.w = 7; s.kh = s.kw = 1; s.pad_top = s.pad_left = 0; s.relu_mask = true; });
      add([](Shape& s) { s.c = 20; s.c_out = 20; s.h = 8; s.w = 9; s.stride = 2; s.pad_top = 0; s.pad_left = 0; s.out_h = 4; s.out_w = 5; s.extra_blocks = 1; });
      add([](Shape& s) { s.c = 32; s.c_out = 32; s.h = 16; s.w = 30; s.n = 1; s.extra_blocks = 2; s.accumulate = true; s.pool = true; s.dropout = true; });
      // Items of several row pairs and an odd last band (the AVX-512 forward's pooled split).
      add([](Shape& s) { s.c = 17; s.c_out = 40; s.h = 27; s.w = 6; s.act = Activation::relu; s.pool = true; });
      add([](Shape& s) { s.c = 20; s.c_out = 33; s.h = 9; s.w = 14; s.n = 3; s.act = Activation::relu; s.dropout = true; s.rate = 0.4f; });
      break;
    case Family::tconv2d_fwd:
    case Family::tconv2d_bwd_data:
    case Family::tconv2d_bwd_weights:
      add([](Shape& s) { s.c = 20; s.c_out = 3; s.h = 4; s.w = 5; s.kh = s.kw = 2; s.stride = 2; s.pad_top = s.pad_left = 0; });
      add([](Shape& s) { s.c = 32; s.c_out = 16; s.h = 3; s.w = 7; s.kh = s.kw = 2; s.stride = 2; s.pad_top = s.pad_left = 0; s.act = Activation::relu; s.extra_blocks = 1; s.accumulate = true; s.relu_mask = true; });
      add([](Shape& s) { s.c = 5; s.c_out = 17; s.h = 5; s.w = 4; s.kh = s.kw = 3; s.stride = 2; s.pad_top = s.pad_left = 1; });
      add([](Shape& s) { s.c = 16; s.c_out = 16; s.h = 6; s.w = 6; s.kh = s.kw = 3; s.stride = 1; s.pad_top = s.pad_left = 1; s.act = Activation::sigmoid; });
      break;
    case Family::maxpool2d_fwd:
    case Family::maxpool2d_bwd:
      add([](Shape& s) { s.c = 3; s.h = 7; s.w = 5; s.stride = 2; s.window = 2; s.relu_mask = true; });
      add([](Shape& s) { s.c = 20; s.h = 8; s.w = 10; s.stride = 2; s.window = 2; s.extra_blocks = 1; s.accumulate = true; s.relu_mask = true; });
      add([](Shape& s) { s.c = 33; s.h = 9; s.w = 7; s.stride = 2; s.window = 3; s.relu_mask = true; });
      add([](Shape& s) { s.c = 16; s.h = 6; s.w = 6; s.stride = 1; s.window = 2; s.accumulate = true; s.relu_mask = true; });
      add([](Shape& s) { s.c = 17; s.h = 7; s.w = 9; s.stride = 2; s.window = 2; s.accumulate = true; s.relu_mask = true; });
      add([](Shape& s) { s.c = 16; s.h = 7; s.w = 9; s.stride = 2; s.window = 2; s.accumulate = true; });
      break;
    case Family::upsample2d_fwd:
    case Family::upsample2d_bwd:
      add([](Shape& s) { s.c = 3; s.h = 3; s.w = 5; s.window = 2; });
      add([](Shape& s) { s.c = 20; s.h = 4; s.w = 4; s.window = 2; s.extra_blocks = 1; s.accumulate = true; s.relu_mask = true; });
      add([](Shape& s) { s.c = 33; s.h = 2; s.w = 3; s.window = 3; });
      break;
    case Family::sigmoid_dice_fwd:
    case Family::sigmoid_dice_bwd:
      add([](Shape& s) { s.n = 3; s.c = 1; s.h = 7; s.w = 5; });
      add([](Shape& s) { s.n = 2; s.c = 1; s.h = 16; s.w = 17; s.extra_blocks = 1; });
      break;
    case Family::adam_update:
      add([](Shape& s) { s.elements = 1; });
      add([](Shape& s) { s.elements = 4095; });
      add([](Shape& s) { s.elements = 10007; });
      break;
    default:  // dropout, relu_bwd, sigmoid_bwd, copy_channels
      add([](Shape& s) { s.c = 3; s.h = 7; s.w = 5; });
      add([](Shape& s) { s.c = 20; s.h = 6; s.w = 9; s.extra_blocks = 1; s.accumulate = true; s.rate = 0.5f; s.relu_mask = true; });
      add([](Shape& s) { s.c = 33; s.h = 4; s.w = 3; s.n = 3; s.rate = 0.1f; s.relu_mask = true; });
      add([](Shape& s) { s.c = 16; s.h = 5; s.w = 5; s.accumulate = true; });
      break;
  }
  return out;
}

}  // namespace unet::kernels::testing
