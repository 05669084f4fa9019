// The pieces of the event files: CRC32C's masking, the protobuf encoder, TensorFlow's
// histogram buckets, PNG encoding (read back with libpng), the plan's graph.
#include <gtest/gtest.h>
#include <png.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "base/crc32c.h"
#include "data/png_writer.h"
#include "data/protobuf_encoder.h"
#include "data/tensorboard_histogram.h"
#include "data/tfrecord_writer.h"
#include "plan/plan_validate.h"
#include "runtime/tensorboard_graph.h"
#include "runtime_fixtures.h"

namespace unet {
namespace {

TEST(TfRecord, FramingAndMaskedCrc) {
  std::string out;
  data::append_tfrecord(out, "hello");
  ASSERT_EQ(out.size(), 5 + data::kTfRecordOverhead);
  uint64_t length = 0;
  for (int k = 7; k >= 0; --k) length = length << 8 | static_cast<unsigned char>(out[static_cast<size_t>(k)]);
  EXPECT_EQ(length, 5u);
  auto u32_at = [&](size_t at) {
    uint32_t v = 0;
    for (int k = 3; k >= 0; --k) v = v << 8 | static_cast<unsigned char>(out[at + static_cast<size_t>(k)]);
    return v;
  };
  EXPECT_EQ(u32_at(8), data::masked_crc32c(out.data(), 8));
  EXPECT_EQ(out.substr(12, 5), "hello");
  EXPECT_EQ(data::unmask_crc32c(u32_at(17)), base::crc32c("hello", 5));
  // The mask: rotate right by 15, add 0xa282ead8.
  const uint32_t crc = base::crc32c("hello", 5);
  EXPECT_EQ(u32_at(17), ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
}

TEST(ProtoEncoder, WireFormat) {
  data::ProtoEncoder e;
  e.varint(1, 150);  // the protobuf documentation's example: 08 96 01
  EXPECT_EQ(e.str(), std::string("\x08\x96\x01", 3));
  data::ProtoEncoder neg;
  neg.int64(2, -1);  // sign-extended: tag then ten bytes
  EXPECT_EQ(neg.size(), 11u);
  EXPECT_EQ(static_cast<unsigned char>(neg.str()[0]), 0x10);
  EXPECT_EQ(static_cast<unsigned char>(neg.str()[10]), 0x01);
  data::ProtoEncoder f;
  f.float32(2, 1.0f);  // tag 0x15, then 00 00 80 3f
  EXPECT_EQ(f.str(), std::string("\x15\x00\x00\x80\x3f", 5));
  data::ProtoEncoder s, outer;
  s.bytes(1, "ab");
  outer.message(5, s);  // 2a 04 0a 02 'a' 'b'
  EXPECT_EQ(outer.str(), std::string("\x2a\x04\x0a\x02" "ab", 6));
  data::ProtoEncoder packed;
  const double two[] = {1.0, 2.0};
  packed.packed_float64(6, two);
  EXPECT_EQ(packed.size(), 2u + 16u);
  EXPECT_EQ(static_cast<unsigned char>(packed.str()[0]), 0x32);
  EXPECT_EQ(static_cast<unsigned char>(packed.str()[1]), 16);
}

TEST(Histogram, DefaultLimitsAreTensorFlows) {
  const auto limits = data::default_bucket_limits();
  std::vector<double> positive;
  for (double v = 1.0e-12; v < 1.0e20; v *= 1.1) positive.push_back(v);
  ASSERT_EQ(limits.size(), 2 * positive.size() + 3);
  EXPECT_EQ(limits.front(), -DBL_MAX);
  EXPECT_EQ(limits.back(), DBL_MAX);
  EXPECT_EQ(limits[positive.size() + 1], 0.0);
  EXPECT_EQ(limits[positive.size() + 2], 1.0e-12);
  for (size_t k = 0; k < positive.size(); ++k) {
    EXPECT_EQ(limits[positive.size() + 2 + k], positive[k]);
    EXPECT_EQ(limits[positive.size() - k], -positive[k]);
  }
  EXPECT_TRUE(std::is_sorted(limits.begin(), limits.end()));
}

// The table-driven bucket is std::upper_bound's answer for every float we could think of
// near a limit, and for many random ones of every exponent.
TEST(Histogram, BucketIsUpperBound) {
  const auto limits = data::default_bucket_limits();
  auto expect_bucket = [&](float v) {
    const size_t want = static_cast<size_t>(std::upper_bound(limits.begin(), limits.end(), double{v}) - limits.begin());
    ASSERT_EQ(data::default_bucket_of(v), want) << "value " << v << " bits " << std::bit_cast<uint32_t>(v);
  };
  std::vector<float> values = {0.0f, -0.0f, FLT_MIN, -FLT_MIN, FLT_MAX, -FLT_MAX, FLT_TRUE_MIN, -FLT_TRUE_MIN,
                               1.0f, -1.0f, 1e-12f, -1e-12f, 1e20f, -1e20f, 3e38f};
  for (double l : limits) {
    if (std::abs(l) > FLT_MAX) continue;
    const float f = static_cast<float>(l);
    for (float v : {f, std::nextafter(f, INFINITY), std::nextafter(f, -INFINITY)}) values.push_back(v);
  }
  std::mt19937 rng(11);
  for (int k = 0; k < 200000; ++k) {
    const uint32_t bits = static_cast<uint32_t>(rng());
    const float v = std::bit_cast<float>(bits);
    if (std::isfinite(v)) values.push_back(v);
  }
  std::normal_distribution<float> weights(0.f, 0.05f);
  for (int k = 0; k < 100000; ++k) values.push_back(weights(rng));
  for (float v : values) expect_bucket(v);
}

TEST(Histogram, SummaryCountsEveryFiniteValueAndCollapsesEmptyRuns) {
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.f, 0.1f);
  std::vector<float> v(10007);
  for (float& x : v) x = d(rng);
  v[5] = 0.f;
  v[6] = -0.f;
  v[7] = NAN;
  v[8] = INFINITY;
  data::Histogram h;
  h.add(v);
  EXPECT_EQ(h.count(), v.size() - 2);
  EXPECT_EQ(h.skipped(), 2u);
  const data::HistogramSummary s = h.summary();
  ASSERT_EQ(s.limits.size(), s.counts.size());
  EXPECT_EQ(std::accumulate(s.counts.begin(), s.counts.end(), 0.0), static_cast<double>(v.size() - 2));
  EXPECT_EQ(s.num, static_cast<double>(v.size() - 2));
  for (size_t k = 1; k < s.counts.size(); ++k) {
    EXPECT_LT(s.limits[k - 1], s.limits[k]);
    EXPECT_FALSE(s.counts[k - 1] == 0 && s.counts[k] == 0) << "two empty entries in a row at " << k;
  }
  EXPECT_EQ(s.limits.back(), DBL_MAX);
  double lo = DBL_MAX, hi = -DBL_MAX, sum = 0;
  for (float x : v)
    if (std::isfinite(x)) {
      lo = std::min(lo, double{x});
      hi = std::max(hi, double{x});
      sum += x;
    }
  EXPECT_EQ(s.min, lo);
  EXPECT_EQ(s.max, hi);
  EXPECT_NEAR(s.sum, sum, 1e-9);
  h.clear();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.summary().counts.size(), 1u);  // one empty run: the whole range
}

// libpng's reader, fed from memory: width, height, bit depth, colour type and pixels back.
struct Decoded {
  png_uint_32 width = 0, height = 0;
  int depth = 0, color = 0;
  std::vector<uint8_t> pixels;
};
Decoded decode_png(const std::string& bytes) {
  struct Source {
    const std::string* s;
    size_t at;
  } src{&bytes, 0};
  Decoded d;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    ADD_FAILURE() << "libpng could not read the image";
    return {};
  }
  png_set_read_fn(png, &src, [](png_structp p, png_bytep out, png_size_t n) {
    auto* s = static_cast<Source*>(png_get_io_ptr(p));
    if (s->at + n > s->s->size()) png_error(p, "read past the end");
    std::memcpy(out, s->s->data() + s->at, n);
    s->at += n;
  });
  png_read_info(png, info);
  d.width = png_get_image_width(png, info);
  d.height = png_get_image_height(png, info);
  d.depth = png_get_bit_depth(png, info);
  d.color = png_get_color_type(png, info);
  d.pixels.resize(static_cast<size_t>(d.width) * d.height);
  for (png_uint_32 y = 0; y < d.height; ++y) png_read_row(png, d.pixels.data() + y * d.width, nullptr);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return d;
}

