// Files written by numpy, read by NpyReader: every dtype, both byte orders, all versions.
#include <gtest/gtest.h>

#include <numeric>

#include <fmt/format.h>

#include "data/npy.h"
#include "numpy_oracle.h"

namespace unet::data {
namespace {

class NpyReadNumpyFiles : public testing::NumpyTest {};

using testing::NumpyTest;

struct DtypeCase {
  const char* descr;
  NpyDtype dtype;
  bool big_endian;
};

const DtypeCase kCases[] = {
    {"<f2", NpyDtype::f16, false}, {">f2", NpyDtype::f16, true},  {"<f4", NpyDtype::f32, false},
    {">f4", NpyDtype::f32, true},  {"<f8", NpyDtype::f64, false}, {">f8", NpyDtype::f64, true},
    {"|u1", NpyDtype::u8, false},  {"|i1", NpyDtype::i8, false},  {"<i2", NpyDtype::i16, false},
    {">i2", NpyDtype::i16, true},  {"<u2", NpyDtype::u16, false}, {">u2", NpyDtype::u16, true},
    {"<i4", NpyDtype::i32, false}, {">i4", NpyDtype::i32, true},  {"<u4", NpyDtype::u32, false},
    {">u4", NpyDtype::u32, true},  {"<i8", NpyDtype::i64, false}, {">i8", NpyDtype::i64, true},
    {"|b1", NpyDtype::b1, false},
};

TEST_F(NpyReadNumpyFiles, ReadsEveryDtypeAndByteOrder) {
  // One 7x3x2 array per dtype, with the values numpy itself converts to float32 beside it.
  expect_python_ok(R"(
rng = np.random.default_rng(3)
descrs = [')" + [] {
    std::string all;
    for (const DtypeCase& c : kCases) all += std::string(all.empty() ? "" : "','") + c.descr;
    return all;
  }() + R"(']
for i, d in enumerate(descrs):
    dt = np.dtype(d)
    if dt.kind == 'f':
        a = rng.normal(0, 1000, size=42)
        if dt.itemsize == 2:
            a[:6] = [np.inf, -np.inf, np.nan, 6e-8, -0.0, 65504]
    elif dt.kind == 'b':
        a = rng.integers(0, 2, size=42)
    else:
        info = np.iinfo(dt)
        a = rng.integers(info.min, int(info.max) + 1, size=42, dtype=np.int64 if info.min < 0 else np.uint64)
        a[:2] = [info.min, info.max]
    a = a.astype(dt).reshape(7, 3, 2)
    assert a.dtype.str == np.dtype(d).str, (a.dtype.str, d)
    np.save('a%d.npy' % i, a)
    with np.errstate(all='ignore'):
        a.astype('<f4').tofile('a%d.f32' % i)
)");
  for (size_t i = 0; i < std::size(kCases); ++i) {
    const DtypeCase& c = kCases[i];
    SCOPED_TRACE(c.descr);
    NpyReader reader = NpyReader::open(file(fmt::format("a{}.npy", i)));
    EXPECT_EQ(reader.dtype(), c.dtype);
    EXPECT_EQ(reader.big_endian(), c.big_endian);
    EXPECT_EQ(reader.shape(), (std::vector<size_t>{7, 3, 2}));
    EXPECT_EQ(reader.count(), 7u);
    EXPECT_EQ(reader.row_elems(), 6u);
    std::vector<float> expected = testing::read_raw_f32(file(fmt::format("a{}.f32", i)));
    ASSERT_EQ(expected.size(), 42u);
    std::vector<float> got(42);
    reader.read_rows_f32(0, 7, got.data());
    for (size_t k = 0; k < 42; ++k)
      EXPECT_TRUE(testing::same_float(got[k], expected[k])) << "element " << k << ": " << got[k] << " vs " << expected[k];
    // Rows 2..4 alone, and a shuffled batch, agree with the whole.
    std::vector<float> part(18);
    reader.read_rows_f32(2, 3, part.data());
    for (size_t k = 0; k < 18; ++k) EXPECT_TRUE(testing::same_float(part[k], expected[12 + k]));
    const size_t order[] = {6, 0, 3, 3};
    std::vector<float> batch(24);
    reader.read_rows_f32(order, 4, batch.data());
    for (size_t b = 0; b < 4; ++b)
      for (size_t k = 0; k < 6; ++k) EXPECT_TRUE(testing::same_float(batch[b * 6 + k], expected[order[b] * 6 + k]));
  }
}

TEST_F(NpyReadNumpyFiles, ReadsFormatVersions2And3) {
  expect_python_ok(R"(
from numpy.lib import format as fmt
a = (np.arange(24, dtype='<f4') * 0.25 - 1).reshape(2, 3, 4)
for v in [(1, 0), (2, 0), (3, 0)]:
    with open('v%d.npy' % v[0], 'wb') as f:
        fmt.write_array(f, a, version=v)
)");
  for (int v = 1; v <= 3; ++v) {
    SCOPED_TRACE(v);
    NpyReader reader = NpyReader::open(file(fmt::format("v{}.npy", v)));
    EXPECT_EQ(reader.shape(), (std::vector<size_t>{2, 3, 4}));
    std::vector<float> got(24);
    reader.read_rows_f32(0, 2, got.data());
    for (size_t k = 0; k < 24; ++k) EXPECT_EQ(got[k], k * 0.25f - 1);
  }
}

TEST_F(NpyReadNumpyFiles, ReadsScalarsVectorsAndEmptyArrays) {
  expect_python_ok(R"(
np.save('scalar.npy', np.float64(2.5))
np.save('vector.npy', np.array([3, -4, 5], dtype='<i2'))
np.save('empty.npy', np.zeros((0, 4), dtype='<f4'))
)");
  NpyReader scalar = NpyReader::open(file("scalar.npy"));
  EXPECT_TRUE(scalar.shape().empty());
  EXPECT_EQ(scalar.count(), 1u);
  EXPECT_EQ(scalar.row_elems(), 1u);
  float value = 0;
  scalar.read_rows_f32(0, 1, &value);
  EXPECT_EQ(value, 2.5f);

  NpyReader vector = NpyReader::open(file("vector.npy"));
  EXPECT_EQ(vector.count(), 3u);
  EXPECT_EQ(vector.row_elems(), 1u);
  EXPECT_EQ(vector.view().to_f32(), (std::vector<float>{3, -4, 5}));

  NpyReader empty = NpyReader::open(file("empty.npy"));
  EXPECT_EQ(empty.count(), 0u);
  EXPECT_EQ(empty.row_elems(), 4u);
  EXPECT_THROW(empty.read_rows_f32(0, 1, &value), DataError);
}

TEST_F(NpyReadNumpyFiles, RowsOutOfRangeAreErrors) {
  expect_python_ok("np.save('r.npy', np.zeros((5, 2), dtype='<f4'))");
  NpyReader reader = NpyReader::open(file("r.npy"));
  std::vector<float> out(20);
  try {
    reader.read_rows_f32(4, 2, out.data());
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("rows [4, 6) out of range: the file holds 5 rows"), std::string::npos) << e.what();
  }
  const size_t bad[] = {1, 5};
  EXPECT_THROW(reader.read_rows_f32(bad, 2, out.data()), DataError);
  // Zero-copy access for native float32.
  EXPECT_EQ(reinterpret_cast<const char*>(reader.row_data(1)) - reinterpret_cast<const char*>(reader.row_data(0)), 8);
}

}  // namespace
}  // namespace unet::data
