// The parameter server against peers that break the rules, in one process: a PS serving on
// loopback (port picked free) and workers built as unetrun --worker builds them (Engine +
// RemoteExchange + Trainer). A peer that fails the handshake or sends malformed bytes is
// refused and logged while the run of the legitimate workers goes on to its end; an
// authenticated worker that breaks the protocol stops the run (serve() throws naming it) and
// the other workers get an error instead of hanging.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "net/connection.h"
#include "net/frame.h"
#include "net/handshake.h"
#include "plan/plan_io.h"
#include "runtime/cluster.h"
#include "runtime/engine.h"
#include "runtime/parameter_server.h"
#include "runtime/remote_exchange.h"
#include "runtime/runtime_error.h"
#include "runtime/trainer.h"
#include "runtime/training_log.h"
#include "runtime_fixtures.h"

namespace unet::runtime {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr net::Millis kPeerTimeout{500};
constexpr int64_t kMaxSteps = 3;
const std::string kToken = "ps-peers-test-token";

// Lines a component logs, from any thread.
class Lines {
 public:
  void add(const std::string& line) {
    std::lock_guard lock(mu_);
    lines_.push_back(line);
    cv_.notify_all();
  }
  // Waits up to `limit` for a line holding every one of `parts`.
  bool wait_for(const std::vector<std::string>& parts, std::chrono::milliseconds limit = 3000ms) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] {
      for (const std::string& l : lines_) {
        bool all = true;
        for (const std::string& p : parts) all = all && l.find(p) != std::string::npos;
        if (all) return true;
      }
      return false;
    });
  }
  bool has(const std::vector<std::string>& parts) { return wait_for(parts, 0ms); }
  size_t count_with(const std::string& part) {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const std::string& l : lines_) n += l.find(part) != std::string::npos;
    return n;
  }
  std::string text() {
    std::lock_guard lock(mu_);
    std::string s;
    for (const std::string& l : lines_) s += "  " + l + "\n";
    return s;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

EngineOptions one_thread() {
  EngineOptions o;
  o.threads.num_threads = 1;
  o.threads.pin = false;
  return o;
}

// A worker as unetrun --worker builds one. The constructor connects and passes the handshake
// (the PS has registered it when it returns); train() runs the Trainer and says done.
struct Worker {
  Engine engine;
  TrainingLog log{"", false};
  RemoteExchange exchange;
  Trainer trainer;
  Worker(const plan::Plan& plan, const ClusterSpec& cluster, const TrainConfig& config, const TrainOptions& options,
         size_t index, Lines& lines)
      : engine(plan, one_thread()),
        exchange(engine, cluster, config, index, [&lines](const std::string& l) { lines.add(l); }),
        trainer(engine, options, log, WorkerRole{&exchange, cluster.workers(), index, exchange.start_step()}) {}
  uint64_t train() {
    const TrainSummary s = trainer.run();
    exchange.finish();
    return s.global_step;
  }
};

// A plain TCP client for the bytes the library would never send.
class RawPeer {
 public:
  explicit RawPeer(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("test: socket() failed");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error(fmt::format("test: connect to port {} failed: {}", port, std::strerror(errno)));
  }
  ~RawPeer() { close(); }
  void write(std::span<const std::byte> bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error(fmt::format("test: send failed: {}", std::strerror(errno)));
      done += static_cast<size_t>(n);
    }
  }
  // True when the other side closes the connection within `limit` (bytes it sends are skipped).
  bool closed_within(std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      std::byte sink[256];
      const ssize_t n = ::recv(fd_, sink, sizeof sink, 0);
      if (n <= 0) return true;  // EOF or reset
    }
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// The bytes of a frame: its header as encode_header makes it, then the payload.
std::vector<std::byte> frame_bytes(const net::FrameHeader& h, std::span<const std::byte> payload) {
  const std::span<const std::byte> parts[] = {payload};
  const net::HeaderBytes header = net::encode_header(h, parts);
  std::vector<std::byte> out(header.size() + payload.size());
  std::memcpy(out.data(), header.data(), header.size());
  if (!payload.empty()) std::memcpy(out.data() + header.size(), payload.data(), payload.size());
  return out;
}

// A hello payload as the handshake lays it out: role | task index | fingerprint | digest | nonce.
std::vector<std::byte> hello_payload(uint32_t index, uint64_t fingerprint, uint64_t digest) {
  std::vector<std::byte> b(4 + 4 + 8 + 8 + net::kNonceBytes, std::byte{0x5A});
  auto put = [&](size_t at, uint64_t v, size_t n) {
    for (size_t i = 0; i < n; ++i) b[at + i] = static_cast<std::byte>((v >> (8 * i)) & 0xFF);
  };
  put(0, 0, 4);
  put(4, index, 4);
  put(8, fingerprint, 8);
  put(16, digest, 8);
  return b;
}

class PsPeers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    plan_ = new plan::Plan(test::compile(test::kTinyModel, 2));
    data_dir_ = new std::string(test::temp_dir("ps_peers"));
    test::write_dataset(*data_dir_, "train", 8, 16, 16, 21);
  }
  static void TearDownTestSuite() {
    delete plan_;
    delete data_dir_;
    plan_ = nullptr;
    data_dir_ = nullptr;
  }

  void TearDown() override {
    rescue();
    if (HasFailure()) std::fprintf(stderr, "PS log:\n%sworkers' log:\n%s", ps_log_.text().c_str(), worker_log_.text().c_str());
  }

  // Stops the PS and drops it: its connections are shut down, so any worker still waiting on
  // it fails instead of hanging.
  void rescue() {
    if (ps_) ps_->stop();
    if (serving_.joinable()) serving_.join();
    ps_.reset();
  }

  // A PS for `workers` workers (global batch 2 per worker), serving in a thread.
  void start_ps(size_t workers) {
    cluster_.ps_hosts = {{"127.0.0.1", 0}};
    cluster_.worker_hosts.assign(workers, net::Endpoint{"127.0.0.1", 1});
    cluster_.token = kToken;
    cluster_.peer_timeout = kPeerTimeout;
    options_.data_dir = *data_dir_;
    options_.selection.channels = {2, 3};  // flair, t1ce: the tiny model takes two channels
    options_.epochs = 4;
    options_.batch_size = static_cast<int64_t>(2 * workers);
    options_.max_steps = kMaxSteps;
    options_.seed = 3;
    options_.shuffle = true;
    options_.lr.initial = 0.002f;
    options_.lr.decay_steps = 3;
    options_.lr.fraction = plan_->optimizer.lr_fraction;
    options_.test_at_end = false;
    options_.inter_threads = 0;
    config_.batch_size = options_.batch_size;
    config_.lr = options_.lr;
    config_.seed = options_.seed;
    config_.shuffle = options_.shuffle;
    config_.epochs = options_.epochs;
    config_.max_steps = options_.max_steps;

    PsOptions o;
    o.cluster = cluster_;
    o.train = config_;
    ps_ = std::make_unique<ParameterServer>(*plan_, o, [this](const std::string& l) { ps_log_.add(l); });
    cluster_.ps_hosts[0].port = ps_->port();
    serving_ = std::thread([this] {
      try {
        ps_->serve();
        std::lock_guard lock(serve_mu_);
        serve_outcome_ = "";
      } catch (const RuntimeError& e) {
        std::lock_guard lock(serve_mu_);
        serve_outcome_ = std::string("RuntimeError: ") + e.what();
      } catch (const std::exception& e) {
        std::lock_guard lock(serve_mu_);
        serve_outcome_ = std::string("other exception: ") + e.what();
      }
      serve_done_.set_value();
    });
  }

  // serve()'s outcome: "" when it returned, "RuntimeError: ..." when it threw one. A serve()
  // still running after `limit` fails the test (and is stopped).
  std::string serve_outcome(std::chrono::milliseconds limit = 10000ms, bool report = true) {
    if (serve_future_.wait_for(limit) != std::future_status::ready) {
      if (report) ADD_FAILURE() << "serve() still running after " << limit.count() << " ms";
      ps_->stop();
    }
    if (serving_.joinable()) serving_.join();
    std::lock_guard lock(serve_mu_);
    return serve_outcome_.value_or("(no outcome)");
  }

  std::unique_ptr<Worker> make_worker(size_t index) {
    return std::make_unique<Worker>(*plan_, cluster_, config_, options_, index, worker_log_);
  }

  // A legitimate worker trains to the end: the run is unaffected.
  void expect_worker_trains_to_the_end(size_t index = 0) {
    std::unique_ptr<Worker> w;
    ASSERT_NO_THROW(w = make_worker(index));
    uint64_t steps = 0;
    EXPECT_NO_THROW(steps = w->train());
    EXPECT_EQ(steps, static_cast<uint64_t>(kMaxSteps));
  }
  void expect_run_completes() {
    EXPECT_EQ(serve_outcome(), "");
    EXPECT_TRUE(ps_log_.has({"every worker is done at step 3"})) << ps_log_.text();
    EXPECT_EQ(ps_->global_step(), static_cast<uint64_t>(kMaxSteps));
  }
  // The PS logged a refusal naming `reason`.
  void expect_refusal_logged(const std::string& reason) {
    EXPECT_TRUE(ps_log_.wait_for({"PS 0: refused 127.0.0.1:", reason})) << "no refusal naming '" << reason
                                                                         << "' in:\n" << ps_log_.text();
  }

  uint64_t fingerprint() const { return plan::plan_fingerprint(*plan_); }
  uint64_t digest() const { return config_digest(cluster_, config_); }
  net::Hello hello(uint32_t index) const {
    net::Hello h;
    h.task_index = index;
    h.plan_fingerprint = fingerprint();
    h.config_digest = digest();
    return h;
  }
  // Runs the client side of the handshake; returns what the client saw refused ("" when welcomed).
  std::string handshake_refusal(const net::Hello& h, const std::string& token) {
    net::Connection c = net::Connection::connect(cluster_.ps_hosts[0], 2000ms);
    try {
      net::client_handshake(c, h, token, 2000ms);
    } catch (const net::HandshakeRefused& e) {
      return e.what();
    }
    return "";
  }

  static plan::Plan* plan_;
  static std::string* data_dir_;
  ClusterSpec cluster_;
  TrainConfig config_;
  TrainOptions options_;
  Lines ps_log_, worker_log_;
  std::unique_ptr<ParameterServer> ps_;
  std::thread serving_;
  std::mutex serve_mu_;
  std::optional<std::string> serve_outcome_;
  std::promise<void> serve_done_;
  std::future<void> serve_future_ = serve_done_.get_future();
};

