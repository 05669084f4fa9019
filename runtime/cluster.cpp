#include "runtime/cluster.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include <fmt/format.h>

namespace unet::runtime {

namespace {

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

}  // namespace

uint64_t config_digest(const ClusterSpec& c, const TrainConfig& t) {
  return fnv1a(fmt::format("workers={} ps={} scope={} batch={} lr={:08x},{},{:08x},{} seed={} shuffle={} epochs={} "
                           "max_steps={}",
                           c.workers(), c.ps_tasks(), static_cast<int>(c.loss_scope), t.batch_size,
                           float_bits(t.lr.initial), t.lr.decay_steps, float_bits(t.lr.fraction), t.lr.constant,
                           t.seed, t.shuffle, t.epochs, t.max_steps));
}

std::vector<uint32_t> shard_params(const plan::Plan& plan, size_t ps_tasks) {
  std::vector<size_t> order(plan.params.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return param_bytes(plan, a) > param_bytes(plan, b); });
  std::vector<uint64_t> load(std::max<size_t>(ps_tasks, 1), 0);
  std::vector<uint32_t> task(plan.params.size(), 0);
  for (size_t k : order) {
    const size_t t = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    task[k] = static_cast<uint32_t>(t);
    load[t] += param_bytes(plan, k);
  }
  return task;
}

}  // namespace unet::runtime
