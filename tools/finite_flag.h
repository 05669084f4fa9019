// A check for the tools' floating-point flags. CLI11's Range lets NaN through (every
// comparison with NaN is false), and "inf" parses as a number: both then reached the
// library as a learning rate, a split fraction, a noise level.
#pragma once
#include <cmath>
#include <string>

#include <CLI/CLI.hpp>

namespace unet::tools {

inline CLI::Validator finite_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(text, v) || !std::isfinite(v)) return "'" + text + "' is not a finite number";
        return {};
      },
      "FINITE");
}

}  // namespace unet::tools
