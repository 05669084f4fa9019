// What the libFuzzer targets share: a file in memory for the readers that take a path, and a
// way to say "this input broke a promise" that libFuzzer records as a crash.
#pragma once
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace unet::fuzz {

// A failed property (not a sanitizer report): print it and abort, so libFuzzer keeps the
// input as a crash artifact like any other.
[[noreturn]] inline void broken(const std::string& what) {
  std::fprintf(stderr, "fuzz property broken: %s\n", what.c_str());
  std::abort();
}

#define UNET_FUZZ_CHECK(cond, what) \
  do {                              \
    if (!(cond)) ::unet::fuzz::broken(std::string(#cond ": ") + (what)); \
  } while (0)

// One memfd reused for every input: the readers open "/proc/self/fd/N" as they would open a
// file on disk (open, fstat, mmap or read all behave as for a regular file), with no disk
// I/O and nothing left behind. Rewriting it costs a truncate and a write.
class MemFile {
 public:
  MemFile() {
    fd_ = memfd_create("unet-fuzz", MFD_CLOEXEC);
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  // Replaces the contents with bytes[0, size) and returns the path to open.
  const std::string& hold(const uint8_t* bytes, size_t size) {
    if (ftruncate(fd_, 0) != 0) std::abort();
    size_t done = 0;
    while (done < size) {
      const ssize_t n = pwrite(fd_, bytes + done, size - done, static_cast<off_t>(done));
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
    return path_;
  }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace unet::fuzz