plan::Plan* PsPeers::plan_ = nullptr;
std::string* PsPeers::data_dir_ = nullptr;

// --- Peers refused before they become workers -------------------------------------------

TEST_F(PsPeers, LegitimateWorkerAloneTrainsToTheEnd) {
  start_ps(1);
  expect_worker_trains_to_the_end();
  expect_run_completes();
  EXPECT_EQ(ps_log_.count_with("refused"), 0u) << ps_log_.text();
}

TEST_F(PsPeers, SilentPeerIsDroppedAfterThePeerTimeout) {
  start_ps(1);
  RawPeer silent(ps_->port());
  const auto t0 = Clock::now();
  expect_worker_trains_to_the_end();
  expect_run_completes();
  expect_refusal_logged("sent nothing for 500 ms");
  EXPECT_TRUE(silent.closed_within(2000ms)) << "the PS kept a silent peer's connection open";
  EXPECT_GE(Clock::now() - t0, kPeerTimeout);
}

TEST_F(PsPeers, TruncatedHeaderIsRefused) {
  start_ps(1);
  {
    RawPeer peer(ps_->port());
    const auto hello = hello_payload(0, fingerprint(), digest());
    net::FrameHeader h;
    h.type = net::FrameType::hello;
    const auto bytes = frame_bytes(h, hello);
    peer.write(std::span(bytes).first(net::kFrameHeaderBytes / 2));
  }  // closed half-way through the header
  expect_refusal_logged("truncated header (24 of 48 bytes)");
  expect_worker_trains_to_the_end();
  expect_run_completes();
}

