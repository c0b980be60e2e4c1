#pragma once
// Summary statistics for benchmark samples.
//
// Percentiles use linear interpolation between closest ranks, numpy's default
// ("linear", Hyndman & Fan type 7): for n sorted samples x[0..n-1] and p in [0, 100],
// h = (n - 1) * p / 100 and the result is x[floor(h)] + (h - floor(h)) *
// (x[floor(h) + 1] - x[floor(h)]). p = 0 gives the minimum, p = 100 the maximum.

#include <cstddef>
#include <span>
#include <vector>

namespace tandem::bench {

// The p-th percentile of `samples` (any order). NaN when there are no samples.
// Throws tandem::Error when p is outside [0, 100] or not a number.
double percentile(std::span<const double> samples, double p);

// Same, for samples already sorted ascending (not checked).
double percentile_sorted(std::span<const double> sorted, double p);

struct Summary {
  size_t count = 0;
  double mean = 0;  // NaN (like every field below) when count == 0
  double min = 0;
  double max = 0;
  double p50 = 0;
  double p95 = 0;
  double p99 = 0;
};

Summary summarize(std::vector<double> samples);

}  // namespace tandem::bench
