// `tandem node`: runs a cluster node until SIGINT or SIGTERM, printing membership changes.

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cluster/node.h"
#include "cluster/transport_kind.h"
#include "platform/error.h"

#ifndef TANDEM_VERSION
#define TANDEM_VERSION "dev"
#endif

namespace tandem::cli {
namespace {

struct NodeArguments {
  std::string listen = "0.0.0.0:7700";
  std::string join;
  std::string secret_file;
  std::string name;
  std::string cache_dir = default_cache_dir();
  std::string models_dir;
  int heartbeat_ms = 1000;
  int failure_timeout_ms = 5000;
  std::string discover;
  std::vector<std::string> beacons;
  std::string transport = "tcp";
};

void print_line(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void run_node(const NodeArguments& args) {
  cluster::NodeOptions options;
  options.name = args.name;
  options.listen = parse_host_port(args.listen);
  if (!args.join.empty()) options.join = parse_host_port(args.join);
  options.cache_dir = args.cache_dir;
  options.models_dir = args.models_dir;
  options.tandem_version = TANDEM_VERSION;
  options.heartbeat = Milliseconds(args.heartbeat_ms);
  options.failure_timeout = Milliseconds(args.failure_timeout_ms);
  if (!args.discover.empty()) options.discovery_listen = parse_host_port(args.discover);
  for (const auto& beacon : args.beacons) options.beacon_targets.push_back(parse_host_port(beacon));

  // The node's threads inherit this mask, so the signals wait for sigwait below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &signals, &previous);

  cluster::Node node(options, cluster::Secret::load_file(args.secret_file),
                     cluster::make_transport(cluster::parse_transport_kind(args.transport)),
                     print_line);
  try {
    node.start();
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    throw;
  }
  print_line(str_cat("listening on ", node.address().to_string(), " as ", node.node_id()));
  int received = 0;
  sigwait(&signals, &received);
  print_line(str_cat("stopping on signal ", received));
  node.stop();
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

}  // namespace

void add_node_command(CLI::App& app) {
  auto* command = app.add_subcommand("node", "Run a cluster node until interrupted");
  auto args = std::make_shared<NodeArguments>();
  command->add_option("--listen", args->listen, "HOST:PORT to accept peers on (port 0: any)")
      ->capture_default_str();
  command->add_option("--join", args->join, "HOST:PORT of a member to join through");
  command
      ->add_option("--secret-file", args->secret_file, "file holding the cluster secret (mode 600)")
      ->required();
  command->add_option("--name", args->name, "node name (default: host name)");
  command
      ->add_option("--cache-dir", args->cache_dir,
                   "directory for stage shards and hashes; its free space is reported")
      ->capture_default_str();
  command->add_option("--models-dir", args->models_dir,
                      "directory where model files are looked up by name (default: a stage "
                      "looks at the coordinator's path, model queries in --cache-dir)");
  command->add_option("--heartbeat-ms", args->heartbeat_ms, "how often peers are contacted")
      ->capture_default_str()
      ->check(CLI::Range(10, 600'000));
  command
      ->add_option("--failure-timeout-ms", args->failure_timeout_ms,
                   "silence after which a peer is dropped")
      ->capture_default_str()
      ->check(CLI::Range(50, 3'600'000));
  command->add_option("--discover", args->discover, "HOST:PORT to listen for UDP beacons on");
  command->add_option("--beacon", args->beacons,
                      "HOST:PORT to send UDP beacons to (repeatable; a broadcast address works)");
  command
      ->add_option("--transport", args->transport,
                   "tcp, or ucx (shared memory on one host, TCP or RDMA between hosts); peers "
                   "and coordinators must use the same")
      ->check(CLI::IsMember({"tcp", "ucx"}))
      ->capture_default_str();
  command->callback([args] { run_node(*args); });
}

}  // namespace tandem::cli
