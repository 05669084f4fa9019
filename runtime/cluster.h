// A distributed run's shape, as every process of it is told on its command line: the
// parameter-server tasks and the workers, the cluster token, how long a silent peer is given,
// and which loss the workers' gradients belong to. Every process derives the same sharding and
// the same configuration digest from it (the handshake refuses a peer whose digest differs).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "net/endpoint.h"
#include "plan/plan.h"
#include "runtime/train_step.h"

namespace unet::runtime {

enum class LossScope {
  global,  // -log Dice over the global batch: the gradient of one process on the whole batch
  worker,  // the original system's: each worker's own Dice, the workers' gradients averaged
};

struct ClusterSpec {
  std::vector<net::Endpoint> ps_hosts, worker_hosts;
  std::string token;  // "" only on loopback or with --insecure
  std::chrono::milliseconds peer_timeout{30000};
  LossScope loss_scope = LossScope::global;
  size_t workers() const { return worker_hosts.size(); }
  size_t ps_tasks() const { return ps_hosts.size(); }
};

// What must agree across the cluster besides the plan: a digest of the global batch, the
// worker and PS counts, the loss scope, the learning-rate schedule, the data order and length.
struct TrainConfig {
  int64_t batch_size = 0;
  LearningRate lr;
  uint64_t seed = 0;
  bool shuffle = true;
  int epochs = 0;
  int64_t max_steps = -1;
};
uint64_t config_digest(const ClusterSpec& c, const TrainConfig& t);

// PS task of each parameter (by plan.params index): largest first, each to the task holding
// the fewest bytes so far (ties: the lower task), so every process computes the same split.
std::vector<uint32_t> shard_params(const plan::Plan& plan, size_t ps_tasks);

// The tensor id a parameter travels under is its index in plan.params; these are its bytes.
inline uint64_t param_bytes(const plan::Plan& plan, size_t k) { return plan.tensors[plan.params[k].value].bytes; }

}  // namespace unet::runtime
