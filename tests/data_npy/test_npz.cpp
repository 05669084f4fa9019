// .npz archives: numpy.savez / savez_compressed read by NpzReader, NpzWriter read by numpy.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "data/npz.h"
#include "numpy_oracle.h"

namespace unet::data {
namespace {

class NpzWithNumpy : public testing::NumpyTest {};
class NpzAtomic : public testing::ScratchDirTest {};

using testing::NumpyTest;
using testing::ScratchDirTest;

TEST_F(NpzWithNumpy, ReadsSavezAndSavezCompressed) {
  expect_python_ok(R"(
w = (np.arange(3 * 3 * 4 * 16, dtype=np.float64).reshape(3, 3, 4, 16) * 0.01 - 2).astype('<f4')
b = np.array([1.5, -2.25], dtype='>f4')
step = np.array(123456789012, dtype='<i8')
h = np.array([0.5, 6e-8, -65504], dtype='<f2')
np.savez('plain.npz', **{'conv1a/kernel': w, 'conv1a/bias': b, 'global_step': step, 'h': h})
np.savez_compressed('packed.npz', **{'conv1a/kernel': w, 'conv1a/bias': b, 'global_step': step, 'h': h})
w.tofile('w.f32')
import zipfile
with zipfile.ZipFile('plain.npz', 'a') as z:
    z.writestr('notes.txt', 'hello {json}')
)");
  std::vector<float> w = testing::read_raw_f32(file("w.f32"));
  for (const char* name : {"plain.npz", "packed.npz"}) {
    SCOPED_TRACE(name);
    NpzReader z = NpzReader::open(file(name));
    std::vector<std::string> keys = z.keys();
    EXPECT_NE(std::find(keys.begin(), keys.end(), "conv1a/kernel"), keys.end());
    EXPECT_TRUE(z.has("conv1a/bias"));
    EXPECT_TRUE(z.has("global_step"));
    EXPECT_FALSE(z.has("conv1a"));
    EXPECT_EQ(z.read_f32("conv1a/kernel", {3, 3, 4, 16}), w);
    NpyArrayView bias = z.get("conv1a/bias");
    EXPECT_TRUE(bias.big_endian());
    EXPECT_EQ(bias.to_f32(), (std::vector<float>{1.5f, -2.25f}));
    NpyArrayView step = z.get("global_step");
    EXPECT_EQ(step.dtype(), NpyDtype::i64);
    EXPECT_TRUE(step.shape().empty());
    int64_t step_value = 0;
    std::memcpy(&step_value, step.data(), 8);
    EXPECT_EQ(step_value, 123456789012);
    std::vector<float> h = z.read_f32("h");
    EXPECT_EQ(h[0], 0.5f);
    EXPECT_EQ(h[1], f16_to_f32(0x0001));
    EXPECT_EQ(h[2], -65504.0f);
    try {
      z.read_f32("conv1a/kernel", {3, 3, 16, 4});
      FAIL() << "no error";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find("member 'conv1a/kernel': shape 3x3x4x16 != expected 3x3x16x4"),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(NpzReader::open(file("plain.npz")).read_bytes("notes.txt"), "hello {json}");
}

TEST_F(NpzWithNumpy, NumpyLoadsWhatNpzWriterWrites) {
  std::vector<float> kernel(2 * 3 * 5);
  for (size_t i = 0; i < kernel.size(); ++i) kernel[i] = i * 0.125f - 1;
  const int64_t steps[] = {-1, 0, int64_t{1} << 40};
  const std::string json = R"({"lr": 0.0001, "name": "unet"})";
  for (bool zip64 : {false, true}) {
    std::string name = zip64 ? "ckpt64.npz" : "ckpt.npz";
    NpzWriter writer(file(name), zip64);
    writer.add_f32("conv1a/kernel", {2, 3, 5}, kernel.data());
    writer.add_i64("steps", {3}, steps);
    writer.add_bytes("meta", json);
    writer.add_f32("empty", {0, 4}, nullptr);
    EXPECT_THROW(writer.add_f32("meta", {1}, kernel.data()), DataError);
    EXPECT_FALSE(std::filesystem::exists(file(name)));
    writer.commit();
    expect_python_ok("name = '" + name + R"('
import json, zipfile
with zipfile.ZipFile(name) as zf:
    assert zf.testzip() is None  # every CRC-32 checks out
    assert sorted(zf.namelist()) == ['conv1a/kernel.npy', 'empty.npy', 'meta.npy', 'steps.npy'], zf.namelist()
    assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
z = np.load(name)
assert sorted(z.files) == ['conv1a/kernel', 'empty', 'meta', 'steps'], z.files
k = z['conv1a/kernel']
assert k.dtype == np.dtype('<f4') and k.shape == (2, 3, 5)
assert np.array_equal(k.reshape(-1), (np.arange(30) * 0.125 - 1).astype('<f4'))
s = z['steps']
assert s.dtype == np.dtype('<i8') and list(s) == [-1, 0, 2**40]
m = z['meta']
assert m.dtype == np.uint8 and m.ndim == 1
assert json.loads(m.tobytes()) == {'lr': 0.0001, 'name': 'unet'}
assert z['empty'].shape == (0, 4)
)");
    NpzReader back = NpzReader::open(file(name));
    EXPECT_EQ(back.read_f32("conv1a/kernel", {2, 3, 5}), kernel);
    EXPECT_EQ(back.read_bytes("meta"), json);
    EXPECT_EQ(back.read_f32("steps"), (std::vector<float>{-1.0f, 0.0f, static_cast<float>(int64_t{1} << 40)}));
  }
  // The forced-ZIP64 archive really uses the ZIP64 records.
  std::string bytes = testing::read_file(file("ckpt64.npz"));
  EXPECT_NE(bytes.find(std::string("PK\x06\x06", 4)), std::string::npos);
  EXPECT_NE(bytes.find(std::string("PK\x06\x07", 4)), std::string::npos);
}

TEST_F(NpzAtomic, UncommittedNpzLeavesOldCheckpoint) {
  float one = 1.0f, two = 2.0f;
  {
    NpzWriter first(file("c.npz"));
    first.add_f32("x", {1}, &one);
    first.commit();
  }
  {
    NpzWriter second(file("c.npz"));
    second.add_f32("x", {1}, &two);
  }  // abandoned: e.g. the process failed while writing
  EXPECT_EQ(NpzReader::open(file("c.npz")).read_f32("x"), std::vector<float>{1.0f});
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), std::filesystem::directory_iterator()), 1);
}

}  // namespace
}  // namespace unet::data
