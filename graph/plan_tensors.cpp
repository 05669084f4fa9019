#include "graph/plan_tensors.h"

#include <stdexcept>
#include <utility>

#include "kernels/tensor_arg.h"

namespace unet::graph {

using plan::Layout;

uint64_t layout_bytes(Layout layout, uint32_t n, uint32_t c, uint32_t h, uint32_t w) {
  const uint64_t f = sizeof(float);
  switch (layout) {
    case Layout::nChw16c:
      return uint64_t{n} * kernels::padded_channels(static_cast<int>(c)) * h * w * f;
    case Layout::nhw:
      return uint64_t{n} * h * w * f;
    case Layout::flat:
      return uint64_t{w} * f;
    case Layout::oihw16i16o:  // n = Co, c = Ci
      return uint64_t(kernels::padded_channels(static_cast<int>(n))) *
             kernels::padded_channels(static_cast<int>(c)) * h * w * f;
  }
  throw std::logic_error("layout_bytes: unknown layout");
}

int32_t add_tensor(plan::Plan& plan, std::string name, plan::TensorRole role, Layout layout,
                   uint32_t n, uint32_t c, uint32_t h, uint32_t w) {
  plan::Tensor t;
  t.name = std::move(name);
  t.role = role;
  t.layout = layout;
  t.n = n;
  t.c = c;
  t.h = h;
  t.w = w;
  t.bytes = layout_bytes(layout, n, c, h, w);
  plan.tensors.push_back(std::move(t));
  return static_cast<int32_t>(plan.tensors.size() - 1);
}

void make_channel_view(plan::Plan& plan, int32_t tensor, int32_t base, uint32_t channel_offset) {
  // A view always names the tensor that owns the memory, never another view.
  uint32_t base_offset = 0;
  base = view_root(plan, base, &base_offset);
  channel_offset += base_offset;
  const plan::Tensor& b = plan.tensors[base];
  plan::Tensor& t = plan.tensors[tensor];
  if (channel_offset % kernels::kBlock != 0 || t.layout != Layout::nChw16c ||
      b.layout != Layout::nChw16c || t.n != b.n || t.h != b.h || t.w != b.w ||
      channel_offset + t.c > b.c)
    throw std::logic_error("make_channel_view: '" + t.name + "' does not fit in '" + b.name + "'");
  t.view_of = base;
  t.channel_offset = channel_offset;
  const uint64_t image_floats = uint64_t(kernels::padded_channels(static_cast<int>(b.c))) * b.h * b.w;
  const uint64_t slice_floats = uint64_t(kernels::padded_channels(static_cast<int>(t.c))) * t.h * t.w;
  t.bytes = ((uint64_t{t.n} - 1) * image_floats + slice_floats) * sizeof(float);
}

int32_t add_channel_view(plan::Plan& plan, std::string name, int32_t base, uint32_t channel_offset,
                         uint32_t c) {
  const plan::Tensor b = plan.tensors[base];
  const int32_t id = add_tensor(plan, std::move(name), b.role, Layout::nChw16c, b.n, c, b.h, b.w);
  make_channel_view(plan, id, base, channel_offset);
  return id;
}

int32_t view_root(const plan::Plan& plan, int32_t tensor, uint32_t* channel_offset) {
  uint32_t offset = 0;
  // A chain longer than the tensor count is a cycle: refuse rather than loop.
  for (size_t steps = 0; plan.tensors[tensor].view_of >= 0; ++steps) {
    if (steps > plan.tensors.size()) throw std::logic_error("view_root: cycle of views");
    offset += plan.tensors[tensor].channel_offset;
    tensor = plan.tensors[tensor].view_of;
  }
  if (channel_offset) *channel_offset = offset;
  return tensor;
}

void remove_tensor(plan::Plan& plan, int32_t tensor) {
  auto renumber = [&](int32_t& id, const char* what) {
    if (id == tensor) throw std::logic_error("remove_tensor: '" + plan.tensors.at(tensor).name + "' is still " + what);
    if (id > tensor) --id;
  };
  for (auto* list : {&plan.forward, &plan.backward, &plan.update})
    for (plan::Op& op : *list)
      for (int32_t& id : op.tensors) renumber(id, ("used by " + op.label).c_str());
  for (plan::Param& p : plan.params)
    for (int32_t* id : {&p.value, &p.grad, &p.adam_m, &p.adam_v}) renumber(*id, "a parameter's");
  for (plan::Tensor& t : plan.tensors) renumber(t.view_of, "viewed");
  for (int32_t* id : {&plan.input, &plan.target, &plan.prediction, &plan.loss_partials}) renumber(*id, "a plan field");
  plan.tensors.erase(plan.tensors.begin() + tensor);
}

}  // namespace unet::graph
