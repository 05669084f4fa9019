// parse_model: text -> tokens -> graph -> shapes -> dataflow rules, each stage throwing
// ModelError at the first problem it finds.
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/limits.h"
#include "graph/graph_ir.h"
#include "graph/lexer.h"
#include "graph/parser.h"
#include "graph/shape_inference.h"

namespace unet::graph {
namespace {

// Rules about the graph as a whole: every layer feeds the loss, and the prediction feeds
// only the loss (the lowering fuses the sigmoid into the Dice kernel, so nothing else may
// read the activated prediction).
void check_dataflow(const Graph& g, const std::string& filename) {
  const Node& loss = g.nodes[g.loss];
  const int prediction = loss.inputs[0];
  for (size_t id = 0; id < g.nodes.size(); ++id) {
    const Node& n = g.nodes[id];
    if (static_cast<int>(id) == g.loss) continue;
    for (int in : n.inputs)
      if (in == prediction)
        throw_model_error(
            filename, n.loc,
            fmt::format("'{}' uses the prediction '{}', which may feed only the loss '{}'", n.name,
                        g.nodes[prediction].name, loss.name));
  }
  // Inputs precede their nodes, so one backward sweep marks everything the loss depends on.
  std::vector<bool> needed(g.nodes.size(), false);
  needed[g.loss] = true;
  for (size_t id = g.nodes.size(); id-- > 0;)
    if (needed[id])
      for (int in : g.nodes[id].inputs) needed[in] = true;
  if (!needed[g.input])
    throw_model_error(filename, loss.loc,
                      fmt::format("the loss '{}' does not depend on the input '{}'", loss.name,
                                  g.nodes[g.input].name));
  for (size_t id = 0; id < g.nodes.size(); ++id)
    if (!needed[id])
      throw_model_error(filename, g.nodes[id].loc,
                        fmt::format("'{}' does not contribute to the loss '{}' (nothing on the way "
                                    "to the loss uses it)",
                                    g.nodes[id].name, loss.name));
}

}  // namespace

Graph parse_model(const std::string& text, const std::string& filename) {
  const std::vector<Token> tokens = tokenize(text, filename);
  Graph graph = parse_tokens(tokens, filename);
  infer_shapes(graph, filename);
  check_dataflow(graph, filename);
  return graph;
}

Graph parse_model_file(const std::string& path) {
  // A FIFO would block the open forever, and a folder is no model: look first. (A missing
  // file is left to the open, whose error names it.)
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(st) && !std::filesystem::is_regular_file(st))
    throw ModelError(fmt::format("{}: not a regular file", path));
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw ModelError(fmt::format("{}: cannot open the model file: {}", path, std::strerror(errno)));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) throw ModelError(fmt::format("{}: cannot read the model file", path));
  if (static_cast<uint64_t>(size) > limits::kMaxModelFileBytes)
    throw ModelError(fmt::format("{}: {} bytes is too large for a model file (limit {} bytes)",
                                 path, size, limits::kMaxModelFileBytes));
  in.seekg(0, std::ios::beg);
  std::string text(static_cast<size_t>(size), '\0');
  if (!in.read(text.data(), size))
    throw ModelError(fmt::format("{}: cannot read the model file", path));
  return parse_model(text, path);
}

}  // namespace unet::graph
