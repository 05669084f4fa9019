#include "graph/memory_planner.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "graph/op_access.h"
#include "graph/plan_tensors.h"
#include "kernels/tensor_arg.h"

namespace unet::graph {

namespace {

using plan::TensorRole;

bool is_persistent(TensorRole role) {
  return role == TensorRole::param || role == TensorRole::param_grad ||
         role == TensorRole::adam_m || role == TensorRole::adam_v || role == TensorRole::region;
}

struct Lifetime {
  int32_t tensor = -1;
  size_t first = 0, last = 0;  // op positions in forward ++ backward, inclusive
  uint64_t size = 0;           // aligned bytes
  uint64_t offset = 0;         // from the start of the transient area
};

// First and last op touching each root tensor (a view's accesses count for its root).
std::vector<Lifetime> lifetimes(const plan::Plan& plan, const std::vector<bool>& transient) {
  constexpr size_t kUnused = std::numeric_limits<size_t>::max();
  std::vector<size_t> first(plan.tensors.size(), kUnused), last(plan.tensors.size(), 0);
  size_t position = 0;
  for (const auto* list : {&plan.forward, &plan.backward}) {
    for (const plan::Op& op : *list) {
      const OpAccess access = op_access(op);
      for (const auto* ids : {&access.reads, &access.writes})
        for (int32_t t : *ids) {
          const int32_t root = view_root(plan, t);
          first[root] = std::min(first[root], position);
          last[root] = std::max(last[root], position);
        }
      ++position;
    }
  }
  std::vector<Lifetime> out;
  for (size_t t = 0; t < plan.tensors.size(); ++t) {
    if (!transient[t]) continue;
    Lifetime life;
    life.tensor = static_cast<int32_t>(t);
    life.size = align_to_arena(plan.tensors[t].bytes);
    // A tensor no op touches still gets its own space for the whole step.
    life.first = first[t] == kUnused ? 0 : first[t];
    life.last = first[t] == kUnused ? position : last[t];
    out.push_back(life);
  }
  return out;
}

// Places the tensors in the given order, each in the smallest gap left by the already placed
// tensors whose lifetimes overlap its own (or above them all). Returns the peak.
uint64_t place_in_order(std::vector<Lifetime>& lives, const std::vector<size_t>& order) {
  std::vector<size_t> placed;
  uint64_t peak = 0;
  for (size_t k : order) {
    Lifetime& life = lives[k];
    std::vector<std::pair<uint64_t, uint64_t>> busy;  // [offset, end) of live neighbours
    for (size_t j : placed)
      if (lives[j].first <= life.last && life.first <= lives[j].last)
        busy.emplace_back(lives[j].offset, lives[j].offset + lives[j].size);
    std::sort(busy.begin(), busy.end());
    uint64_t cursor = 0, best_gap = std::numeric_limits<uint64_t>::max(), best = 0;
    bool found = false;
    for (const auto& [begin, end] : busy) {
      if (begin > cursor && begin - cursor >= life.size && begin - cursor < best_gap) {
        best_gap = begin - cursor;
        best = cursor;
        found = true;
      }
      cursor = std::max(cursor, end);
    }
    life.offset = found ? best : cursor;
    peak = std::max(peak, life.offset + life.size);
    placed.push_back(k);
  }
  return peak;
}

// Best fit under a few orders (largest first; longest-lived first; first use first), keeping
// the smallest peak: each is a known good heuristic and none wins on every graph.
uint64_t place_by_liveness(std::vector<Lifetime>& lives) {
  using Less = bool (*)(const Lifetime&, const Lifetime&);
  const Less orders[] = {
      [](const Lifetime& a, const Lifetime& b) {
        return a.size != b.size ? a.size > b.size : a.first < b.first;
      },
      [](const Lifetime& a, const Lifetime& b) {
        return (a.last - a.first + 1) * a.size > (b.last - b.first + 1) * b.size;
      },
      [](const Lifetime& a, const Lifetime& b) { return a.first < b.first; },
  };
  uint64_t best_peak = std::numeric_limits<uint64_t>::max();
  std::vector<Lifetime> best;
  for (Less less : orders) {
    std::vector<size_t> order(lives.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return less(lives[a], lives[b]); });
    const uint64_t peak = place_in_order(lives, order);
    if (peak < best_peak) {
      best_peak = peak;
      best = lives;
    }
  }
  lives = std::move(best);
  return best_peak == std::numeric_limits<uint64_t>::max() ? 0 : best_peak;
}

}  // namespace

void place_persistent(plan::Plan& plan) {
  uint64_t cursor = 0;
  for (const plan::Param& param : plan.params) {
    plan.tensors.at(param.value).offset = cursor;
    cursor += align_to_arena(plan.tensors[param.value].bytes);
  }
  const uint64_t region = cursor;
  plan.params_region = {0, region};
  const bool training = !plan.params.empty() && plan.params.front().grad >= 0;
  if (!training) {
    plan.grads_region = plan.adam_m_region = plan.adam_v_region = {0, 0};
    return;
  }
  plan.grads_region = {region, region};
  plan.adam_m_region = {2 * region, region};
  plan.adam_v_region = {3 * region, region};
  for (const plan::Param& param : plan.params) {
    const uint64_t relative = plan.tensors[param.value].offset;
    plan.tensors.at(param.grad).offset = plan.grads_region.offset + relative;
    plan.tensors.at(param.adam_m).offset = plan.adam_m_region.offset + relative;
    plan.tensors.at(param.adam_v).offset = plan.adam_v_region.offset + relative;
  }
}

void place_transient(plan::Plan& plan) {
  const size_t count = plan.tensors.size();
  uint64_t cursor = 0;
  for (const plan::Region* r : {&plan.params_region, &plan.grads_region, &plan.adam_m_region,
                                &plan.adam_v_region})
    cursor = std::max(cursor, r->offset + r->bytes);
  uint64_t naive = cursor;

  std::vector<bool> transient(count, false);
  for (size_t t = 0; t < count; ++t)
    transient[t] = plan.tensors[t].view_of < 0 && !is_persistent(plan.tensors[t].role);
  for (int32_t pinned : {plan.input, plan.target, plan.prediction, plan.loss_partials}) {
    if (pinned < 0) continue;
    if (plan.tensors[pinned].view_of >= 0) throw std::logic_error("place_transient: pinned view");
    transient[pinned] = false;
    plan.tensors[pinned].offset = cursor;
    cursor += align_to_arena(plan.tensors[pinned].bytes);
  }
  naive = cursor;

  std::vector<Lifetime> lives = lifetimes(plan, transient);
  const uint64_t peak = place_by_liveness(lives);
  for (const Lifetime& life : lives) {
    plan.tensors[life.tensor].offset = cursor + life.offset;
    naive += life.size;
  }
  for (size_t t = 0; t < count; ++t) {
    if (plan.tensors[t].view_of < 0) continue;
    uint32_t channel_offset = 0;
    const plan::Tensor& root = plan.tensors[view_root(plan, static_cast<int32_t>(t), &channel_offset)];
    plan.tensors[t].offset = root.offset + uint64_t(channel_offset / kernels::kBlock) * root.h *
                                               root.w * kernels::kBlock * sizeof(float);
  }
  plan.arena_bytes = cursor + peak;
  plan.naive_bytes = naive;
}

}  // namespace unet::graph
