// The test network link: the delaying proxy adds the latency it is asked for.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "test_paths.h"

extern char** environ;

namespace {

int listen_loopback(int& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  ::listen(fd, 4);
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  port = ntohs(address.sin_port);
  return fd;
}

int free_port() {
  int port = 0;
  ::close(listen_loopback(port));
  return port;
}

int connect_retry(int port) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) return fd;
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

TEST(DelayProxy, AddsLatencyBothWays) {
  int echo_port = 0;
  const int echo_server = listen_loopback(echo_port);
  std::thread echo([echo_server] {
    const int c = ::accept(echo_server, nullptr, nullptr);
    char buffer[64];
    ssize_t n;
    while ((n = ::read(c, buffer, sizeof(buffer))) > 0) {
      if (::write(c, buffer, static_cast<size_t>(n)) != n) break;
    }
    ::close(c);
  });
  const int proxy_port = free_port();
  const std::string binary = tandem::testing::delay_proxy_binary();
  const std::string listen = std::to_string(proxy_port), target = std::to_string(echo_port);
  const char* argv[] = {binary.c_str(), listen.c_str(), "127.0.0.1", target.c_str(), "25", nullptr};
  pid_t pid = 0;
  ASSERT_EQ(
      ::posix_spawn(&pid, binary.c_str(), nullptr, nullptr, const_cast<char**>(argv), environ), 0);
  const int fd = connect_retry(proxy_port);
  ASSERT_GE(fd, 0);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(::write(fd, "ping", 4), 4);
  char reply[4];
  ASSERT_EQ(::read(fd, reply, 4), 4);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(ms, 50.0);  // 25 ms each way
  EXPECT_LT(ms, 1000.0);
  ::close(fd);
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  echo.join();
  ::close(echo_server);
}

}  // namespace
