#include "runtime/onednn_peer.h"

#include <hwloc.h>
#include <omp.h>
#include <xmmintrin.h>

#include <fmt/format.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <unordered_map>
#include <vector>

#include "runtime/runtime_error.h"

namespace unet::runtime {

using dnnl::memory;
using Tag = memory::format_tag;
using Dt = memory::data_type;

namespace {

memory::dims src_dims(const ConvProblem& p) { return {p.mb, p.ic, p.ih, p.iw}; }
memory::dims dst_dims(const ConvProblem& p) { return {p.mb, p.oc, p.oh, p.ow}; }
memory::dims weight_dims(const ConvProblem& p) { return {p.oc, p.ic, p.kh, p.kw}; }
memory::dims bias_dims(const ConvProblem& p) { return {p.oc}; }

size_t elements(const memory::dims& d) {
  size_t n = 1;
  for (const auto v : d) n *= static_cast<size_t>(v);
  return n;
}

}  // namespace

void PlainConvTensors::resize(const ConvProblem& p) {
  src.assign(elements(src_dims(p)), 0.f);
  dst.assign(elements(dst_dims(p)), 0.f);
  weights.assign(elements(weight_dims(p)), 0.f);
  bias.assign(p.bias ? elements(bias_dims(p)) : 0, 0.f);
}

struct OnednnPeer::Impl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  int threads = 0;
};

OnednnPeer::OnednnPeer(int threads, bool pin) {
  const dnnl_version_t* v = dnnl_version();
  // The thread count below is OpenMP's: a oneDNN built on another runtime would ignore it.
  if (v->cpu_runtime != DNNL_RUNTIME_OMP)
    throw RuntimeError(fmt::format("oneDNN {}.{}.{} was built for CPU runtime {} (not OpenMP): the comparison cannot "
                                   "set its thread count",
                                   v->major, v->minor, v->patch, v->cpu_runtime));
  // The cores our pool binds its slots to: those of the calling thread's set, in hwloc order
  // (runtime/thread_pool.cpp, CorePinner).
  hwloc_topology_t topo;
  hwloc_topology_init(&topo);
  hwloc_topology_load(topo);
  std::vector<hwloc_obj_t> cores;
  hwloc_bitmap_t allowed = hwloc_bitmap_alloc();
  const bool bound = hwloc_get_cpubind(topo, allowed, HWLOC_CPUBIND_THREAD) == 0;
  for (int k = 0, all = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE); k < all; ++k) {
    hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, k);
    if (core && core->cpuset && (!bound || hwloc_bitmap_intersects(core->cpuset, allowed))) cores.push_back(core);
  }
  hwloc_bitmap_free(allowed);

  omp_set_num_threads(threads);
  int counted = 0;
  // oneDNN's parallel regions reuse the team this one creates (the same master, the same
  // size), so what is set here holds for them.
#pragma omp parallel
  {
    // Subnormals flushed as on our compute threads (thread_pool.cpp): otherwise late-training
    // gradients would cost oneDNN a hundred cycles an operation that ours does not pay.
    _mm_setcsr(_mm_getcsr() | 0x8040);
    const int k = omp_get_thread_num();
    // Thread 0 is the caller: our pool binds it (to cores[0]) as its own slot 0, and binding
    // it here first would shrink the core set the pool reads.
    if (pin && threads > 1 && k > 0 && !cores.empty()) {
      hwloc_bitmap_t set = hwloc_bitmap_dup(cores[static_cast<size_t>(k) % cores.size()]->cpuset);
      hwloc_bitmap_singlify(set);
      hwloc_set_cpubind(topo, set, HWLOC_CPUBIND_THREAD);
      hwloc_bitmap_free(set);
    }
#pragma omp single
    counted = omp_get_num_threads();
  }
  hwloc_topology_destroy(topo);
  impl_ = std::make_unique<Impl>();
  impl_->threads = counted;
}

OnednnPeer::~OnednnPeer() = default;

int OnednnPeer::threads() const { return impl_->threads; }

std::string OnednnPeer::version() const {
  const dnnl_version_t* v = dnnl_version();
  return fmt::format("oneDNN {}.{}.{}", v->major, v->minor, v->patch);
}

