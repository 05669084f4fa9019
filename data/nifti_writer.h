// Writes single-file NIfTI-1 volumes (little-endian, 1 mm voxels unless told, identity
// orientation), gzip'd when the path ends in ".gz". Write-then-rename: a reader never sees
// half a file.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "data/data_error.h"
#include "data/nifti_volume.h"

namespace unet::data {

// `voxels` holds dims[0]*dims[1]*dims[2] elements of `dtype` in host (little-endian) order,
// x fastest. gzip_level 1 keeps unetsynth near a second a subject; 0..9 as zlib's.
void write_nifti(const std::string& path, const std::array<int64_t, 3>& dims,
                 const std::array<float, 3>& voxel_mm, NiftiDatatype dtype, const void* voxels,
                 int gzip_level = 1);

}  // namespace unet::data
