// Malformed .npy and .npz inputs: each is a DataError whose one line names the file and
// what is wrong, never a crash.
#include <gtest/gtest.h>

#include <filesystem>

#include "data/npy.h"
#include "data/npz.h"
#include "numpy_oracle.h"

namespace unet::data {
namespace {

class NpyMalformedFromNumpy : public testing::NumpyTest {};

using testing::make_npy;
using testing::NumpyTest;
using testing::ScratchDirTest;
using testing::write_file;

// The message of the DataError `f` throws ("" and a failure when it throws none).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const DataError& e) {
    std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << "one line: " << what;
    return what;
  }
  ADD_FAILURE() << "no DataError";
  return "";
}

#define EXPECT_CONTAINS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

class NpyMalformed : public ScratchDirTest {
 protected:
  std::string open_error(const std::string& bytes) {
    std::string path = file("bad.npy");
    write_file(path, bytes);
    std::string what = error_of([&] { NpyReader::open(path); });
    EXPECT_CONTAINS(what, path + ": ");
    return what;
  }
  const std::string good_dict_ = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  const std::string data_ = std::string(24, '\0');
};

TEST_F(NpyMalformed, BadMagic) {
  EXPECT_CONTAINS(open_error("PK\x03\x04 this is a zip"), "bad magic at byte 0");
  EXPECT_CONTAINS(open_error(""), "bad magic");
}

TEST_F(NpyMalformed, UnsupportedVersion) {
  EXPECT_CONTAINS(open_error(make_npy(good_dict_, data_, 4, 0)), "unsupported npy version 4.0 at byte 6");
  EXPECT_CONTAINS(open_error(make_npy(good_dict_, data_, 1, 1)), "unsupported npy version 1.1");
}

TEST_F(NpyMalformed, TruncatedHeader) {
  std::string whole = make_npy(good_dict_, data_);
  EXPECT_CONTAINS(open_error(whole.substr(0, 9)), "truncated header");
  EXPECT_CONTAINS(open_error(whole.substr(0, 40)), "truncated header: header length 118 at byte 8 runs past the end");
}

TEST_F(NpyMalformed, HeaderDictDefects) {
  EXPECT_CONTAINS(open_error(make_npy("[1, 2]", data_)), "npy header byte 10: header is not a dict");
  EXPECT_CONTAINS(open_error(make_npy("{'descr': '<f4', 'fortran_order': False}", data_)),
                  "header dict lacks the key 'shape'");
  EXPECT_CONTAINS(open_error(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", data_)),
                  "unexpected key 'x'");
  EXPECT_CONTAINS(open_error(make_npy("{'descr': '<f4' 'fortran_order': False}", data_)),
                  "npy header byte 26: expected ',' or '}' after a dict value, found '''");
  EXPECT_CONTAINS(open_error(make_npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,)}", data_)),
                  "expected True or False");
  EXPECT_CONTAINS(open_error(make_npy("{'descr': '<f4", data_)), "unterminated string");
}

// Found by tests/fuzz (fuzz_npy): a newline inside a quoted key split the error that quotes it.
TEST_F(NpyMalformed, ControlCharacterInAHeaderStringIsNamed) {
  EXPECT_CONTAINS(open_error(make_npy("{'descr': '<f4', 'fortran\n_order': False, 'shape': (2, 3), }", data_)),
                  "npy header byte 35: unterminated string");
  EXPECT_CONTAINS(open_error(make_npy("{'descr': '<f\t4', 'fortran_order': False, 'shape': (2, 3), }", data_)),
                  "npy header byte 23: control character byte 0x09 in a header string");
}

// Found by tests/fuzz (fuzz_npy): reading zero rows of an empty array handed memcpy a null
// pointer (UBSan); it must be a no-op.
TEST_F(NpyMalformed, ZeroRowsOfAnEmptyArrayReadNothing) {
  const std::string path = file("empty.npy");
  write_file(path, make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", ""));
  const NpyReader r = NpyReader::open(path);
  EXPECT_EQ(r.count(), 0u);
  EXPECT_NO_THROW(r.read_rows_f32(0, 0, nullptr));
}

TEST_F(NpyMalformed, UnknownDescr) {
  EXPECT_CONTAINS(open_error(make_npy("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", data_)),
                  "unsupported descr '<c8'");
  EXPECT_CONTAINS(open_error(make_npy("{'descr': '|f4', 'fortran_order': False, 'shape': (3,), }", data_)),
                  "unsupported descr '|f4'");
  EXPECT_CONTAINS(open_error(make_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }", data_)),
                  "structured dtypes");
}

TEST_F(NpyMalformed, AbsurdShapes) {
  EXPECT_CONTAINS(open_error(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3), }", data_)),
                  "shape value is negative");
  EXPECT_CONTAINS(
      open_error(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", data_)),
      "shape value too large");
  EXPECT_CONTAINS(
      open_error(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", data_)),
      "data size overflows");
  EXPECT_CONTAINS(open_error(make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 16777216), }",
                                      data_)),
                  "data size overflows");
}

