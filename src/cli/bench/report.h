#pragma once
// Reports of a benchmark run: a text table, a JSON document with every number and
// the settings, and an SVG chart (throughput and p95 latency against concurrency).

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/bench/load_generator.h"

namespace tandem::bench {

// One line per level: requests, errors, aggregate and per-request tok/s, TTFT, E2E, ITL.
std::string format_table(const BenchResult& result);

// {"settings": {...}, "model", "endpoint", "levels": [{..., "requests_detail": [...]}]}.
// Latencies are in milliseconds; numbers that do not exist (no samples) are null.
nlohmann::ordered_json to_json(const BenchResult& result);

// A self-contained SVG document: two panels sharing the x axis (the concurrency
// levels, evenly spaced): aggregate output tok/s, and p95 TTFT and end-to-end latency.
std::string render_svg(const BenchResult& result);

}  // namespace tandem::bench
