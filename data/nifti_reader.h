// Reads single-file NIfTI-1 volumes, plain (.nii) or gzip'd (.nii.gz, detected by the gzip
// magic rather than the name), in either byte order. Everything in the file is untrusted:
// each header field is checked, and a bad file is a DataError whose what() is one line
// naming the file and the field, e.g.
//   "t1.nii.gz: datatype (byte 70) is 128 (RGB24): supported are uint8, int16, int32, ..."
#pragma once
#include <cstddef>
#include <functional>
#include <string>

#include "data/data_error.h"
#include "data/nifti_volume.h"

namespace unet::data {

NiftiVolume read_nifti(const std::string& path);
// The header only, checked as read_nifti checks it (dims, datatype, that the data fits the
// file): a volume with no voxels. Lets a caller compare several files before it sizes
// anything by them.
NiftiVolume read_nifti_header(const std::string& path);
// The same into `out`, reusing its voxel buffer: converting many subjects then touches no
// fresh pages (page faults were a fifth of the converter's time).
void read_nifti(const std::string& path, NiftiVolume& out);
// Sees each run of decoded voxels (out.voxels[first, first + n)) while it is still in cache,
// in file order, and may rewrite them in place: statistics or a value mapping then cost no
// second pass over a volume that does not fit in cache. An exception it throws propagates.
using NiftiChunkVisitor = std::function<void(float* voxels, size_t first, size_t n)>;
void read_nifti(const std::string& path, NiftiVolume& out, const NiftiChunkVisitor& visit);

}  // namespace unet::data
