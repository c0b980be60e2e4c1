// `tandem doctor` against two real `tandem node` processes on 127.0.0.1: it passes with the
// reference model (over TCP and over UCX), and fails (exit code and named fix) for a wrong
// secret, a model that does not fit in memory, and a node holding a different file under the
// model's name.
// Every child is SIGKILLed and reaped by its guard, also when an assertion fails.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include "child_process.h"
#include "test_paths.h"

namespace tandem {
namespace {

using Ms = std::chrono::milliseconds;
constexpr const char* kModel = "qwen3moe-tiny-Q8_0.gguf";

using Process = testing::Child;
using testing::read_file;

struct DoctorRun {
  int exit_code = -1;
  std::string output;
  nlohmann::json report;  // the JSON on stdout, when it parsed
};

class DoctorProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    TANDEM_REQUIRE_SHARED();
    char pattern[] = "/tmp/tandem-doctor-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    secret_ = write_secret("secret", "correct horse battery staple");
    wrong_secret_ = write_secret("wrong", "another cluster");
    // Copies, not the shared files: hashing writes sidecars, and nodes look up by name.
    for (const char* sub : {"/here", "/models-a", "/models-b", "/cache"}) {
      std::filesystem::create_directory(dir_ + sub);
    }
    model_ = dir_ + "/here/" + kModel;
    std::filesystem::copy_file(testing::reference_path(kModel), model_);
    std::filesystem::copy_file(model_, dir_ + "/models-a/" + kModel);
  }
  void TearDown() override {
    nodes_.clear();  // kills the children before their logs go
    if (!dir_.empty() && !HasFailure()) std::filesystem::remove_all(dir_);
  }
  std::string write_secret(const std::string& name, const std::string& text) {
    return testing::write_secret_file(dir_, name, text);
  }
  std::string start_node(const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> args = {testing::tandem_binary(),
                                     "node",
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--name",
                                     name,
                                     "--secret-file",
                                     secret_,
                                     "--cache-dir",
                                     dir_ + "/cache-" + name,
                                     "--models-dir",
                                     dir_ + "/models-" + name};
    args.insert(args.end(), extra.begin(), extra.end());
    nodes_.push_back(std::make_unique<Process>(args, dir_ + "/" + name + ".log"));
    const auto address =
        nodes_.back()->wait_for("listening on (127\\.0\\.0\\.1:[0-9]+) as ", Ms(5000));
    EXPECT_TRUE(address) << nodes_.back()->output();
    return address.value_or("");
  }
  // Node a, then node b joining through it; b's models directory holds `b_model` (if any)
  // under the reference model's name.
  void start_cluster(const std::string& b_model, const std::vector<std::string>& extra = {}) {
    if (!b_model.empty()) std::filesystem::copy_file(b_model, dir_ + "/models-b/" + kModel);
    entry_ = start_node("a", extra);
    ASSERT_FALSE(entry_.empty());
    std::vector<std::string> join = {"--join", entry_};
    join.insert(join.end(), extra.begin(), extra.end());
    ASSERT_FALSE(start_node("b", join).empty());
    ASSERT_TRUE(nodes_[0]->wait_for("member joined: b-", Ms(5000))) << nodes_[0]->output();
  }
  DoctorRun doctor(std::vector<std::string> extra) {
    std::vector<std::string> args = {testing::tandem_binary(),
                                     "doctor",
                                     "--json",
                                     "--cache-dir",
                                     dir_ + "/cache",
                                     "--bandwidth-mib",
                                     "16",
                                     "--pings",
                                     "3",
                                     "--bulk-bytes",
                                     "1048576"};
    args.insert(args.end(), extra.begin(), extra.end());
    const std::string log = dir_ + "/doctor-" + std::to_string(runs_++) + ".log";
    Process child(args, log);
    DoctorRun run;
    run.exit_code = child.wait(Ms(20000));
    run.output = child.output();
    // stdout holds the JSON object; an error line on stderr may follow it.
    const size_t end = run.output.rfind("\n}");
    if (end != std::string::npos) {
      try {
        run.report = nlohmann::json::parse(run.output.substr(0, end + 2));
      } catch (const std::exception&) {
      }
    }
    return run;
  }
  static const nlohmann::json* gate(const DoctorRun& run, const std::string& name) {
    if (!run.report.contains("gates")) return nullptr;
    for (const auto& g : run.report["gates"]) {
      if (g["name"] == name) return &g;
    }
    return nullptr;
  }

  std::string dir_;
  std::string secret_;
  std::string wrong_secret_;
  std::string model_;
  std::string entry_;
  int runs_ = 0;
  std::vector<std::unique_ptr<Process>> nodes_;
};

