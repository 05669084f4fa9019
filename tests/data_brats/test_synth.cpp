// Synthetic subjects: deterministic, and their labels mean what BraTS labels mean.
#include <gtest/gtest.h>

#include <set>

#include "brats_test_support.h"
#include "data/nifti_reader.h"
#include "data/nifti_writer.h"
#include "data/synth_subject.h"

namespace unet::data::testing {
namespace {

SynthOptions tiny(uint64_t seed) {
  SynthOptions o;
  o.shape = {64, 64, 24};
  o.seed = seed;
  return o;
}

using SynthTest = BratsScratchTest;

TEST_F(SynthTest, SameSeedSameBytesOtherSeedOtherSubjects) {
  write_synth_dataset(path("a"), 2, tiny(5), 2);
  write_synth_dataset(path("b"), 2, tiny(5), 1);
  write_synth_dataset(path("c"), 2, tiny(6), 2);
  for (const char* kind : {"t1", "t2", "flair", "t1ce", "seg"}) {
    const std::string rel = std::string("Synth_0002/Synth_0002_") + kind + ".nii.gz";
    const auto a = read_bytes(path("a/" + rel));
    ASSERT_FALSE(a.empty()) << rel;
    EXPECT_EQ(a, read_bytes(path("b/" + rel))) << rel;
    EXPECT_NE(a, read_bytes(path("c/" + rel))) << rel;
  }
  EXPECT_NE(read_bytes(path("a/Synth_0001/Synth_0001_seg.nii.gz")),
            read_bytes(path("a/Synth_0002/Synth_0002_seg.nii.gz")));
}

TEST(SynthLabels, EveryCompartmentPresentAndLitInItsContrast) {
  for (int index = 0; index < 4; ++index) {
    SCOPED_TRACE(index);
    const SynthSubject s = render_synth_subject(tiny(11), index);
    std::set<int> labels(s.seg.begin(), s.seg.end());
    EXPECT_EQ(labels, (std::set<int>{0, 1, 2, 4}));
    // Means per label over the brain: [modality][0 healthy brain, 1, 2, 4].
    double sum[4][5] = {}, n[5] = {};
    for (size_t i = 0; i < s.seg.size(); ++i) {
      if (s.images[0][i] == 0) {
        EXPECT_EQ(s.seg[i], 0) << "label outside the brain";
        continue;
      }
      const int l = s.seg[i];
      n[l] += 1;
      for (int m = 0; m < 4; ++m) sum[m][l] += s.images[m][i];
    }
    auto mean = [&](int m, int l) { return sum[m][l] / n[l]; };
    constexpr int t1 = 0, t2 = 1, flair = 2, t1ce = 3;
    EXPECT_GT(mean(flair, 2), 1.3 * mean(flair, 0)) << "edema bright on FLAIR";
    EXPECT_GT(mean(t2, 2), mean(t2, 0)) << "edema bright on T2";
    EXPECT_GT(mean(t1ce, 4), 1.3 * mean(t1ce, 0)) << "enhancing rim bright on T1ce";
    EXPECT_GT(mean(t1ce, 4) / mean(t1ce, 0), 1.3 * mean(t1, 4) / mean(t1, 0)) << "the rim enhances: T1ce over T1";
    EXPECT_LT(mean(t1ce, 1), mean(t1ce, 4)) << "necrotic core dark inside the rim";
  }
}

TEST_F(SynthTest, TemplateBrainReplacesThePhantom) {
  // A T1 "template": one synthetic subject's skull-stripped T1.
  const SynthSubject donor = render_synth_subject(tiny(21), 0);
  write_nifti(path("template.nii.gz"), donor.dims, donor.voxel_mm, NiftiDatatype::i16, donor.images[0].data());
  SynthOptions o = tiny(22);
  o.shape = {56, 60, 20};
  o.brain_template = TemplateBrain::load(path("template.nii.gz"));
  const SynthSubject s = render_synth_subject(o, 0);
  const SynthSubject plain = render_synth_subject(tiny(22), 0);
  EXPECT_EQ(std::set<int>(s.seg.begin(), s.seg.end()), (std::set<int>{0, 1, 2, 4}));
  size_t brain = 0;
  for (int16_t v : s.images[0]) brain += v != 0;
  EXPECT_GT(brain, s.seg.size() / 10);
  EXPECT_NE(s.images[0].size(), plain.images[0].size());

  std::vector<int16_t> empty(8 * 8 * 8, 0);
  write_nifti(path("empty.nii"), {8, 8, 8}, {1.f, 1.f, 1.f}, NiftiDatatype::i16, empty.data());
  EXPECT_THROW(TemplateBrain::load(path("empty.nii")), DataError);
}

TEST(SynthShape, ParsesAndRejects) {
  EXPECT_EQ(parse_volume_shape("160x160x48"), (std::array<int64_t, 3>{160, 160, 48}));
  EXPECT_THROW(parse_volume_shape("160x160"), DataError);
  EXPECT_THROW(parse_volume_shape("160x0x48"), DataError);
  EXPECT_THROW(parse_volume_shape("axbxc"), DataError);
}

}  // namespace
}  // namespace unet::data::testing
