#include "platform/bandwidth.h"

#include <gtest/gtest.h>

namespace tandem {
namespace {

TEST(Bandwidth, MeasuresAPlausibleRate) {
  ThreadPool pool(2);
  const BandwidthResult r = measure_read_bandwidth(pool, 64ull << 20, 2);
  EXPECT_EQ(r.buffer_bytes, 64ull << 20);
  // Any machine that runs tandem reads memory faster than 100 MB/s and slower than 10 TB/s.
  EXPECT_GT(r.read_bytes_per_s, 1e8);
  EXPECT_LT(r.read_bytes_per_s, 1e13);
}

TEST(Bandwidth, ProbeMeasuresAgainOnItsBuffer) {
  ThreadPool pool(2);
  ReadBandwidthProbe probe(pool, (64ull << 20) + 100);
  EXPECT_EQ(probe.buffer_bytes(), 64ull << 20);  // whole 128-byte groups
  for (int i = 0; i < 2; ++i) {
    const double rate = probe.measure(2);
    EXPECT_GT(rate, 1e8);
    EXPECT_LT(rate, 1e13);
  }
}

}  // namespace
}  // namespace tandem
