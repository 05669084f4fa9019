// The checks both NIfTI targets run on a file's bytes.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/nifti_reader.h"
#include "tests/fuzz/fuzz_support.h"

namespace unet::fuzz {

inline void check_nifti_error(const data::DataError& e, const std::string& path) {
  const std::string what = e.what();
  UNET_FUZZ_CHECK(what.rfind(path + ": ", 0) == 0 && what.find('\n') == std::string::npos, what);
}

// read_nifti_header, then read_nifti into a volume reused across inputs (as the converter
// reuses one), with a visitor that checks the chunks come in order and cover the volume.
inline void read_nifti_both_ways(const uint8_t* data, size_t size) {
  static MemFile file;
  static data::NiftiVolume reused;
  const std::string& path = file.hold(data, size);
  bool header_ok = false;
  data::NiftiVolume header;
  try {
    header = data::read_nifti_header(path);
    header_ok = true;
    UNET_FUZZ_CHECK(header.voxels.empty(), "header-only read holds voxels");
  } catch (const data::DataError& e) {
    check_nifti_error(e, path);
  }
  size_t next = 0;
  auto visit = [&](float* voxels, size_t first, size_t n) {
    UNET_FUZZ_CHECK(first == next && n > 0, "chunks out of order");
    for (size_t i = 0; i < n; ++i) UNET_FUZZ_CHECK(std::isfinite(voxels[i]), "non-finite voxel handed out");
    next = first + n;
  };
  try {
    data::read_nifti(path, reused, visit);
  } catch (const data::DataError& e) {
    check_nifti_error(e, path);
    return;
  }
  // What reads whole passes the header checks too, and says the same of the volume.
  UNET_FUZZ_CHECK(header_ok, "read_nifti accepts what read_nifti_header refuses");
  UNET_FUZZ_CHECK(header.dims == reused.dims && header.stored == reused.stored, "header and volume disagree");
  for (int64_t d : reused.dims) UNET_FUZZ_CHECK(d >= 1 && d <= 32767, "dimension out of range");
  UNET_FUZZ_CHECK(reused.voxels.size() == reused.count() && next == reused.count(), "voxel count");
  for (float v : reused.voxels) UNET_FUZZ_CHECK(std::isfinite(v), "non-finite voxel");
}

}  // namespace unet::fuzz
