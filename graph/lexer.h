// The model.def lexer: turns the text into tokens with their line:col.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "graph/graph_ir.h"

namespace unet::graph {

enum class TokenKind {
  identifier,  // [A-Za-z_][A-Za-z0-9_]*
  integer,     // -?[0-9]+
  real,        // -?[0-9]+.[0-9]*, optional exponent; or an integer with an exponent
  dims,        // [0-9]+(x[0-9]+)+ : shapes (128x128x1) and kernels (3x3)
  lparen,
  rparen,
  comma,
  equals,
  newline,  // statements end at a line break
  end,      // end of the text; always the last token
};

struct Token {
  TokenKind kind = TokenKind::end;
  std::string text;       // as written
  SourceLoc loc;          // of the first character, 1-based
  int64_t integer = 0;    // integer
  double real = 0.0;      // real, and integer as a double
  std::vector<int> dims;  // dims
};

// Throws ModelError "file:line:col: message"; the one way every front-end stage reports.
[[noreturn]] void throw_model_error(const std::string& filename, SourceLoc loc,
                                    const std::string& message);

// How a token reads in "found ..." messages: 'conv1a', end of line, end of file.
std::string describe(const Token& token);

// Splits a model description into tokens; '#' starts a comment that runs to the line's end.
// Throws ModelError on a character that starts no token and on a malformed number.
std::vector<Token> tokenize(std::string_view text, const std::string& filename);

}  // namespace unet::graph
