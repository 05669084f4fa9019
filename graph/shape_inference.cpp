#include "graph/shape_inference.h"

#include <fmt/format.h>

#include <cstdint>
#include <limits>

#include "base/limits.h"
#include "graph/lexer.h"
#include "graph/parser.h"

namespace unet::graph {
namespace {

std::string hw(const Node& n) { return fmt::format("{}x{}", n.h, n.w); }

class ShapeInference {
 public:
  ShapeInference(Graph& graph, const std::string& filename) : g_(graph), filename_(filename) {}

  void run() {
    for (size_t id = 0; id < g_.nodes.size(); ++id) {
      Node& n = g_.nodes[id];
      for (int in : n.inputs)
        if (in < 0 || static_cast<size_t>(in) >= id)
          fail(n, fmt::format("internal error: input {} of '{}' does not precede it", in, n.name));
      infer(n);
      if (n.c < 1 || n.h < 1 || n.w < 1)
        fail(n, fmt::format("{} '{}' has an empty shape {}x{}x{}", op_keyword(n.kind), n.name, n.h,
                            n.w, n.c));
      const int64_t elements = int64_t{n.c} * n.h * n.w;
      if (elements > std::numeric_limits<int32_t>::max())
        fail(n, fmt::format("{} '{}' is too large: {}x{}x{} is over 2^31 values per image",
                            op_keyword(n.kind), n.name, n.h, n.w, n.c));
    }
  }

 private:
  [[noreturn]] void fail(const Node& n, const std::string& message) const {
    throw_model_error(filename_, n.loc, message);
  }
  const Node& in(const Node& n, size_t i) const { return g_.nodes[n.inputs.at(i)]; }

  // An extent computed in 64 bits, checked before it is stored.
  int bounded(const Node& n, int64_t value, std::string_view what) const {
    if (value > limits::kMaxNodeExtent)
      fail(n, fmt::format("{} '{}' makes its {} {}, over the limit {}", op_keyword(n.kind), n.name,
                          what, value, limits::kMaxNodeExtent));
    return static_cast<int>(value);
  }

  // Keras conv output size along one axis.
  int conv_extent(const Node& n, int extent, int k, std::string_view axis) const {
    if (n.padding == Padding::same) return (extent + n.stride - 1) / n.stride;
    if (extent < k)
      fail(n, fmt::format(
                  "conv '{}' with padding=valid needs {} >= {} (its kernel), but '{}' has {} {}",
                  n.name, axis, k, in(n, 0).name, axis, extent));
    return (extent - k) / n.stride + 1;
  }

  int pool_extent(const Node& n, int extent, std::string_view axis) const {
    const Node& x = in(n, 0);
    if (extent < n.pool)
      fail(n, fmt::format("maxpool '{}' window {} is larger than the {} {} of '{}'", n.name, n.pool,
                          axis, extent, x.name));
    if ((extent - n.pool) % n.stride != 0)
      fail(n, fmt::format("maxpool '{}' (size {}, stride {}) does not tile the {} {} of '{}'; "
                          "a valid pool would drop its last {}",
                          n.name, n.pool, n.stride, axis, extent, x.name,
                          axis == "height" ? "row" : "column"));
    return (extent - n.pool) / n.stride + 1;
  }

  void infer(Node& n) {
    switch (n.kind) {
      case OpKind::input:
      case OpKind::target:
        return;  // declared with their shape
      case OpKind::conv2d: {
        const Node& x = in(n, 0);
        n.h = conv_extent(n, x.h, n.kh, "height");
        n.w = conv_extent(n, x.w, n.kw, "width");
        n.c = n.filters;
        return;
      }
      case OpKind::conv2d_transpose: {
        const Node& x = in(n, 0);
        n.h = bounded(n, int64_t{x.h} * n.stride, "height");
        n.w = bounded(n, int64_t{x.w} * n.stride, "width");
        n.c = n.filters;
        return;
      }
      case OpKind::maxpool2d: {
        const Node& x = in(n, 0);
        n.h = pool_extent(n, x.h, "height");
        n.w = pool_extent(n, x.w, "width");
        n.c = x.c;
        return;
      }
      case OpKind::upsample2d: {
        const Node& x = in(n, 0);
        n.h = bounded(n, int64_t{x.h} * n.pool, "height");
        n.w = bounded(n, int64_t{x.w} * n.pool, "width");
        n.c = x.c;
        return;
      }
      case OpKind::concat: {
        const Node& first = in(n, 0);
        int64_t channels = 0;
        for (size_t i = 0; i < n.inputs.size(); ++i) {
          const Node& x = in(n, i);
          if (x.h != first.h || x.w != first.w)
            fail(n, fmt::format(
                        "concat '{}' needs inputs of one spatial size: '{}' is {} but '{}' is {}",
                        n.name, first.name, hw(first), x.name, hw(x)));
          channels += x.c;
        }
        n.h = first.h, n.w = first.w;
        n.c = bounded(n, channels, "channels");
        return;
      }
      case OpKind::dropout: {
        const Node& x = in(n, 0);
        n.c = x.c, n.h = x.h, n.w = x.w;
        return;
      }
      case OpKind::dice_loss: {
        const Node& p = in(n, 0);
        const Node& t = in(n, 1);
        if (p.c != t.c)
          fail(n,
               fmt::format("dice_loss '{}': prediction '{}' has {} channels but target '{}' has {}",
                           n.name, p.name, p.c, t.name, t.c));
        if (p.h != t.h || p.w != t.w)
          fail(n, fmt::format("dice_loss '{}': prediction '{}' is {} but target '{}' is {}", n.name,
                              p.name, hw(p), t.name, hw(t)));
        n.c = n.h = n.w = 1;
        return;
      }
    }
  }

  Graph& g_;
  const std::string& filename_;
};

}  // namespace

void infer_shapes(Graph& graph, const std::string& filename) {
  ShapeInference(graph, filename).run();
}

}  // namespace unet::graph
