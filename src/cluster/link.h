#pragma once
// Link measurement over an authenticated connection: latency as the median of N
// ping round trips, bandwidth as one timed bulk transfer, and the peer's clock offset
// from the fastest round trip (NTP-style: peer clock minus local clock at mid-trip).

#include <cstdint>

#include "cluster/transport.h"
#include "cluster/wire.h"

namespace tandem::cluster {

struct LinkOptions {
  uint32_t ping_count = 20;
  uint64_t bulk_bytes = 16u << 20;  // clamped to what one frame may carry
  Milliseconds timeout{10'000};     // per round trip / per transfer
};

// Measures the link to the peer of `connection`, which must answer with
// answer_link_probe. Fills the numbers of a LinkReport (not from/to). Throws Error.
LinkReport measure_link(Connection& connection, const LinkOptions& options);

// Answers a Ping with a Pong and a LinkProbe with a LinkProbeAck; false for any other
// frame type (left to the caller).
bool answer_link_probe(Connection& connection, const Frame& frame);

double median(std::vector<double> values);

}  // namespace tandem::cluster
