// unetsynth -> unetconvert round trips on tiny subjects.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "brats_test_support.h"
#include "data/brats_convert.h"
#include "data/nifti_reader.h"
#include "data/nifti_writer.h"
#include "data/npy.h"
#include "data/synth_subject.h"

namespace unet::data::testing {
namespace {

constexpr int kSubjects = 5, kSlices = 16;

class ConvertTest : public BratsScratchTest {
 protected:
  void SetUp() override {
    BratsScratchTest::SetUp();
    SynthOptions o;
    o.shape = {48, 48, kSlices};
    o.seed = 3;
    write_synth_dataset(path("raw"), kSubjects, o, 2);
  }
  ConvertOptions options() const {
    ConvertOptions c;
    c.slices.size = 32;
    c.train_fraction = 0.6;
    c.jobs = 2;
    return c;
  }
  static std::vector<float> all_rows(const std::string& file) {
    const NpyReader r = NpyReader::open(file);
    std::vector<float> v(r.count() * r.row_elems());
    if (r.count() > 0) r.read_rows_f32(0, r.count(), v.data());
    return v;
  }
};

TEST_F(ConvertTest, RoundTripMatchesManifestAndTheNumpyPeer) {
  const ConvertSummary s = convert_brats(path("raw"), path("out"), options());
  EXPECT_EQ(s.train_subjects.size(), 3u);
  EXPECT_EQ(s.test_subjects.size(), 2u);
  EXPECT_EQ(s.train_rows, 3u * kSlices);
  EXPECT_EQ(s.test_rows, 2u * kSlices);
  for (const auto& id : s.train_subjects)
    EXPECT_EQ(std::find(s.test_subjects.begin(), s.test_subjects.end(), id), s.test_subjects.end()) << id;
  const NpyReader imgs = NpyReader::open(path("out/imgs_train.npy"));
  EXPECT_EQ(imgs.shape(), (std::vector<size_t>{3 * kSlices, 32, 32, 4}));
  EXPECT_EQ(imgs.dtype(), NpyDtype::f32);

  ASSERT_EQ(python("tests/data_brats/check_conversion.py", {path("out"), std::to_string(kSlices)}), 0) << python_output();
  ASSERT_EQ(python("bench/peers/convert_numpy.py",
                   {path("raw"), "-o", path("peer"), "--size", "32", "--train_test_split", "0.6", "--seed", "1"}),
            0)
      << python_output();
  for (const char* f : {"imgs_train.npy", "imgs_test.npy", "msks_train.npy", "msks_test.npy"}) {
    SCOPED_TRACE(f);
    const auto mine = all_rows(path(std::string("out/") + f)), peer = all_rows(path(std::string("peer/") + f));
    ASSERT_EQ(mine.size(), peer.size());
    size_t differ = 0;
    for (size_t i = 0; i < mine.size(); ++i) differ += std::fabs(mine[i] - peer[i]) > 1e-5f;
    EXPECT_EQ(differ, 0u);
  }

  // Channel order, through what the contrasts show: (t1, t2, flair, t1ce) x (bg, 1, 2, 4).
  const auto x = all_rows(path("out/imgs_train.npy")), y = all_rows(path("out/msks_train.npy"));
  double sum[4][4] = {}, n[4] = {};
  for (size_t p = 0; p < x.size() / 4; ++p) {
    int label = 0;
    while (y[p * 4 + static_cast<size_t>(label)] != 1.f) ++label;
    if (label == 0 && x[p * 4] == 0.f) continue;  // outside the brain
    n[label] += 1;
    for (int c = 0; c < 4; ++c) sum[c][label] += x[p * 4 + static_cast<size_t>(c)];
  }
  for (int l = 0; l < 4; ++l) ASSERT_GT(n[l], 0) << "mask channel " << l << " never set";
  EXPECT_GT(sum[2][2] / n[2], sum[2][0] / n[0] + 0.5) << "edema (mask 2) bright in channel 2 (FLAIR)";
  EXPECT_GT(sum[3][3] / n[3], sum[3][0] / n[0] + 0.5) << "enhancing (mask 3) bright in channel 3 (T1ce)";
  EXPECT_GT(sum[3][3] / n[3], sum[0][3] / n[3]) << "T1ce (channel 3) above T1 (channel 0) on the rim";
}

TEST_F(ConvertTest, JobsDoNotChangeTheBytes) {
  ConvertOptions one = options(), three = options();
  one.jobs = 1;
  three.jobs = 3;
  convert_brats(path("raw"), path("one"), one);
  convert_brats(path("raw"), path("three"), three);
  for (const char* f : {"imgs_train.npy", "imgs_test.npy", "msks_train.npy", "msks_test.npy", "manifest.json"}) {
    const auto a = read_bytes(path(std::string("one/") + f));
    EXPECT_FALSE(a.empty()) << f;
    EXPECT_EQ(a, read_bytes(path(std::string("three/") + f))) << f;
  }
  for (const auto& e : std::filesystem::directory_iterator(path("one")))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << "left behind: " << e.path();
}

TEST_F(ConvertTest, SkipsAnIncompleteSubjectNamingWhatIsMissing) {
  std::filesystem::remove(path("raw/Synth_0002/Synth_0002_t1ce.nii.gz"));
  std::vector<std::string> warned;
  ConvertCallbacks cb;
  cb.warn = [&](const std::string& w) { warned.push_back(w); };
  const ConvertSummary s = convert_brats(path("raw"), path("out"), options(), cb);
  ASSERT_EQ(warned.size(), 1u);
  EXPECT_NE(warned[0].find("Synth_0002"), std::string::npos) << warned[0];
  EXPECT_NE(warned[0].find("t1ce"), std::string::npos) << warned[0];
  EXPECT_EQ(s.train_subjects.size() + s.test_subjects.size(), 4u);
  EXPECT_EQ(s.train_rows + s.test_rows, 4u * kSlices);
}

TEST_F(ConvertTest, NamedSubjectsOnly) {
  ConvertOptions o = options();
  o.only_subjects = {"Synth_0004"};
  o.train_fraction = 0.0;  // what unetconvert does with --subjects: the seed's single-brain samples
  const ConvertSummary s = convert_brats(path("raw"), path("one"), o);
  EXPECT_EQ(s.test_subjects, (std::vector<std::string>{"Synth_0004"}));
  EXPECT_EQ(s.train_rows, 0u);
  EXPECT_EQ(NpyReader::open(path("one/imgs_train.npy")).shape(), (std::vector<size_t>{0, 32, 32, 4}));
  EXPECT_EQ(NpyReader::open(path("one/msks_test.npy")).count(), static_cast<size_t>(kSlices));
  o.only_subjects = {"Brats17_TCIA_105_1"};
  try {
    convert_brats(path("raw"), path("none"), o);
    ADD_FAILURE() << "unknown subject accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("Brats17_TCIA_105_1"), std::string::npos) << e.what();
  }
}

TEST_F(ConvertTest, HalfPrecisionUint8MasksAndStackNorm) {
  ConvertOptions o = options();
  o.image_dtype = NpyDtype::f16;
  o.mask_dtype = NpyDtype::u8;
  o.slices.norm = BratsNorm::stack;
  convert_brats(path("raw"), path("out"), o);
  EXPECT_EQ(NpyReader::open(path("out/imgs_train.npy")).dtype(), NpyDtype::f16);
  EXPECT_EQ(NpyReader::open(path("out/msks_test.npy")).dtype(), NpyDtype::u8);
  ASSERT_EQ(python("tests/data_brats/check_conversion.py", {path("out"), std::to_string(kSlices)}), 0) << python_output();
  // The whole stack (train and test) has zero mean and unit variance per channel.
  double sum[4] = {}, sumsq[4] = {}, n = 0;
  for (const char* f : {"out/imgs_train.npy", "out/imgs_test.npy"}) {
    const auto v = all_rows(path(f));
    for (size_t p = 0; p < v.size() / 4; ++p, n += 1)
      for (int c = 0; c < 4; ++c) {
        sum[c] += v[p * 4 + static_cast<size_t>(c)];
        sumsq[c] += static_cast<double>(v[p * 4 + static_cast<size_t>(c)]) * v[p * 4 + static_cast<size_t>(c)];
      }
  }
  for (int c = 0; c < 4; ++c) {
    EXPECT_NEAR(sum[c] / n, 0.0, 2e-3) << c;
    EXPECT_NEAR(sumsq[c] / n, 1.0, 5e-3) << c;
  }
  for (const auto& e : std::filesystem::directory_iterator(path("out")))
    EXPECT_EQ(e.path().filename().string().find("unnormalised"), std::string::npos) << "scratch left behind";
}

TEST_F(ConvertTest, AreaResizeKeepsMasksOneHot) {
  ConvertOptions o = options();
  o.slices.resize = true;
  o.slices.size = 20;
  o.slices.min_tumour_pixels = 1;
  const ConvertSummary s = convert_brats(path("raw"), path("out"), o);
  EXPECT_GT(s.train_rows + s.test_rows, 0u);
  EXPECT_LT(s.train_rows + s.test_rows, static_cast<size_t>(kSubjects * kSlices)) << "tumour-free slices kept";
  EXPECT_EQ(NpyReader::open(path("out/imgs_test.npy")).shape()[1], 20u);
  const auto y = all_rows(path("out/msks_train.npy"));
  for (size_t p = 0; p < y.size() / 4; ++p) {
    ASSERT_EQ(y[p * 4] + y[p * 4 + 1] + y[p * 4 + 2] + y[p * 4 + 3], 1.f);
    ASSERT_TRUE(y[p * 4] == 0.f || y[p * 4] == 1.f);
  }
}

TEST_F(ConvertTest, ALabelOutsideBratsIsAnErrorNamingTheFile) {
  const std::string seg = path("raw/Synth_0001/Synth_0001_seg.nii.gz");
  NiftiVolume v = read_nifti(seg);
  std::vector<uint8_t> labels(v.voxels.begin(), v.voxels.end());
  labels[100] = 3;
  write_nifti(seg, v.dims, v.voxel_mm, NiftiDatatype::u8, labels.data());
  try {
    convert_brats(path("raw"), path("out"), options());
    ADD_FAILURE() << "label 3 accepted";
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("Synth_0001_seg.nii.gz"), std::string::npos) << what;
    EXPECT_NE(what.find("label 3"), std::string::npos) << what;
    const int64_t nx = v.dims[0], ny = v.dims[1];
    const std::string where = "voxel (" + std::to_string(100 % nx) + ", " + std::to_string(100 / nx % ny) + ", " +
                              std::to_string(100 / (nx * ny)) + ")";
    EXPECT_NE(what.find(where), std::string::npos) << what;
  }
  EXPECT_FALSE(std::filesystem::exists(path("out/imgs_train.npy"))) << "a failed conversion left output";
}

}  // namespace
}  // namespace unet::data::testing
