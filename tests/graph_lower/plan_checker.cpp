#include "kernels/family_signature.h"
#include "plan_checker.h"

#include <algorithm>
#include <fmt/format.h>
#include <limits>

#include "graph/op_access.h"

namespace unet::test {

namespace {

using plan::TensorRole;

struct Root {
  int32_t tensor;
  uint32_t first_channel;  // channel offset within the root
};

Root root_of(const plan::Plan& p, int32_t t) {
  uint32_t offset = 0;
  while (p.tensors[t].view_of >= 0) {
    offset += p.tensors[t].channel_offset;
    t = p.tensors[t].view_of;
  }
  return {t, offset};
}

bool always_live(const plan::Plan& p, int32_t t) {
  const TensorRole r = p.tensors[t].role;
  return r == TensorRole::param || r == TensorRole::param_grad || r == TensorRole::adam_m ||
         r == TensorRole::adam_v || t == p.input || t == p.target || t == p.prediction ||
         t == p.loss_partials;
}

std::vector<const plan::Op*> sequence(const plan::Plan& p) {
  std::vector<const plan::Op*> ops;
  for (const auto& op : p.forward) ops.push_back(&op);
  for (const auto& op : p.backward) ops.push_back(&op);
  return ops;
}

bool has_accumulate_attr(kernels::Family f) {
  using kernels::Family;
  return f == Family::conv2d_bwd_data || f == Family::tconv2d_bwd_data ||
         f == Family::maxpool2d_bwd || f == Family::upsample2d_bwd || f == Family::dropout_bwd ||
         f == Family::copy_channels;
}

}  // namespace

std::vector<std::string> check_memory(const plan::Plan& p) {
  std::vector<std::string> problems;
  const size_t count = p.tensors.size();
  const auto ops = sequence(p);
  constexpr size_t kNever = std::numeric_limits<size_t>::max();
  std::vector<size_t> first(count, kNever), last(count, 0);
  for (size_t k = 0; k < ops.size(); ++k) {
    const auto access = graph::op_access(*ops[k]);
    for (const auto* ids : {&access.reads, &access.writes})
      for (int32_t t : *ids) {
        const int32_t r = root_of(p, t).tensor;
        first[r] = std::min(first[r], k);
        last[r] = std::max(last[r], k);
      }
  }
  std::vector<int32_t> roots;
  for (size_t t = 0; t < count; ++t) {
    const plan::Tensor& x = p.tensors[t];
    if (x.offset % plan::kArenaAlignment != 0)
      problems.push_back(fmt::format("'{}' offset {} not aligned", x.name, x.offset));
    if (x.offset + x.bytes > p.arena_bytes)
      problems.push_back(fmt::format("'{}' ends past the arena", x.name));
    if (x.view_of >= 0) {
      const plan::Tensor& base = p.tensors[x.view_of];
      if (base.view_of >= 0) problems.push_back(fmt::format("'{}' is a view of a view", x.name));
      const uint64_t expect = base.offset + uint64_t{x.channel_offset / 16} * base.h * base.w * 64;
      if (x.offset != expect)
        problems.push_back(fmt::format("view '{}' at {} but its slice starts at {}", x.name, x.offset, expect));
      continue;
    }
    if (x.role == TensorRole::region) continue;  // spans the param tensors by design
    if (!always_live(p, static_cast<int32_t>(t)) && first[t] == kNever)
      problems.push_back(fmt::format("'{}' is never used", x.name));
    roots.push_back(static_cast<int32_t>(t));
  }
  for (size_t a = 0; a < roots.size(); ++a)
    for (size_t b = a + 1; b < roots.size(); ++b) {
      const plan::Tensor& x = p.tensors[roots[a]];
      const plan::Tensor& y = p.tensors[roots[b]];
      const bool share_bytes = x.offset < y.offset + y.bytes && y.offset < x.offset + x.bytes;
      if (!share_bytes) continue;
      const bool x_always = always_live(p, roots[a]), y_always = always_live(p, roots[b]);
      const bool share_time = x_always || y_always ||
                              (first[roots[a]] <= last[roots[b]] && first[roots[b]] <= last[roots[a]]);
      if (share_time)
        problems.push_back(fmt::format("'{}' and '{}' are live together and overlap", x.name, y.name));
    }
  return problems;
}

std::vector<std::string> check_order(const plan::Plan& p) {
  std::vector<std::string> problems;
  // Per root tensor and channel: 0 empty, 1 receiving contributions, 2 modified in place, 3 read.
  std::vector<std::vector<int>> state(p.tensors.size());
  for (size_t t = 0; t < p.tensors.size(); ++t) {
    const auto& x = p.tensors[t];
    if (x.view_of < 0) state[t].assign(x.layout == plan::Layout::nChw16c ? x.c : 1, 0);
  }
  const auto prefilled = [&](int32_t t) {
    return t == p.input || t == p.target || p.tensors[t].role == TensorRole::param;
  };
  const auto skip = [&](int32_t t) {
    const TensorRole r = p.tensors[t].role;
    return r == TensorRole::param_grad || r == TensorRole::adam_m || r == TensorRole::adam_v ||
           r == TensorRole::region;
  };
  const auto channels = [&](int32_t t, auto&& fn) {
    const Root r = root_of(p, t);
    const auto& x = p.tensors[t];
    const uint32_t c = x.layout == plan::Layout::nChw16c ? x.c : 1;
    for (uint32_t ch = r.first_channel; ch < r.first_channel + c; ++ch) fn(state[r.tensor][ch]);
  };
  for (const plan::Op* op : sequence(p)) {
    const auto access = graph::op_access(*op);
    const auto in = [&](const std::vector<int32_t>& v, int32_t t) {
      return std::find(v.begin(), v.end(), t) != v.end();
    };
    for (int32_t t : access.reads) {
      if (skip(t) || prefilled(t) || in(access.writes, t)) continue;
      channels(t, [&](int& s) {
        if (s == 0) problems.push_back(fmt::format("{} reads '{}' before it is written", op->label, p.tensors[t].name));
        s = 3;
      });
    }
    for (int32_t t : access.writes) {
      if (skip(t)) continue;
      const std::string& name = p.tensors[t].name;
      if (in(access.reads, t)) {  // in place: after every contribution, before any reader
        channels(t, [&](int& s) {
          if (s == 0 || s == 3)
            problems.push_back(fmt::format("{} modifies '{}' out of order", op->label, name));
          s = 2;
        });
        continue;
      }
      const bool accumulate = has_accumulate_attr(op->family) && op->i[kernels::kAttrAccumulate] != 0;
      channels(t, [&](int& s) {
        if (accumulate && s != 1)
          problems.push_back(fmt::format("{} adds to '{}' {}", op->label, name,
                                         s == 0 ? "before it holds anything" : "after it was used"));
        if (!accumulate && s != 0)
          problems.push_back(fmt::format("{} overwrites '{}' which already holds a value", op->label, name));
        s = 1;
      });
    }
    // A folded ReLU backward (relu_y given) ends its dx as an in-place relu_bwd would: no
    // contribution may follow.
    const int relu = kernels::relu_mask_slot(op->family);
    if (relu >= 0 && op->tensors[relu] >= 0) channels(op->tensors[relu - 1], [](int& s) { s = 2; });
  }
  return problems;
}

}  // namespace unet::test
