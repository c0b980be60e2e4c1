#include "cli/bench/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "platform/error.h"

namespace tandem::bench {

double percentile_sorted(std::span<const double> sorted, double p) {
  if (!(p >= 0.0 && p <= 100.0)) throw Error(str_cat("percentile ", p, " is outside [0, 100]"));
  if (sorted.empty()) return std::numeric_limits<double>::quiet_NaN();
  const double rank = static_cast<double>(sorted.size() - 1) * p / 100.0;
  const auto lower = static_cast<size_t>(std::floor(rank));
  if (lower + 1 >= sorted.size()) return sorted.back();
  const double fraction = rank - static_cast<double>(lower);
  return sorted[lower] + fraction * (sorted[lower + 1] - sorted[lower]);
}

double percentile(std::span<const double> samples, double p) {
  std::vector<double> sorted(samples.begin(), samples.end());
  std::sort(sorted.begin(), sorted.end());
  return percentile_sorted(sorted, p);
}

Summary summarize(std::vector<double> samples) {
  Summary out;
  out.count = samples.size();
  if (samples.empty()) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    out.mean = out.min = out.max = out.p50 = out.p95 = out.p99 = nan;
    return out;
  }
  std::sort(samples.begin(), samples.end());
  out.mean =
      std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
  out.min = samples.front();
  out.max = samples.back();
  out.p50 = percentile_sorted(samples, 50);
  out.p95 = percentile_sorted(samples, 95);
  out.p99 = percentile_sorted(samples, 99);
  return out;
}

}  // namespace tandem::bench
