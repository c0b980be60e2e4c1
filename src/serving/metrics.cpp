#include "serving/metrics.h"

#include <algorithm>
#include <cstdio>

namespace tandem {
namespace {

std::string number(double value) {
  char out[32];
  std::snprintf(out, sizeof(out), "%.17g", value);
  return out;
}

void scalar(std::string& out, const char* name, const char* type, const char* help, double value) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
         name + " " + number(value) + "\n";
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {
  std::sort(bounds_.begin(), bounds_.end());
}

void Histogram::observe(double value) {
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  std::lock_guard lock(mutex_);
  ++counts_[bucket];
  sum_ += value;
  ++total_;
}

uint64_t Histogram::count() const {
  std::lock_guard lock(mutex_);
  return total_;
}

void Histogram::render(const std::string& name, const std::string& help, std::string& out) const {
  std::lock_guard lock(mutex_);
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += name + "_bucket{le=\"" + number(bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  cumulative += counts_.back();
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  out += name + "_sum " + number(sum_) + "\n";
  out += name + "_count " + std::to_string(total_) + "\n";
}

std::string ServerMetrics::render(const Gauges& gauges) const {
  std::string out;
  scalar(out, "tandem_requests_total", "counter", "Requests received",
         static_cast<double>(requests_total));
  scalar(out, "tandem_requests_failed_total", "counter", "Requests that ended in an error",
         static_cast<double>(requests_failed));
  scalar(out, "tandem_requests_rejected_total", "counter",
         "Requests refused because the queue was full", static_cast<double>(requests_rejected));
  scalar(out, "tandem_requests_cancelled_total", "counter", "Requests cancelled by the client",
         static_cast<double>(requests_cancelled));
  scalar(out, "tandem_prompt_tokens_total", "counter", "Prompt tokens processed",
         static_cast<double>(prompt_tokens_total));
  scalar(out, "tandem_generation_tokens_total", "counter", "Tokens generated",
         static_cast<double>(generated_tokens_total));
  scalar(out, "tandem_requests_waiting", "gauge", "Requests queued",
         static_cast<double>(gauges.waiting));
  scalar(out, "tandem_requests_running", "gauge", "Requests running",
         static_cast<double>(gauges.running));
  scalar(out, "tandem_kv_blocks_used", "gauge", "KV cache blocks in use",
         static_cast<double>(gauges.kv_blocks_used));
  scalar(out, "tandem_kv_blocks_total", "gauge", "KV cache blocks in all",
         static_cast<double>(gauges.kv_blocks_total));
  scalar(out, "tandem_kv_usage_ratio", "gauge", "Share of the KV cache in use",
         gauges.kv_blocks_total
             ? static_cast<double>(gauges.kv_blocks_used) / gauges.kv_blocks_total
             : 0.0);
  scalar(out, "tandem_prefix_cache_hits_total", "counter",
         "Requests that reused a cached prompt prefix",
         static_cast<double>(gauges.prefix_cache_hits));
  scalar(out, "tandem_preemptions_total", "counter", "Requests preempted for KV space",
         static_cast<double>(gauges.preemptions));
  scalar(out, "tandem_recoveries_total", "counter",
         "Times the model runner was rebuilt after a failure (a cluster node left) and its "
         "requests resumed",
         static_cast<double>(gauges.recoveries));
  time_to_first_token.render("tandem_time_to_first_token_seconds", "Time to first token", out);
  inter_token_latency.render("tandem_inter_token_latency_seconds", "Time between generated tokens",
                             out);
  request_latency.render("tandem_request_latency_seconds", "End-to-end request latency", out);
  return out;
}

}  // namespace tandem
