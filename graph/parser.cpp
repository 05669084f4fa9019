#include "graph/parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <optional>
#include <unordered_map>

#include "base/limits.h"
#include "graph/call_attributes.h"

namespace unet::graph {
namespace {

const std::vector<std::pair<std::string_view, kernels::Activation>> kActivations = {
    {"none", kernels::Activation::none},
    {"relu", kernels::Activation::relu},
    {"sigmoid", kernels::Activation::sigmoid}};
const std::vector<std::pair<std::string_view, plan::Init>> kInits = {
    {"he_uniform", plan::Init::he_uniform},
    {"glorot_uniform", plan::Init::glorot_uniform},
    {"zeros", plan::Init::zeros}};
const std::vector<std::pair<std::string_view, Padding>> kPaddings = {{"same", Padding::same},
                                                                     {"valid", Padding::valid}};
const std::vector<std::pair<std::string_view, Padding>> kSamePadding = {{"same", Padding::same}};

struct OpWord {
  std::string_view word;
  OpKind kind;
};
const std::vector<OpWord> kOps = {
    {"conv", OpKind::conv2d},        {"conv_transpose", OpKind::conv2d_transpose},
    {"maxpool", OpKind::maxpool2d},  {"upsample", OpKind::upsample2d},
    {"concat", OpKind::concat},      {"dropout", OpKind::dropout},
    {"dice_loss", OpKind::dice_loss}};

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const std::string& filename)
      : tokens_(tokens), filename_(filename) {
    scan_definitions();
  }

  Graph run() {
    while (true) {
      while (peek().kind == TokenKind::newline) ++pos_;
      if (peek().kind == TokenKind::end) break;
      statement();
      const Token& t = next();
      if (t.kind != TokenKind::newline && t.kind != TokenKind::end)
        fail(t, fmt::format("expected end of line after the statement, found {}", describe(t)));
      if (t.kind == TokenKind::end) break;
    }
    const Token& end = tokens_.back();
    if (!model_loc_) fail(end, "the model has no name (expected a line 'model NAME')");
    if (graph_.input < 0)
      fail(end, "the model has no input (expected a line 'input NAME shape HxWxC')");
    if (graph_.target < 0)
      fail(end, "the model has no target (expected a line 'target NAME shape HxWx1')");
    if (graph_.loss < 0)
      fail(end, "the model has no loss (expected a line 'NAME = dice_loss(PREDICTION, TARGET)')");
    return std::move(graph_);
  }

