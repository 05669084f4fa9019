// The calls of a model.def (an op or the optimizer with its inputs and key=value attributes)
// and the checks of their attributes against what each op accepts: every wrong, missing,
// repeated or out-of-range attribute is one error naming its line and column, with the
// choices or a "did you mean". The grammar that builds the calls is parser.cpp.
#pragma once
#include <fmt/format.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/limits.h"
#include "graph/lexer.h"

namespace unet::graph {

// One argument of an op or optimizer call: an input name, or key=value.
struct Arg {
  const Token* key = nullptr;  // null for a positional argument
  const Token* value = nullptr;
};

struct Call {
  const Token* callee = nullptr;  // the op or optimizer name
  std::vector<Arg> inputs;        // positional, in order
  std::vector<Arg> attrs;         // key=value, in order
};

// Levenshtein distance, for "did you mean" hints on misspelt names.
size_t edit_distance(std::string_view a, std::string_view b);

// "a, b or c".
std::string join_choices(const std::vector<std::string_view>& words);

// The key=value attributes of one call, checked against the names the op accepts.
class Attributes {
 public:
  Attributes(const std::string& filename, const Call& call, std::string_view owner,
             const std::vector<std::string_view>& allowed)
      : filename_(filename), call_(call), owner_(owner) {
    for (const Arg& a : call.attrs) {
      if (std::find(allowed.begin(), allowed.end(), a.key->text) == allowed.end()) {
        const std::string choices =
            allowed.empty() ? std::string("it takes none") : "expected " + join_choices(allowed);
        throw_model_error(
            filename_, a.key->loc,
            fmt::format("{} has no attribute '{}' ({})", owner_, a.key->text, choices));
      }
      for (const Arg& b : call.attrs) {
        if (&b == &a) break;
        if (b.key->text == a.key->text)
          throw_model_error(filename_, a.key->loc,
                            fmt::format("attribute '{}' is given twice (first at line {}, col {})",
                                        a.key->text, b.key->loc.line, b.key->loc.col));
      }
    }
  }

  const Arg* find(std::string_view name) const {
    for (const Arg& a : call_.attrs)
      if (a.key->text == name) return &a;
    return nullptr;
  }

  const Token& required(std::string_view name, std::string_view example) const {
    const Arg* a = find(name);
    if (!a)
      throw_model_error(
          filename_, call_.callee->loc,
          fmt::format("{} needs attribute '{}' (e.g. {}={})", owner_, name, name, example));
    return *a->value;
  }

  int integer(std::string_view name, std::optional<int> fallback, int lo, int hi,
              std::string_view example = "") const {
    const Arg* a = find(name);
    if (!a && fallback) return *fallback;
    const Token& v = a ? *a->value : required(name, example);
    if (v.kind != TokenKind::integer)
      fail(v, fmt::format("{} must be an integer, found {}", name, describe(v)));
    if (v.integer < lo || v.integer > hi)
      fail(v, fmt::format("{} must be between {} and {}, found {}", name, lo, hi, v.text));
    return static_cast<int>(v.integer);
  }

  // An integer k (k x k) or KHxKW.
  std::pair<int, int> window(std::string_view name, std::optional<int> fallback,
                             std::string_view example = "") const {
    const Arg* a = find(name);
    if (!a && fallback) return {*fallback, *fallback};
    const Token& v = a ? *a->value : required(name, example);
    int kh = 0, kw = 0;
    if (v.kind == TokenKind::integer) {
      kh = kw = v.integer >= 1 && v.integer <= limits::kMaxModelWindow ? static_cast<int>(v.integer) : 0;
    } else if (v.kind == TokenKind::dims && v.dims.size() == 2) {
      kh = v.dims[0], kw = v.dims[1];
    } else {
      fail(v, fmt::format("{} must be an integer or KxK, found {}", name, describe(v)));
    }
    if (kh < 1 || kw < 1 || kh > limits::kMaxModelWindow || kw > limits::kMaxModelWindow)
      fail(v, fmt::format("{} sides must be between 1 and {}, found {}", name, limits::kMaxModelWindow, v.text));
    return {kh, kw};
  }

  // A real in [lo, hi] (or [lo, hi) when hi_open); integers are accepted as reals.
  float real(std::string_view name, float fallback, double lo, double hi, bool lo_open,
             bool hi_open) const {
    const Arg* a = find(name);
    if (!a) return fallback;
    const Token& v = *a->value;
    if (v.kind != TokenKind::integer && v.kind != TokenKind::real)
      fail(v, fmt::format("{} must be a number, found {}", name, describe(v)));
    const bool below = lo_open ? v.real <= lo : v.real < lo;
    const bool above = hi_open ? v.real >= hi : v.real > hi;
    if (below || above) {
      const std::string range = hi == DBL_MAX ? fmt::format("{} {}", lo_open ? ">" : ">=", lo)
                                              : fmt::format("in {}{}, {}{}", lo_open ? "(" : "[",
                                                            lo, hi, hi_open ? ")" : "]");
      fail(v, fmt::format("{} must be {}, found {}", name, range, v.text));
    }
    if (std::fabs(v.real) > FLT_MAX)
      fail(v, fmt::format("{} is out of range for a 32-bit float, found {}", name, v.text));
    return static_cast<float>(v.real);
  }

  template <typename Enum>
  Enum choice(std::string_view name, Enum fallback,
              const std::vector<std::pair<std::string_view, Enum>>& options) const {
    const Arg* a = find(name);
    if (!a) return fallback;
    const Token& v = *a->value;
    if (v.kind == TokenKind::identifier)
      for (const auto& [word, value] : options)
        if (word == v.text) return value;
    std::vector<std::string_view> words;
    for (const auto& option : options) words.push_back(option.first);
    fail(v, fmt::format("{} must be {}, found {}", name, join_choices(words), describe(v)));
  }

 private:
  [[noreturn]] void fail(const Token& at, const std::string& message) const {
    throw_model_error(filename_, at.loc, message);
  }

  const std::string& filename_;
  const Call& call_;
  std::string_view owner_;
};

}  // namespace unet::graph
