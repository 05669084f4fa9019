#include <gtest/gtest.h>

#include <filesystem>

#include "data/atomic_file.h"
#include "data/data_error.h"
#include "numpy_oracle.h"

namespace unet::data {
namespace {

class NpyAtomicFile : public testing::ScratchDirTest {};

using testing::read_file;
using testing::ScratchDirTest;

size_t entries(const std::filesystem::path& dir) {
  return static_cast<size_t>(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()));
}

TEST_F(NpyAtomicFile, UncommittedLeavesNoFile) {
  {
    AtomicFile f(file("out.bin"));
    f.write("partial");
    EXPECT_TRUE(std::filesystem::exists(f.temp_path()));
    EXPECT_NE(f.temp_path().find("out.bin.tmp."), std::string::npos);
  }
  EXPECT_EQ(entries(dir_), 0u);
}

TEST_F(NpyAtomicFile, OldFileIntactUntilCommit) {
  testing::write_file(file("out.bin"), "old contents");
  AtomicFile f(file("out.bin"));
  f.write("new ");
  std::string big(3 << 20, 'x');  // past the write buffer
  f.write(big);
  f.write("tail");
  EXPECT_EQ(read_file(file("out.bin")), "old contents");
  EXPECT_EQ(f.size(), 8 + big.size());
  f.pwrite(0, "NEW", 3);  // header fix-up
  EXPECT_EQ(read_file(file("out.bin")), "old contents");
  f.commit();
  EXPECT_EQ(read_file(file("out.bin")), "NEW " + big + "tail");
  EXPECT_EQ(entries(dir_), 1u);
  EXPECT_THROW(f.write("more"), DataError);
}

TEST_F(NpyAtomicFile, ErrorsNameTheFile) {
  std::string path = file("no/such/dir/out.bin");
  try {
    AtomicFile f(path);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": cannot create temporary file"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos) << e.what();
  }
  AtomicFile f(file("x"));
  f.write("abc");
  EXPECT_THROW(f.pwrite(2, "zz", 2), DataError);  // past what was written
}

}  // namespace
}  // namespace unet::data
