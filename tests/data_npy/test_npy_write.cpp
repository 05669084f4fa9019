// Files written by NpyWriter, loaded and checked by numpy.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include <fmt/format.h>

#include "data/npy.h"
#include "numpy_oracle.h"

namespace unet::data {
namespace {

class NpyWriteForNumpy : public testing::NumpyTest {};

using testing::NumpyTest;

// value(row, k) = row * 0.5 - k / 8: exact in float32, recomputed by the python check.
std::vector<float> rows_of(size_t first, size_t n, size_t row_elems) {
  std::vector<float> out(n * row_elems);
  for (size_t r = 0; r < n; ++r)
    for (size_t k = 0; k < row_elems; ++k) out[r * row_elems + k] = (first + r) * 0.5f - k / 8.0f;
  return out;
}

TEST_F(NpyWriteForNumpy, HeaderFixUpWithZeroOneAndManyRows) {
  size_t header_size = 0;
  for (size_t rows : {size_t{0}, size_t{1}, size_t{1000}}) {
    SCOPED_TRACE(rows);
    std::string path = file(fmt::format("w{}.npy", rows));
    NpyWriter writer(path, NpyDtype::f32, {3, 4});
    // Uneven appends: 1 row, then chunks of 7.
    size_t done = 0;
    while (done < rows) {
      size_t n = done == 0 ? 1 : std::min<size_t>(7, rows - done);
      std::vector<float> chunk = rows_of(done, n, 12);
      writer.append_rows(chunk.data(), n);
      done += n;
    }
    EXPECT_EQ(writer.rows(), rows);
    EXPECT_FALSE(std::filesystem::exists(path));  // nothing visible before commit
    writer.commit();
    size_t size = std::filesystem::file_size(path);
    EXPECT_EQ((size - rows * 48) % 64, 0u);
    if (header_size == 0) header_size = size - rows * 48;
    EXPECT_EQ(size - rows * 48, header_size) << "the header has one fixed size";
    expect_python_ok(fmt::format("a = np.load('w{}.npy')\n", rows) + R"(
assert a.dtype == np.dtype('<f4'), a.dtype
assert a.shape == ()" + std::to_string(rows) + R"(, 3, 4), a.shape
r = np.arange(a.shape[0], dtype=np.float64)[:, None, None]
k = np.arange(12, dtype=np.float64).reshape(1, 3, 4)
assert np.array_equal(a, (r * 0.5 - k / 8).astype('<f4'))
)");
  }
  // Reading our own file back gives the same values.
  NpyReader reader = NpyReader::open(file("w1000.npy"));
  EXPECT_EQ(reader.count(), 1000u);
  std::vector<float> got(12);
  reader.read_rows_f32(999, 1, got.data());
  EXPECT_EQ(got, rows_of(999, 1, 12));
}

TEST_F(NpyWriteForNumpy, ConvertsFloatsToEveryDtypeLikeNumpy) {
  const std::vector<float> values = {-1000.5f, -128.5f, -2.5f, -0.5f, 0.5f, 1.5f, 2.5f, 254.5f, 255.5f, 300.0f,
                                     40000.0f, -40000.0f, 1e10f, -1e10f, 3.3f, 65519.0f,
                                     std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                                     std::numeric_limits<float>::quiet_NaN(), 0.0f};
  const NpyDtype dtypes[] = {NpyDtype::f16, NpyDtype::f32, NpyDtype::f64, NpyDtype::u8, NpyDtype::i8, NpyDtype::i16,
                             NpyDtype::u16, NpyDtype::i32, NpyDtype::u32, NpyDtype::i64, NpyDtype::b1};
  write_npy_f32(file("input.npy"), {values.size()}, values.data());
  for (NpyDtype d : dtypes) {
    NpyWriter writer(file(std::string("out_") + npy_dtype_name(d) + ".npy"), d, {2});
    writer.append_rows_f32(values.data(), values.size() / 2);
    writer.commit();
  }
  // numpy's reference: floats cast directly; integers rounded half-to-even, clipped, nan -> 0.
  expect_python_ok(R"(
x = np.load('input.npy')
assert x.dtype == np.dtype('<f4') and x.shape == (20,)
for name in ['float16', 'float32', 'float64', 'uint8', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'bool']:
    a = np.load('out_%s.npy' % name)
    dt = np.dtype(name)
    assert a.dtype == dt, (name, a.dtype)
    assert a.shape == (10, 2), (name, a.shape)
    with np.errstate(all='ignore'):
        if dt.kind == 'f':
            want = x.astype(dt)
        elif dt.kind == 'b':
            want = x != 0
        else:
            info = np.iinfo(dt)
            xd = x.astype(np.float64)
            r = np.clip(np.rint(np.where(np.isnan(xd), 0.0, xd)), float(info.min), float(info.max))
            # Python ints are exact: clamp again where float(info.max) rounded up (int64).
            want = np.array([min(max(int(v), int(info.min)), int(info.max)) for v in r], dtype=dt)
    assert np.array_equal(a.reshape(-1), want, equal_nan=(dt.kind == 'f')), (name, a.reshape(-1), want)
print('ok')
)");
}

TEST_F(NpyWriteForNumpy, WriteNpyF32IsAtomicAndLoads) {
  std::vector<float> data = rows_of(0, 6, 5);
  write_npy_f32(file("x.npy"), {2, 3, 5}, data.data());
  float scalar = 7.25f;
  write_npy_f32(file("s.npy"), {}, &scalar);
  for (auto& entry : std::filesystem::directory_iterator(dir_))
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
  expect_python_ok(R"(
a = np.load('x.npy')
assert a.shape == (2, 3, 5) and a.dtype == np.dtype('<f4')
r = np.arange(6, dtype=np.float64)[:, None]
k = np.arange(5, dtype=np.float64)[None, :]
assert np.array_equal(a.reshape(6, 5), (r * 0.5 - k / 8).astype('<f4'))
s = np.load('s.npy')
assert s.shape == () and s == 7.25
)");
}

TEST_F(NpyWriteForNumpy, UncommittedWriterLeavesNothing) {
  {
    NpyWriter writer(file("gone.npy"), NpyDtype::u8, {4});
    std::vector<float> row = {1, 2, 3, 4};
    writer.append_rows_f32(row.data(), 1);
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

}  // namespace
}  // namespace unet::data
