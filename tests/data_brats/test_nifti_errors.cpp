// Broken NIfTI files: each gives one line that names the file and the field or place.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "brats_test_support.h"
#include "data/nifti_reader.h"
#include "data/nifti_writer.h"

namespace unet::data::testing {
namespace {

class NiftiErrorTest : public BratsScratchTest {
 protected:
  void SetUp() override {
    BratsScratchTest::SetUp();
    std::vector<int16_t> voxels(8 * 8 * 8);
    for (size_t i = 0; i < voxels.size(); ++i) voxels[i] = static_cast<int16_t>(i * 37 % 1000);
    write_nifti(path("good.nii"), {8, 8, 8}, {1.f, 1.f, 1.f}, NiftiDatatype::i16, voxels.data());
    write_nifti(path("good.nii.gz"), {8, 8, 8}, {1.f, 1.f, 1.f}, NiftiDatatype::i16, voxels.data(), 6);
    good_ = read_bytes(path("good.nii"));
    good_gz_ = read_bytes(path("good.nii.gz"));
  }

  // Writes `bytes` to name and returns read_nifti's message (fails when it does not throw).
  std::string error_of(const std::string& name, const std::vector<uint8_t>& bytes) {
    write_bytes(path(name), bytes);
    try {
      read_nifti(path(name));
    } catch (const DataError& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
      EXPECT_EQ(what.rfind(path(name), 0), 0u) << "does not start with the file: " << what;
      return what;
    }
    ADD_FAILURE() << name << " was read without an error";
    return "";
  }

  template <class T>
  std::vector<uint8_t> patched(size_t offset, T value) const {
    std::vector<uint8_t> b = good_;
    std::memcpy(b.data() + offset, &value, sizeof value);
    return b;
  }

  std::vector<uint8_t> good_, good_gz_;
};

TEST_F(NiftiErrorTest, TruncatedHeader) {
  const std::string e = error_of("short.nii", std::vector<uint8_t>(good_.begin(), good_.begin() + 100));
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  EXPECT_NE(e.find("header"), std::string::npos) << e;
}

// Found by tests/fuzz (fuzz_nifti): an empty file handed memcpy a null pointer (UBSan).
TEST_F(NiftiErrorTest, EmptyFileIsTruncatedHeader) {
  const std::string e = error_of("empty.nii", {});
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
}

TEST_F(NiftiErrorTest, TruncatedVoxels) {
  const std::string e = error_of("cut.nii", std::vector<uint8_t>(good_.begin(), good_.end() - 7));
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  EXPECT_NE(e.find("1024 bytes"), std::string::npos) << e;
}

TEST_F(NiftiErrorTest, BadSizeofHdr) {
  const std::string e = error_of("sizeof.nii", patched<int32_t>(0, 123));
  EXPECT_NE(e.find("sizeof_hdr"), std::string::npos) << e;
  EXPECT_NE(e.find("123"), std::string::npos) << e;
}

TEST_F(NiftiErrorTest, UnsupportedDatatype) {
  const std::string e = error_of("rgb.nii", patched<int16_t>(70, 128));
  EXPECT_NE(e.find("datatype"), std::string::npos) << e;
  EXPECT_NE(e.find("RGB24"), std::string::npos) << e;
}

TEST_F(NiftiErrorTest, BitpixDisagreesWithDatatype) {
  const std::string e = error_of("bitpix.nii", patched<int16_t>(72, 32));
  EXPECT_NE(e.find("bitpix"), std::string::npos) << e;
}

TEST_F(NiftiErrorTest, BadDims) {
  EXPECT_NE(error_of("dim0.nii", patched<int16_t>(40, 9)).find("dim[0]"), std::string::npos);
  EXPECT_NE(error_of("dim2.nii", patched<int16_t>(44, 0)).find("dim[2]"), std::string::npos);
}

TEST_F(NiftiErrorTest, VoxOffsetBeyondTheFile) {
  const std::string e = error_of("offset.nii", patched<float>(108, 1.0e6f));
  EXPECT_NE(e.find("vox_offset"), std::string::npos) << e;
  EXPECT_NE(error_of("offset_small.nii", patched<float>(108, 12.f)).find("vox_offset"), std::string::npos);
}

TEST_F(NiftiErrorTest, NotSingleFileNifti) {
  EXPECT_NE(error_of("magic.nii", patched<char>(345, 'i')).find("magic"), std::string::npos);
}

TEST_F(NiftiErrorTest, CorruptGzip) {
  std::vector<uint8_t> b = good_gz_;
  for (size_t i = 20; i < 60 && i < b.size(); ++i) b[i] ^= 0x5a;
  const std::string e = error_of("corrupt.nii.gz", b);
  EXPECT_NE(e.find("gzip"), std::string::npos) << e;
}

TEST_F(NiftiErrorTest, TruncatedGzip) {
  const std::string e = error_of("cut.nii.gz", std::vector<uint8_t>(good_gz_.begin(), good_gz_.begin() + good_gz_.size() / 2));
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
}

TEST_F(NiftiErrorTest, GzipCrcIsChecked) {
  // A flipped CRC byte in the trailer: every voxel inflates, only the check can tell.
  std::vector<uint8_t> b = good_gz_;
  b[b.size() - 6] ^= 0xff;
  const std::string e = error_of("crc.nii.gz", b);
  EXPECT_NE(e.find("gzip"), std::string::npos) << e;
}

TEST_F(NiftiErrorTest, MissingFile) {
  try {
    read_nifti(path("absent.nii.gz"));
    ADD_FAILURE() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("absent.nii.gz"), std::string::npos);
  }
}

}  // namespace
}  // namespace unet::data::testing

namespace unet::data::testing {
namespace {

TEST_F(NiftiErrorTest, RandomHeaderDamageIsAnErrorOrAVolumeNeverACrash) {
  // Seeded byte damage in and around the header, plain and gzip'd: every outcome is a
  // volume of the promised size or a DataError.
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 33;
  };
  int errors = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const bool gz = trial % 4 == 3;
    std::vector<uint8_t> b = gz ? good_gz_ : good_;
    const int flips = 1 + static_cast<int>(next() % 4);
    for (int f = 0; f < flips; ++f) b[next() % std::min<size_t>(b.size(), gz ? b.size() : 360)] ^= static_cast<uint8_t>(1 + next() % 255);
    const std::string name = gz ? "damaged.nii.gz" : "damaged.nii";
    write_bytes(path(name), b);
    try {
      const NiftiVolume v = read_nifti(path(name));
      EXPECT_EQ(v.voxels.size(), v.count());
    } catch (const DataError& e) {
      ++errors;
      EXPECT_EQ(std::string(e.what()).rfind(path(name), 0), 0u) << e.what();
    }
  }
  EXPECT_GT(errors, 100);
}

}  // namespace
}  // namespace unet::data::testing
