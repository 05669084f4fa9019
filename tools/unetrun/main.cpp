// unetrun: train a compiled plan (standalone, or as a parameter server or worker of a
// distributed run), or run inference with a checkpoint.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <optional>

#include <unistd.h>

#include "tools/finite_flag.h"
#include "net/endpoint.h"
#include "net/handshake.h"
#include "runtime/checkpoint.h"
#include "runtime/cluster.h"
#include "runtime/cluster_file.h"
#include "runtime/dataset.h"
#include "runtime/engine.h"
#include "runtime/inference.h"
#include "runtime/parameter_server.h"
#include "runtime/param_init.h"
#include "runtime/remote_exchange.h"
#include "runtime/runtime_error.h"
#include "runtime/tensorboard_sink.h"
#include "runtime/trace_writer.h"
#include "runtime/trainer.h"

using namespace unet::runtime;

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_stop_signal(int sig) {
  if (g_stop) {  // the second: out now, the last periodic checkpoint stays the newest
    constexpr char kLine[] = "unetrun: second signal, exiting at once\n";
    [[maybe_unused]] const ssize_t n = write(2, kLine, sizeof kLine - 1);
    _exit(128 + sig);
  }
  g_stop = sig;
}
// The exit status of a run a signal stopped, as a shell reports one the signal killed.
int stopped_status(const TrainSummary& s) { return s.stopped ? 128 + static_cast<int>(g_stop) : 0; }
// SIGINT / SIGTERM: finish the step, write the final checkpoint, exit 128 + the signal
// (standalone and the chief; the chief's end then ends every other worker's run). A second
// signal exits at once.
void stop_cleanly_on_signals(TrainOptions& train) {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  train.stop = &g_stop;
}
// --trace: a recorder of the engine's ops over the --trace_steps window (standalone, the chief).
TraceRecorder* trace_of(std::optional<TraceRecorder>& slot, const std::string& path, const std::string& steps,
                        Engine& engine) {
  if (path.empty()) return nullptr;
  std::optional<StepRange> window;
  if (!steps.empty()) window = parse_step_range(steps);
  return &slot.emplace(path, engine.threads().size(), window, engine.plan());
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"unetrun: train the BraTS UNet from a compiled plan, or run inference"};
  std::string plan_path;
  TrainOptions train;
  EngineOptions engine_opts;
  std::string channels, log_path = "training.log", checkpoint, out_dir = ".";
  bool infer = false, no_shuffle = false, resume = false, no_pin = false;
  float learningrate = -1, lr_fraction = -1;
  int64_t decay_steps = -1;
  int num_inter_threads = 2;
  bool as_ps = false, as_worker = false, insecure = false;
  size_t task_index = 0;
  std::string ps_hosts, worker_hosts, token_file, loss_scope = "global", cluster_file;
  double peer_timeout = 30;
  TensorBoardOptions tensorboard;
  bool no_tensorboard = false;
  train.data_dir = "data/slices";
  train.checkpoint_dir = "checkpoints";

  app.add_option("plan", plan_path, "plan.bin compiled by unetc")->required();
  app.add_option("--data", train.data_dir, "folder with imgs_/msks_{train,test}.npy")->capture_default_str();
  app.add_option("--epochs", train.epochs, "epochs to train")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--batch_size", train.batch_size, "global batch (a multiple of the plan's micro-batch)")
      ->capture_default_str();
  app.add_option("--max_steps", train.max_steps, "stop after this global step");
  app.add_option("--mode", train.selection.mode, "1: FLAIR->whole tumour, 2: T1ce->enhancing, 3: T2->core")
      ->capture_default_str()->check(CLI::Range(1, 3));
  app.add_option("--channels", channels, "input modalities, e.g. flair,t1ce or all (must match the plan)");
  app.add_option("--seed", train.seed, "data order seed")->capture_default_str();
  app.add_flag("--no_shuffle", no_shuffle, "keep the file order");
  app.add_option("--learningrate", learningrate, "initial learning rate (default: the model's, 0.0005)")
      ->check(unet::tools::finite_number());
  app.add_option("--decay_steps", decay_steps, "learning-rate decay period (default: the model's, 350)");
  app.add_option("--lr_fraction", lr_fraction, "decay factor per decay_steps (default: the model's, 0.2)")
      ->check(unet::tools::finite_number());
  app.add_flag("--const_learningrate", train.lr.constant, "no decay");
  app.add_option("--num_threads", engine_opts.threads.num_threads, "compute threads (default: cores - 2)");
  app.add_option("--num_inter_threads", num_inter_threads, "threads beside the compute (data, network)")
      ->capture_default_str();
  app.add_option("--blocktime", engine_opts.threads.blocktime_ms, "ms idle threads spin after an op before sleeping")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--numa_node", engine_opts.numa_node, "prefer memory on this NUMA node (as numactl -p)");
  app.add_flag("--no_pin", no_pin, "do not bind compute threads to cores");
  double max_arena_gb = 0;
  app.add_option("--max_arena_gb", max_arena_gb, "largest plan arena to map, GB (default: this host's memory)")
      ->check(unet::tools::finite_number() & CLI::NonNegativeNumber);
  app.add_option("--checkpoint_dir", train.checkpoint_dir, "where checkpoints go")->capture_default_str();
  app.add_option("--save_secs", train.save_secs, "seconds between checkpoints")
      ->capture_default_str()->check(unet::tools::finite_number() & CLI::NonNegativeNumber);
  app.add_option("--keep_checkpoints", train.keep_checkpoints, "newest checkpoints kept in --checkpoint_dir (0: all)")
      ->capture_default_str();
  app.add_flag("--resume", resume, "continue from <checkpoint_dir>/latest.npz");
  app.add_option("--init_checkpoint", train.init_checkpoint, "start from these weights (.npz)");
  app.add_option("--log", log_path, "training log (appended)")->capture_default_str();
  app.add_flag("--profile", train.profile, "log each step's time, the part blocked on the network, bytes moved");
  // TensorBoard: standalone runs and the chief write; --infer and the parameter servers take
  // the flags (unetlaunch gives every process the same ones) and write nothing.
  app.add_option("--logdir", tensorboard.logdir, "folder for the TensorBoard event file")->capture_default_str();
  app.add_flag("--no_tensorboard", no_tensorboard, "write no TensorBoard event file");
  app.add_option("--image_steps", tensorboard.image_steps,
                 "steps between TensorBoard images: input, ground truth, prediction (0: none)")
      ->capture_default_str();
  app.add_option("--histogram_steps", tensorboard.histogram_steps,
                 "steps between histograms of every weight and gradient (0: none)")
      ->capture_default_str();
  // The op timeline: standalone runs and the chief write it; --infer, the parameter servers and
  // the other workers take the flags and write nothing.
  std::string trace_path, trace_steps;
  auto* trace_flag = app.add_option("--trace", trace_path, "write the traced steps' ops, per thread, as a Chrome "
                                                           "trace (FILE.json: chrome://tracing, Perfetto)");
  app.add_option("--trace_steps", trace_steps, "global steps A:B (or N) to --trace (default: the run's 2nd and 3rd, "
                                               "past the warm-up)")
      ->needs(trace_flag)
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            try {
              parse_step_range(text, "");
            } catch (const RuntimeError& e) {
              return e.what();
            }
            return {};
          },
          "A:B"));
  app.add_flag("--infer", infer, "inference on the test set: write msks_test_predictions.npy and the Dice");
  app.add_option("--checkpoint", checkpoint, "weights for --infer (.npz)");
  app.add_option("--out", out_dir, "folder for msks_test_predictions.npy (--infer)")->capture_default_str();
  InferOptions view;  // --infer's pictures for people (runtime/inference.h)
  CLI::Option* infer_flag = app.get_option("--infer");
  app.add_option("--png_dir", view.png_dir, "--infer: overlay PNGs of the best, median and worst test slices")
      ->needs(infer_flag);
  app.add_option("--report", view.report_path, "--infer: a self-contained HTML page: Dice per subject and slice, "
                                               "the training curves of --log, the overlays")
      ->needs(infer_flag);
  app.add_option("--subject", view.subject, "--infer: also overlay every slice of this test subject (manifest.json)")
      ->needs(infer_flag);
  app.add_option("--cluster", cluster_file, "cluster file (docs/cluster.md): hosts, token, paths; the role from "
                                            "--ps/--worker, else the launcher's rank (SLURM_PROCID, OMPI_COMM_WORLD_RANK, "
                                            "PMI_RANK)");
  auto* ps_flag = app.add_flag("--ps", as_ps, "serve as a parameter server of a distributed run");
  app.add_flag("--worker", as_worker, "train as a worker of a distributed run")->excludes(ps_flag);
  app.add_option("--task_index", task_index, "this process's index among the PS tasks or the workers")
      ->capture_default_str();
  app.add_option("--ps_hosts", ps_hosts, "parameter servers, host:port,... (the same list on every process)");
  app.add_option("--worker_hosts", worker_hosts, "workers, host:port,... (the same list on every process)");
  app.add_option("--token_file", token_file, "cluster token (a file only its owner reads; else UNET_CLUSTER_TOKEN)");
  app.add_flag("--insecure", insecure, "let a PS on an address other than loopback run without a token");
  app.add_option("--peer_timeout", peer_timeout, "seconds a silent peer is given before the run stops")
      ->capture_default_str()->check(unet::tools::finite_number() & CLI::Range(0.05, 86400.0));
  app.add_option("--loss_scope", loss_scope, "global: -log Dice of the global batch; worker: each worker's own, "
                                             "gradients averaged (the original system's)")
      ->capture_default_str()->check(CLI::IsMember({"global", "worker"}));
  app.failure_message([](const CLI::App*, const CLI::Error& e) { return "unetrun: " + std::string(e.what()) + "\n"; });
  CLI11_PARSE(app, argc, argv);

  try {
    // --cluster FILE: the hosts, token and paths from the file; the role from --ps / --worker
    // and --task_index, or else from the launcher's rank (srun, mpirun). Flags win over it.
    std::vector<unet::net::Endpoint> ps_endpoints, worker_endpoints;
    std::string rank_note;
    if (!cluster_file.empty()) {
      if (app.count("--ps_hosts") || app.count("--worker_hosts"))
        throw RuntimeError("--cluster gives the hosts: drop --ps_hosts / --worker_hosts");
      ClusterFile file = read_cluster_file(cluster_file);
      hosts_from_environment(file);
      if (!as_ps && !as_worker) {
        const Rank rank = rank_from_environment(file);
        as_ps = rank.ps;
        as_worker = !rank.ps;
        task_index = rank.task_index;
        rank_note = rank.str();
      }
      const std::vector<HostEntry>& mine = as_ps ? file.ps : file.workers;
      if (task_index >= mine.size())
        throw RuntimeError(fmt::format("{}: --task_index {} is out of range: it lists {} {}", cluster_file, task_index,
                                       mine.size(), as_ps ? "parameter servers" : "workers"));
      const HostEntry& me = mine[task_index];
      if (!app.count("--data") && !file.data_dir.empty()) train.data_dir = file.data_dir;
      if (!app.count("--checkpoint_dir") && !file.checkpoint_dir.empty()) train.checkpoint_dir = file.checkpoint_dir;
      if (!app.count("--token_file") && !file.token_file.empty()) token_file = file.token_file;
      if (!app.count("--peer_timeout") && file.peer_timeout > 0) peer_timeout = file.peer_timeout;
      if (!app.count("--loss_scope") && !file.loss_scope.empty()) loss_scope = file.loss_scope;
      if (!app.count("--numa_node") && me.numa_node >= 0) engine_opts.numa_node = me.numa_node;
      if (!app.count("--num_threads") && me.threads > 0) engine_opts.threads.num_threads = me.threads;
      ps_endpoints = endpoints(file.ps);
      worker_endpoints = endpoints(file.workers);
    } else if (as_ps || as_worker) {
      ps_endpoints = unet::net::parse_host_list(ps_hosts, "--ps_hosts");
      worker_endpoints = unet::net::parse_host_list(worker_hosts, "--worker_hosts");
    }
    engine_opts.threads.pin = !no_pin;
    engine_opts.plan_path = plan_path;
    engine_opts.max_arena_bytes = static_cast<uint64_t>(max_arena_gb * 1e9);
    if (!channels.empty()) train.selection.channels = parse_channels(channels);
    train.shuffle = !no_shuffle;
    train.inter_threads = num_inter_threads;

    if (infer && (as_ps || as_worker)) throw RuntimeError("--infer runs standalone: drop --ps / --worker");
    // A parameter server needs the plan's layout and kernels, not an engine (threads, arena).
    unet::plan::Plan loaded = load_plan(plan_path);
    std::optional<Engine> engine_slot;
    if (!as_ps) engine_slot.emplace(std::move(loaded), engine_opts);
    const unet::plan::Plan& plan = engine_slot ? engine_slot->plan() : loaded;

    if (infer) {
      Engine& engine = *engine_slot;
      if (checkpoint.empty()) throw RuntimeError("--infer needs --checkpoint FILE.npz");
      load_checkpoint(checkpoint, plan, engine.arena(), CheckpointUse::init_weights);
      view.data_dir = train.data_dir;
      view.selection = train.selection;
      view.out_dir = out_dir;
      view.log_path = log_path;
      view.plan_path = plan_path;
      view.checkpoint_path = checkpoint;
      const InferResult r = run_inference(engine, view, [](const std::string& line) { fmt::print("{}\n", line); });
      fmt::print("Test Dice Coef = {:.3f}\n", r.dice);
      return 0;
    }

    train.lr.initial = learningrate > 0 ? learningrate : plan.optimizer.learning_rate;
    train.lr.decay_steps = decay_steps > 0 ? static_cast<uint32_t>(decay_steps) : plan.optimizer.decay_steps;
    train.lr.fraction = lr_fraction > 0 ? lr_fraction : plan.optimizer.lr_fraction;
    if (resume && !as_worker) {  // a worker's weights and step come from the parameter servers
      train.resume = (std::filesystem::path(train.checkpoint_dir) / "latest.npz").string();
      if (!std::filesystem::exists(train.resume))
        throw RuntimeError(fmt::format("--resume: {} does not exist", train.resume));
    }
    if (!as_ps && !as_worker) {
      Engine& engine = *engine_slot;
      stop_cleanly_on_signals(train);
      TrainingLog log(log_path);
      log.set_live(isatty(STDOUT_FILENO) != 0);  // a terminal: one live line an epoch
      std::optional<TraceRecorder> trace;
      train.trace = trace_of(trace, trace_path, trace_steps, engine);
      std::optional<TensorBoardSink> events;
      Trainer trainer(engine, train, log);
      if (!no_tensorboard) {
        tensorboard.input_channel = first_channel_name(train.selection);
        trainer.add_sink(events.emplace(engine, tensorboard));
      }
      log.line(fmt::format("unetrun: {} ({}, tier {}, micro-batch {}), {} threads, data {}", plan_path,
                           plan.model_name, unet::kernels::tier_name(plan.tier), plan.batch, engine.threads().size(),
                           train.data_dir));
      return stopped_status(trainer.run());
    }

    ClusterSpec cluster;
    cluster.ps_hosts = ps_endpoints;
    cluster.worker_hosts = worker_endpoints;
    cluster.token = unet::net::load_cluster_token(token_file);
    cluster.peer_timeout = std::chrono::milliseconds(static_cast<int64_t>(peer_timeout * 1000));
    cluster.loss_scope = loss_scope == "worker" ? LossScope::worker : LossScope::global;
    TrainConfig config;
    config.batch_size = train.batch_size;
    config.lr = train.lr;
    config.seed = train.seed;
    config.shuffle = train.shuffle;
    config.epochs = train.epochs;
    config.max_steps = train.max_steps;

    if (as_ps) {
      PsOptions ps;
      ps.cluster = cluster;
      ps.train = config;
      ps.task_index = task_index;
      ps.insecure = insecure;
      ps.resume = train.resume;
      ps.init_checkpoint = train.init_checkpoint;
      ps.checkpoint_dir = train.checkpoint_dir;
      ps.numa_node = engine_opts.numa_node;
      ps.update_threads = static_cast<size_t>(std::max(num_inter_threads, 1));
      TrainingLog log(app.count("--log") ? log_path : "");
      if (!rank_note.empty()) log.line("unetrun: " + rank_note);
      ParameterServer server(plan, ps, [&](const std::string& line) { log.line(line); });
      server.serve();
      return 0;
    }

    // A worker: the chief (index 0) logs to --log, writes the checkpoints and tests; the
    // others log to training.<index>.log beside it.
    const bool chief = task_index == 0;
    if (chief) stop_cleanly_on_signals(train);
    if (!chief) {
      const std::filesystem::path chief_log(log_path);  // training.log -> training.1.log beside it
      log_path = (chief_log.parent_path() /
                  fmt::format("{}.{}{}", chief_log.stem().string(), task_index, chief_log.extension().string()))
                     .string();
      train.checkpoint_dir.clear();
      train.test_at_end = false;
    }
    Engine& engine = *engine_slot;
    TrainingLog log(log_path);
    log.set_live(isatty(STDOUT_FILENO) != 0);
    if (!rank_note.empty()) log.line("unetrun: " + rank_note);
    std::optional<TraceRecorder> trace;  // a bad --trace path fails before the cluster is joined
    if (chief) train.trace = trace_of(trace, trace_path, trace_steps, engine);
    RemoteExchange exchange(engine, cluster, config, task_index, [&](const std::string& line) { log.line(line); });
    WorkerRole role{&exchange, cluster.workers(), task_index, exchange.start_step()};
    std::optional<TensorBoardSink> events;
    Trainer trainer(engine, train, log, role);
    if (chief && !no_tensorboard) {  // one event file for the run: the chief's
      tensorboard.input_channel = first_channel_name(train.selection);
      trainer.add_sink(events.emplace(engine, tensorboard));
    }
    log.line(fmt::format("unetrun: worker {} of {}: {} ({}, tier {}, micro-batch {}), {} threads, data {}", task_index,
                         cluster.workers(), plan_path, plan.model_name, unet::kernels::tier_name(plan.tier),
                         plan.batch, engine.threads().size(), train.data_dir));
    TrainSummary summary;
    try {
      summary = trainer.run();
    } catch (const RunEnded& e) {
      log.line(fmt::format("worker {}: {}", task_index, e.what()));
      exchange.finish();
      return 0;
    } catch (const RuntimeError& e) {
      // With several PS tasks the chief writes the checkpoint of the last completed step (a
      // lone PS writes it itself).
      if (!chief || cluster.ps_tasks() == 1 || train.checkpoint_dir.empty()) throw;
      const std::optional<uint64_t> step = exchange.recover_state();
      if (!step) throw RuntimeError(std::string(e.what()) + "; no checkpoint written (a parameter server is gone)");
      const std::string path = save_checkpoint(train.checkpoint_dir, plan, engine.arena(), *step, train.keep_checkpoints);
      throw RuntimeError(fmt::format("{}; checkpoint of step {} written to {}", e.what(), *step, path));
    }
    exchange.finish();
    const RemoteExchange::Stats st = exchange.stats();
    log.line(fmt::format("worker {}: {:.1f} s, {:.1f} s of it blocked on the network; sent {:.1f} MB, received "
                         "{:.1f} MB",
                         task_index, summary.seconds, st.blocked_seconds, static_cast<double>(st.bytes_sent) / 1e6,
                         static_cast<double>(st.bytes_received) / 1e6));
    return stopped_status(summary);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unetrun: %s\n", e.what());
    return 1;
  }
}
