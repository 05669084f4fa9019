// JSON literals for the reports we write (RFC 8259).
#pragma once
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

namespace unet {

// A string: quotes, backslashes and control characters escaped, everything else (UTF-8
// included) as it is.
inline std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char u[8];
          std::snprintf(u, sizeof u, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += u;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

// A number to ten significant digits (more than any measurement carries); null where JSON has
// no number for it (NaN, infinities).
inline std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

}  // namespace unet
