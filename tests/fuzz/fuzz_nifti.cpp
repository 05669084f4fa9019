// NIfTI-1 file bytes as they are on disk: plain (.nii) or gzip (.nii.gz, told apart by the
// gzip magic), through read_nifti_header and read_nifti (tests/fuzz/nifti_check.h).
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/nifti_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  unet::fuzz::read_nifti_both_ways(data, size);
  return 0;
}
