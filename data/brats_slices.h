// One BraTS subject -> axial slices ready for training: each modality normalised, every
// slice centre-cropped (or area-resized) to size x size and turned `rotate` quarter turns
// counter-clockwise as numpy.rot90 does, labels mapped 0,1,2,4 -> classes 0..3.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "data/brats_tree.h"
#include "data/nifti_volume.h"

namespace unet::data {

enum class BratsNorm {
  brain,  // per subject and modality: z-score over the nonzero (brain) voxels, background 0
  stack,  // none here: the converter z-scores the whole written stack per channel (the seed's)
};

struct SliceOptions {
  int size = 128;
  bool resize = false;  // false: centre crop (zero pad when the slice is smaller)
  int rotate = 3;       // quarter turns, numpy.rot90's sense
  BratsNorm norm = BratsNorm::brain;
  bool skip_empty = false;    // drop slices with no brain voxel
  int min_tumour_pixels = 0;  // drop slices with fewer labelled (nonzero) pixels
};

struct SubjectSlices {
  std::string id;
  int size = 0;
  std::vector<int> slice_index;  // axial index in the volume of each kept slice
  // [4][slices][size][size]: one stack of planes per modality, kModalityNames order. Planar
  // so each modality is written contiguously while its volume is in memory;
  // interleave_rows gives the [slices][size][size][4] rows the npy files hold.
  std::vector<float> images;
  std::vector<uint8_t> classes;  // [slices][size][size], 0..3 for labels 0, 1, 2, 4
  NiftiVolume scratch;           // the volume being sliced; kept so its buffer is reused
  size_t rows() const { return slice_index.size(); }
  const float* modality(int m) const {
    return images.data() + static_cast<size_t>(m) * rows() * static_cast<size_t>(size) * static_cast<size_t>(size);
  }
  // Rows [first, first + n) as [n][size][size][4] into out.
  void interleave_rows(size_t first, size_t n, float* out) const;
};

// Reads the five files and slices them. Throws DataError naming the file on unreadable
// volumes, volumes whose dims differ from the seg's, or labels other than 0, 1, 2, 4.
SubjectSlices slice_brats_subject(const BratsSubjectFiles& files, const SliceOptions& opts);
// The same into `out`, reusing its buffers (the converter recycles a few across subjects).
void slice_brats_subject(const BratsSubjectFiles& files, const SliceOptions& opts, SubjectSlices& out);

// 2-D helpers, exposed for tests. src is [nx][ny] row-major (x the row, as nibabel's
// img[:, :, z]); out is size x size.
void crop_or_pad(const float* src, int64_t nx, int64_t ny, int size, float* out);
void area_resize(const float* src, int64_t nx, int64_t ny, int size, float* out);
// out[i][j] = numpy.rot90(src, k)[i][j] for a square n x n src.
void rot90_square(const float* src, int n, int k, float* out);

}  // namespace unet::data
