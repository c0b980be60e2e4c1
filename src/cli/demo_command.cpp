// `tandem demo [--vocab builtin|GGUF] [--port P] [--dir D]`: a cluster on one machine in
// one command. Writes a random tiny qwen3moe model (the built-in vocabulary and ChatML, or
// those of GGUF), starts two `tandem node` processes of this binary on 127.0.0.1 with a fresh
// secret, serves the model split across them and prints the URL and a curl line.
// Ctrl-C (SIGINT) or SIGTERM stops every process it started.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/vocab_source.h"
#include "gguf/gguf_file.h"
#include "model/synth/synth_writer.h"
#include "platform/error.h"

extern char** environ;

namespace tandem::cli {
namespace {

struct DemoArgs {
  std::string vocab = kBuiltinVocab;
  int port = 8080;
  std::string dir;
};

// A child of this binary with stdout and stderr in `log`; killed and reaped on scope exit.
class DemoChild {
 public:
  DemoChild(const std::vector<std::string>& args, std::string log) : log_(std::move(log)) {
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>("/proc/self/exe"));
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    // The parent blocks the stop signals; the children take them the default way.
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
    const int rc =
        posix_spawn(&pid_, "/proc/self/exe", &actions, &attributes, argv.data(), environ);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw Error(str_cat("cannot start ", args[0], ": error ", rc));
  }
  ~DemoChild() { stop(); }
  DemoChild(const DemoChild&) = delete;
  DemoChild& operator=(const DemoChild&) = delete;

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  bool exited() {
    if (pid_ <= 0) return true;
    if (::waitpid(pid_, nullptr, WNOHANG) != pid_) return false;
    pid_ = -1;
    return true;
  }
  std::string output() const {
    std::ifstream file(log_);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }
  // The first capture of `pattern` in the log, waiting up to `seconds`; throws Error.
  std::string wait_for(const std::string& pattern, int seconds) {
    const std::regex re(pattern);
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < end) {
      std::smatch match;
      const std::string text = output();
      if (std::regex_search(text, match, re)) return match[1].str();
      if (exited()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw Error(str_cat("a demo process did not start; its log ", log_, ":\n", output()));
  }

 private:
  pid_t pid_ = -1;
  std::string log_;
};

std::string write_secret(const std::string& dir) {
  std::random_device random;
  std::string text;
  for (int i = 0; i < 32; ++i) {
    constexpr char kHex[] = "0123456789abcdef";
    text += kHex[random() % 16];
  }
  const std::string path = dir + "/secret";
  {
    std::ofstream out(path);
    out << text << "\n";
    if (!out) throw Error(str_cat("cannot write ", path));
  }
  ::chmod(path.c_str(), 0600);
  return path;
}

void run_demo(const DemoArgs& args) {
  std::string dir = args.dir;
  if (dir.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "tandem-demo-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw Error("demo: cannot make a temporary folder");
    dir = pattern;
  }
  std::filesystem::create_directories(dir);

  synth::SynthOptions options;  // the defaults: a tiny qwen3moe
  options.config.name = "tandem-demo";
  const std::string model = dir + "/tandem-demo.gguf";
  synth::write_synth_model(options, VocabularySource(args.vocab).file(), model);
  std::printf("tandem demo: wrote %s (random weights: the answers are noise)\n", model.c_str());
  const std::string secret = write_secret(dir);

  // Block the stop signals before any child starts; sigtimedwait takes them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::vector<std::unique_ptr<DemoChild>> nodes;
  std::string first;
  for (int i = 0; i < 2; ++i) {
    // Each node has its own empty model folder: its stage's shard is streamed from the
    // server into its own cache, as on a machine without the model.
    const std::string node_dir = str_cat(dir, "/node", i);
    std::filesystem::create_directories(node_dir);
    std::vector<std::string> node = {
        "node",          "--listen", "127.0.0.1:0", "--name", str_cat("demo", i),
        "--secret-file", secret,     "--cache-dir", node_dir, "--models-dir",
        node_dir};
    if (i > 0) node.insert(node.end(), {"--join", first});
    nodes.push_back(std::make_unique<DemoChild>(node, str_cat(dir, "/node", i, ".log")));
    const std::string address =
        nodes.back()->wait_for("listening on (127\\.0\\.0\\.1:[0-9]+) as ", 10);
    if (i == 0) first = address;
    std::printf("tandem demo: node demo%d at %s\n", i, address.c_str());
  }
  nodes[0]->wait_for("member joined: (demo1-)", 10);
  DemoChild serve({"serve", model, "--port", std::to_string(args.port), "--ctx", "1024",
                   "--parallel", "2", "--join", first, "--secret-file", secret, "--split", "2,2"},
                  dir + "/serve.log");
  const std::string port = serve.wait_for("http://127\\.0\\.0\\.1:([0-9]+)", 60);
  const std::string url = "http://127.0.0.1:" + port;
  std::printf("tandem demo: serving %s split over 2 nodes at %s\n", model.c_str(), url.c_str());
  std::printf(
      "  curl %s/v1/chat/completions -H 'Content-Type: application/json' -d "
      "'{\"model\":\"tandem-demo\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],"
      "\"max_tokens\":16}'\n",
      url.c_str());
  std::printf("tandem demo: logs in %s; Ctrl-C stops everything\n", dir.c_str());
  std::fflush(stdout);

  const timespec tick{0, 200'000'000};
  while (sigtimedwait(&signals, nullptr, &tick) < 0) {
    if (serve.exited()) {
      throw Error(str_cat("demo: the server stopped; its log:\n", serve.output()));
    }
  }
  std::printf("tandem demo: stopping\n");
  serve.stop();
  for (auto& node : nodes) node->stop();
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto* command = app.add_subcommand(
      "demo", "Serve a random tiny model split over two local nodes (a cluster in one command)");
  auto args = std::make_shared<DemoArgs>();
  command
      ->add_option("--vocab,--vocab-from", args->vocab,
                   "builtin, or a GGUF file whose tokenizer and chat template the model takes")
      ->capture_default_str();
  command->add_option("--port", args->port, "HTTP port (0: any free port)")
      ->check(CLI::Range(0, 65535));
  command->add_option("--dir", args->dir, "folder for the model, secret and logs (default: new)");
  command->callback([args] { run_demo(*args); });
}

}  // namespace tandem::cli