TEST_F(DoctorProcess, OneMachinePassesAndAHugeContextFailsTheMemoryPlan) {
  const DoctorRun ok = doctor({model_});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  ASSERT_TRUE(ok.report.is_object()) << ok.output;
  EXPECT_EQ(ok.report["fail"], 0) << ok.output;
  for (const char* name :
       {"cpu", "memory", "model file", "model hash", "memory bandwidth", "memory plan"}) {
    const auto* g = gate(ok, name);
    ASSERT_NE(g, nullptr) << name << "\n" << ok.output;
    EXPECT_NE((*g)["status"], "FAIL") << g->dump();
  }
  EXPECT_NE((*gate(ok, "model hash"))["measured"].get<std::string>().find("computed in"),
            std::string::npos);
  // The second run reads the sidecar instead of hashing again.
  const DoctorRun again = doctor({model_, "--ctx", "1073741824"});
  EXPECT_NE(again.exit_code, 0) << again.output;
  ASSERT_NE(gate(again, "model hash"), nullptr) << again.output;
  EXPECT_NE((*gate(again, "model hash"))["measured"].get<std::string>().find("cached in"),
            std::string::npos);
  const auto* plan = gate(again, "memory plan");
  ASSERT_NE(plan, nullptr) << again.output;
  EXPECT_EQ((*plan)["status"], "FAIL");
  EXPECT_NE((*plan)["measured"].get<std::string>().find("does not fit"), std::string::npos);
  EXPECT_NE((*plan)["fix"].get<std::string>().find("--ctx (now 1073741824)"), std::string::npos);
  EXPECT_NE(again.output.find("gate(s) failed: memory plan"), std::string::npos);
}

TEST_F(DoctorProcess, TwoNodesPassWithTheReferenceModel) {
  start_cluster(model_);
  const DoctorRun run = doctor({model_, "--join", entry_, "--secret-file", secret_});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  ASSERT_TRUE(run.report.is_object()) << run.output;
  EXPECT_EQ(run.report["fail"], 0) << run.output;
  for (const char* name : {"cluster reach", "tandem version", "link a -> b", "link b -> a",
                           "model copies", "memory plan", "disk for shards"}) {
    const auto* g = gate(run, name);
    ASSERT_NE(g, nullptr) << name << "\n" << run.output;
    EXPECT_NE((*g)["status"], "FAIL") << g->dump();
  }
  EXPECT_EQ((*gate(run, "cluster reach"))["status"], "PASS");
  EXPECT_EQ((*gate(run, "model copies"))["status"], "PASS");
  ASSERT_TRUE(run.report["placement"].is_array());
  EXPECT_GE(run.report["placement"].size(), 1u);
  // No RDMA devices on a loopback test machine: a warning, not a failure.
  ASSERT_NE(gate(run, "rdma"), nullptr);
  EXPECT_NE((*gate(run, "rdma"))["status"], "FAIL");
}

// Nodes that speak only UCX are reached, and their links measured, with --transport ucx
// (over TCP the doctor gets no answer from them).
TEST_F(DoctorProcess, UcxNodesPassWithTransportUcx) {
  start_cluster(model_, {"--transport", "ucx"});
  const DoctorRun run = doctor({"--join", entry_, "--secret-file", secret_, "--transport", "ucx"});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  for (const char* name : {"cluster reach", "link a -> b", "link b -> a"}) {
    const auto* g = gate(run, name);
    ASSERT_NE(g, nullptr) << name << "\n" << run.output;
    EXPECT_NE((*g)["status"], "FAIL") << g->dump();
  }
  EXPECT_EQ((*gate(run, "cluster reach"))["status"], "PASS");
  const DoctorRun bad = doctor({"--join", entry_, "--secret-file", secret_, "--transport", "x"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("--transport"), std::string::npos) << bad.output;
}

TEST_F(DoctorProcess, WrongSecretFailsWithTheFix) {
  start_cluster(model_);
  const DoctorRun run = doctor({"--join", entry_, "--secret-file", wrong_secret_});
  EXPECT_NE(run.exit_code, 0) << run.output;
  const auto* g = gate(run, "cluster reach");
  ASSERT_NE(g, nullptr) << run.output;
  EXPECT_EQ((*g)["status"], "FAIL");
  EXPECT_NE((*g)["fix"].get<std::string>().find("use the same secret file on every node"),
            std::string::npos)
      << g->dump();
}

TEST_F(DoctorProcess, TooSmallMemoryFailsTheClusterPlan) {
  start_cluster(model_);
  const DoctorRun run =
      doctor({model_, "--join", entry_, "--secret-file", secret_, "--ctx", "1073741824"});
  EXPECT_NE(run.exit_code, 0) << run.output;
  const auto* plan = gate(run, "memory plan");
  ASSERT_NE(plan, nullptr) << run.output;
  EXPECT_EQ((*plan)["status"], "FAIL");
  const std::string measured = (*plan)["measured"];
  EXPECT_NE(measured.find("does not fit"), std::string::npos) << measured;
  EXPECT_NE(measured.find(" a "), std::string::npos) << measured;  // each node's free memory
  EXPECT_NE(measured.find(" b "), std::string::npos) << measured;
}

TEST_F(DoctorProcess, DifferentFileUnderTheSameNameFailsTheHashGate) {
  start_cluster(testing::reference_path("qwen3moe-tiny-Q4_K_M.gguf"));
  const DoctorRun run = doctor({model_, "--join", entry_, "--secret-file", secret_});
  EXPECT_NE(run.exit_code, 0) << run.output;
  const auto* copies = gate(run, "model copies");
  ASSERT_NE(copies, nullptr) << run.output;
  EXPECT_EQ((*copies)["status"], "FAIL");
  const std::string measured = (*copies)["measured"];
  EXPECT_NE(measured.find("same hash: a "), std::string::npos) << measured;
  EXPECT_NE(measured.find("DIFFERENT: b "), std::string::npos) << measured;
  EXPECT_NE((*copies)["fix"].get<std::string>().find("copy the model there again"),
            std::string::npos);
}

}  // namespace
}  // namespace tandem
