// One parameter-server task of a synchronous distributed run (unetrun --ps): it holds its
// shard of the weights and Adam moments, sums each parameter's gradients from every worker
// in worker-index order (so arrival order never shows in the result), applies Adam with the
// plan's kernel as soon as a parameter's last gradient is in, and answers the workers' pulls
// with the new values. Task 0 also sums the workers' Dice partials in global image order and
// returns the global batch's sums. docs/distributed.md gives the message sequence.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "plan/plan.h"
#include "runtime/cluster.h"

namespace unet::runtime {

struct PsOptions {
  ClusterSpec cluster;
  TrainConfig train;
  size_t task_index = 0;
  bool insecure = false;         // allow an empty token on an address other than loopback
  std::string resume;            // checkpoint to continue from: weights, moments, global step
  std::string init_checkpoint;   // weights to start from
  // A lone parameter server writes the checkpoint of the last completed step here when a
  // worker fails ("" = none).
  std::string checkpoint_dir;
  int numa_node = -1;
  size_t update_threads = 2;  // threads summing and applying Adam beside the connections' readers
};

class ParameterServer {
 public:
  using Log = std::function<void(const std::string&)>;
  // Binds its address (cluster.ps_hosts[task_index]; port 0 picks a free one, see port()) and
  // prepares the state: initial weights, or the checkpoint's.
  ParameterServer(plan::Plan plan, PsOptions options, Log log);
  ~ParameterServer();
  uint16_t port() const;
  uint64_t global_step() const;  // the shard's lowest parameter version: updates completed
  // Serves until every worker has said done. A worker that fails (its connection lost or
  // silent past --peer_timeout, or a frame that breaks the protocol) stops the run: the
  // others get an abort, a lone PS writes the checkpoint of the last completed step, and
  // RuntimeError names the worker.
  void serve();
  // Makes serve() return (tests).
  void stop();
  const plan::Plan& plan() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace unet::runtime