// One argument of the primitive: its plain form (one of PlainConvTensors' buffers) and the
// memory in the layout oneDNN chose for it.
struct OnednnPeer::Conv::Impl {
  struct Arg {
    int id;
    bool input;
    std::vector<float> PlainConvTensors::*plain;
    memory::desc plain_desc;
    memory chosen;
  };
  OnednnPeer::Impl& peer;
  dnnl::primitive primitive;
  std::string implementation;
  std::vector<Arg> args;
  std::unordered_map<int, memory> exec_args;

  Impl(OnednnPeer::Impl& p) : peer(p) {}
  void add(int id, bool input, std::vector<float> PlainConvTensors::*plain, const memory::dims& dims, Tag plain_tag,
           const memory::desc& chosen) {
    args.push_back({id, input, plain, memory::desc(dims, Dt::f32, plain_tag), memory(chosen, peer.engine)});
    exec_args[id] = args.back().chosen;
  }
};

namespace {

dnnl::post_ops activation_post_op(kernels::Activation a) {
  dnnl::post_ops ops;
  if (a == kernels::Activation::relu) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  if (a == kernels::Activation::sigmoid) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f);
  return ops;
}

// Convolution and deconvolution have the same shape of API; Primitives names one of them.
struct ConvPrimitives {
  using Fwd = dnnl::convolution_forward;
  using BwdData = dnnl::convolution_backward_data;
  using BwdWeights = dnnl::convolution_backward_weights;
  // Auto: oneDNN picks direct or Winograd itself, as ours picks per layer.
  static constexpr dnnl::algorithm kAlgorithm = dnnl::algorithm::convolution_auto;
};
struct DeconvPrimitives {
  using Fwd = dnnl::deconvolution_forward;
  using BwdData = dnnl::deconvolution_backward_data;
  using BwdWeights = dnnl::deconvolution_backward_weights;
  static constexpr dnnl::algorithm kAlgorithm = dnnl::algorithm::deconvolution_direct;
};

template <class P>
void build(OnednnPeer::Conv::Impl& c, const ConvProblem& p, const dnnl::engine& engine) {
  const memory::desc src_any(src_dims(p), Dt::f32, Tag::any), dst_any(dst_dims(p), Dt::f32, Tag::any),
      weights_any(weight_dims(p), Dt::f32, Tag::any), bias_any(bias_dims(p), Dt::f32, Tag::any);
  const memory::dims strides{p.sh, p.sw}, pad_l{p.ph, p.pw}, pad_r{p.pad_bottom(), p.pad_right()};
  // The forward descriptor, with the bias where the problem has one: the primitive itself for
  // fwd, the hint oneDNN's backward primitives are created from otherwise.
  const auto fwd_desc = p.bias ? typename P::Fwd::desc(dnnl::prop_kind::forward_training, P::kAlgorithm, src_any,
                                                       weights_any, bias_any, dst_any, strides, pad_l, pad_r)
                               : typename P::Fwd::desc(dnnl::prop_kind::forward_training, P::kAlgorithm, src_any,
                                                       weights_any, dst_any, strides, pad_l, pad_r);
  const auto src = &PlainConvTensors::src, dst = &PlainConvTensors::dst, weights = &PlainConvTensors::weights,
             bias = &PlainConvTensors::bias;
  switch (p.direction) {
    case ConvDirection::fwd: {
      dnnl::primitive_attr attr;
      attr.set_post_ops(activation_post_op(p.activation));
      const typename P::Fwd::primitive_desc pd(fwd_desc, attr, engine);
      c.add(DNNL_ARG_SRC, true, src, src_dims(p), Tag::nchw, pd.src_desc());
      c.add(DNNL_ARG_WEIGHTS, true, weights, weight_dims(p), Tag::oihw, pd.weights_desc());
      if (p.bias) c.add(DNNL_ARG_BIAS, true, bias, bias_dims(p), Tag::x, pd.bias_desc());
      c.add(DNNL_ARG_DST, false, dst, dst_dims(p), Tag::nchw, pd.dst_desc());
      c.primitive = typename P::Fwd(pd);
      c.implementation = pd.impl_info_str();
      break;
    }
    case ConvDirection::bwd_data: {
      const typename P::Fwd::primitive_desc hint(fwd_desc, engine);
      const typename P::BwdData::desc desc(P::kAlgorithm, src_any, weights_any, dst_any, strides, pad_l, pad_r);
      const typename P::BwdData::primitive_desc pd(desc, engine, hint);
      c.add(DNNL_ARG_DIFF_DST, true, dst, dst_dims(p), Tag::nchw, pd.diff_dst_desc());
      c.add(DNNL_ARG_WEIGHTS, true, weights, weight_dims(p), Tag::oihw, pd.weights_desc());
      c.add(DNNL_ARG_DIFF_SRC, false, src, src_dims(p), Tag::nchw, pd.diff_src_desc());
      c.primitive = typename P::BwdData(pd);
      c.implementation = pd.impl_info_str();
      break;
    }
    case ConvDirection::bwd_weights: {
      const typename P::Fwd::primitive_desc hint(fwd_desc, engine);
      const auto desc = p.bias ? typename P::BwdWeights::desc(P::kAlgorithm, src_any, weights_any, bias_any, dst_any,
                                                             strides, pad_l, pad_r)
                               : typename P::BwdWeights::desc(P::kAlgorithm, src_any, weights_any, dst_any, strides,
                                                             pad_l, pad_r);
      const typename P::BwdWeights::primitive_desc pd(desc, engine, hint);
      c.add(DNNL_ARG_SRC, true, src, src_dims(p), Tag::nchw, pd.src_desc());
      c.add(DNNL_ARG_DIFF_DST, true, dst, dst_dims(p), Tag::nchw, pd.diff_dst_desc());
      c.add(DNNL_ARG_DIFF_WEIGHTS, false, weights, weight_dims(p), Tag::oihw, pd.diff_weights_desc());
      if (p.bias) c.add(DNNL_ARG_DIFF_BIAS, false, bias, bias_dims(p), Tag::x, pd.diff_bias_desc());
      c.primitive = typename P::BwdWeights(pd);
      c.implementation = pd.impl_info_str();
      break;
    }
  }
}

}  // namespace

