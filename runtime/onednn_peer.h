// oneDNN as the peer of our convolution kernels (unetbench compare): one problem
// (conv_problem.h) built as oneDNN's convolution or deconvolution primitive with the layouts
// it prefers (format_tag::any), fed from and read back into plain fp32 buffers. Compiled only
// where CMake found oneDNN (UNET_HAVE_ONEDNN); nothing here knows our layouts or plans.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "runtime/conv_problem.h"

namespace unet::runtime {

// Plain fp32 tensors of one problem: src [mb, ic, ih, iw] and dst [mb, oc, oh, ow] (nchw),
// weights [oc, ic, kh, kw] (oihw, o the output channels of the forward op, for a transposed
// convolution too), bias [oc]. Which are inputs depends on the direction:
//   fwd:   src, weights, bias -> dst
//   bwd_d: dst (the gradient at the output), weights -> src (the gradient at the input)
//   bwd_w: src, dst (the gradient at the output) -> weights, bias (their gradients)
struct PlainConvTensors {
  std::vector<float> src, weights, bias, dst;
  void resize(const ConvProblem& p);  // every tensor to its problem's size (zeros)
};

// oneDNN's CPU engine and stream, and its threads: `threads` OpenMP threads (the Debian
// package's runtime), FTZ/DAZ set on each as on our compute threads, and with `pin` thread k
// bound to the k-th core of the calling thread's core set as our pool binds its slot k (the
// calling thread, slot 0, is left to the pool). Construct it before the ThreadPool it is
// compared with first runs work: the pool then binds the calling thread to one core.
class OnednnPeer {
 public:
  OnednnPeer(int threads, bool pin);
  ~OnednnPeer();
  OnednnPeer(const OnednnPeer&) = delete;
  OnednnPeer& operator=(const OnednnPeer&) = delete;

  int threads() const;  // as counted inside one of its parallel regions
  // "oneDNN 2.6.3"
  std::string version() const;

  // One problem, its primitive created once.
  class Conv {
   public:
    Conv(OnednnPeer& peer, const ConvProblem& problem);
    ~Conv();
    Conv(Conv&&) noexcept;
    // Reorders the problem's inputs from `t` into the primitive's layouts (untimed).
    void set_inputs(const PlainConvTensors& t);
    // The primitive alone, waited for: what is timed.
    void execute();
    // Reorders its outputs back into `t`'s plain buffers.
    void get_outputs(PlainConvTensors& t);
    // oneDNN's name for the implementation it chose ("jit:avx512_core", "brg:...", ...).
    std::string implementation() const;

    struct Impl;  // opaque: oneDNN's types stay out of this header

   private:
    std::unique_ptr<Impl> impl_;
  };

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace unet::runtime