TEST(Png, RoundTripsThroughLibpngsReader) {
  const uint32_t w = 37, h = 23;  // odd sizes: no row padding assumed
  std::vector<uint8_t> px(w * h);
  for (uint32_t k = 0; k < px.size(); ++k) px[k] = static_cast<uint8_t>(k * 7 + k / w);
  const std::string png = data::encode_png_gray8(px.data(), w, h);
  ASSERT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  const Decoded d = decode_png(png);
  EXPECT_EQ(d.width, w);
  EXPECT_EQ(d.height, h);
  EXPECT_EQ(d.depth, 8);
  EXPECT_EQ(d.color, PNG_COLOR_TYPE_GRAY);
  EXPECT_EQ(d.pixels, px);
  EXPECT_THROW(data::encode_png_gray8(px.data(), 0, h), std::runtime_error);
}

TEST(PlanGraph, KernelTile) {
  EXPECT_EQ(runtime::kernel_tile("conv2d_fwd_f32_3x3_wino2x2_oc32_avx512"), "3x3_wino2x2_oc32");
  EXPECT_EQ(runtime::kernel_tile("conv2d_fwd_f32_oc32x14w_avx512f"), "oc32x14w");
  EXPECT_EQ(runtime::kernel_tile("conv2d_bwd_data_f32_1x1_avx512_bf16"), "1x1");
  EXPECT_EQ(runtime::kernel_tile("maxpool2d_bwd_f32_zmm_avx512"), "zmm");
  EXPECT_EQ(runtime::kernel_tile("conv2d_fwd_f32_ref"), "");
  EXPECT_EQ(runtime::kernel_tile("something_else"), "");
}

