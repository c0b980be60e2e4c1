#include "serving/metrics.h"

#include <gtest/gtest.h>

namespace tandem {
namespace {

TEST(Metrics, HistogramBucketsAreCumulative) {
  Histogram h({0.1, 1.0});
  h.observe(0.05);
  h.observe(0.1);  // le is inclusive
  h.observe(0.5);
  h.observe(7);
  std::string out;
  h.render("x", "help", out);
  EXPECT_NE(out.find("x_bucket{le=\"0.10000000000000001\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_bucket{le=\"1\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_bucket{le=\"+Inf\"} 4\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_sum 7.6500000000000004\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_count 4\n"), std::string::npos) << out;
}

TEST(Metrics, RendersEveryFamily) {
  ServerMetrics m;
  m.requests_total = 3;
  ServerMetrics::Gauges g;
  g.kv_blocks_used = 1;
  g.kv_blocks_total = 4;
  const std::string out = m.render(g);
  EXPECT_NE(out.find("tandem_requests_total 3\n"), std::string::npos);
  EXPECT_NE(out.find("tandem_kv_usage_ratio 0.25\n"), std::string::npos);
  EXPECT_NE(out.find("# TYPE tandem_time_to_first_token_seconds histogram"), std::string::npos);
  EXPECT_NE(out.find("tandem_inter_token_latency_seconds_count 0"), std::string::npos);
}

}  // namespace
}  // namespace tandem
