// Data feeding: the seed's modes, channel selection, targets, padding of short batches.
#include <gtest/gtest.h>

#include <vector>

#include "data/npy.h"
#include "kernels/layout_reorder.h"
#include "runtime/batch_prefetcher.h"
#include "runtime/dataset.h"
#include "runtime/runtime_error.h"
#include "runtime_fixtures.h"

namespace unet::runtime {
namespace {

// One 2x2 image whose channel k holds 10*k + pixel, and a mask with each pixel a different label.
void write_tiny(const std::string& dir) {
  std::vector<float> img(2 * 2 * 4), msk(2 * 2 * 4, 0.f);
  for (int p = 0; p < 4; ++p) {
    for (int k = 0; k < 4; ++k) img[p * 4 + k] = static_cast<float>(10 * k + p);
    msk[p * 4 + p] = 1.f;  // pixel 0 background, 1 label 1, 2 label 2, 3 label 4
  }
  data::write_npy_f32(dir + "/imgs_train.npy", {1, 2, 2, 4}, img.data());
  data::write_npy_f32(dir + "/msks_train.npy", {1, 2, 2, 4}, msk.data());
}

struct Loaded {
  std::vector<float> input;   // NHWC
  std::vector<float> target;  // NHW
};

Loaded load(const std::string& dir, DataSelection sel, int in_c, int batch = 1) {
  Dataset d(dir, "train", sel, in_c, 2, 2, batch);
  std::vector<float> blocked(static_cast<size_t>(batch) * 16 * 4, -1.f), target(static_cast<size_t>(batch) * 4, -1.f);
  kernels::TensorArg in{blocked.data(), batch, in_c, 2, 2, 16 * 4};
  kernels::TensorArg t{target.data(), batch, 1, 2, 2, 4};
  const size_t idx = 0;
  d.load(&idx, 1, in, t);
  Loaded out;
  out.input.resize(static_cast<size_t>(batch) * 4 * in_c);
  kernels::blocked_to_nhwc(in, out.input.data());
  out.target = target;
  for (int i = 0; i < batch; ++i)
    for (int k = in_c; k < 16; ++k) EXPECT_EQ(blocked[i * 64 + k], 0.f) << "padding lane " << k;
  return out;
}

TEST(Dataset, ModesPickTheSeedsModalityAndTarget) {
  const std::string dir = test::temp_dir("modes");
  write_tiny(dir);
  // mode 1: FLAIR (channel 2) -> whole tumour (labels 1, 2, 4)
  Loaded m1 = load(dir, {1, {}}, 1);
  EXPECT_EQ(m1.input, (std::vector<float>{20, 21, 22, 23}));
  EXPECT_EQ(m1.target, (std::vector<float>{0, 1, 1, 1}));
  // mode 2: T1ce (channel 3) -> enhancing (label 4)
  Loaded m2 = load(dir, {2, {}}, 1);
  EXPECT_EQ(m2.input, (std::vector<float>{30, 31, 32, 33}));
  EXPECT_EQ(m2.target, (std::vector<float>{0, 0, 0, 1}));
  // mode 3: T2 (channel 1) -> core (labels 1, 4)
  Loaded m3 = load(dir, {3, {}}, 1);
  EXPECT_EQ(m3.input, (std::vector<float>{10, 11, 12, 13}));
  EXPECT_EQ(m3.target, (std::vector<float>{0, 1, 0, 1}));
}

TEST(Dataset, ChannelsSelectSeveralModalitiesInOrder) {
  const std::string dir = test::temp_dir("channels");
  write_tiny(dir);
  Loaded l = load(dir, {1, parse_channels("t1ce,t1")}, 2, 2);
  EXPECT_EQ(std::vector<float>(l.input.begin(), l.input.begin() + 8), (std::vector<float>{30, 0, 31, 1, 32, 2, 33, 3}));
  for (size_t k = 8; k < l.input.size(); ++k) EXPECT_EQ(l.input[k], 0.f);  // the short batch is zero-padded
  for (size_t k = 4; k < l.target.size(); ++k) EXPECT_EQ(l.target[k], 0.f);
}

TEST(Dataset, ParseChannelsRejectsUnknownAndRepeated) {
  EXPECT_EQ(parse_channels("all"), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(parse_channels("flair,3"), (std::vector<int>{2, 3}));
  EXPECT_THROW(parse_channels("flair,dwi"), RuntimeError);
  EXPECT_THROW(parse_channels("t2,t2"), RuntimeError);
}

TEST(Dataset, MismatchedMaskShapeIsNamed) {
  const std::string dir = test::temp_dir("mismatch");
  write_tiny(dir);
  std::vector<float> msk(3 * 2 * 2 * 4, 0.f);
  data::write_npy_f32(dir + "/msks_train.npy", {3, 2, 2, 4}, msk.data());
  try {
    Dataset d(dir, "train", {}, 1, 2, 2, 1);
    FAIL();
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("msks_train.npy: shape [3,2,2,4] does not match the images' [1,2,2,4]"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace unet::runtime

namespace unet::runtime {
namespace {

TEST(BatchPrefetcher, AsyncLoadsEqualSynchronousLoadsInOrder) {
  const std::string dir = test::temp_dir("prefetch");
  test::write_dataset(dir, "train", 9, 8, 8, 5);
  DataSelection sel{1, {2, 3}};
  Dataset d(dir, "train", sel, 2, 8, 8, 3);
  const size_t order[] = {4, 0, 8, 1, 7, 2, 6, 3, 5};
  auto run = [&](int threads) {
    std::vector<float> in(3 * 64 * 16), t(3 * 64), seen;
    kernels::TensorArg iv{in.data(), 3, 2, 8, 8, 64 * 16}, tv{t.data(), 3, 1, 8, 8, 64};
    BatchPrefetcher p(d, iv, tv, threads);
    p.request(order, 3);
    for (int k = 0; k < 3; ++k) {
      p.take();
      if (k + 1 < 3) p.request(order + 3 * (k + 1), 3);
      seen.insert(seen.end(), in.begin(), in.end());
      seen.insert(seen.end(), t.begin(), t.end());
    }
    return seen;
  };
  const std::vector<float> sync = run(0), async = run(2);
  EXPECT_EQ(sync, async);
  // And the synchronous path is what Dataset::load gives for each group.
  std::vector<float> in(3 * 64 * 16), t(3 * 64);
  kernels::TensorArg iv{in.data(), 3, 2, 8, 8, 64 * 16}, tv{t.data(), 3, 1, 8, 8, 64};
  d.load(order + 6, 3, iv, tv);
  const size_t per = in.size() + t.size();
  EXPECT_TRUE(std::equal(in.begin(), in.end(), sync.begin() + 2 * per));
}

}  // namespace
}  // namespace unet::runtime