TEST_F(NpyMalformed, TruncatedData) {
  std::string bytes = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100, 128, 128, 4), }",
                               std::string(4096, '\0'));
  EXPECT_CONTAINS(open_error(bytes),
                  "truncated: header says 128x128x4 float32 x 100 = 26214400 bytes, file holds 4096 after the "
                  "128-byte header");
}

TEST_F(NpyMalformedFromNumpy, FortranOrderAndComplexFromNumpyAreRefused) {
  expect_python_ok(R"(
np.save('f.npy', np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3)))
np.save('c.npy', np.zeros(3, dtype='<c8'))
np.save('t.npy', np.zeros((100, 8, 8), dtype='<f4'))
)");
  EXPECT_CONTAINS(error_of([&] { NpyReader::open(file("f.npy")); }), "f.npy: fortran_order is True");
  EXPECT_CONTAINS(error_of([&] { NpyReader::open(file("c.npy")); }), "unsupported descr '<c8'");
  std::filesystem::resize_file(file("t.npy"), 1000);
  EXPECT_CONTAINS(error_of([&] { NpyReader::open(file("t.npy")); }),
                  "t.npy: truncated: header says 8x8 float32 x 100 = 25600 bytes, file holds 872");
  EXPECT_CONTAINS(error_of([&] { NpyReader::open(file("missing.npy")); }),
                  "missing.npy: cannot open: No such file or directory");
}

class NpzMalformed : public ScratchDirTest {
 protected:
  // A two-member archive from NpzWriter; returns its bytes.
  std::string good_archive() {
    const float x[] = {1, 2, 3};
    NpzWriter w(file("good.npz"));
    w.add_f32("x", {3}, x);
    w.add_f32("conv1a/kernel", {1}, x);
    w.commit();
    return testing::read_file(file("good.npz"));
  }
  std::string error_with(const std::string& bytes, const std::string& key = "") {
    std::string path = file("bad.npz");
    write_file(path, bytes);
    return error_of([&] {
      NpzReader z = NpzReader::open(path);
      if (!key.empty()) z.get(key);
    });
  }
  static size_t find(const std::string& bytes, const char* signature) {
    size_t at = bytes.rfind(std::string(signature, 4));
    EXPECT_NE(at, std::string::npos);
    return at;
  }
};

TEST_F(NpzMalformed, NotAZip) {
  EXPECT_CONTAINS(error_with("short"), "bad.npz: not a zip archive");
  std::string bytes = good_archive();
  EXPECT_CONTAINS(error_with(bytes.substr(0, bytes.size() - 5)), "no end-of-central-directory record");
}

TEST_F(NpzMalformed, CorruptCentralDirectory) {
  std::string bytes = good_archive();
  size_t central = bytes.find(std::string("PK\x01\x02", 4));
  std::string bad = bytes;
  bad[central + 1] = 'X';
  EXPECT_CONTAINS(error_with(bad), "bad.npz: central directory entry 0 at byte " + std::to_string(central) +
                                       ": bad signature");
  bad = bytes;
  bad[central + 28] = '\xff';  // name length now runs past the directory
  EXPECT_CONTAINS(error_with(bad), "name, extra field or comment runs past the end of the directory");
  size_t end = find(bytes, "PK\x05\x06");
  bad = bytes;
  bad[end + 16] = '\xf0';  // directory offset beyond the file
  EXPECT_CONTAINS(error_with(bad), "corrupt central directory");
  bad = bytes;
  bad[end + 10] = 9;  // 9 entries cannot fit
  EXPECT_CONTAINS(error_with(bad), "corrupt central directory");
  bad = bytes;
  bad[central + 42] = '\x70';  // local header offset past the end
  EXPECT_CONTAINS(error_with(bad, "x"), "bad.npz: member 'x': local header at byte");
}

