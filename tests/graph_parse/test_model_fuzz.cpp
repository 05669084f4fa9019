// Random damage to the shipped model text: it parses or throws ModelError, never anything else.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "graph/graph_ir.h"

namespace unet::graph {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// One to three edits: delete, duplicate or swap characters, or drop in a random byte.
std::string mutate(std::string text, std::mt19937& rng) {
  std::uniform_int_distribution<int> edits(1, 3), kind(0, 3), byte(0, 255);
  for (int e = edits(rng); e > 0 && !text.empty(); --e) {
    std::uniform_int_distribution<size_t> at(0, text.size() - 1);
    const size_t i = at(rng);
    switch (kind(rng)) {
      case 0:
        text.erase(i, 1);
        break;
      case 1:
        text.insert(i, 1, text[i]);
        break;
      case 2:
        std::swap(text[i], text[(i + 1) % text.size()]);
        break;
      default:
        text[i] = static_cast<char>(byte(rng));
        break;
    }
  }
  return text;
}

TEST(ModelDefFuzz, MutatedShippedModelsParseOrFailCleanly) {
  const std::string models = std::string(UNET_SOURCE_DIR) + "/models/";
  const std::string originals[] = {read_text(models + "unet_brats.def"),
                                   read_text(models + "unet_brats_upsampling.def")};
  ASSERT_FALSE(originals[0].empty());
  ASSERT_FALSE(originals[1].empty());
  std::mt19937 rng(20240611);
  int parsed = 0, rejected = 0;
  for (int iteration = 0; iteration < 3000; ++iteration) {
    const std::string text = mutate(originals[iteration % 2], rng);
    try {
      const Graph g = parse_model(text, "fuzz.def");
      ASSERT_GE(g.loss, 0);
      for (const Node& n : g.nodes) ASSERT_TRUE(n.c >= 1 && n.h >= 1 && n.w >= 1) << n.name;
      ++parsed;
    } catch (const ModelError& e) {
      const std::string message = e.what();
      ASSERT_EQ(message.rfind("fuzz.def:", 0), 0u) << message;
      ASSERT_EQ(message.find('\n'), std::string::npos) << message;
      ++rejected;
    }
  }
  // Both outcomes occur: edits inside comments or spacing keep the model valid.
  EXPECT_GT(parsed, 0);
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace unet::graph