// One node per op, named "<list>/<label>", whose inputs are nodes that exist and come before
// it; the forward ops are chained from the images to the loss.
TEST(PlanGraph, OneNodePerOpWithEdgesFromTheWriters) {
  for (bool fold : {true, false}) {
    const plan::Plan p = test::compile(test::kTinyModel, 2, true, kernels::Tier::scalar, fold, fold, fold);
    const std::vector<data::GraphNode> nodes = runtime::plan_graph(p);
    std::set<std::string> seen;
    for (const data::GraphNode& n : nodes) {
      for (const std::string& in : n.inputs) {
        const std::string src = in.substr(0, in.find(':'));
        EXPECT_TRUE(seen.count(src)) << n.name << " reads " << in << ", not a node before it";
      }
      EXPECT_TRUE(seen.insert(n.name).second) << "two nodes named " << n.name;
    }
    size_t ops = 0;
    for (const auto& [list, name] : {std::pair{&p.forward, "forward"}, std::pair{&p.backward, "backward"},
                                     std::pair{&p.update, "update"}})
      for (const plan::Op& op : *list) {
        ++ops;
        const auto it = std::find_if(nodes.begin(), nodes.end(),
                                     [&](const data::GraphNode& n) { return n.name == std::string(name) + "/" + op.label; });
        ASSERT_NE(it, nodes.end()) << name << "/" << op.label;
        EXPECT_EQ(it->op, kernels::family_name(op.family));
        EXPECT_FALSE(it->inputs.empty()) << it->name;
        const auto kernel = std::find_if(it->attrs.begin(), it->attrs.end(), [](auto& a) { return a.key == "kernel"; });
        ASSERT_NE(kernel, it->attrs.end());
        EXPECT_EQ(std::get<std::string>(kernel->value), op.kernel);
      }
    // The first forward op reads the images (a placeholder) and its weights (variables).
    const data::GraphNode& first = *std::find_if(nodes.begin(), nodes.end(), [&](const data::GraphNode& n) {
      return n.name == "forward/" + p.forward.front().label;
    });
    EXPECT_NE(std::find(first.inputs.begin(), first.inputs.end(), "data/images"), first.inputs.end());
    // Adam reads every gradient: its node has an edge from each bwd_weights op.
    size_t weight_grad_ops = 0;
    for (const plan::Op& op : p.backward)
      if (op.label.find("bwd_weights") != std::string::npos) ++weight_grad_ops;
    const data::GraphNode& adam = *std::find_if(nodes.begin(), nodes.end(), [](const data::GraphNode& n) {
      return n.name.rfind("update/", 0) == 0;
    });
    std::set<std::string> from_backward;  // dw and db are outputs 0 and 1 of one node
    for (const std::string& in : adam.inputs)
      if (in.rfind("backward/", 0) == 0) from_backward.insert(in.substr(0, in.find(':')));
    EXPECT_EQ(from_backward.size(), weight_grad_ops) << "fold " << fold;
    EXPECT_EQ(ops, p.forward.size() + p.backward.size() + p.update.size());
  }
}

}  // namespace
}  // namespace unet
