// The reader against nibabel's files; the writer against nibabel's reader.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "brats_test_support.h"
#include "data/nifti_reader.h"
#include "data/nifti_writer.h"
#include "data/npy.h"

namespace unet::data::testing {
namespace {

using NiftiReadTest = BratsScratchTest;

TEST_F(NiftiReadTest, ReadsEveryNibabelFixtureToTheSameVoxels) {
  ASSERT_EQ(python("tests/data_brats/nifti_fixtures.py", {dir().string()}), 0) << python_output();
  std::ifstream list(path("fixtures.txt"));
  std::vector<std::string> names;
  for (std::string line; std::getline(list, line);)
    if (!line.empty()) names.push_back(line);
  // 6 datatypes x 2 byte orders x scaled or not x gzip'd or not.
  ASSERT_EQ(names.size(), 48u);
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    const NiftiVolume vol = read_nifti(path(name));
    EXPECT_EQ(vol.dims, (std::array<int64_t, 3>{5, 4, 3}));
    EXPECT_FLOAT_EQ(vol.voxel_mm[0], 1.5f);
    EXPECT_FLOAT_EQ(vol.voxel_mm[2], 2.5f);
    const std::string stem = name.substr(0, name.find(".nii"));
    EXPECT_EQ(std::string(nifti_datatype_name(vol.stored)), stem.substr(0, stem.find('_')));
    const NpyReader expected = NpyReader::open(path(stem + ".expected.npy"));
    ASSERT_EQ(expected.count() * expected.row_elems(), vol.count());
    std::vector<float> want(vol.count());
    expected.read_rows_f32(0, expected.count(), want.data());
    for (size_t i = 0; i < vol.count(); ++i) ASSERT_EQ(vol.voxels[i], want[i]) << "voxel " << i;
    if (stem.find("_scaled_") != std::string::npos) {
      EXPECT_EQ(vol.scl_slope, 0.25f);
      EXPECT_EQ(vol.scl_inter, -7.5f);
    }
  }
}

TEST_F(NiftiReadTest, WrittenVolumesReadBackHereAndInNibabel) {
  const std::array<int64_t, 3> dims{7, 5, 3};
  std::vector<int16_t> image(105);
  std::vector<uint8_t> labels(105);
  std::vector<float> image_f(105), labels_f(105);
  for (size_t i = 0; i < image.size(); ++i) {
    image[i] = static_cast<int16_t>(static_cast<int>(i * 611 % 65536) - 32768);
    labels[i] = static_cast<uint8_t>(std::array<int, 4>{0, 1, 2, 4}[i % 4]);
    image_f[i] = image[i];
    labels_f[i] = labels[i];
  }
  write_npy_f32(path("image.npy"), {3, 5, 7}, image_f.data());
  write_npy_f32(path("labels.npy"), {3, 5, 7}, labels_f.data());
  for (const char* ext : {".nii", ".nii.gz"}) {
    SCOPED_TRACE(ext);
    write_nifti(path(std::string("image") + ext), dims, {1.f, 1.f, 2.f}, NiftiDatatype::i16, image.data());
    write_nifti(path(std::string("labels") + ext), dims, {1.f, 1.f, 2.f}, NiftiDatatype::u8, labels.data());
    const NiftiVolume a = read_nifti(path(std::string("image") + ext));
    const NiftiVolume b = read_nifti(path(std::string("labels") + ext));
    EXPECT_EQ(a.stored, NiftiDatatype::i16);
    EXPECT_EQ(b.stored, NiftiDatatype::u8);
    EXPECT_EQ(a.voxels, image_f);
    EXPECT_EQ(b.voxels, labels_f);
    EXPECT_EQ(python("tests/data_brats/check_written.py", {path(std::string("image") + ext), path("image.npy"), "int16"}), 0)
        << python_output();
    EXPECT_EQ(python("tests/data_brats/check_written.py", {path(std::string("labels") + ext), path("labels.npy"), "uint8"}), 0)
        << python_output();
  }
  const std::vector<uint8_t> gz = read_bytes(path("image.nii.gz"));
  ASSERT_GE(gz.size(), 2u);
  EXPECT_EQ(gz[0], 0x1f);
  EXPECT_EQ(gz[1], 0x8b);
}

TEST_F(NiftiReadTest, ChunkVisitorSeesEveryVoxelOnceInOrderAndMayRewriteIt) {
  const std::array<int64_t, 3> dims{70, 40, 30};  // 84000 voxels: more than one decode chunk
  std::vector<int16_t> image(70 * 40 * 30);
  for (size_t i = 0; i < image.size(); ++i) image[i] = static_cast<int16_t>(static_cast<int>(i * 7919 % 65536) - 32768);
  write_nifti(path("big.nii.gz"), dims, {1.f, 1.f, 1.f}, NiftiDatatype::i16, image.data());
  NiftiVolume vol;
  size_t next = 0, calls = 0;
  read_nifti(path("big.nii.gz"), vol, [&](float* v, size_t first, size_t n) {
    EXPECT_EQ(first, next);
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(v[i], static_cast<float>(image[first + i])) << "voxel " << first + i;
      v[i] = -v[i];
    }
    next = first + n;
    ++calls;
  });
  EXPECT_EQ(next, image.size());
  EXPECT_GE(calls, 2u);
  for (size_t i = 0; i < image.size(); ++i) ASSERT_EQ(vol.voxels[i], -static_cast<float>(image[i])) << "voxel " << i;
}

}  // namespace
}  // namespace unet::data::testing
