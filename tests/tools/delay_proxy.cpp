// A TCP proxy for tests that adds one-way latency and an optional rate limit to every
// connection, standing in for a real network link (this kernel has no netem).
//
//   tandem_delay_proxy [LISTEN_HOST:]LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS [BYTES_PER_S]
//
// Listens on 127.0.0.1:LISTEN_PORT unless a host is given. Hosts, listening or target,
// must be in 127.0.0.0/8 or in 10.231.0.0/24, the range the network-namespace test
// (netns_cluster_test.cpp) gives the veth pair inside its own namespaces. Each chunk read
// from one side is written to the other side DELAY_MS after it arrived, no faster than
// BYTES_PER_S.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Chunk {
  Clock::time_point due;
  std::vector<char> bytes;
};

// One direction of a connection: a reader thread queues chunks, a writer sends them when due.
class DelayedPipe {
 public:
  DelayedPipe(int from, int to, std::chrono::microseconds delay, double bytes_per_s)
      : from_(from), to_(to), delay_(delay), bytes_per_s_(bytes_per_s) {}

  void run() {
    std::thread writer([this] { write_loop(); });
    std::vector<char> buffer(64 * 1024);
    while (true) {
      const ssize_t n = ::read(from_, buffer.data(), buffer.size());
      std::lock_guard lock(mutex_);
      if (n <= 0) {
        closed_ = true;
        ready_.notify_all();
        break;
      }
      queue_.push_back(
          {Clock::now() + delay_, std::vector<char>(buffer.begin(), buffer.begin() + n)});
      ready_.notify_all();
    }
    writer.join();
    ::shutdown(to_, SHUT_WR);
  }

 private:
  void write_loop() {
    Clock::time_point link_free = Clock::now();
    while (true) {
      Chunk chunk;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return closed_ || !queue_.empty(); });
        if (queue_.empty()) return;
        chunk = std::move(queue_.front());
        queue_.pop_front();
      }
      // Serialization on a link of limited rate, then the propagation delay.
      if (bytes_per_s_ > 0) {
        link_free = std::max(link_free, chunk.due - delay_) +
                    std::chrono::microseconds(
                        static_cast<int64_t>(1e6 * chunk.bytes.size() / bytes_per_s_));
        chunk.due = std::max(chunk.due, link_free + delay_);
      }
      std::this_thread::sleep_until(chunk.due);
      size_t sent = 0;
      while (sent < chunk.bytes.size()) {
        // MSG_NOSIGNAL: a peer that closed ends this connection, not the whole proxy.
        const ssize_t n =
            ::send(to_, chunk.bytes.data() + sent, chunk.bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return;
        sent += static_cast<size_t>(n);
      }
    }
  }

  int from_;
  int to_;
  std::chrono::microseconds delay_;
  double bytes_per_s_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Chunk> queue_;
  bool closed_ = false;
};

int connect_to(const std::string& host, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: %s [LISTEN_HOST:]LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS "
                 "[BYTES_PER_S]\n",
                 argv[0]);
    return 2;
  }
  const std::string listen = argv[1];
  const size_t colon = listen.rfind(':');
  const std::string listen_host =
      colon == std::string::npos ? "127.0.0.1" : listen.substr(0, colon);
  const int listen_port = std::atoi(listen.c_str() + (colon == std::string::npos ? 0 : colon + 1));
  const std::string target_host = argv[2];
  const int target_port = std::atoi(argv[3]);
  const auto delay = std::chrono::microseconds(static_cast<int64_t>(std::atof(argv[4]) * 1000));
  const double rate = argc > 5 ? std::atof(argv[5]) : 0;
  const auto allowed = [](const std::string& host) {
    return host.rfind("127.", 0) == 0 || host.rfind("10.231.0.", 0) == 0;
  };
  if (!allowed(target_host) || !allowed(listen_host)) {
    std::fprintf(stderr, "only 127.0.0.0/8 and 10.231.0.0/24 addresses are allowed\n");
    return 2;
  }

  const int server = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(listen_port));
  if (::inet_pton(AF_INET, listen_host.c_str(), &address.sin_addr) != 1) {
    std::fprintf(stderr, "bad listen address %s\n", listen_host.c_str());
    return 2;
  }
  if (::bind(server, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(server, 64) != 0) {
    std::perror("bind");
    return 1;
  }
  std::printf("delaying %s:%d -> %s:%d by %s ms\n", listen_host.c_str(), listen_port,
              target_host.c_str(), target_port, argv[4]);
  std::fflush(stdout);
  while (true) {
    const int client = ::accept(server, nullptr, nullptr);
    if (client < 0) continue;
    const int upstream = connect_to(target_host, target_port);
    if (upstream < 0) {
      ::close(client);
      continue;
    }
    for (int fd : {client, upstream}) ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::thread([client, upstream, delay, rate] {
      DelayedPipe up(client, upstream, delay, rate);
      DelayedPipe down(upstream, client, delay, rate);
      std::thread other([&] { down.run(); });
      up.run();
      other.join();
      ::close(client);
      ::close(upstream);
    }).detach();
  }
}