TEST_F(PsPeers, HelloWithBadCrcIsRefused) {
  start_ps(1);
  RawPeer peer(ps_->port());
  const auto hello = hello_payload(0, fingerprint(), digest());
  net::FrameHeader h;
  h.type = net::FrameType::hello;
  auto bytes = frame_bytes(h, hello);
  bytes[net::kFrameHeaderBytes + 5] ^= std::byte{0x01};  // the payload changed after the CRC was computed
  peer.write(bytes);
  expect_refusal_logged("bad CRC (type hello");
  expect_worker_trains_to_the_end();
  expect_run_completes();
  // A flipped byte must not have registered anyone: exactly one worker connected.
  EXPECT_EQ(ps_log_.count_with("connected from"), 1u) << ps_log_.text();
}

TEST_F(PsPeers, OversizedLengthIsRefusedWithoutReadingIt) {
  start_ps(1);
  RawPeer peer(ps_->port());
  net::FrameHeader h;
  h.type = net::FrameType::hello;
  h.length = uint64_t{1} << 40;
  const net::HeaderBytes header = net::encode_header(h, {});
  std::vector<std::byte> bytes(header.begin(), header.end());
  // encode_header writes the length the header says; make sure it claims 2^40 bytes.
  uint64_t claimed = 0;
  std::memcpy(&claimed, bytes.data() + 32, 8);
  ASSERT_EQ(claimed, uint64_t{1} << 40);
  peer.write(bytes);
  expect_refusal_logged(fmt::format("{} payload bytes, over the bound", uint64_t{1} << 40));
  expect_worker_trains_to_the_end();
  expect_run_completes();
}

