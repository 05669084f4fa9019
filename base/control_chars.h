// Control characters (C0 and DEL) in text read from outside: names, keys and ids that end up
// quoted in one-line errors, file names and reports, where a newline would split the line.
// Every reader refuses them with the same test.
#pragma once
#include <cstddef>
#include <optional>
#include <string_view>

namespace unet {

inline bool is_control_char(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }

// The index of the first control character of `s`, if it has one.
inline std::optional<size_t> first_control_char(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i)
    if (is_control_char(s[i])) return i;
  return std::nullopt;
}

}  // namespace unet
