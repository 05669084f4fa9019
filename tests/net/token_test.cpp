#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "net/handshake.h"

namespace unet::net {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class Token : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/unet_net_token_XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    unsetenv("UNET_CLUSTER_TOKEN");
  }
  std::string file(const std::string& name, const std::string& contents, mode_t mode) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << contents;
    chmod(path.c_str(), mode);
    return path;
  }
  std::string error_of(const std::string& path) {
    try {
      load_cluster_token(path);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "(no error)";
  }
  fs::path dir_;
};

TEST_F(Token, OwnerOnlyFileIsRead) {
  EXPECT_EQ(load_cluster_token(file("t", "s3cret", 0600)), "s3cret");
  EXPECT_EQ(load_cluster_token(file("u", "s3cret\n", 0400)), "s3cret");
  EXPECT_EQ(load_cluster_token(file("v", "s3cret\r\n", 0600)), "s3cret");
}

TEST_F(Token, ReadableByOthersRefused) {
  std::string path = file("t", "s3cret", 0644);
  EXPECT_EQ(error_of(path), path + ": mode 0644 lets others read the cluster token; chmod 600 it");
  path = file("g", "s3cret", 0640);
  EXPECT_EQ(error_of(path), path + ": mode 0640 lets others read the cluster token; chmod 600 it");
}

TEST_F(Token, MissingFile) {
  std::string path = (dir_ / "absent").string();
  EXPECT_EQ(error_of(path), path + ": cannot open the cluster token file: No such file or directory");
}

TEST_F(Token, EmptyRefused) {
  std::string path = file("t", "", 0600);
  EXPECT_EQ(error_of(path), path + ": empty; the cluster token must not be empty");
  path = file("n", "\n", 0600);
  EXPECT_THAT(error_of(path), HasSubstr("empty"));
}

TEST_F(Token, TooLongRefused) {
  std::string path = file("t", std::string(5000, 'x'), 0600);
  EXPECT_EQ(error_of(path), path + ": 5000 bytes; a cluster token is at most 4096");
  EXPECT_EQ(load_cluster_token(file("max", std::string(4096, 'x'), 0600)).size(), 4096u);
}

TEST_F(Token, DirectoryRefused) {
  fs::create_directory(dir_ / "d");
  chmod((dir_ / "d").c_str(), 0700);
  EXPECT_THAT(error_of((dir_ / "d").string()), HasSubstr("not a regular file"));
}

TEST_F(Token, EnvironmentWhenNoFile) {
  unsetenv("UNET_CLUSTER_TOKEN");
  EXPECT_EQ(load_cluster_token(""), "");
  setenv("UNET_CLUSTER_TOKEN", "from-env", 1);
  EXPECT_EQ(load_cluster_token(""), "from-env");
  // A file, when given, wins over the environment.
  EXPECT_EQ(load_cluster_token(file("t", "from-file", 0600)), "from-file");
}

}  // namespace
}  // namespace unet::net