TEST_F(PsPeers, UnknownFrameTypeIsRefused) {
  start_ps(1);
  RawPeer peer(ps_->port());
  net::FrameHeader h;
  h.type = static_cast<net::FrameType>(99);
  peer.write(frame_bytes(h, {}));
  expect_refusal_logged("unknown frame type 99");
  expect_worker_trains_to_the_end();
  expect_run_completes();
}

TEST_F(PsPeers, GarbageBytesAreRefused) {
  start_ps(1);
  RawPeer peer(ps_->port());
  const std::string junk = "GET / HTTP/1.1\r\nHost: ps\r\n\r\n" + std::string(40, 'x');
  peer.write(std::as_bytes(std::span(junk.data(), junk.size())));
  expect_refusal_logged("bad magic");
  expect_worker_trains_to_the_end();
  expect_run_completes();
}

TEST_F(PsPeers, WrongClusterTokenIsRefused) {
  start_ps(1);
  const std::string seen = handshake_refusal(hello(0), "not-the-token");
  EXPECT_NE(seen.find("wrong cluster token"), std::string::npos) << seen;
  expect_refusal_logged("wrong cluster token");
  expect_worker_trains_to_the_end();
  expect_run_completes();
}

TEST_F(PsPeers, WrongPlanFingerprintIsRefused) {
  start_ps(1);
  net::Hello h = hello(0);
  h.plan_fingerprint ^= 0x1;
  const std::string seen = handshake_refusal(h, kToken);
  EXPECT_NE(seen.find("plan fingerprint"), std::string::npos) << seen;
  expect_refusal_logged("plan fingerprint");
  expect_worker_trains_to_the_end();
  expect_run_completes();
}

TEST_F(PsPeers, WrongConfigDigestIsRefused) {
  start_ps(1);
  // A worker told another --batch_size: its digest differs.
  TrainConfig other = config_;
  other.batch_size *= 2;
  net::Hello h = hello(0);
  h.config_digest = config_digest(cluster_, other);
  ASSERT_NE(h.config_digest, digest());
  const std::string seen = handshake_refusal(h, kToken);
  EXPECT_NE(seen.find("training configuration differs"), std::string::npos) << seen;
  expect_refusal_logged("training configuration differs");
  expect_worker_trains_to_the_end();
  expect_run_completes();
}

TEST_F(PsPeers, DuplicateWorkerIndexIsRefused) {
  start_ps(1);
  std::unique_ptr<Worker> w;
  ASSERT_NO_THROW(w = make_worker(0));  // registered as worker 0 once this returns
  const std::string seen = handshake_refusal(hello(0), kToken);
  EXPECT_NE(seen.find("worker index 0 is already connected"), std::string::npos) << seen;
  expect_refusal_logged("worker index 0 is already connected");
  uint64_t steps = 0;
  EXPECT_NO_THROW(steps = w->train());
  EXPECT_EQ(steps, static_cast<uint64_t>(kMaxSteps));
  expect_run_completes();
}

TEST_F(PsPeers, OutOfRangeWorkerIndexIsRefused) {
  start_ps(1);
  const std::string seen = handshake_refusal(hello(1), kToken);
  EXPECT_NE(seen.find("worker index 1 is out of range"), std::string::npos) << seen;
  expect_refusal_logged("worker index 1 is out of range: the cluster has 1 workers");
  const std::string far = handshake_refusal(hello(0xFFFFFFFFu), kToken);
  EXPECT_NE(far.find("worker index 4294967295 is out of range"), std::string::npos) << far;
  expect_worker_trains_to_the_end();
  expect_run_completes();
}

