#include "runtime_fixtures.h"

#include <unistd.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "data/npy.h"
#include "graph/lower.h"
#include "kernels/counter_rng.h"

namespace unet::test {

const char* const kTinyModel = R"(model tiny
seed 7
input images shape 16x16x2
target masks shape 16x16x1
c1 = conv(images, filters=16, kernel=3, activation=relu, init=he_uniform)
p1 = maxpool(c1, size=2)
c2 = conv(p1, filters=32, kernel=3, activation=relu, init=he_uniform)
d2 = dropout(c2, rate=0.2)
t3 = conv_transpose(d2, filters=16, kernel=2, stride=2)
u3 = concat(t3, c1)
c3 = conv(u3, filters=16, kernel=3, activation=relu, init=he_uniform)
pred = conv(c3, filters=1, kernel=1, activation=sigmoid)
loss = dice_loss(pred, masks, smooth=1.0)
optimizer adam(learning_rate=0.002, beta1=0.9, beta2=0.999, epsilon=1e-8, decay_steps=350, lr_fraction=0.2)
)";

plan::Plan compile(const std::string& model_text, uint32_t batch, bool training, kernels::Tier tier,
                   bool fold_relu_backward, bool fold_max_pools, bool fold_dropouts) {
  const graph::Graph g = graph::parse_model(model_text, "tiny.def");
  graph::LowerOptions o;
  o.batch = batch;
  o.training = training;
  o.tier = tier;
  o.fold_relu_backward = fold_relu_backward;
  o.fold_max_pools = fold_max_pools;
  o.fold_dropouts = fold_dropouts;
  return graph::lower_to_plan(g, o);
}

void write_dataset(const std::string& dir, const std::string& split, int n, int h, int w, uint64_t seed) {
  std::filesystem::create_directories(dir);
  std::vector<float> imgs(static_cast<size_t>(n) * h * w * 4), msks(static_cast<size_t>(n) * h * w * 4, 0.f);
  uint64_t counter = 0;
  auto uniform = [&] { return kernels::counter_uniform(seed, 0, 0, counter++); };
  for (int i = 0; i < n; ++i) {
    const int size = 3 + static_cast<int>(uniform() * (h / 3));
    const int y0 = static_cast<int>(uniform() * (h - size)), x0 = static_cast<int>(uniform() * (w - size));
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const bool lesion = y >= y0 && y < y0 + size && x >= x0 && x < x0 + size;
        const size_t px = ((static_cast<size_t>(i) * h + y) * w + x) * 4;
        for (int c = 0; c < 4; ++c) imgs[px + c] = 0.3f * uniform() + ((lesion && (c == 2 || c == 3)) ? 1.5f : 0.f);
        msks[px + (lesion ? 2 : 0)] = 1.f;
      }
  }
  data::write_npy_f32(dir + "/imgs_" + split + ".npy", {size_t(n), size_t(h), size_t(w), 4}, imgs.data());
  data::write_npy_f32(dir + "/msks_" + split + ".npy", {size_t(n), size_t(h), size_t(w), 4}, msks.data());
}

std::string temp_dir(const std::string& name) {
  // ctest runs each test in its own process, in parallel: the pid keeps their folders apart.
  const auto dir = std::filesystem::temp_directory_path() / ("unet_test_" + name + "_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::pair<int, std::string> run(const std::string& command) {
  std::string out;
  std::FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed"};
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

}  // namespace unet::test
