#include "cli/bench/report.h"

#include <cmath>

#include "platform/error.h"

namespace tandem::bench {
namespace {

using nlohmann::ordered_json;

std::string fixed(double value, int decimals) {
  if (std::isnan(value)) return "-";
  char out[64];
  std::snprintf(out, sizeof(out), "%.*f", decimals, value);
  return out;
}

// Seconds to milliseconds, keeping "no value" as NaN.
double ms(double seconds) { return seconds * 1000.0; }

ordered_json number(double value) {
  if (!std::isfinite(value)) return nullptr;
  return value;
}

ordered_json summary_json(const Summary& s, double scale) {
  return {{"count", s.count},
          {"mean", number(s.mean * scale)},
          {"min", number(s.min * scale)},
          {"max", number(s.max * scale)},
          {"p50", number(s.p50 * scale)},
          {"p95", number(s.p95 * scale)},
          {"p99", number(s.p99 * scale)}};
}

std::string level_label(const LevelResult& level) {
  return level.rate > 0 ? str_cat(fixed(level.rate, 2), "/s") : std::to_string(level.concurrency);
}

}  // namespace

std::string format_table(const BenchResult& result) {
  std::string out;
  char line[512];
  const bool open_loop = result.options.rate > 0;
  std::snprintf(line, sizeof(line), "%-8s %5s %5s %10s %10s %23s %23s %15s\n",
                open_loop ? "rate" : "conc", "reqs", "errs", "out tok/s", "req tok/s",
                "TTFT ms p50/p95/p99", "E2E ms p50/p95/p99", "ITL ms p50/p95");
  out += line;
  for (const LevelResult& level : result.levels) {
    const std::string ttft =
        str_cat(fixed(ms(level.ttft_s.p50), 0), "/", fixed(ms(level.ttft_s.p95), 0), "/",
                fixed(ms(level.ttft_s.p99), 0));
    const std::string e2e =
        str_cat(fixed(ms(level.e2e_s.p50), 0), "/", fixed(ms(level.e2e_s.p95), 0), "/",
                fixed(ms(level.e2e_s.p99), 0));
    const std::string itl =
        str_cat(fixed(ms(level.itl_s.p50), 1), "/", fixed(ms(level.itl_s.p95), 1));
    std::snprintf(line, sizeof(line), "%-8s %5d %5d %10s %10s %23s %23s %15s\n",
                  level_label(level).c_str(), level.requests, level.errors,
                  fixed(level.output_tok_s, 1).c_str(), fixed(level.decode_tok_s.p50, 1).c_str(),
                  ttft.c_str(), e2e.c_str(), itl.c_str());
    out += line;
    for (const auto& [kind, count] : level.errors_by_kind) {
      out += str_cat("         ", count, " x ", kind, "\n");
    }
    if (level.short_requests > 0) {
      out += str_cat("         ", level.short_requests, " x fewer than ", result.options.max_tokens,
                     " output tokens (does the server honour ignore_eos?)\n");
    }
  }
  out +=
      "out tok/s: all output tokens / wall time of the level; req tok/s: median per-request\n"
      "decode rate (tokens after the first / time after the first). Percentiles interpolate\n"
      "linearly between closest ranks.\n";
  return out;
}

ordered_json to_json(const BenchResult& result) {
  const BenchOptions& o = result.options;
  ordered_json out;
  out["settings"] = {
      {"url", o.url},
      {"model", result.model},
      {"api", o.chat ? "chat" : "completions"},
      {"concurrency", o.concurrency},
      {"prompt_tokens", o.prompt_tokens},
      {"prompt_tokens_exact", static_cast<bool>(o.tokenize)},
      {"tokenizer", o.tokenizer},
      {"biased_away_tokens", o.biased_away.size()},
      {"max_tokens", o.max_tokens},
      {"requests", o.requests},
      {"duration_s", o.duration_s},
      {"warmup", o.warmup},
      {"rate", o.rate},
      {"max_in_flight", o.max_in_flight},
      {"timeout_s", o.timeout_s},
      {"seed", o.seed},
      {"percentile_method", "linear interpolation between closest ranks (numpy default)"}};
  out["endpoint"] = result.endpoint.origin + result.endpoint.path;
  ordered_json levels = ordered_json::array();
  for (const LevelResult& level : result.levels) {
    ordered_json l;
    l["mode"] = level.rate > 0 ? "open" : "closed";
    l["concurrency"] = level.concurrency;
    l["rate"] = level.rate;
    l["wall_s"] = level.wall_s;
    l["requests"] = level.requests;
    l["errors"] = level.errors;
    l["errors_by_kind"] = level.errors_by_kind;
    l["short_requests"] = level.short_requests;
    l["output_tokens"] = level.output_tokens;
    l["output_tok_s"] = level.output_tok_s;
    l["mean_prompt_tokens"] = number(level.mean_prompt_tokens < 0 ? NAN : level.mean_prompt_tokens);
    l["decode_tok_s"] = summary_json(level.decode_tok_s, 1.0);
    l["ttft_ms"] = summary_json(level.ttft_s, 1000.0);
    l["e2e_ms"] = summary_json(level.e2e_s, 1000.0);
    l["itl_ms"] = summary_json(level.itl_s, 1000.0);
    ordered_json detail = ordered_json::array();
    for (const RequestRecord& r : level.records) {
      ordered_json itl = ordered_json::array();
      for (double gap : r.itl_s) itl.push_back(ms(gap));
      detail.push_back(
          {{"ok", r.ok},
           {"http_status", r.http_status},
           {"error_kind", r.error_kind},
           {"error", r.error},
           {"start_ms", ms(r.start_s)},
           {"ttft_ms", r.ttft_s < 0 ? ordered_json(nullptr) : ordered_json(ms(r.ttft_s))},
           {"e2e_ms", ms(r.e2e_s)},
           {"output_tokens", r.output_tokens},
           {"usage_reported", r.usage_reported},
           {"prompt_tokens",
            r.prompt_tokens < 0 ? ordered_json(nullptr) : ordered_json(r.prompt_tokens)},
           {"itl_ms", std::move(itl)}});
    }
    l["requests_detail"] = std::move(detail);
    levels.push_back(std::move(l));
  }
  out["levels"] = std::move(levels);
  return out;
}

}  // namespace tandem::bench