TEST_F(PsPeers, RoleOtherThanWorkerIsRefused) {
  start_ps(1);
  net::Hello h = hello(0);
  h.role = 1;
  const std::string seen = handshake_refusal(h, kToken);
  EXPECT_NE(seen.find("role 1 is not a worker"), std::string::npos) << seen;
  expect_refusal_logged("role 1 is not a worker");
  expect_worker_trains_to_the_end();
  expect_run_completes();
}

TEST_F(PsPeers, OtherProtocolVersionIsRefused) {
  start_ps(1);
  RawPeer peer(ps_->port());
  net::FrameHeader h;
  h.type = net::FrameType::hello;
  auto bytes = frame_bytes(h, hello_payload(0, fingerprint(), digest()));
  bytes[4] = std::byte{2};  // protocol version 2
  peer.write(bytes);
  expect_refusal_logged("protocol version 2, this parameter server speaks 1");
  expect_worker_trains_to_the_end();
  expect_run_completes();
}

// Every kind of refused peer at once, while two workers train: the run still completes.
TEST_F(PsPeers, ManyBadPeersDuringATwoWorkerRun) {
  start_ps(2);
  std::unique_ptr<Worker> w0;
  ASSERT_NO_THROW(w0 = make_worker(0));
  RawPeer silent(ps_->port());
  auto second = std::async(std::launch::async, [&] {
    auto w = make_worker(1);
    return w->train();
  });
  auto first = std::async(std::launch::async, [&] { return w0->train(); });
  {
    RawPeer junk(ps_->port());
    net::FrameHeader h;
    h.type = static_cast<net::FrameType>(99);
    junk.write(frame_bytes(h, {}));
  }
  EXPECT_NE(handshake_refusal(hello(0), "wrong").find("wrong cluster token"), std::string::npos);
  EXPECT_NE(handshake_refusal(hello(7), kToken).find("out of range"), std::string::npos);
  if (first.wait_for(10s) != std::future_status::ready || second.wait_for(10s) != std::future_status::ready) {
    ADD_FAILURE() << "the workers are still training after 10 s";
    rescue();
    return;
  }
  EXPECT_EQ(first.get(), static_cast<uint64_t>(kMaxSteps));
  EXPECT_EQ(second.get(), static_cast<uint64_t>(kMaxSteps));
  expect_run_completes();
  expect_refusal_logged("unknown frame type 99");
  expect_refusal_logged("wrong cluster token");
  expect_refusal_logged("worker index 7 is out of range");
  expect_refusal_logged("sent nothing for 500 ms");
}

// --- Authenticated workers that break the protocol ----------------------------------------

// Worker 1 is legitimate; worker 0 authenticates by hand, then `misbehave`s. serve() must
// throw a RuntimeError naming worker 0 and `reason`, and worker 1 must get a RuntimeError
// instead of training on (or hanging).
class PsProtocolBreak : public PsPeers {
 protected:
  // `first`: worker 0 misbehaves before worker 1 starts training (and the PS has had time to
  // read it), rather than while it trains.
  void expect_run_stopped_by_worker0(const std::function<void(net::Connection&)>& misbehave,
                                     const std::string& reason, bool first = false) {
    start_ps(2);
    std::unique_ptr<Worker> good;
    ASSERT_NO_THROW(good = make_worker(1));
    net::Connection bad = net::Connection::connect(cluster_.ps_hosts[0], 2000ms);
    ASSERT_NO_THROW(net::client_handshake(bad, hello(0), kToken, 2000ms));
    ASSERT_TRUE(ps_log_.wait_for({"worker 0 connected from"})) << ps_log_.text();
    if (first) {
      misbehave(bad);
      std::this_thread::sleep_for(200ms);
    }
    auto training = std::async(std::launch::async, [&]() -> std::string {
      try {
        good->train();
      } catch (const RuntimeError& e) {
        return std::string("RuntimeError: ") + e.what();
      } catch (const std::exception& e) {
        return std::string("other exception: ") + e.what();
      }
      return "trained to the end";
    });
    if (!first) misbehave(bad);

    bool stopped = serve_future_.wait_for(5s) == std::future_status::ready;
    if (!stopped)
      ADD_FAILURE() << "serve() still running 5 s after worker 0 misbehaved"
                    << (training.wait_for(0ms) != std::future_status::ready
                            ? "; worker 1 is blocked too (PS heartbeats keep it waiting: nothing would ever end "
                              "this run)"
                            : "");
    const std::string outcome = serve_outcome(0ms, /*report=*/false);
    EXPECT_EQ(outcome.rfind("RuntimeError: ", 0), 0u) << outcome;
    EXPECT_NE(outcome.find("worker 0 (127.0.0.1:"), std::string::npos) << outcome;
    EXPECT_NE(outcome.find(reason), std::string::npos) << outcome;
    EXPECT_TRUE(ps_log_.has({"PS 0: worker 0 (", reason, "stopping the run at step 0"})) << ps_log_.text();

    if (training.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << "worker 1 still training 10 s after the run stopped";
      rescue();
    }
    const std::string seen = training.get();
    EXPECT_EQ(seen.rfind("RuntimeError: ", 0), 0u) << seen;
    EXPECT_NE(seen.find("worker 0"), std::string::npos) << seen;
    EXPECT_NE(seen.find(reason), std::string::npos) << seen;
    good.reset();
  }

