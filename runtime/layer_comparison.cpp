#include "kernels/family_signature.h"
#include "runtime/layer_comparison.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <thread>
#include <tuple>

#include "base/json_string.h"
#include "kernels/isa_tier.h"
#include "kernels/kernel_registry.h"
#include "plan/plan_views.h"
#include "runtime/runtime_error.h"

#ifdef UNET_HAVE_ONEDNN
#include "runtime/engine.h"
#include "runtime/onednn_peer.h"
#include "runtime/step_benchmark.h"
#include "runtime/step_exchange.h"
#include "runtime/train_step.h"
#endif

namespace unet::runtime {

bool have_onednn() {
#ifdef UNET_HAVE_ONEDNN
  return true;
#else
  return false;
#endif
}

bool LayerComparison::all_ok() const {
  return std::all_of(rows.begin(), rows.end(), [](const ConvComparison& r) { return r.ok; });
}

#ifdef UNET_HAVE_ONEDNN

namespace {

using kernels::KernelCall;
using kernels::TensorArg;

// Zeroed floats on a 64-byte boundary: our kernels use aligned zmm loads and stores.
class AlignedFloats {
 public:
  AlignedFloats() = default;
  explicit AlignedFloats(size_t n) {
    const size_t bytes = std::max<size_t>(64, (n * sizeof(float) + 63) / 64 * 64);
    data_.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
    if (!data_) throw RuntimeError(fmt::format("cannot allocate {} bytes for a comparison's output", bytes));
    std::memset(data_.get(), 0, bytes);
    bytes_ = bytes;
  }
  float* data() const { return data_.get(); }
  void zero() { std::memset(data_.get(), 0, bytes_); }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  size_t bytes_ = 0;
};

// Our layouts (kernels/tensor_arg.h, kernel_family.h) to the plain ones oneDNN is fed.
void activation_to_plain(const TensorArg& a, std::vector<float>& out) {
  out.resize(static_cast<size_t>(a.n) * a.c * a.h * a.w);
  size_t k = 0;
  for (int n = 0; n < a.n; ++n)
    for (int c = 0; c < a.c; ++c)
      for (int y = 0; y < a.h; ++y)
        for (int x = 0; x < a.w; ++x) out[k++] = a.at(n, c, y, x);
}

void weights_to_plain(const TensorArg& w, std::vector<float>& out) {
  out.resize(static_cast<size_t>(w.n) * w.c * w.h * w.w);
  size_t k = 0;
  for (int o = 0; o < w.n; ++o)
    for (int i = 0; i < w.c; ++i)
      for (int ky = 0; ky < w.h; ++ky)
        for (int kx = 0; kx < w.w; ++kx) out[k++] = w.data[kernels::weight_index(w.n, w.c, w.h, w.w, o, i, ky, kx)];
}

void bias_to_plain(const TensorArg& b, int channels, std::vector<float>& out) {
  out.assign(b.data, b.data + channels);
}

// A dense view of `like`'s shape over `buffer` (a fresh output for one of our kernels).
TensorArg dense_activation(const TensorArg& like, AlignedFloats& buffer) {
  TensorArg a = like;
  a.image_stride = static_cast<int64_t>(kernels::padded_channels(like.c)) * like.h * like.w;
  buffer = AlignedFloats(static_cast<size_t>(like.n) * a.image_stride);
  a.data = buffer.data();
  return a;
}

TensorArg dense_weights(const TensorArg& like, AlignedFloats& buffer) {
  TensorArg w = like;
  buffer = AlignedFloats(static_cast<size_t>(kernels::channel_blocks(like.n)) * kernels::channel_blocks(like.c) *
                         like.h * like.w * kernels::kBlock * kernels::kBlock);
  w.data = buffer.data();
  return w;
}

TensorArg dense_flat(const TensorArg& like, int channels, AlignedFloats& buffer) {
  TensorArg b = like;
  buffer = AlignedFloats(static_cast<size_t>(std::max(like.w, kernels::padded_channels(channels))));
  b.data = buffer.data();
  return b;
}

// The plan's kernel for one op, on the op's live inputs in the arena, writing into buffers of
// its own; its call stripped to the problem oneDNN computes (see compare_layers).
class OurConv {
 public:
  OurConv(const plan::Plan& plan, const plan::Op& op, std::byte* arena, const ConvProblem& p) : problem_(p) {
    kernel_ = kernels::find_kernel(op.kernel);
    if (!kernel_) throw RuntimeError(fmt::format("unknown kernel '{}'", op.kernel));
    call_ = plan::op_call(plan, op, arena);
    call_.step = &step_;
    switch (p.direction) {
      case ConvDirection::fwd:
        if (const int pool = kernels::pool_epilogue_slot(op.family); pool >= 0) call_.t[pool] = TensorArg{};
        if (kernels::has_dropout_epilogue(op.family)) call_.i[kernels::kAttrFoldedDropout] = 0;
        call_.t[3] = dense_activation(call_.t[3], out_[0]);
        break;
      case ConvDirection::bwd_data:
        if (const int mask = kernels::relu_mask_slot(op.family); mask >= 0) call_.t[mask] = TensorArg{};
        call_.i[kernels::kAttrAccumulate] = 0;
        call_.t[2] = dense_activation(call_.t[2], out_[0]);
        break;
      case ConvDirection::bwd_weights:
        call_.t[2] = dense_weights(call_.t[2], out_[0]);
        if (p.bias) call_.t[3] = dense_flat(call_.t[3], p.oc, out_[1]);
        break;
    }
    if (kernel_->supports && !kernel_->supports(call_))
      throw RuntimeError(fmt::format("kernel {} declines the op without its folded epilogues", op.kernel));
    work_ = kernel_->work(call_);
  }

