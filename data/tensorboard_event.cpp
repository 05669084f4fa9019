#include "data/tensorboard_event.h"

namespace unet::data {
namespace {

// Field numbers, named as the .proto files name the fields.
namespace event {
constexpr uint32_t wall_time = 1, step = 2, file_version = 3, graph_def = 4, summary = 5;
}
namespace summary {
constexpr uint32_t value = 1;
}
namespace value {
constexpr uint32_t tag = 1, simple_value = 2, image = 4, histo = 5;
}
namespace image {
constexpr uint32_t height = 1, width = 2, colorspace = 3, encoded_image_string = 4;
}
namespace histo {
constexpr uint32_t min = 1, max = 2, num = 3, sum = 4, sum_squares = 5, bucket_limit = 6, bucket = 7;
}
namespace graph {
constexpr uint32_t node = 1;
}
namespace node {
constexpr uint32_t name = 1, op = 2, input = 3, device = 4, attr = 5;
}
namespace map_entry {
constexpr uint32_t key = 1, value = 2;
}
namespace attr {
constexpr uint32_t list = 1, s = 2, i = 3, f = 4, b = 5;
}
namespace attr_list {
constexpr uint32_t shape = 7;
}
namespace shape {
constexpr uint32_t dim = 2;
}
namespace dim {
constexpr uint32_t size = 1;
}

std::string event_with(double wall_time, int64_t step, uint32_t field, std::string_view payload) {
  ProtoEncoder e;
  e.float64(event::wall_time, wall_time);
  e.int64(event::step, step);
  e.bytes(field, payload);
  return e.take();
}

ProtoEncoder attr_value(const GraphAttr& a) {
  ProtoEncoder v;
  struct Visit {
    ProtoEncoder& v;
    void operator()(const std::string& s) { v.bytes(attr::s, s); }
    void operator()(int64_t i) { v.int64(attr::i, i); }
    void operator()(float f) { v.float32(attr::f, f); }
    void operator()(bool b) { v.boolean(attr::b, b); }
    void operator()(const std::vector<Shape>& shapes) {
      ProtoEncoder list;
      for (const Shape& s : shapes) {
        ProtoEncoder shape_proto;
        for (int64_t d : s) {
          ProtoEncoder dim_proto;
          dim_proto.int64(dim::size, d);
          shape_proto.message(shape::dim, dim_proto);
        }
        list.message(attr_list::shape, shape_proto);
      }
      v.message(attr::list, list);
    }
  };
  std::visit(Visit{v}, a.value);
  return v;
}

}  // namespace

std::string file_version_event(double wall_time) {
  return event_with(wall_time, 0, event::file_version, kEventFileVersion);
}

void SummaryEvent::scalar(std::string_view tag, float v) {
  ProtoEncoder e;
  e.bytes(value::tag, tag);
  e.float32(value::simple_value, v);
  summary_.message(summary::value, e);
  ++values_;
}

void SummaryEvent::image(std::string_view tag, uint32_t height, uint32_t width, int colorspace,
                         std::string_view encoded_png) {
  ProtoEncoder img;
  img.varint(image::height, height);
  img.varint(image::width, width);
  img.varint(image::colorspace, static_cast<uint64_t>(colorspace));
  img.bytes(image::encoded_image_string, encoded_png);
  ProtoEncoder e;
  e.bytes(value::tag, tag);
  e.message(value::image, img);
  summary_.message(summary::value, e);
  ++values_;
}

void SummaryEvent::histogram(std::string_view tag, const HistogramSummary& h) {
  ProtoEncoder hp;
  hp.float64(histo::min, h.min);
  hp.float64(histo::max, h.max);
  hp.float64(histo::num, h.num);
  hp.float64(histo::sum, h.sum);
  hp.float64(histo::sum_squares, h.sum_squares);
  hp.packed_float64(histo::bucket_limit, h.limits);
  hp.packed_float64(histo::bucket, h.counts);
  ProtoEncoder e;
  e.bytes(value::tag, tag);
  e.message(value::histo, hp);
  summary_.message(summary::value, e);
  ++values_;
}

std::string SummaryEvent::encode(double wall_time, int64_t step) const {
  return event_with(wall_time, step, event::summary, summary_.str());
}

std::string encode_graph_def(std::span<const GraphNode> nodes) {
  ProtoEncoder g;
  for (const GraphNode& n : nodes) {
    ProtoEncoder nd;
    nd.bytes(node::name, n.name);
    nd.bytes(node::op, n.op);
    for (const std::string& in : n.inputs) nd.bytes(node::input, in);
    if (!n.device.empty()) nd.bytes(node::device, n.device);
    for (const GraphAttr& a : n.attrs) {  // map<string, AttrValue>: repeated {key = 1, value = 2}
      ProtoEncoder entry;
      entry.bytes(map_entry::key, a.key);
      entry.message(map_entry::value, attr_value(a));
      nd.message(node::attr, entry);
    }
    g.message(graph::node, nd);
  }
  return g.take();
}

std::string graph_event(double wall_time, std::span<const GraphNode> nodes) {
  return event_with(wall_time, 0, event::graph_def, encode_graph_def(nodes));
}

}  // namespace unet::data