  std::vector<std::byte> zeros(size_t n) { return std::vector<std::byte>(n); }
};

TEST_F(PsProtocolBreak, GradientForTheWrongStep) {
  expect_run_stopped_by_worker0(
      [&](net::Connection& c) {
        const auto g = zeros(param_bytes(*plan_, 0));
        c.send(net::FrameType::gradient, 7, 0, g);
      },
      "for step 7; this shard is at step 0");
}

TEST_F(PsProtocolBreak, GradientOfTheWrongLength) {
  const uint64_t bytes = param_bytes(*plan_, 0);
  expect_run_stopped_by_worker0(
      [&](net::Connection& c) {
        const auto g = zeros(bytes - 4);
        c.send(net::FrameType::gradient, 0, 0, g);
      },
      fmt::format("with offset 0 and length {} (expected 0 and {})", bytes - 4, bytes));
}

TEST_F(PsProtocolBreak, GradientForATensorOutOfRange) {
  expect_run_stopped_by_worker0(
      [&](net::Connection& c) {
        const auto g = zeros(16);
        c.send(net::FrameType::gradient, 0, 1000, g);
      },
      fmt::format("gradient frame for tensor 1000: the plan has {} parameters", plan_->params.size()));
}

TEST_F(PsProtocolBreak, UnknownFrameTypeAfterTheHandshake) {
  expect_run_stopped_by_worker0([&](net::Connection& c) { c.send(static_cast<net::FrameType>(99), 0, 0); },
                                "unknown frame type 99");
}

TEST_F(PsProtocolBreak, FrameTypeAWorkerNeverSends) {
  expect_run_stopped_by_worker0(
      [&](net::Connection& c) {
        const auto v = zeros(param_bytes(*plan_, 0));
        c.send(net::FrameType::value, 0, 0, v);
      },
      "sent a value frame, which a worker never sends");
}

TEST_F(PsProtocolBreak, WorkerFallsSilent) {
  expect_run_stopped_by_worker0([](net::Connection&) {}, "sent nothing for 500 ms");
}

TEST_F(PsProtocolBreak, WorkerAborts) {
  expect_run_stopped_by_worker0(
      [](net::Connection& c) {
        const std::string why = "out of memory on worker 0";
        c.send(net::FrameType::abort, 0, 0, std::as_bytes(std::span(why.data(), why.size())));
      },
      "stopped: out of memory on worker 0");
}

TEST_F(PsProtocolBreak, WorkerDisconnectsAfterTheHandshake) {
  expect_run_stopped_by_worker0([](net::Connection& c) { c.shutdown(); }, "closed the connection");
}

// Dice partials for a step nobody is at, sent before the other worker's: the PS must blame
// the worker that sent them, not the one whose partials for the right step come next.
TEST_F(PsProtocolBreak, DicePartialsForAFutureStep) {
  expect_run_stopped_by_worker0(
      [&](net::Connection& c) {
        const auto partials = zeros(3 * 2 * sizeof(float));  // a share of 2 images
        c.send(net::FrameType::dice_partials, 7, 0, partials);
      },
      "step 7", /*first=*/true);
}