  // As the executor runs an op: the work items split over the pool.
  void run(ThreadPool& pool) {
    pool.parallel_for(work_, [&](size_t begin, size_t end) { kernel_->run(call_, begin, end); });
  }
  // The weight-gradient kernels add to their outputs (micro-batches sum up): from zero for a check.
  void zero_outputs() {
    for (AlignedFloats& b : out_)
      if (b.data()) b.zero();
  }

  void inputs_to_plain(PlainConvTensors& t) const {
    switch (problem_.direction) {
      case ConvDirection::fwd:
        activation_to_plain(call_.t[0], t.src);
        weights_to_plain(call_.t[1], t.weights);
        if (problem_.bias) bias_to_plain(call_.t[2], problem_.oc, t.bias);
        break;
      case ConvDirection::bwd_data:
        activation_to_plain(call_.t[0], t.dst);
        weights_to_plain(call_.t[1], t.weights);
        break;
      case ConvDirection::bwd_weights:
        activation_to_plain(call_.t[0], t.src);
        activation_to_plain(call_.t[1], t.dst);
        break;
    }
  }
  void outputs_to_plain(PlainConvTensors& t) const {
    switch (problem_.direction) {
      case ConvDirection::fwd: activation_to_plain(call_.t[3], t.dst); break;
      case ConvDirection::bwd_data: activation_to_plain(call_.t[2], t.src); break;
      case ConvDirection::bwd_weights:
        weights_to_plain(call_.t[2], t.weights);
        if (problem_.bias) bias_to_plain(call_.t[3], problem_.oc, t.bias);
        break;
    }
  }

