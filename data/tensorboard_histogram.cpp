#include "data/tensorboard_histogram.h"

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>

namespace unet::data {
namespace {

// A float's sign-less bits shifted right by this index a table cell: the 8 exponent bits and
// the top 6 mantissa bits. A cell spans a ratio of at most 1 + 1/64 (less than the buckets'
// 1.1), so at most one limit falls inside it and one comparison settles the bucket.
constexpr int kCellShift = 17;
constexpr size_t kCells = size_t{1} << (31 - kCellShift);

struct Layout {
  std::vector<double> positive;  // 1e-12 * 1.1^k below 1e20: K of them
  std::vector<double> limits;    // all 2K + 3
  std::vector<uint16_t> below;   // per cell: how many positive limits lie below its lowest value
};

Layout build_layout() {
  Layout l;
  for (double v = 1.0e-12; v < 1.0e20; v *= 1.1) l.positive.push_back(v);
  l.limits.push_back(-DBL_MAX);
  for (auto it = l.positive.rbegin(); it != l.positive.rend(); ++it) l.limits.push_back(-*it);
  l.limits.push_back(0.0);
  l.limits.insert(l.limits.end(), l.positive.begin(), l.positive.end());
  l.limits.push_back(DBL_MAX);
  l.below.resize(kCells);
  for (size_t cell = 0; cell < kCells; ++cell) {
    const double lowest = std::bit_cast<float>(static_cast<uint32_t>(cell << kCellShift));
    // NaN for the cells past the largest exponent: never looked up (add() skips non-finite).
    const size_t n = std::isnan(lowest) ? l.positive.size()
                                        : static_cast<size_t>(std::lower_bound(l.positive.begin(), l.positive.end(),
                                                                               lowest) -
                                                              l.positive.begin());
    l.below[cell] = static_cast<uint16_t>(n);
  }
  return l;
}

const Layout& layout() {
  static const Layout l = build_layout();
  return l;
}

// v finite. Positive side: bucket K + 2 + #{p <= v}. Negative side (v = -a, a > 0): the first
// limit above v is -p for the largest p below a, so bucket K + 1 - #{p < a}. -0.0 counts as
// 0.0, as upper_bound sees it.
inline size_t bucket_in(const Layout& l, float v) {
  const uint32_t bits = std::bit_cast<uint32_t>(v);
  const uint32_t magnitude = bits & 0x7fffffffu;
  const double a = std::bit_cast<float>(magnitude);
  const size_t k = l.positive.size();
  const size_t below = l.below[magnitude >> kCellShift];
  // The one limit that may lie inside v's cell (DBL_MAX, above any float, when none is left).
  const double next = below < k ? l.positive[below] : DBL_MAX;
  const size_t on_positive_side = k + 2 + below + (next <= a ? 1 : 0);
  const size_t on_negative_side = k + 1 - below - (next < a ? 1 : 0);
  // Signs of weights and gradients are a coin toss: select, do not branch.
  const bool negative = bits > 0x80000000u;  // sign set and not -0.0
  return negative ? on_negative_side : on_positive_side;
}

}  // namespace

std::span<const double> default_bucket_limits() { return layout().limits; }

size_t default_bucket_of(float v) { return bucket_in(layout(), v); }

Histogram::Histogram() : buckets_(layout().limits.size(), 0) {}

void Histogram::clear() {
  std::fill(buckets_.begin(), buckets_.end(), 0);
  num_ = skipped_ = 0;
  min_ = max_ = sum_ = sum_squares_ = 0;
}

void Histogram::add(const float* values, size_t n) {
  const Layout& l = layout();
  const size_t buckets = buckets_.size();
  // Four sets of counts, one per lane of four consecutive values: weights crowd into a few
  // buckets, and one set would make each increment wait for the last one to the same counter.
  // A lane's counts stay below 2^32: blocks of at most 2^32 values are folded in one by one.
  lane_counts_.assign(4 * buckets, 0);
  uint32_t* lanes[4] = {lane_counts_.data(), lane_counts_.data() + buckets, lane_counts_.data() + 2 * buckets,
                        lane_counts_.data() + 3 * buckets};
  float lo = num_ ? static_cast<float>(min_) : INFINITY, hi = num_ ? static_cast<float>(max_) : -INFINITY;
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0, q0 = 0, q1 = 0, q2 = 0, q3 = 0;
  uint64_t finite = 0;
  auto one = [&](float v, uint32_t* counts, double& sum, double& squares) {
    if (!std::isfinite(v)) {
      ++skipped_;
      return;
    }
    ++counts[bucket_in(l, v)];
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    const double d = v;
    sum += d;
    squares += d * d;
    ++finite;
  };
  constexpr size_t kBlock = size_t{1} << 32;
  for (size_t first = 0; first < n; first += kBlock) {
    const size_t last = std::min(n, first + kBlock);
    size_t i = first;
    for (; i + 4 <= last; i += 4) {
      one(values[i], lanes[0], s0, q0);
      one(values[i + 1], lanes[1], s1, q1);
      one(values[i + 2], lanes[2], s2, q2);
      one(values[i + 3], lanes[3], s3, q3);
    }
    for (; i < last; ++i) one(values[i], lanes[0], s0, q0);
    for (size_t b = 0; b < buckets; ++b) {
      buckets_[b] += uint64_t{lanes[0][b]} + lanes[1][b] + lanes[2][b] + lanes[3][b];
      lanes[0][b] = lanes[1][b] = lanes[2][b] = lanes[3][b] = 0;
    }
  }
  if (finite == 0) return;
  num_ += finite;
  min_ = lo;
  max_ = hi;
  sum_ += (s0 + s1) + (s2 + s3);
  sum_squares_ += (q0 + q1) + (q2 + q3);
}

HistogramSummary Histogram::summary() const {
  const std::vector<double>& limits = layout().limits;
  HistogramSummary s;
  s.min = min_;
  s.max = max_;
  s.num = static_cast<double>(num_);
  s.sum = sum_;
  s.sum_squares = sum_squares_;
  for (size_t i = 0; i < buckets_.size();) {
    if (buckets_[i] != 0) {
      s.limits.push_back(limits[i]);
      s.counts.push_back(static_cast<double>(buckets_[i]));
      ++i;
      continue;
    }
    size_t end = i;  // a run of empty buckets becomes one, ending at the run's last limit
    while (end + 1 < buckets_.size() && buckets_[end + 1] == 0) ++end;
    s.limits.push_back(limits[end]);
    s.counts.push_back(0.0);
    i = end + 1;
  }
  return s;
}

}  // namespace unet::data