// A worker other than the chief that says done at step 0 of a 3-step run and leaves: its
// gradients will never come, so the run stops (naming it) rather than leave the chief waiting.
TEST_F(PsProtocolBreak, NonChiefDoneBeforeTheRunEndsStopsTheRun) {
  start_ps(2);
  std::unique_ptr<Worker> chief;
  ASSERT_NO_THROW(chief = make_worker(0));
  net::Connection bad = net::Connection::connect(cluster_.ps_hosts[0], 2000ms);
  ASSERT_NO_THROW(net::client_handshake(bad, hello(1), kToken, 2000ms));
  ASSERT_TRUE(ps_log_.wait_for({"worker 1 connected from"})) << ps_log_.text();
  bad.send(net::FrameType::done, 0, 0);
  bad.shutdown();
  std::this_thread::sleep_for(200ms);
  std::string seen = "trained to the end";
  try {
    chief->train();
  } catch (const RuntimeError& e) {
    seen = e.what();
  }
  EXPECT_NE(seen.find("worker 1 ended its run at step 0"), std::string::npos) << seen;
  const std::string outcome = serve_outcome();
  EXPECT_EQ(outcome.rfind("RuntimeError: ", 0), 0u) << outcome;
  EXPECT_NE(outcome.find("worker 1 ended its run at step 0"), std::string::npos) << outcome;
  chief.reset();
}

// The chief's done ends the run at its step for everyone (a run stopped by a signal): a
// worker still on a later step is told so (RunEnded), says done, and the PS ends cleanly.
TEST_F(PsProtocolBreak, ChiefDoneEndsTheRunCleanlyForTheOthers) {
  start_ps(2);
  std::unique_ptr<Worker> other;
  ASSERT_NO_THROW(other = make_worker(1));
  net::Connection chief = net::Connection::connect(cluster_.ps_hosts[0], 2000ms);
  ASSERT_NO_THROW(net::client_handshake(chief, hello(0), kToken, 2000ms));
  ASSERT_TRUE(ps_log_.wait_for({"worker 0 connected from"})) << ps_log_.text();
  chief.send(net::FrameType::done, 0, 0);
  std::string seen = "trained to the end";
  try {
    other->train();
  } catch (const RunEnded& e) {
    seen = e.what();
    other->exchange.finish();
  }
  EXPECT_NE(seen.find("the chief ended the run at step 0"), std::string::npos) << seen;
  const std::string outcome = serve_outcome();
  EXPECT_EQ(outcome.rfind("RuntimeError", 0), std::string::npos) << outcome;
  EXPECT_TRUE(ps_log_.has({"every worker is done at step 0"})) << ps_log_.text();
  other.reset();
}

// --- Serving without a token ------------------------------------------------------------

TEST(PsAddress, NonLoopbackWithoutTokenNeedsInsecure) {
  ASSERT_FALSE(net::is_loopback_host("0.0.0.0"));
  PsOptions o;
  o.cluster.ps_hosts = {{"0.0.0.0", 0}};
  o.cluster.worker_hosts = {{"127.0.0.1", 1}};
  o.cluster.peer_timeout = kPeerTimeout;
  o.train.batch_size = 2;
  const plan::Plan plan = test::compile(test::kTinyModel, 2);
  Lines log;
  try {
    ParameterServer ps(plan, o, [&](const std::string& l) { log.add(l); });
    ADD_FAILURE() << "a PS on 0.0.0.0 without a token and without --insecure was constructed";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("--token_file"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("0.0.0.0"), std::string::npos) << e.what();
  }

  o.insecure = true;
  std::unique_ptr<ParameterServer> ps;
  ASSERT_NO_THROW(ps = std::make_unique<ParameterServer>(plan, o, [&](const std::string& l) { log.add(l); }));
  EXPECT_TRUE(log.has({"WARNING", "WITHOUT a cluster token", "0.0.0.0"})) << log.text();
  EXPECT_NE(ps->port(), 0);

  // With a token there is nothing to warn about; on loopback neither.
  Lines quiet;
  o.insecure = false;
  o.cluster.token = kToken;
  EXPECT_NO_THROW({ ParameterServer with_token(plan, o, [&](const std::string& l) { quiet.add(l); }); });
  o.cluster.token.clear();
  o.cluster.ps_hosts = {{"127.0.0.1", 0}};
  EXPECT_NO_THROW({ ParameterServer on_loopback(plan, o, [&](const std::string& l) { quiet.add(l); }); });
  EXPECT_EQ(quiet.count_with("WARNING"), 0u) << quiet.text();
}

}  // namespace
}  // namespace unet::runtime
