// A whole file mapped read-only into memory: the .npy and .npz readers index into it
// without copying, and the kernel pages it in on demand.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace unet::data {

class MappedFile {
 public:
  // Throws DataError naming the file and errno's text. An empty file maps to size() == 0.
  static MappedFile open(const std::string& path);
  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace unet::data
