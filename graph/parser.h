// The model.def parser: statements to graph nodes, with names resolved and attributes checked.
// Shapes are left to shape_inference.h, whole-graph dataflow rules to parse_model().
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "graph/graph_ir.h"
#include "graph/lexer.h"

namespace unet::graph {

// The word that names an op in model.def: "conv", "conv_transpose", "maxpool", ...
std::string_view op_keyword(OpKind kind);

// Builds the graph of a tokenized model description (tokens end with TokenKind::end).
// Fills every node but its shape; the input and target nodes get theirs from `shape`.
// Throws ModelError "file:line:col: message" on the first problem.
Graph parse_tokens(const std::vector<Token>& tokens, const std::string& filename);

}  // namespace unet::graph
