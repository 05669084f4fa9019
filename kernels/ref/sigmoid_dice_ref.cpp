// Reference output head: sigmoid prediction and the per-image partial sums of the Dice loss,
// and the gradient of -log(Dice) with respect to the logits. Items are images.
#include <cmath>

#include "kernels/ref/ref_kernels.h"
#include "kernels/ref/ref_support.h"

namespace unet::kernels::ref {

// ---- forward: p = sigmoid(z); partials[3n..3n+2] = (sum p*t, sum p, sum t) of image n ----

size_t sigmoid_dice_fwd_work(const KernelCall& call) {
  return static_cast<size_t>(call.t[slot::sigmoid_dice_fwd::z].n);
}

void sigmoid_dice_fwd_run(const KernelCall& call, size_t begin, size_t end) {
  namespace slots = slot::sigmoid_dice_fwd;
  const TensorArg &z = call.t[slots::z], &target = call.t[slots::target], &p = call.t[slots::p],
                  &partials = call.t[slots::partials];
  for (size_t item = begin; item < end; ++item) {
    const int n = static_cast<int>(item);
    double intersection = 0.0, predicted = 0.0, truth = 0.0;
    for (int y = 0; y < z.h; ++y) {
      for (int x = 0; x < z.w; ++x) {
        // z is nChw16c with one real channel: lane 0 of block 0.
        const float prob = static_cast<float>(1.0 / (1.0 + std::exp(-double(z.at(n, 0, y, x)))));
        const float t = target.at_plain(n, y, x);
        p.at_plain(n, y, x) = prob;
        intersection += double(prob) * t;
        predicted += prob;
        truth += t;
      }
    }
    partials.data[3 * n + 0] = static_cast<float>(intersection);
    partials.data[3 * n + 1] = static_cast<float>(predicted);
    partials.data[3 * n + 2] = static_cast<float>(truth);
  }
}

// ---- backward: dz = (dice_a * t + dice_b) * p * (1 - p) ----

size_t sigmoid_dice_bwd_work(const KernelCall& call) {
  return static_cast<size_t>(call.t[slot::sigmoid_dice_bwd::p].n);
}

void sigmoid_dice_bwd_run(const KernelCall& call, size_t begin, size_t end) {
  namespace slots = slot::sigmoid_dice_bwd;
  const TensorArg &p = call.t[slots::p], &target = call.t[slots::target], &dz = call.t[slots::dz];
  const StepScalars& s = step_of(call);
  for (size_t item = begin; item < end; ++item) {
    const int n = static_cast<int>(item);
    for (int y = 0; y < p.h; ++y)
      for (int x = 0; x < p.w; ++x) {
        const float prob = p.at_plain(n, y, x);
        const float dl_dp = s.dice_a * target.at_plain(n, y, x) + s.dice_b;
        double g[kBlock] = {};
        g[0] = dl_dp * prob * (1.f - prob);
        store_pixel(pixel(dz, n, 0, y, x), g, 0, 1, false);
      }
  }
}

}  // namespace unet::kernels::ref
