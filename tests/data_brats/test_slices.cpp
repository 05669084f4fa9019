// Slice geometry (crop, area resize, numpy.rot90), the subject split, the tree walk.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>

#include "brats_test_support.h"
#include "data/brats_convert.h"
#include "data/brats_slices.h"
#include "data/brats_tree.h"
#include "data/data_error.h"

namespace unet::data::testing {
namespace {

TEST(BratsSlices, Rot90MatchesNumpy) {
  // numpy.rot90([[1, 2], [3, 4]], k) for k = 1, 2, 3.
  const float m[4] = {1, 2, 3, 4};
  float out[4];
  rot90_square(m, 2, 1, out);
  EXPECT_EQ(std::vector<float>(out, out + 4), (std::vector<float>{2, 4, 1, 3}));
  rot90_square(m, 2, 2, out);
  EXPECT_EQ(std::vector<float>(out, out + 4), (std::vector<float>{4, 3, 2, 1}));
  rot90_square(m, 2, 3, out);
  EXPECT_EQ(std::vector<float>(out, out + 4), (std::vector<float>{3, 1, 4, 2}));
  rot90_square(m, 2, 0, out);
  EXPECT_EQ(std::vector<float>(out, out + 4), (std::vector<float>{1, 2, 3, 4}));
}

TEST(BratsSlices, CentreCropTakesNumpysWindowAndPadsSmallSlices) {
  std::vector<float> src(6 * 5);
  std::iota(src.begin(), src.end(), 0.f);  // src[x][y] = 5x + y
  std::vector<float> out(9);
  crop_or_pad(src.data(), 6, 5, 3, out.data());  // x from (6-3)//2 = 1, y from (5-3)//2 = 1
  EXPECT_EQ(out, (std::vector<float>{6, 7, 8, 11, 12, 13, 16, 17, 18}));
  std::vector<float> padded(8 * 8);
  crop_or_pad(src.data(), 6, 5, 8, padded.data());
  EXPECT_EQ(std::accumulate(padded.begin(), padded.end(), 0.f), std::accumulate(src.begin(), src.end(), 0.f));
  EXPECT_EQ(padded[0], 0.f);
}

TEST(BratsSlices, AreaResizeAveragesWholeAndPartialCells) {
  const std::vector<float> src{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  std::vector<float> out(4);
  area_resize(src.data(), 4, 4, 2, out.data());
  EXPECT_EQ(out, (std::vector<float>{3.5f, 5.5f, 11.5f, 13.5f}));
  std::vector<float> flat(9 * 9, 3.f), small(4);
  area_resize(flat.data(), 9, 9, 2, small.data());  // 4.5 cells each way: partial overlaps
  for (float v : small) EXPECT_NEAR(v, 3.f, 1e-5f);
}

TEST(BratsSplit, BySubjectSeededAndBothSidesKept) {
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(fmt::format("S{}", 100 + i));
  const auto a = split_by_subject(ids, 0.85, 7), b = split_by_subject(ids, 0.85, 7), c = split_by_subject(ids, 0.85, 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(std::count(a.begin(), a.end(), true), 17);
  const std::vector<std::string> two{"a", "b"};
  const auto d = split_by_subject(two, 0.99, 1);
  EXPECT_EQ(std::count(d.begin(), d.end(), true), 1);
  const auto e = split_by_subject(two, 0.0, 1);
  EXPECT_EQ(std::count(e.begin(), e.end(), true), 0);
}

TEST(BratsSplit, RefusesWhatIsNotAFraction) {  // issue 15: NaN got past CLI11's range check
  const std::vector<std::string> ids{"a", "b", "c"};
  for (double bad : {std::nan(""), -0.5, 1.5, HUGE_VAL}) {
    try {
      split_by_subject(ids, bad, 1);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const DataError& err) {
      EXPECT_NE(std::string(err.what()).find("--train_test_split"), std::string::npos) << err.what();
    }
  }
}

using BratsTreeTest = BratsScratchTest;

TEST_F(BratsTreeTest, FindsSubjectsAtAnyDepthAndNamesWhatIsMissing) {
  auto touch = [&](const std::string& rel) {
    std::filesystem::create_directories(std::filesystem::path(path(rel)).parent_path());
    std::ofstream(path(rel)) << "x";
  };
  for (const char* kind : {"t1", "t2", "flair", "t1ce", "seg"}) {
    touch(std::string("HGG/Brats18_CBICA_AAB_1/Brats18_CBICA_AAB_1_") + kind + ".nii.gz");
    touch(std::string("BraTS20_Training_001/BraTS20_Training_001_") + kind + ".nii");
  }
  touch("LGG/Brats17_TCIA_105_1/Brats17_TCIA_105_1_T1.nii.gz");  // case differs, as some releases
  touch("LGG/Brats17_TCIA_105_1/Brats17_TCIA_105_1_flair.nii.gz");
  touch("notes/readme_t1.txt");
  const BratsTree tree = find_brats_subjects(dir().string());
  ASSERT_EQ(tree.complete.size(), 2u);
  EXPECT_EQ(tree.complete[0].id, "BraTS20_Training_001");
  EXPECT_EQ(tree.complete[1].id, "Brats18_CBICA_AAB_1");
  EXPECT_NE(tree.complete[1].files[3].find("_t1ce.nii.gz"), std::string::npos);
  ASSERT_EQ(tree.incomplete.size(), 1u);
  EXPECT_EQ(tree.incomplete[0].missing, (std::vector<std::string>{"t2", "t1ce", "seg"}));
  EXPECT_THROW(find_brats_subjects(path("nowhere")), DataError);
}

}  // namespace
}  // namespace unet::data::testing