 private:
  const Token& peek(size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token& next() {
    const Token& t = peek();
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  [[noreturn]] void fail(const Token& at, const std::string& message) const {
    throw_model_error(filename_, at.loc, message);
  }
  const Token& expect(TokenKind kind, std::string_view what, std::string_view after) {
    const Token& t = next();
    if (t.kind != kind)
      fail(t, fmt::format("expected {} after {}, found {}", what, after, describe(t)));
    return t;
  }

  // Where each name is first defined, so a use ahead of its definition can say so.
  void scan_definitions() {
    bool line_start = true;
    for (size_t i = 0; i + 1 < tokens_.size(); ++i) {
      const Token& t = tokens_[i];
      if (line_start && t.kind == TokenKind::identifier) {
        const Token& second = tokens_[i + 1];
        if (second.kind == TokenKind::equals) {
          first_definition_.emplace(t.text, t.loc.line);
        } else if ((t.text == "input" || t.text == "target") &&
                   second.kind == TokenKind::identifier) {
          first_definition_.emplace(second.text, second.loc.line);
        }
      }
      line_start = t.kind == TokenKind::newline;
    }
  }

  void statement() {
    const Token& head = next();
    if (head.kind != TokenKind::identifier)
      fail(head, fmt::format("expected a statement (model, seed, input, target, optimizer or "
                             "NAME = op(...)), found {}",
                             describe(head)));
    if (peek().kind != TokenKind::equals) {
      if (head.text == "model") return model_statement(head);
      if (head.text == "seed") return seed_statement(head);
      if (head.text == "input" || head.text == "target") return data_statement(head);
      if (head.text == "optimizer") return optimizer_statement(head);
    }
    layer_statement(head);
  }

  void model_statement(const Token& head) {
    if (model_loc_)
      fail(head,
           fmt::format("the model is already named '{}' (line {})", graph_.name, model_loc_->line));
    const Token& name = expect(TokenKind::identifier, "the model's name", "'model'");
    graph_.name = name.text;
    model_loc_ = head.loc;
  }

  void seed_statement(const Token& head) {
    if (seed_loc_) fail(head, fmt::format("the seed is already set (line {})", seed_loc_->line));
    const Token& value = next();
    if (value.kind != TokenKind::integer || value.integer < 0)
      fail(value,
           fmt::format("expected a non-negative integer after 'seed', found {}", describe(value)));
    graph_.seed = static_cast<uint64_t>(value.integer);
    seed_loc_ = head.loc;
  }

  // input NAME shape HxWxC | target NAME shape HxWx1
  void data_statement(const Token& head) {
    const bool is_input = head.text == "input";
    const int existing = is_input ? graph_.input : graph_.target;
    if (existing >= 0)
      fail(head,
           fmt::format("the model already has its {} '{}' (line {}); a model has exactly one",
                       head.text, graph_.nodes[existing].name, graph_.nodes[existing].loc.line));
    const Token& name = expect(TokenKind::identifier, fmt::format("the {}'s name", head.text),
                               fmt::format("'{}'", head.text));
    const Token& keyword = next();
    if (keyword.kind != TokenKind::identifier || keyword.text != "shape")
      fail(keyword, fmt::format("expected 'shape' after the {} name '{}', found {}", head.text,
                                name.text, describe(keyword)));
    const Token& shape = next();
    if (shape.kind != TokenKind::dims || shape.dims.size() != 3)
      fail(shape, fmt::format("expected a shape HxWxC (e.g. 128x128x1) after 'shape', found {}",
                              describe(shape)));
    const int h = shape.dims[0], w = shape.dims[1], c = shape.dims[2];
    if (h < 1 || w < 1 || h > limits::kMaxModelExtent || w > limits::kMaxModelExtent)
      fail(shape, fmt::format("height and width must be between 1 and {}, found {}", limits::kMaxModelExtent,
                              shape.text));
    if (c < 1 || c > limits::kMaxModelChannels)
      fail(shape,
           fmt::format("channels must be between 1 and {}, found {}", limits::kMaxModelChannels, shape.text));
    if (!is_input && c != 1)
      fail(shape,
           fmt::format("the target must have 1 channel (a binary mask), found {}", shape.text));
    Node node;
    node.kind = is_input ? OpKind::input : OpKind::target;
    node.c = c, node.h = h, node.w = w;
    const int id = add_node(name, std::move(node));
    (is_input ? graph_.input : graph_.target) = id;
  }

  void optimizer_statement(const Token& head) {
    if (optimizer_loc_)
      fail(head, fmt::format("the optimizer is already set (line {})", optimizer_loc_->line));
    optimizer_loc_ = head.loc;
    const Token& kind = expect(TokenKind::identifier, "the optimizer's name (adam)", "'optimizer'");
    if (kind.text != "adam")
      fail(kind, fmt::format("unknown optimizer '{}' (expected adam)", kind.text));
    const Call call = call_arguments(kind);
    if (!call.inputs.empty())
      fail(*call.inputs.front().value,
           fmt::format("optimizer adam takes only key=value attributes, found {}",
                       describe(*call.inputs.front().value)));
    const Attributes a(
        filename_, call, "optimizer adam",
        {"learning_rate", "beta1", "beta2", "epsilon", "decay_steps", "lr_fraction"});
    plan::Optimizer& o = graph_.optimizer;
    o.learning_rate = a.real("learning_rate", o.learning_rate, 0.0, DBL_MAX, true, false);
    o.beta1 = a.real("beta1", o.beta1, 0.0, 1.0, false, true);
    o.beta2 = a.real("beta2", o.beta2, 0.0, 1.0, false, true);
    o.epsilon = a.real("epsilon", o.epsilon, 0.0, DBL_MAX, true, false);
    o.decay_steps = static_cast<uint32_t>(a.integer("decay_steps", static_cast<int>(o.decay_steps),
                                                    1, std::numeric_limits<int>::max()));
    o.lr_fraction = a.real("lr_fraction", o.lr_fraction, 0.0, 1.0, true, false);
  }

  // NAME = op(inputs..., key=value...)
  void layer_statement(const Token& name) {
    const Token& eq = next();
    if (eq.kind != TokenKind::equals) {
      const bool op_follows =
          std::any_of(kOps.begin(), kOps.end(), [&](const OpWord& w) { return w.word == eq.text; });
      if (op_follows)
        fail(eq, fmt::format("expected '=' after the layer name '{}', found {}", name.text,
                             describe(eq)));
      fail(name,
           fmt::format("unknown statement '{}' (expected model, seed, input, target, optimizer "
                       "or NAME = op(...))",
                       name.text));
    }
    const Token& op = next();
    if (op.kind != TokenKind::identifier)
      fail(op, fmt::format("expected an op name after '{} =', found {}", name.text, describe(op)));
    const auto found =
        std::find_if(kOps.begin(), kOps.end(), [&](const OpWord& w) { return w.word == op.text; });
    if (found == kOps.end()) {
      std::vector<std::string_view> words;
      for (const OpWord& w : kOps) words.push_back(w.word);
      fail(op, fmt::format("unknown op '{}' (expected {})", op.text, join_choices(words)));
    }
    const Call call = call_arguments(op);
    Node node;
    node.kind = found->kind;
    node.inputs = resolve_inputs(name, call);
    switch (node.kind) {
      case OpKind::conv2d:
        conv(call, node);
        break;
      case OpKind::conv2d_transpose:
        conv_transpose(call, node);
        break;
      case OpKind::maxpool2d:
        maxpool(call, node);
        break;
      case OpKind::upsample2d:
        upsample(call, node);
        break;
      case OpKind::concat:
        concat(call, node);
        break;
      case OpKind::dropout:
        dropout(call, node);
        break;
      case OpKind::dice_loss:
        dice_loss(name, call, node);
        break;
      case OpKind::input:
      case OpKind::target:
        break;  // not op words
    }
    add_node(name, std::move(node));
  }

  // '(' [arg {',' arg}] ')'; a line may break after '(' or ','.
  Call call_arguments(const Token& callee) {
    Call call;
    call.callee = &callee;
    const Token& open = expect(TokenKind::lparen, "'('", fmt::format("'{}'", callee.text));
    auto skip_newlines = [&] {
      while (peek().kind == TokenKind::newline) ++pos_;
    };
    auto unterminated = [&](const Token& at) {
      fail(at, fmt::format(
                   "unterminated '(' (opened at line {}, col {}): expected ')' before end of file",
                   open.loc.line, open.loc.col));
    };
    skip_newlines();
    if (peek().kind == TokenKind::rparen) {
      next();
      return call;
    }
    while (true) {
      const Token& t = next();
      if (t.kind == TokenKind::end) unterminated(t);
      if (t.kind == TokenKind::identifier && peek().kind == TokenKind::equals) {
        next();
        const Token& value = next();
        if (value.kind == TokenKind::end) unterminated(value);
        if (value.kind != TokenKind::identifier && value.kind != TokenKind::integer &&
            value.kind != TokenKind::real && value.kind != TokenKind::dims)
          fail(value,
               fmt::format("expected a value after '{}=', found {}", t.text, describe(value)));
        call.attrs.push_back({&t, &value});
      } else if (t.kind == TokenKind::identifier) {
        if (!call.attrs.empty())
          fail(t, fmt::format("input '{}' comes after key=value attributes; list the inputs first",
                              t.text));
        call.inputs.push_back({nullptr, &t});
      } else {
        fail(t,
             fmt::format("expected an input name or key=value in the arguments of '{}', found {}",
                         callee.text, describe(t)));
      }
      const Token& sep = next();
      if (sep.kind == TokenKind::rparen) break;
      if (sep.kind == TokenKind::end) unterminated(sep);
      if (sep.kind != TokenKind::comma)
        fail(sep, fmt::format("expected ',' or ')' after an argument, found {}", describe(sep)));
      skip_newlines();
    }
    return call;
  }

  std::vector<int> resolve_inputs(const Token& defining, const Call& call) {
    std::vector<int> ids;
    for (const Arg& a : call.inputs) {
      const Token& t = *a.value;
      if (auto it = ids_.find(t.text); it != ids_.end()) {
        ids.push_back(it->second);
        continue;
      }
      if (t.text == defining.text)
        fail(t, fmt::format("'{}' is used in its own definition", t.text));
      if (auto later = first_definition_.find(t.text); later != first_definition_.end())
        fail(t, fmt::format("'{}' is used before it is defined (line {})", t.text, later->second));
      std::string hint;
      size_t best = 3;
      for (const Node& n : graph_.nodes) {
        // Near misses only: also keeps hostile, very long names from costing quadratic time.
        const size_t longer = std::max(t.text.size(), n.name.size());
        if (longer > 64 || longer - std::min(t.text.size(), n.name.size()) >= best) continue;
        const size_t d = edit_distance(t.text, n.name);
        if (d < best) best = d, hint = fmt::format(" (did you mean '{}'?)", n.name);
      }
      fail(t, fmt::format("undefined name '{}'{}", t.text, hint));
    }
    return ids;
  }

  void arity(const Call& call, size_t lo, size_t hi, std::string_view what) const {
    const size_t n = call.inputs.size();
    if (n >= lo && n <= hi) return;
    fail(n > hi ? *call.inputs[hi].value : *call.callee,
         fmt::format("{} takes {}, found {}", call.callee->text, what, n));
  }

  // The target only feeds the loss, so every layer (and the loss) depends on the input.
  void reject_target_inputs(const Call& call, const Node& node) const {
    for (size_t i = 0; i < node.inputs.size(); ++i)
      if (node.inputs[i] == graph_.target)
        fail(*call.inputs[i].value,
             fmt::format("the target '{}' can only be the second input of dice_loss",
                         call.inputs[i].value->text));
  }

  void conv(const Call& call, Node& node) {
    arity(call, 1, 1, "1 input");
    reject_target_inputs(call, node);
    const Attributes a(
        filename_, call, "conv",
        {"filters", "kernel", "stride", "padding", "activation", "init", "bias_init"});
    node.filters = a.integer("filters", std::nullopt, 1, limits::kMaxModelChannels, "32");
    std::tie(node.kh, node.kw) = a.window("kernel", std::nullopt, "3");
    node.stride = a.integer("stride", 1, 1, limits::kMaxModelWindow);
    node.padding = a.choice("padding", Padding::same, kPaddings);
    node.activation = a.choice("activation", kernels::Activation::none, kActivations);
    node.kernel_init = a.choice("init", plan::Init::glorot_uniform, kInits);
    node.bias_init = a.choice("bias_init", plan::Init::zeros, kInits);
  }

  void conv_transpose(const Call& call, Node& node) {
    arity(call, 1, 1, "1 input");
    reject_target_inputs(call, node);
    const Attributes a(
        filename_, call, "conv_transpose",
        {"filters", "kernel", "stride", "padding", "activation", "init", "bias_init"});
    node.filters = a.integer("filters", std::nullopt, 1, limits::kMaxModelChannels, "256");
    std::tie(node.kh, node.kw) = a.window("kernel", std::nullopt, "2");
    node.stride = a.integer("stride", 1, 1, limits::kMaxModelWindow);
    node.padding = a.choice("padding", Padding::same, kSamePadding);
    node.activation = a.choice("activation", kernels::Activation::none, kActivations);
    node.kernel_init = a.choice("init", plan::Init::glorot_uniform, kInits);
    node.bias_init = a.choice("bias_init", plan::Init::zeros, kInits);
  }

  void maxpool(const Call& call, Node& node) {
    arity(call, 1, 1, "1 input");
    reject_target_inputs(call, node);
    const Attributes a(filename_, call, "maxpool", {"size", "stride"});
    node.pool = a.integer("size", 2, 1, limits::kMaxModelWindow);
    node.stride = a.integer("stride", node.pool, 1, limits::kMaxModelWindow);
    node.padding = Padding::valid;
  }

  void upsample(const Call& call, Node& node) {
    arity(call, 1, 1, "1 input");
    reject_target_inputs(call, node);
    const Attributes a(filename_, call, "upsample", {"factor"});
    node.pool = a.integer("factor", 2, 1, limits::kMaxModelWindow);
  }

  void concat(const Call& call, Node& node) {
    arity(call, 2, std::numeric_limits<size_t>::max(), "at least 2 inputs");
    reject_target_inputs(call, node);
    const Attributes a(filename_, call, "concat", {});
  }

  void dropout(const Call& call, Node& node) {
    arity(call, 1, 1, "1 input");
    reject_target_inputs(call, node);
    const Attributes a(filename_, call, "dropout", {"rate"});
    if (!a.find("rate")) a.required("rate", "0.2");
    node.rate = a.real("rate", 0.f, 0.0, 1.0, false, true);
  }

  void dice_loss(const Token& name, const Call& call, Node& node) {
    arity(call, 2, 2, "2 inputs (PREDICTION, TARGET)");
    if (graph_.loss >= 0) {
      const Node& first = graph_.nodes[graph_.loss];
      fail(name, fmt::format("a second loss '{}': the model already has the loss '{}' (line {})",
                             name.text, first.name, first.loc.line));
    }
    const Token& pred_token = *call.inputs[0].value;
    const Node& pred = graph_.nodes[node.inputs[0]];
    if (pred.kind != OpKind::conv2d)
      fail(pred_token,
           fmt::format("dice_loss needs a prediction from a conv with activation=sigmoid; "
                       "'{}' is a {}",
                       pred.name, op_keyword(pred.kind)));
    if (pred.activation != kernels::Activation::sigmoid)
      fail(pred_token,
           fmt::format("dice_loss needs a prediction from a conv with activation=sigmoid; "
                       "'{}' has activation={}",
                       pred.name, pred.activation == kernels::Activation::relu ? "relu" : "none"));
    if (node.inputs[1] != graph_.target) {
      const std::string target_name = graph_.target >= 0 ? graph_.nodes[graph_.target].name : "";
      fail(*call.inputs[1].value,
           graph_.target >= 0
               ? fmt::format("dice_loss's second input must be the target '{}', found '{}'",
                             target_name, call.inputs[1].value->text)
               : fmt::format("dice_loss's second input must be the target, and the model has none "
                             "yet (declare 'target NAME shape HxWx1' first), found '{}'",
                             call.inputs[1].value->text));
    }
    const Attributes a(filename_, call, "dice_loss", {"smooth"});
    node.smooth = a.real("smooth", 1.0f, 0.0, DBL_MAX, false, false);
    graph_.loss = static_cast<int>(graph_.nodes.size());
  }

  int add_node(const Token& name, Node node) {
    if (auto it = ids_.find(name.text); it != ids_.end())
      fail(name, fmt::format("'{}' is already defined (line {})", name.text,
                             graph_.nodes[it->second].loc.line));
    node.name = name.text;
    node.loc = name.loc;
    const int id = static_cast<int>(graph_.nodes.size());
    graph_.nodes.push_back(std::move(node));
    ids_.emplace(name.text, id);
    return id;
  }

  const std::vector<Token>& tokens_;
  const std::string& filename_;
  size_t pos_ = 0;
  Graph graph_;
  std::unordered_map<std::string, int> ids_;
  std::unordered_map<std::string, int> first_definition_;
  std::optional<SourceLoc> model_loc_, seed_loc_, optimizer_loc_;
};

}  // namespace

std::string_view op_keyword(OpKind kind) {
  switch (kind) {
    case OpKind::input:
      return "input";
    case OpKind::target:
      return "target";
    case OpKind::conv2d:
      return "conv";
    case OpKind::conv2d_transpose:
      return "conv_transpose";
    case OpKind::maxpool2d:
      return "maxpool";
    case OpKind::upsample2d:
      return "upsample";
    case OpKind::concat:
      return "concat";
    case OpKind::dropout:
      return "dropout";
    case OpKind::dice_loss:
      return "dice_loss";
  }
  return "?";
}

Graph parse_tokens(const std::vector<Token>& tokens, const std::string& filename) {
  if (tokens.empty() || tokens.back().kind != TokenKind::end)
    throw ModelError(
        fmt::format("{}: internal error: token list does not end with end of file", filename));
  return Parser(tokens, filename).run();
}

}  // namespace unet::graph
