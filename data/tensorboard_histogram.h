// Histograms in TensorBoard's layout: the default bucket limits TensorFlow's histogram
// summaries use, 0 and ±1e-12 growing by 1.1x while below 1e20, closed by ±DBL_MAX:
//   -DBL_MAX, -1e-12*1.1^(K-1), ..., -1e-12, 0, 1e-12, ..., 1e-12*1.1^(K-1), DBL_MAX
// A value v counts in the bucket of the first limit greater than v, so bucket i holds
// [limit(i-1), limit(i)) (bucket 0 starts at -DBL_MAX): what HistogramProto says its
// bucket_limit means.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace unet::data {

// The HistogramProto fields (summary.proto): runs of empty buckets collapsed into one, whose
// limit is the run's last (as TensorFlow encodes them), so limits.size() == counts.size().
struct HistogramSummary {
  double min = 0, max = 0, num = 0, sum = 0, sum_squares = 0;
  std::vector<double> limits, counts;
};

// The default limits, built by repeated multiplication in double as TensorFlow builds them
// (so the values are TensorFlow's to the bit).
std::span<const double> default_bucket_limits();
// The bucket of a finite v among default_bucket_limits(): std::upper_bound's answer, from a
// table indexed by v's exponent and top mantissa bits plus one comparison (a few ns a
// value; histograms of every weight and gradient must stay a small part of a step).
size_t default_bucket_of(float v);

class Histogram {
 public:
  Histogram();
  // Adds finite values; NaN and ±inf are left out (they have no bucket), counted in skipped().
  void add(const float* values, size_t n);
  void add(std::span<const float> values) { add(values.data(), values.size()); }
  void clear();
  uint64_t count() const { return num_; }
  uint64_t skipped() const { return skipped_; }
  std::span<const uint64_t> buckets() const { return buckets_; }  // one per default limit
  HistogramSummary summary() const;

 private:
  std::vector<uint64_t> buckets_;
  std::vector<uint32_t> lane_counts_;  // add()'s scratch, kept so that add() does not allocate
  uint64_t num_ = 0, skipped_ = 0;
  double min_ = 0, max_ = 0, sum_ = 0, sum_squares_ = 0;
};

}  // namespace unet::data
