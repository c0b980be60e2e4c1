#pragma once
// Runs the tandem binary as a child process and captures its exit code and output.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "test_paths.h"

extern char** environ;

namespace tandem::testing {

struct RunResult {
  int exit_code = -1;  // -1: killed by a signal or not started
  std::string out;
  std::string err;
};

// `scratch` is a path prefix for the captured stdout (.out) and stderr (.err).
inline RunResult run_tandem(const std::vector<std::string>& args, const std::string& scratch) {
  const std::string out_path = scratch + ".out", err_path = scratch + ".err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  std::vector<std::string> argv_storage = {tandem_binary()};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  RunResult result;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return result;
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  std::ifstream out(out_path), err(err_path);
  result.out.assign(std::istreambuf_iterator<char>(out), {});
  result.err.assign(std::istreambuf_iterator<char>(err), {});
  ::unlink(out_path.c_str());
  ::unlink(err_path.c_str());
  return result;
}

}  // namespace tandem::testing