// Found by tests/fuzz (fuzz_npz): a member name holding a newline split the one-line error
// that names the member.
TEST_F(NpzMalformed, ControlCharacterInAMemberNameIsRefused) {
  std::string bytes = good_archive();
  const size_t central = bytes.find(std::string("PK\x01\x02", 4));
  bytes[central + 46] = '\n';  // the first byte of the member's name in the central directory
  EXPECT_CONTAINS(error_with(bytes), "bad.npz: central directory entry 0 at byte " + std::to_string(central) +
                                         ": member name has control character 0x0a at its byte 0");
}

TEST_F(NpzMalformed, MissingMemberCrcAndBadMemberHeader) {
  std::string bytes = good_archive();
  EXPECT_CONTAINS(error_with(bytes, "conv1b/kernel"), "bad.npz: no member 'conv1b/kernel' (it holds: x, conv1a/kernel)");
  std::string bad = bytes;
  size_t first_data = bytes.find("\x93NUMPY");
  bad[first_data + 70] ^= 1;  // a data byte of member x
  EXPECT_CONTAINS(error_with(bad, "x"), "bad.npz: member 'x': CRC-32 mismatch");
  // Damage inside a member's npy header is caught by its CRC first, naming the member.
  const float one = 1;
  {
    NpzWriter w(file("hdr.npz"));
    w.add_f32("conv1a/kernel", {1}, &one);
    w.commit();
  }
  bad = testing::read_file(file("hdr.npz"));
  size_t descr = bad.find("<f4");
  bad.replace(descr, 3, "<c8");
  write_file(file("hdr.npz"), bad);
  NpzReader z = NpzReader::open(file("hdr.npz"));
  std::string what = error_of([&] { z.get("conv1a/kernel"); });
  EXPECT_CONTAINS(what, "hdr.npz: member 'conv1a/kernel': CRC-32 mismatch");
}

// Every single-byte change of a small archive (and of an npy file) is either read or
// refused with a DataError: never a crash, never another exception.
TEST_F(NpzMalformed, EveryByteFlipIsReadOrRefused) {
  std::string bytes = good_archive();
  std::string path = file("flip.npz");
  size_t refused = 0;
  for (size_t at = 0; at < bytes.size(); ++at) {
    {
      std::string bad = bytes;
      bad[at] = static_cast<char>(bad[at] ^ (at % 2 ? 0xff : 0x01));
      write_file(path, bad);
      try {
        NpzReader z = NpzReader::open(path);
        for (const std::string& key : z.keys()) z.read_f32(key);
      } catch (const DataError&) {
        ++refused;
      }
    }
  }
  EXPECT_GT(refused, bytes.size() / 2);  // most flips are caught (by structure or CRC)
  std::string npy = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", std::string(24, '\0'));
  for (size_t at = 0; at < 64; ++at) {
    std::string bad = npy;
    bad[at] = static_cast<char>(bad[at] ^ 0x45);
    write_file(path, bad);
    try {
      NpyReader r = NpyReader::open(path);
      std::vector<float> all(r.count() * r.row_elems());
      r.read_rows_f32(0, r.count(), all.data());
    } catch (const DataError&) {
    }
  }
}

TEST_F(NpyMalformedFromNumpy, NpzMemberWithBadNpyHeaderIsNamed) {
  expect_python_ok(R"(
import zipfile
with zipfile.ZipFile('m.npz', 'w') as z:
    z.writestr('conv1a/kernel.npy', b'\x93NUMPY\x01\x00\x10\x00{"descr": 1}    \n')
    z.writestr('w.npy', b'\x93NUMPY\x01\x00\x46\x00' + b"{'descr': '<f4', 'fortran_order': False, 'shape': (1000,), }".ljust(69) + b'\n' + bytes(8))
)");
  NpzReader z = NpzReader::open(file("m.npz"));
  EXPECT_CONTAINS(error_of([&] { z.get("conv1a/kernel"); }), "m.npz: member 'conv1a/kernel': npy header byte 20");
  EXPECT_CONTAINS(error_of([&] { z.get("w"); }),
                  "m.npz: member 'w': truncated: header says 1000 float32 = 4000 bytes, member holds 8");
}

}  // namespace
}  // namespace unet::data
