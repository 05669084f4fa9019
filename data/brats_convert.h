// The BraTS -> npy conversion: subjects split into train and test BY SUBJECT (seeded),
// sliced in parallel, written in a fixed order by streaming writers (memory stays flat
// however many subjects), plus manifest.json tracing every row back to (subject, slice).
//   <out>/imgs_{train,test}.npy  [N, size, size, 4] channels t1, t2, flair, t1ce
//   <out>/msks_{train,test}.npy  [N, size, size, 4] one-hot background, label 1, 2, 4
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "data/brats_slices.h"
#include "data/npy_dtype.h"

namespace unet::data {

struct ConvertOptions {
  SliceOptions slices;
  NpyDtype image_dtype = NpyDtype::f32;  // f32 or f16
  NpyDtype mask_dtype = NpyDtype::f32;   // f32, f16 or u8
  double train_fraction = 0.85;          // of the subjects; both sides keep >= 1 when 0 < f < 1
  uint64_t seed = 1;
  int jobs = 1;                          // subjects converted at once
  std::vector<std::string> only_subjects;  // empty: all complete subjects
};

struct ConvertSummary {
  std::vector<std::string> train_subjects, test_subjects;  // in file order
  size_t train_rows = 0, test_rows = 0;
  std::vector<std::string> warnings;  // one line per skipped subject
};

struct ConvertCallbacks {
  std::function<void(const std::string& line)> warn;                 // as soon as known
  std::function<void(int total)> begin;                              // subjects to convert
  std::function<void(int done, int total, const std::string& id)> progress;  // in file order
};

// Which subjects train: a seeded Fisher-Yates shuffle of the sorted ids, the first
// round(fraction * n) (kept within [1, n-1] when 0 < fraction < 1 and n >= 2). Returned
// as a flag per id, in the order given.
std::vector<bool> split_by_subject(const std::vector<std::string>& sorted_ids, double fraction, uint64_t seed);

ConvertSummary convert_brats(const std::string& root, const std::string& out_dir, const ConvertOptions& opts,
                             const ConvertCallbacks& callbacks = {});

}  // namespace unet::data
