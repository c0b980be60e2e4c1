#pragma once
// Tells whether the client of an HTTP request has gone away while its handler waits.
//
// cpp-httplib 0.11 notices a closed connection only when a write fails, and a
// non-streaming response writes nothing until the answer is complete. The request
// carries both addresses of its connection, so the probe finds that connected socket
// among the process's descriptors and polls it for a hang-up. The socket stays open
// while the handler runs (httplib closes it afterwards), so the descriptor stays valid
// for the probe's life, which must end with the handler.

#include <string>

namespace tandem {

class ConnectionProbe {
 public:
  // Finds the socket whose own address is local_addr:local_port and whose peer is
  // remote_addr:remote_port (numeric hosts, as httplib::Request gives them). When none
  // matches, closed() always says false.
  ConnectionProbe(const std::string& local_addr, int local_port, const std::string& remote_addr,
                  int remote_port);

  bool found() const { return fd_ >= 0; }
  // True once the peer has closed or reset the connection. Does not block.
  bool closed() const;

 private:
  int fd_ = -1;  // not owned
};

}  // namespace tandem
