#include "cluster/link.h"

#include <algorithm>

#include "cluster/node_info.h"
#include "platform/error.h"

namespace tandem::cluster {

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 ? values[middle] : 0.5 * (values[middle - 1] + values[middle]);
}

LinkReport measure_link(Connection& connection, const LinkOptions& options) {
  LinkReport report;
  std::vector<double> round_trips_us;
  double best_us = 0;
  for (uint32_t i = 0; i < std::max<uint32_t>(options.ping_count, 1); ++i) {
    const int64_t sent_unix_ns = unix_time_ns();
    const auto start = Clock::now();
    connection.send_message(Ping{i});
    const auto pong = connection.receive_message<Pong>(options.timeout, kMaxControlPayload);
    const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
    if (pong.sequence != i) throw Error(str_cat("pong ", pong.sequence, " answers no ping ", i));
    if (round_trips_us.empty() || us < best_us) {
      best_us = us;
      const double mid_trip_ns = static_cast<double>(sent_unix_ns) + us * 1e3 / 2;
      report.clock_offset_us = (static_cast<double>(pong.clock_unix_ns) - mid_trip_ns) / 1e3;
    }
    round_trips_us.push_back(us);
  }
  report.latency_median_us = median(round_trips_us);
  report.latency_min_us = best_us;

  const uint64_t bulk = std::min<uint64_t>(options.bulk_bytes, kMaxBulkPayload - 64);
  if (bulk > 0) {
    LinkProbe probe{1, std::vector<uint8_t>(bulk)};
    for (size_t i = 0; i < probe.data.size(); ++i) probe.data[i] = static_cast<uint8_t>(i * 131);
    const Frame frame = to_frame(probe);
    const auto start = Clock::now();
    connection.send(frame.type, frame.payload);
    const auto ack = connection.receive_message<LinkProbeAck>(options.timeout, kMaxControlPayload);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (ack.probe_id != probe.probe_id || ack.bytes_received != bulk) {
      throw Error(str_cat("link probe ack reports ", ack.bytes_received, " of ", bulk, " bytes"));
    }
    // The ack's own round trip is not transfer time.
    const double transfer = std::max(seconds - report.latency_min_us / 1e6, 1e-9);
    report.bandwidth_bytes_per_s = static_cast<double>(frame.payload.size()) / transfer;
  }
  return report;
}

bool answer_link_probe(Connection& connection, const Frame& frame) {
  if (frame.type == MessageType::kPing) {
    const auto ping = from_frame<Ping>(frame);
    connection.send_message(Pong{ping.sequence, unix_time_ns()});
    return true;
  }
  if (frame.type == MessageType::kLinkProbe) {
    const auto probe = from_frame<LinkProbe>(frame);
    connection.send_message(LinkProbeAck{probe.probe_id, probe.data.size()});
    return true;
  }
  return false;
}

}  // namespace tandem::cluster
