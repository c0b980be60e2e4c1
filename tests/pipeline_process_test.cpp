// A model split over real `tandem node` processes on 127.0.0.1 (pipeline parallelism):
// logits across 2, 3 and 4 stages equal the single-process logits, greedy tokens through
// PipelineRunner equal single-process greedy decoding, a wrong secret is refused, a
// killed stage ends in an Error (no hang), and a delayed link changes nothing. The
// PipelineProcessUcx tests repeat the essentials with every node on the UCX transport.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "child_process.h"
#include "cluster/pipeline_runner.h"
#include "cluster/tcp_transport.h"
#include "cluster/ucx_transport.h"
#include "gguf/model_file.h"
#include "model/model.h"
#include "ops/kernels.h"
#include "serving/engine_core.h"
#include "test_paths.h"

namespace tandem {
namespace {

using testing::Child;
using Ms = std::chrono::milliseconds;

// Token ids of an arbitrary text-like sequence inside the 4122-token vocabulary.
const std::vector<int32_t> kPrompt = {785,  2310, 326, 1129, 3362, 1403,         279, 30094 % 4096,
                                      1817, 3729, 311, 3100, 279,  27962 % 4096, 13,  4098};

std::string join_ids(const std::vector<int32_t>& ids) {
  std::string out;
  for (int32_t id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

std::vector<float> read_floats(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<float> out(std::filesystem::file_size(path) / sizeof(float));
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size() * 4));
  return out;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// Single-process logits and greedy tokens, with the kernels every stage uses (1 thread).
FloatMatrix local_logits(const std::string& path, const std::vector<int32_t>& tokens) {
  const ModelFile file(path);
  ThreadPool pool(1);
  const auto model = Model::load(file, ModelOptions{ComputeMode::kFast}, pool);
  KvCache cache = model->make_cache(64);
  return model->forward(Batch::sequence(tokens, 0, 0, true), cache);
}

std::vector<int32_t> local_greedy(const std::string& path, std::vector<int32_t> tokens, int n) {
  const ModelFile file(path);
  ThreadPool pool(1);
  const auto model = Model::load(file, ModelOptions{ComputeMode::kFast}, pool);
  KvCache cache = model->make_cache(64);
  std::vector<int32_t> out;
  FloatMatrix logits = model->forward(Batch::sequence(tokens, 0, 0, false), cache);
  for (int i = 0; i < n; ++i) {
    out.push_back(static_cast<int32_t>(argmax(logits.row(0))));
    const int32_t position = static_cast<int32_t>(tokens.size()) + i;
    logits = model->forward(Batch::sequence({&out.back(), 1}, position, 0, false), cache);
  }
  return out;
}

class PipelineProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    TANDEM_REQUIRE_SHARED();
    char pattern[] = "/tmp/tandem-pipeline-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    secret_ = write_secret("secret", "pipeline secret");
    wrong_secret_ = write_secret("wrong", "another secret");
  }
  void TearDown() override {
    children_.clear();
    if (!HasFailure() && !dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string write_secret(const std::string& name, const std::string& text) {
    return testing::write_secret_file(dir_, name, text);
  }
  // Starts `count` nodes named n0, n1, ... (the pipeline order), all joined through n0,
  // and waits until n0 knows them all.
  void start_nodes(size_t count) {
    for (size_t i = 0; i < count; ++i) {
      std::vector<std::string> args = {
          testing::tandem_binary(), "node",          "--listen",    "127.0.0.1:0",    "--name",
          "n" + std::to_string(i),  "--secret-file", secret_,       "--heartbeat-ms", "100",
          "--failure-timeout-ms",   "2000",          "--transport", transport_};
      if (i > 0) args.insert(args.end(), {"--join", addresses_[0]});
      children_.push_back(std::make_unique<Child>(args, dir_ + "/n" + std::to_string(i) + ".log"));
      const auto address =
          children_.back()->wait_for("listening on (127\\.0\\.0\\.1:[0-9]+) as ", Ms(5000));
      ASSERT_TRUE(address) << children_.back()->output();
      addresses_.push_back(*address);
    }
    for (size_t i = 1; i < count; ++i) {
      ASSERT_TRUE(children_[0]->wait_for("member joined: (n" + std::to_string(i) + "-)", Ms(5000)))
          << children_[0]->output();
    }
  }
  // `tandem logits --join` with a split; returns the exit code.
  int cluster_logits(const std::string& model, const std::string& split, const std::string& out,
                     const std::string& secret, std::string* output = nullptr) {
    Child child({testing::tandem_binary(), "logits", model, "--tokens", join_ids(kPrompt), "--out",
                 out, "-t", "1", "--join", addresses_[0], "--secret-file", secret, "--split", split,
                 "--transport", transport_},
                dir_ + "/logits.log");
    const int rc = child.wait(Ms(30000));
    if (output) *output = child.output();
    EXPECT_TRUE(rc == 0 || output) << child.output();
    return rc;
  }
  cluster::PipelineRunner make_runner(const std::string& model,
                                      std::vector<cluster::StageAssignment> stages) {
    cluster::PipelineOptions options;
    options.model_path = model;
    options.threads = 1;
    options.context = 64;
    options.step_timeout = Ms(10000);
    std::unique_ptr<cluster::Transport> transport;
    if (transport_ == "ucx") {
      transport = std::make_unique<cluster::UcxTransport>();
    } else {
      transport = std::make_unique<cluster::TcpTransport>();
    }
    return cluster::PipelineRunner(std::move(transport), cluster::Secret::load_file(secret_),
                                   std::move(stages), options);
  }
  std::vector<cluster::StageAssignment> stages(const std::vector<uint32_t>& ends) {
    std::vector<cluster::StageAssignment> out;
    uint32_t first = 0;
    for (size_t i = 0; i < ends.size(); ++i) {
      out.push_back({parse_host_port(addresses_[i]), "n" + std::to_string(i), first, ends[i]});
      first = ends[i];
    }
    return out;
  }

  std::string transport_ = "tcp";  // what the nodes listen with
  std::string dir_;
  std::string secret_;
  std::string wrong_secret_;
  std::vector<std::string> addresses_;
  std::vector<std::unique_ptr<Child>> children_;
};

void expect_same_logits(const std::vector<float>& expected, const std::vector<float>& actual,
                        const std::string& what) {
  ASSERT_EQ(expected.size(), actual.size()) << what;
  double worst = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    worst = std::max(worst, static_cast<double>(std::abs(expected[i] - actual[i])));
  }
  EXPECT_LE(worst, 1e-5) << what;
}

TEST_F(PipelineProcess, LogitsAcrossTwoThreeAndFourStagesEqualOneProcess) {
  start_nodes(4);
  for (const std::string name :
       {"qwen3moe-tiny-Q8_0.gguf", "qwen3-dense-tiny-Q8_0.gguf", "qwen35moe-tiny-Q8_0.gguf"}) {
    const std::string model = testing::reference_path(name);
    const std::string single = dir_ + "/single.f32";
    Child local({testing::tandem_binary(), "logits", model, "--tokens", join_ids(kPrompt), "--out",
                 single, "-t", "1"},
                dir_ + "/single.log");
    ASSERT_EQ(local.wait(Ms(30000)), 0) << local.output();
    const std::vector<float> expected = read_floats(single);
    ASSERT_EQ(expected.size(), kPrompt.size() * 4122);
    for (const std::string split : {"2,2", "1,2,1", "1,1,1,1"}) {
      const std::string out = dir_ + "/split.f32";
      ASSERT_EQ(cluster_logits(model, split, out, secret_), 0);
      expect_same_logits(expected, read_floats(out), name + " split " + split);
    }
  }
}

TEST_F(PipelineProcess, PlanPrintsStagesAndRefusesWhatDoesNotFit) {
  start_nodes(2);
  const std::string model = testing::reference_path("qwen3moe-tiny-Q8_0.gguf");
  Child fits({testing::tandem_binary(), "plan", model, "--join", addresses_[0], "--secret-file",
              secret_, "--split", "1,3"},
             dir_ + "/plan.log");
  ASSERT_EQ(fits.wait(Ms(10000)), 0) << fits.output();
  EXPECT_TRUE(fits.wait_for("n0 +layers +0-0 +\\[embed\\]", Ms(10))) << fits.output();
  EXPECT_TRUE(fits.wait_for("n1 +layers +1-3 +\\[output\\]", Ms(10))) << fits.output();
  EXPECT_TRUE(fits.wait_for("predicted: ([0-9.]+) ms per token", Ms(10))) << fits.output();
  // The inputs: n0's measured link to n1, each node's read speed and free memory.
  EXPECT_TRUE(fits.wait_for("n0 .* hop [0-9.]+ ms \\(link ([0-9.]+) ms, [0-9.]+ MB/s\\)", Ms(10)))
      << fits.output();
  EXPECT_TRUE(fits.wait_for("n1 .*node reads ([0-9.]+) GB/s, [0-9.]+ GiB free", Ms(10)))
      << fits.output();

  Child too_big({testing::tandem_binary(), "plan", model, "--join", addresses_[0], "--secret-file",
                 secret_, "--ctx", "16000000", "--parallel", "1000"},
                dir_ + "/plan-big.log");
  EXPECT_EQ(too_big.wait(Ms(10000)), 1) << too_big.output();
  EXPECT_TRUE(too_big.wait_for("does not fit: it needs [0-9.]+ GiB", Ms(10))) << too_big.output();
}

TEST_F(PipelineProcess, WrongSecretIsRefused) {
  start_nodes(2);
  std::string output;
  const int rc = cluster_logits(testing::reference_path("qwen3moe-tiny-Q8_0.gguf"), "2,2",
                                dir_ + "/x.f32", wrong_secret_, &output);
  EXPECT_EQ(rc, 1) << output;
  EXPECT_NE(output.find("error"), std::string::npos) << output;
  EXPECT_TRUE(children_[0]->wait_for("(refused)", Ms(2000))) << children_[0]->output();
}

// A request's tokens through EngineCore over a 3-stage pipeline (several steps in flight
// with two requests) equal single-process greedy decoding.
TEST_F(PipelineProcess, GreedyTokensThroughPipelineRunnerEqualOneProcess) {
  start_nodes(3);
  for (const std::string name : {"qwen3moe-tiny-Q8_0.gguf", "qwen35moe-tiny-Q8_0.gguf"}) {
    SCOPED_TRACE(name);
    const std::string model = testing::reference_path(name);
    auto runner = make_runner(model, stages({1, 3, 4}));
    EXPECT_EQ(runner.max_steps_in_flight(), 3u);
    const std::vector<int32_t> prompt_b(kPrompt.begin() + 5, kPrompt.end());
    const int n = 8;

    SchedulerConfig config;
    config.slots = 4;
    config.context_length = 64;
    config.recurrent_state = name.find("qwen35") != std::string::npos;
    EngineCore engine(runner, config, 8);
    std::mutex mutex;
    std::condition_variable done;
    std::map<uint64_t, std::vector<int32_t>> tokens;
    int finished = 0;
    const auto sink = [&](const RequestUpdate& update) {
      std::lock_guard lock(mutex);
      if (update.token) tokens[update.id].push_back(*update.token);
      if (update.finish != FinishReason::kNone) {
        ++finished;
        done.notify_all();
      }
    };
    RequestSpec a;
    a.prompt = kPrompt;
    a.max_new_tokens = n;
    a.sampling.temperature = 0;
    RequestSpec b = a;
    b.prompt = prompt_b;
    const uint64_t id_a = engine.submit(a, sink);
    const uint64_t id_b = engine.submit(b, sink);
    {
      std::unique_lock lock(mutex);
      ASSERT_TRUE(done.wait_for(lock, Ms(20000), [&] { return finished == 2; }));
    }
    EXPECT_EQ(tokens[id_a], local_greedy(model, kPrompt, n));
    EXPECT_EQ(tokens[id_b], local_greedy(model, prompt_b, n));
  }
}

TEST_F(PipelineProcess, KilledStageEndsInAnErrorNotAHang) {
  start_nodes(3);
  const std::string model = testing::reference_path("qwen3moe-tiny-Q8_0.gguf");
  auto runner = make_runner(model, stages({1, 2, 4}));
  StepPlan plan;
  plan.step_id = 1;
  StepEntry entry;
  entry.request_id = 1;
  entry.tokens = kPrompt;
  entry.sample = true;
  entry.sampling.temperature = 0;
  plan.entries.push_back(entry);
  runner.launch(plan);
  ASSERT_EQ(runner.collect().sampled.size(), 1u);

  children_[1]->kill();
  const auto start = std::chrono::steady_clock::now();
  StepPlan next;
  next.step_id = 2;
  entry.keep_positions = entry.first_position = static_cast<int32_t>(kPrompt.size());
  entry.tokens = {42};
  next.entries.push_back(entry);
  try {
    runner.launch(next);
    (void)runner.collect();
    ADD_FAILURE() << "a step ran without its middle stage";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("stage"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, Ms(5000));
  EXPECT_THROW(runner.launch(next), Error);  // the runner stays failed
}

// Every link into stage 2 passes a proxy adding 30 ms each way: same logits.
TEST_F(PipelineProcess, DelayedLinkGivesIdenticalLogits) {
  start_nodes(2);
  const std::string model = testing::reference_path("qwen3moe-tiny-Q8_0.gguf");
  const int proxy_port = free_port();
  const std::string target_port = addresses_[1].substr(addresses_[1].rfind(':') + 1);
  Child proxy(
      {testing::delay_proxy_binary(), std::to_string(proxy_port), "127.0.0.1", target_port, "30"},
      dir_ + "/proxy.log");
  std::this_thread::sleep_for(Ms(200));
  auto assignments = stages({2, 4});
  assignments[1].address = parse_host_port("127.0.0.1:" + std::to_string(proxy_port));
  auto runner = make_runner(model, assignments);
  StepPlan plan;
  plan.step_id = 7;
  StepEntry entry;
  entry.tokens = kPrompt;
  plan.entries.push_back(entry);
  const auto start = std::chrono::steady_clock::now();
  const FloatMatrix logits = runner.logits(plan);
  EXPECT_GE(std::chrono::steady_clock::now() - start, Ms(60));  // the delay was real
  const FloatMatrix expected = local_logits(model, kPrompt);
  expect_same_logits({expected.data().begin(), expected.data().end()},
                     {logits.data().begin(), logits.data().end()}, "through the delay proxy");
}

class PipelineProcessUcx : public PipelineProcess {
 protected:
  PipelineProcessUcx() { transport_ = "ucx"; }
};

TEST_F(PipelineProcessUcx, SplitLogitsEqualOneProcess) {
  start_nodes(3);
  for (const std::string name : {"qwen3moe-tiny-Q8_0.gguf", "qwen35moe-tiny-Q8_0.gguf"}) {
    const std::string model = testing::reference_path(name);
    const FloatMatrix single = local_logits(model, kPrompt);
    const std::vector<float> expected(single.data().begin(), single.data().end());
    for (const std::string split : {"2,2", "1,2,1"}) {
      const std::string out = dir_ + "/split.f32";
      ASSERT_EQ(cluster_logits(model, split, out, secret_), 0);
      expect_same_logits(expected, read_floats(out), name + " over UCX, split " + split);
    }
  }
}

TEST_F(PipelineProcessUcx, GreedyTokensEqualOneProcess) {
  start_nodes(2);
  const std::string model = testing::reference_path("qwen3moe-tiny-Q8_0.gguf");
  auto runner = make_runner(model, stages({2, 4}));
  SchedulerConfig config;
  config.slots = 2;
  config.context_length = 64;
  EngineCore engine(runner, config, 8);
  std::mutex mutex;
  std::condition_variable done;
  std::vector<int32_t> tokens;
  bool finished = false;
  RequestSpec request;
  request.prompt = kPrompt;
  request.max_new_tokens = 6;
  request.sampling.temperature = 0;
  engine.submit(request, [&](const RequestUpdate& update) {
    std::lock_guard lock(mutex);
    if (update.token) tokens.push_back(*update.token);
    if (update.finish != FinishReason::kNone) {
      finished = true;
      done.notify_all();
    }
  });
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(done.wait_for(lock, Ms(20000), [&] { return finished; }));
  }
  EXPECT_EQ(tokens, local_greedy(model, kPrompt, 6));
}

TEST_F(PipelineProcessUcx, WrongSecretIsRefused) {
  start_nodes(2);
  std::string output;
  const int rc = cluster_logits(testing::reference_path("qwen3moe-tiny-Q8_0.gguf"), "2,2",
                                dir_ + "/x.f32", wrong_secret_, &output);
  EXPECT_EQ(rc, 1) << output;
  EXPECT_TRUE(children_[0]->wait_for("(refused)", Ms(2000))) << children_[0]->output();
}

TEST_F(PipelineProcessUcx, KilledStageEndsInAnErrorNotAHang) {
  start_nodes(2);
  const std::string model = testing::reference_path("qwen3moe-tiny-Q8_0.gguf");
  auto runner = make_runner(model, stages({2, 4}));
  StepPlan plan;
  plan.step_id = 1;
  StepEntry entry;
  entry.request_id = 1;
  entry.tokens = kPrompt;
  entry.sample = true;
  entry.sampling.temperature = 0;
  plan.entries.push_back(entry);
  runner.launch(plan);
  ASSERT_EQ(runner.collect().sampled.size(), 1u);
  children_[1]->kill();
  const auto start = std::chrono::steady_clock::now();
  plan.step_id = 2;
  plan.entries[0].keep_positions = plan.entries[0].first_position =
      static_cast<int32_t>(kPrompt.size());
  plan.entries[0].tokens = {42};
  EXPECT_THROW(
      {
        runner.launch(plan);
        (void)runner.collect();
      },
      Error);
  EXPECT_LT(std::chrono::steady_clock::now() - start, Ms(12000));
}

}  // namespace
}  // namespace tandem
