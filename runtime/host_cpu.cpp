#include "runtime/host_cpu.h"

#include <fstream>
#include <string_view>

#include "base/control_chars.h"

namespace unet::runtime {

std::string host_cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  constexpr std::string_view key = "model name";
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(colon + 1);
    const size_t first = name.find_first_not_of(" \t");
    const size_t last = name.find_last_not_of(" \t\r");
    if (first == std::string::npos) break;
    name = name.substr(first, last - first + 1);
    // It goes into a JSON file and one-line warnings: a control character would split one.
    for (char& c : name)
      if (is_control_char(c)) c = ' ';
    return name;
  }
  return "unknown";
}

}  // namespace unet::runtime