OnednnPeer::Conv::Conv(OnednnPeer& peer, const ConvProblem& problem) : impl_(std::make_unique<Impl>(*peer.impl_)) {
  try {
    if (problem.transposed)
      build<DeconvPrimitives>(*impl_, problem, peer.impl_->engine);
    else
      build<ConvPrimitives>(*impl_, problem, peer.impl_->engine);
  } catch (const dnnl::error& e) {
    throw RuntimeError(fmt::format("oneDNN cannot build {} {} {}: {}", problem.transposed ? "deconvolution" : "convolution",
                                   direction_name(problem.direction), descriptor(problem), e.what()));
  }
}

OnednnPeer::Conv::~Conv() = default;
OnednnPeer::Conv::Conv(Conv&&) noexcept = default;

namespace {

// A plain buffer as oneDNN memory; the sizes were set by PlainConvTensors::resize.
memory plain_memory(const memory::desc& d, const dnnl::engine& engine, std::vector<float>& buffer) {
  if (buffer.size() * sizeof(float) != d.get_size())
    throw RuntimeError(fmt::format("a plain buffer of {} floats where oneDNN wants {} bytes", buffer.size(), d.get_size()));
  return memory(d, engine, buffer.data());
}

}  // namespace

void OnednnPeer::Conv::set_inputs(const PlainConvTensors& t) {
  // oneDNN reads these buffers only (the reorder's source); its API takes no const handle.
  auto& plain = const_cast<PlainConvTensors&>(t);
  for (Impl::Arg& a : impl_->args) {
    if (!a.input) continue;
    memory from = plain_memory(a.plain_desc, impl_->peer.engine, plain.*a.plain);
    dnnl::reorder(from, a.chosen).execute(impl_->peer.stream, from, a.chosen);
  }
  impl_->peer.stream.wait();
}

void OnednnPeer::Conv::execute() {
  impl_->primitive.execute(impl_->peer.stream, impl_->exec_args);
  impl_->peer.stream.wait();
}

void OnednnPeer::Conv::get_outputs(PlainConvTensors& t) {
  for (Impl::Arg& a : impl_->args) {
    if (a.input) continue;
    memory to = plain_memory(a.plain_desc, impl_->peer.engine, t.*a.plain);
    dnnl::reorder(a.chosen, to).execute(impl_->peer.stream, a.chosen, to);
  }
  impl_->peer.stream.wait();
}

std::string OnednnPeer::Conv::implementation() const { return impl_->implementation; }

}  // namespace unet::runtime
