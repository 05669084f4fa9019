// The one exception type of the data room. what() is a single line that names the file and
// the place (byte offset, member, field), so a tool can print it and exit non-zero.
#pragma once
#include <stdexcept>
#include <string>

namespace unet::data {

class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace unet::data
