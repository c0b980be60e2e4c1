#include "serving/connection_probe.h"

#include <dirent.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdlib>
#include <memory>

namespace tandem {
namespace {

struct Address {
  std::string host;
  int port = -1;
};

// Formats an address the way httplib does (getnameinfo, numeric host).
bool numeric_address(const sockaddr_storage& address, socklen_t length, Address& out) {
  char host[NI_MAXHOST];
  char service[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, host, sizeof host, service,
                  sizeof service, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return false;
  }
  out.host = host;
  out.port = std::atoi(service);
  return true;
}

bool socket_addresses(int fd, Address& local, Address& peer) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return false;
  if (!numeric_address(address, length, local)) return false;
  length = sizeof address;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return false;
  return numeric_address(address, length, peer);
}

struct DirCloser {
  void operator()(DIR* dir) const { closedir(dir); }
};

}  // namespace

ConnectionProbe::ConnectionProbe(const std::string& local_addr, int local_port,
                                 const std::string& remote_addr, int remote_port) {
  if (local_port < 0 || remote_port < 0) return;
  std::unique_ptr<DIR, DirCloser> dir(opendir("/proc/self/fd"));
  if (!dir) return;
  while (const dirent* entry = readdir(dir.get())) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == dirfd(dir.get())) continue;
    struct stat info {};
    if (fstat(static_cast<int>(fd), &info) != 0 || !S_ISSOCK(info.st_mode)) continue;
    Address local;
    Address peer;
    if (!socket_addresses(static_cast<int>(fd), local, peer)) continue;
    if (local.port == local_port && peer.port == remote_port && local.host == local_addr &&
        peer.host == remote_addr) {
      fd_ = static_cast<int>(fd);
      return;
    }
  }
}

bool ConnectionProbe::closed() const {
  if (fd_ < 0) return false;
  pollfd poller{fd_, POLLIN | POLLRDHUP, 0};
  if (poll(&poller, 1, 0) <= 0) return false;
  if ((poller.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0) return true;
  if ((poller.revents & POLLIN) != 0) {
    // Readable: either the client pipelined more bytes, or it closed (a read of 0).
    char byte = 0;
    return recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  }
  return false;
}

}  // namespace tandem
