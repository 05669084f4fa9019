#include "graph/lexer.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>

namespace unet::graph {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c); }

// Parses [0-9]+ exactly; false when it is something else or does not fit an int64.
bool parse_digits(std::string_view s, int64_t& value, bool& overflow) {
  overflow = false;
  if (s.empty()) return false;
  for (char c : s)
    if (!is_digit(c)) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec == std::errc::result_out_of_range) {
    overflow = true;
    return true;
  }
  return ec == std::errc() && ptr == s.data() + s.size();
}

// -?[0-9]+ ( '.' [0-9]* )? ( [eE] [+-]? [0-9]+ )? with a '.' or an exponent.
bool is_real_syntax(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  const size_t int_start = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i == int_start) return false;
  bool fraction = false, exponent = false;
  if (i < s.size() && s[i] == '.') {
    fraction = true;
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    exponent = true;
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    const size_t exp_start = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i == exp_start) return false;
  }
  return i == s.size() && (fraction || exponent);
}

class Lexer {
 public:
  Lexer(std::string_view text, const std::string& filename) : text_(text), filename_(filename) {}

  std::vector<Token> run() {
    std::vector<Token> tokens;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      const SourceLoc loc{line_, col_};
      if (c == ' ' || c == '\t' || c == '\r') {
        advance(1);
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') advance(1);
      } else if (c == '\n') {
        tokens.push_back(simple(TokenKind::newline, "\n", loc));
        ++pos_;
        ++line_;
        col_ = 1;
      } else if (c == '(' || c == ')' || c == ',' || c == '=') {
        const TokenKind kind = c == '('   ? TokenKind::lparen
                               : c == ')' ? TokenKind::rparen
                               : c == ',' ? TokenKind::comma
                                          : TokenKind::equals;
        tokens.push_back(simple(kind, std::string(1, c), loc));
        advance(1);
      } else if (is_ident_start(c)) {
        size_t end = pos_;
        while (end < text_.size() && is_ident_char(text_[end])) ++end;
        tokens.push_back(
            simple(TokenKind::identifier, std::string(text_.substr(pos_, end - pos_)), loc));
        advance(end - pos_);
      } else if (is_digit(c) ||
                 (c == '-' && pos_ + 1 < text_.size() && is_digit(text_[pos_ + 1]))) {
        tokens.push_back(number(loc));
      } else if (static_cast<unsigned char>(c) >= 0x21 && static_cast<unsigned char>(c) < 0x7f) {
        throw_model_error(filename_, loc, fmt::format("unexpected character '{}'", c));
      } else {
        throw_model_error(filename_, loc,
                          fmt::format("unexpected byte 0x{:02X} (model files are ASCII text)",
                                      static_cast<unsigned char>(c)));
      }
    }
    tokens.push_back(simple(TokenKind::end, "", SourceLoc{line_, col_}));
    return tokens;
  }

 private:
  static Token simple(TokenKind kind, std::string text, SourceLoc loc) {
    Token t;
    t.kind = kind;
    t.text = std::move(text);
    t.loc = loc;
    return t;
  }

  void advance(size_t n) {
    pos_ += n;
    col_ += static_cast<int>(n);
  }

  // A number runs over letters, digits, '.', '_' and a sign right after an exponent 'e', so
  // that "3relu" or "1.2.3" is one bad number rather than two confusing tokens.
  Token number(SourceLoc loc) {
    size_t end = pos_ + (text_[pos_] == '-' ? 1 : 0);
    while (end < text_.size()) {
      const char c = text_[end];
      if (is_ident_char(c) || c == '.') {
        ++end;
      } else if ((c == '+' || c == '-') && (text_[end - 1] == 'e' || text_[end - 1] == 'E') &&
                 end + 1 < text_.size() && is_digit(text_[end + 1])) {
        ++end;
      } else {
        break;
      }
    }
    const std::string_view s = text_.substr(pos_, end - pos_);
    Token t = simple(TokenKind::integer, std::string(s), loc);
    const std::string too_large = fmt::format("number '{}' is too large", s);
    bool overflow = false;
    const bool negative = s[0] == '-';
    if (parse_digits(negative ? s.substr(1) : s, t.integer, overflow)) {
      if (overflow) throw_model_error(filename_, loc, too_large);
      if (negative) t.integer = -t.integer;
      t.real = static_cast<double>(t.integer);
    } else if (is_real_syntax(s)) {
      t.kind = TokenKind::real;
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), t.real);
      if (ec == std::errc::result_out_of_range || !std::isfinite(t.real))
        throw_model_error(filename_, loc, too_large);
      if (ec != std::errc() || ptr != s.data() + s.size())
        throw_model_error(filename_, loc, fmt::format("bad number '{}'", s));
    } else if (!negative && s.find('x') != std::string_view::npos && dims(s, t.dims, overflow)) {
      if (overflow) throw_model_error(filename_, loc, too_large);
      t.kind = TokenKind::dims;
    } else {
      throw_model_error(filename_, loc,
                        fmt::format("bad number '{}' (expected an integer like 32, a real like "
                                    "0.0005 or 1e-8, or sizes like 3x3)",
                                    s));
    }
    advance(end - pos_);
    return t;
  }

  // [0-9]+ ( 'x' [0-9]+ )+
  static bool dims(std::string_view s, std::vector<int>& out, bool& overflow) {
    out.clear();
    overflow = false;
    size_t start = 0;
    while (true) {
      const size_t x = s.find('x', start);
      const std::string_view part =
          s.substr(start, x == std::string_view::npos ? s.npos : x - start);
      int64_t v = 0;
      bool part_overflow = false;
      if (!parse_digits(part, v, part_overflow)) return false;
      if (part_overflow || v > std::numeric_limits<int>::max()) overflow = true;
      out.push_back(overflow ? 0 : static_cast<int>(v));
      if (x == std::string_view::npos) break;
      start = x + 1;
    }
    return out.size() >= 2;
  }

  std::string_view text_;
  const std::string& filename_;
  size_t pos_ = 0;
  int line_ = 1, col_ = 1;
};

}  // namespace

void throw_model_error(const std::string& filename, SourceLoc loc, const std::string& message) {
  throw ModelError(fmt::format("{}:{}:{}: {}", filename, loc.line, loc.col, message));
}

std::string describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::newline:
      return "end of line";
    case TokenKind::end:
      return "end of file";
    default:
      return fmt::format("'{}'", token.text);
  }
}

std::vector<Token> tokenize(std::string_view text, const std::string& filename) {
  return Lexer(text, filename).run();
}

}  // namespace unet::graph
