// A NIfTI-1 volume in memory: up to three spatial dimensions, voxels as float32 with the
// file's scl_slope / scl_inter already applied (BraTS intensities and labels are exact in
// float32), x varying fastest as on disk.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace unet::data {

// The on-disk element types this engine reads (NIfTI-1 datatype codes).
enum class NiftiDatatype : int16_t {
  u8 = 2,
  i16 = 4,
  i32 = 8,
  f32 = 16,
  f64 = 64,
  u16 = 512,
};

const char* nifti_datatype_name(NiftiDatatype dtype);
int nifti_datatype_bits(NiftiDatatype dtype);

struct NiftiVolume {
  std::array<int64_t, 3> dims{1, 1, 1};       // nx, ny, nz (missing dimensions are 1)
  std::array<float, 3> voxel_mm{1.f, 1.f, 1.f};  // pixdim[1..3]
  NiftiDatatype stored = NiftiDatatype::f32;  // element type in the file
  float scl_slope = 0.f;                      // as in the header; 0 means "no scaling"
  float scl_inter = 0.f;
  std::vector<float> voxels;                  // dims[0] * dims[1] * dims[2]

  size_t count() const { return static_cast<size_t>(dims[0] * dims[1] * dims[2]); }
  float at(int64_t x, int64_t y, int64_t z) const {
    return voxels[static_cast<size_t>((z * dims[1] + y) * dims[0] + x)];
  }
};

}  // namespace unet::data
