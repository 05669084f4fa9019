// TensorBoard's Event protocol buffers, encoded by hand (data/protobuf_encoder.h) with the
// field numbers of TensorBoard's event.proto, summary.proto, histogram.proto, graph.proto,
// node_def.proto, attr_value.proto and tensor_shape.proto. tests/tensorboard/events.proto
// declares the same subset, and the tests decode what is written here with it (libprotobuf's
// Python reader): the independent check that these numbers and wire types are right.
//
// Each function returns one serialized Event, ready for a TfRecordWriter.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "data/protobuf_encoder.h"
#include "data/tensorboard_histogram.h"

namespace unet::data {

// The first record of every event file (TensorFlow's writers say the same).
inline constexpr std::string_view kEventFileVersion = "brain.Event:2";
std::string file_version_event(double wall_time);

// Summary.Image.colorspace values.
inline constexpr int kGrayscale = 1;

// One Event whose Summary holds several values of one step.
class SummaryEvent {
 public:
  void scalar(std::string_view tag, float value);
  void image(std::string_view tag, uint32_t height, uint32_t width, int colorspace, std::string_view encoded_png);
  void histogram(std::string_view tag, const HistogramSummary& h);
  size_t values() const { return values_; }
  std::string encode(double wall_time, int64_t step) const;

 private:
  ProtoEncoder summary_;
  size_t values_ = 0;
};

// A GraphDef for the Graphs tab: nodes, their inputs ("node" or "node:k" for output k) and
// attributes. An attribute holds a string, an int, a float, a bool or a list of shapes
// (`_output_shapes`, which TensorBoard writes beside the edges).
using Shape = std::vector<int64_t>;
struct GraphAttr {
  std::string key;
  std::variant<std::string, int64_t, float, bool, std::vector<Shape>> value;
};
struct GraphNode {
  std::string name, op;
  std::vector<std::string> inputs;
  std::string device;
  std::vector<GraphAttr> attrs;
};
std::string encode_graph_def(std::span<const GraphNode> nodes);
std::string graph_event(double wall_time, std::span<const GraphNode> nodes);

}  // namespace unet::data