 private:
  ConvProblem problem_;
  const kernels::KernelInfo* kernel_ = nullptr;
  KernelCall call_;
  size_t work_ = 0;
  kernels::StepScalars step_;  // no epilogue left reads it; kernels may still look
  AlignedFloats out_[2];
};

// max |a - b| / (max |b| + tiny): an error on the scale of the reference's largest value, as
// fp32 sums of thousands of products differ in their last bits by the order of summation.
// NaN anywhere gives NaN, which fails every tolerance.
double relative_error(const std::vector<float>& ours, const std::vector<float>& reference) {
  double diff = 0, scale = 0;
  for (size_t k = 0; k < ours.size() && k < reference.size(); ++k) {
    const double d = std::fabs(double(ours[k]) - reference[k]);
    if (std::isnan(d)) return NAN;
    diff = std::max(diff, d);
    scale = std::max(scale, std::fabs(double(reference[k])));
  }
  if (ours.size() != reference.size()) return NAN;
  return diff / (scale + 1e-30);
}

double check_error(const ConvProblem& p, const PlainConvTensors& ours, const PlainConvTensors& theirs) {
  switch (p.direction) {
    case ConvDirection::fwd: return relative_error(ours.dst, theirs.dst);
    case ConvDirection::bwd_data: return relative_error(ours.src, theirs.src);
    case ConvDirection::bwd_weights: {
      const double w = relative_error(ours.weights, theirs.weights);
      const double b = p.bias ? relative_error(ours.bias, theirs.bias) : 0;
      return std::isnan(w) || std::isnan(b) ? NAN : std::max(w, b);
    }
  }
  return NAN;
}

// The median time of `reps` calls of f, each timed alone, after a pause and one untimed call.
// The pause lets the other side's threads go back to sleep first: after a parallel region
// libgomp's workers spin for some 300000 pauses (milliseconds) and TBB's for a while too, and
// a spinning thread on a core takes half of it from the side being timed.
template <class F>
double median_seconds(int reps, F&& f) {
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  f();
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  const size_t n = t.size();
  return n == 0 ? 0 : n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

// Rows of one distinct problem share one timing.
using ProblemKey = std::tuple<std::string, int, bool, int, bool>;
ProblemKey key_of(const ConvProblem& p, const std::string& descriptor) {
  return {descriptor, static_cast<int>(p.direction), p.transposed, static_cast<int>(p.activation), p.bias};
}

// The step's seam used to stop before every op: a forward op's hook comes right before it, a
// backward op's right after its predecessor (nothing runs between the two). Dice sums and the
// update are the standalone ones.
class ComparingExchange final : public StepExchange {
 public:
  ComparingExchange(Engine& engine, OnednnPeer& peer, const CompareOptions& options, LayerComparison& out)
      : engine_(engine), local_(engine), peer_(peer), options_(options), out_(out) {}

  bool wants_op_hooks() const override { return true; }
  void before_forward_op(uint64_t, size_t i) override { compare(OpList::forward, engine_.plan().forward.at(i)); }
  void after_final_backward_op(uint64_t, size_t i) override {
    const auto& ops = engine_.plan().backward;
    if (i + 1 < ops.size()) compare(OpList::backward, ops[i + 1]);
  }
  DiceSums dice_sums(uint64_t step, std::span<const float> partials) override { return local_.dice_sums(step, partials); }
  void update(uint64_t step, double lr) override { local_.update(step, lr); }

 private:
  void compare(OpList list, const plan::Op& op) {
    const std::optional<ConvProblem> p = conv_problem(engine_.plan(), op);
    if (!p) return;
    ConvComparison row;
    row.list = list;
    row.label = op.label;
    row.kernel = op.kernel;
    row.problem = *p;
    row.descriptor = descriptor(*p);
    row.timed_at = out_.rows.size();
    try {
      OurConv ours(engine_.plan(), op, engine_.arena(), *p);
      PlainConvTensors inputs;
      inputs.resize(*p);
      ours.inputs_to_plain(inputs);
      ours.zero_outputs();
      ours.run(engine_.threads());
      PlainConvTensors mine = inputs, theirs = inputs;
      ours.outputs_to_plain(mine);
      OnednnPeer::Conv conv(peer_, *p);
      conv.set_inputs(inputs);
      conv.execute();
      conv.get_outputs(theirs);
      row.onednn_implementation = conv.implementation();
      row.max_rel_error = check_error(*p, mine, theirs);
      row.ok = row.max_rel_error <= options_.tolerance;  // false for NaN
      const ProblemKey key = key_of(*p, row.descriptor);
      if (const auto it = timed_.find(key); it != timed_.end()) {
        const ConvComparison& first = out_.rows[it->second];
        row.timed_at = it->second;
        row.ours_seconds = first.ours_seconds;
        row.onednn_seconds = first.onednn_seconds;
      } else {
        row.ours_seconds = median_seconds(options_.reps, [&] { ours.run(engine_.threads()); });
        row.onednn_seconds = median_seconds(options_.reps, [&] { conv.execute(); });
        timed_[key] = out_.rows.size();
      }
    } catch (const std::exception& e) {
      row.ok = false;
      row.error = e.what();
    }
    out_.rows.push_back(std::move(row));
  }

  Engine& engine_;
  LocalExchange local_;
  OnednnPeer& peer_;
  const CompareOptions& options_;
  LayerComparison& out_;
  std::map<ProblemKey, size_t> timed_;
};

}  // namespace

LayerComparison compare_layers(const CompareOptions& options) {
  EngineOptions eo;
  eo.threads = options.threads;
  eo.numa_node = options.numa_node;
  eo.plan_path = options.plan_path;
  Engine engine(load_training_plan(options.plan_path, "unetbench compare"), eo);
  // Before the pool's first work, which binds this thread to one core (onednn_peer.h).
  OnednnPeer peer(engine.threads().size(), options.threads.pin);
  const plan::Plan& p = engine.plan();

  LayerComparison c;
  c.plan_path = options.plan_path;
  c.model = p.model_name;
  c.tier = std::string(kernels::tier_name(p.tier));
  c.batch = p.batch;
  c.our_threads = engine.threads().size();
  c.onednn_threads = peer.threads();
  c.pinned = options.threads.pin && c.our_threads > 1;
  c.onednn_version = peer.version();
  c.reps = options.reps;
  c.tolerance = options.tolerance;

  // One ordinary step first, so that the compared step's inputs are those of training
  // (weights after an update, Adam's moments set), then the step that compares.
  fill_synthetic_batch(engine);
  const LearningRate lr{p.optimizer.learning_rate, p.optimizer.decay_steps, p.optimizer.lr_fraction, false};
  auto no_load = [](size_t) {};
  {
    LocalExchange local(engine);
    StepRunner(engine, local, 1).run({0, 1, 0}, lr, no_load);
  }
  {
    ComparingExchange comparing(engine, peer, options, c);
    StepRunner(engine, comparing, 1).run({1, 1, 0}, lr, no_load);
  }

  if (!options.pytorch_script.empty()) {
    // The script builds the seed's UNet on one-channel square images: another model would
    // compare two different networks.
    if (p.model_name != "unet_brats" || p.in_c != 1 || p.in_h != p.in_w)
      c.pytorch.why_not = fmt::format("{} is the seed's unet_brats on one-channel square images; this plan is '{}' "
                                      "({}x{}x{})",
                                      options.pytorch_script, p.model_name, p.in_h, p.in_w, p.in_c);
    else
      c.pytorch.why_not = pytorch_unavailable(options.pytorch_script);
    if (c.pytorch.why_not.empty()) {
      c.our_images_per_second = time_training_steps(engine, options.whole_steps, 1).images_per_second;
      c.pytorch = run_pytorch_peer(options.pytorch_script, static_cast<int>(p.batch), c.our_threads,
                                   options.whole_steps, static_cast<int>(p.in_h));
    }
  }
  return c;
}

#else

LayerComparison compare_layers(const CompareOptions&) {
  throw RuntimeError("compare needs oneDNN, which this build did not find: install libdnnl-dev (bash scripts/setup.sh "
                     "libdnnl-dev) and run cmake again");
}

#endif

RatioMean ratio_geomean(const LayerComparison& c, std::optional<ConvDirection> direction) {
  double log_sum = 0;
  RatioMean m;
  for (size_t k = 0; k < c.rows.size(); ++k) {
    const ConvComparison& r = c.rows[k];
    if (r.timed_at != k || !r.ok || r.ours_seconds <= 0 || r.onednn_seconds <= 0) continue;
    if (direction && r.problem.direction != *direction) continue;
    log_sum += std::log(r.onednn_seconds / r.ours_seconds);
    ++m.problems;
  }
  m.mean = m.problems ? std::exp(log_sum / m.problems) : 0;
  return m;
}

namespace {

constexpr ConvDirection kDirections[] = {ConvDirection::fwd, ConvDirection::bwd_data, ConvDirection::bwd_weights};

std::string kind_name(const ConvProblem& p) { return p.transposed ? "deconv" : "conv"; }

std::string threads_text(int n, const char* runtime, bool pinned) {
  return fmt::format("{} thread{} ({}, {})", n, n == 1 ? "" : "s", runtime, pinned ? "pinned" : "not pinned");
}

}  // namespace

std::string comparison_table(const LayerComparison& c) {
  std::string out = fmt::format(
      "unetbench compare {}: {} tier {}, batch {}; ours: {}; {}: {}; median of {} runs each\n", c.plan_path, c.model,
      c.tier, c.batch, threads_text(c.our_threads, "TBB", c.pinned), c.onednn_version,
      threads_text(c.onednn_threads, "OpenMP", c.pinned), c.reps);
  out += "the inputs each op reads in a training step; forward ops without their folded dropout / max-pool, backward-data "
         "without the folded ReLU mask: the problem oneDNN computes\n";
  size_t label_width = 5, desc_width = 10;
  for (const ConvComparison& r : c.rows) {
    label_width = std::max(label_width, r.label.size());
    desc_width = std::max(desc_width, r.descriptor.size());
  }
  out += fmt::format("{:<{}}  {:<5}  {:<6}  {:<{}}  {:>9}  {:>9}  {:>9}  {:>6}  {}\n", "layer", label_width, "dir",
                     "kind", "descriptor", desc_width, "check", "ours ms", "oneDNN ms", "ratio", "oneDNN impl");
  for (size_t k = 0; k < c.rows.size(); ++k) {
    const ConvComparison& r = c.rows[k];
    std::string check;
    if (!r.error.empty())
      check = "FAIL";
    else
      check = fmt::format("{:.1e}{}", r.max_rel_error, r.ok ? "" : " FAIL");
    std::string times = "         -          -       -";
    if (r.error.empty() && r.ours_seconds > 0 && r.onednn_seconds > 0)
      times = fmt::format("{:>9.3f}  {:>9.3f}  {:>6.2f}", r.ours_seconds * 1e3, r.onednn_seconds * 1e3,
                          r.onednn_seconds / r.ours_seconds);
    // A repeat of an earlier row's problem shows that row's times, marked with where.
    const std::string note =
        !r.error.empty() ? r.error : r.timed_at != k ? fmt::format("(timed at {})", c.rows[r.timed_at].label) : "";
    out += fmt::format("{:<{}}  {:<5}  {:<6}  {:<{}}  {:>9}  {}  {}{}{}\n", r.label, label_width,
                       direction_name(r.problem.direction), kind_name(r.problem), r.descriptor, desc_width, check, times,
                       r.onednn_implementation, r.onednn_implementation.empty() || note.empty() ? "" : " ", note);
  }
  const auto fails = std::count_if(c.rows.begin(), c.rows.end(), [](const ConvComparison& r) { return !r.ok; });
  size_t distinct = 0;
  for (size_t k = 0; k < c.rows.size(); ++k) distinct += c.rows[k].timed_at == k;
  out += fmt::format("{} convolution ops, {} distinct problems; checks: max |ours - oneDNN| / max |oneDNN| <= {:g}: {}\n",
                     c.rows.size(), distinct, c.tolerance,
                     fails ? fmt::format("{} FAILED", fails) : std::string("all passed"));
  std::string means = "geometric mean of oneDNN time / ours (> 1: ours faster):";
  for (const ConvDirection d : kDirections) {
    const RatioMean m = ratio_geomean(c, d);
    if (m.problems) means += fmt::format(" {} {:.2f} ({})", direction_name(d), m.mean, m.problems);
  }
  const RatioMean all = ratio_geomean(c, std::nullopt);
  out += means + fmt::format("; all {:.2f} ({})\n", all.mean, all.problems);
  if (c.pytorch.ran)
    out += fmt::format("whole step: ours {:.2f} images/s, {}; ours / PyTorch = {:.2f}\n", c.our_images_per_second,
                       c.pytorch.line, c.our_images_per_second / c.pytorch.images_per_second);
  else if (!c.pytorch.why_not.empty())
    out += fmt::format("whole step against PyTorch: skipped: {}\n", c.pytorch.why_not);
  return out;
}

std::string comparison_json(const LayerComparison& c) {
  auto mean_json = [&](std::optional<ConvDirection> d) {
    const RatioMean m = ratio_geomean(c, d);
    return fmt::format("{{\"ratio\": {}, \"problems\": {}}}", m.problems ? json_number(m.mean) : "null", m.problems);
  };
  std::string out = fmt::format(
      "{{\"plan\": {}, \"model\": {}, \"tier\": {}, \"batch\": {}, \"threads\": {{\"ours\": {}, \"onednn\": {}}}, "
      "\"pinned\": {}, \"onednn\": {}, \"reps\": {}, \"tolerance\": {}, \"ok\": {},\n\"geomean\": {{\"fwd\": {}, "
      "\"bwd_d\": {}, \"bwd_w\": {}, \"all\": {}}},\n",
      json_string(c.plan_path), json_string(c.model), json_string(c.tier), c.batch, c.our_threads, c.onednn_threads,
      c.pinned, json_string(c.onednn_version), c.reps, json_number(c.tolerance), c.all_ok(),
      mean_json(ConvDirection::fwd), mean_json(ConvDirection::bwd_data), mean_json(ConvDirection::bwd_weights),
      mean_json(std::nullopt));
  if (c.pytorch.ran)
    out += fmt::format("\"pytorch\": {{\"ours_images_per_second\": {}, \"pytorch_images_per_second\": {}, \"line\": {}}},\n",
                       json_number(c.our_images_per_second), json_number(c.pytorch.images_per_second),
                       json_string(c.pytorch.line));
  else
    out += fmt::format("\"pytorch\": {{\"skipped\": {}}},\n", json_string(c.pytorch.why_not));
  out += "\"rows\": [";
  for (size_t k = 0; k < c.rows.size(); ++k) {
    const ConvComparison& r = c.rows[k];
    const bool timed = r.error.empty() && r.ours_seconds > 0 && r.onednn_seconds > 0;
    out += fmt::format(
        "{}\n  {{\"list\": {}, \"label\": {}, \"kernel\": {}, \"direction\": {}, \"kind\": {}, \"descriptor\": {}, "
        "\"gflop\": {}, \"max_rel_error\": {}, \"ok\": {}, \"error\": {}, \"ours_ms\": {}, \"onednn_ms\": {}, "
        "\"ratio\": {}, \"timed_at\": {}, \"onednn_impl\": {}}}",
        k ? "," : "", json_string(r.list == OpList::forward ? "forward" : "backward"), json_string(r.label),
        json_string(r.kernel), json_string(direction_name(r.problem.direction)), json_string(kind_name(r.problem)),
        json_string(r.descriptor), json_number(conv_flops(r.problem) * 1e-9),
        r.max_rel_error >= 0 ? json_number(r.max_rel_error) : "null", r.ok, json_string(r.error),
        timed ? json_number(r.ours_seconds * 1e3) : "null", timed ? json_number(r.onednn_seconds * 1e3) : "null",
        timed ? json_number(r.onednn_seconds / r.ours_seconds) : "null", r.timed_at,
        json_string(r.onednn_implementation));
  }
  out += "\n]}\n";
  return out;
}

}  // namespace unet::runtime
