#pragma once
// Load generator for OpenAI-compatible servers (llama-server, vLLM, exo, tandem).
//
// Closed loop: at each concurrency level c, c clients each send streaming requests back
// to back, after warm-up requests that are not counted; a client goes on to its measured
// requests as soon as its own warm-up ends (no barrier), so the clients are in the
// steady state of the server's scheduling, not lined up at one instant. Open loop (rate > 0):
// requests arrive as a Poisson process of `rate` per second, each measured from its scheduled
// arrival, so a server that falls behind shows it in latency instead of slowing the
// arrivals down.
//
// Every request streams (SSE) with stream_options.include_usage and ignore_eos, so
// servers that honour ignore_eos produce exactly max_tokens.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cli/bench/stats.h"

namespace tandem::bench {

struct BenchOptions {
  std::string url;      // http://host:port, optionally with /v1 or a full endpoint path
  std::string model;    // empty: the first model GET /v1/models lists
  std::string api_key;  // sent as "Authorization: Bearer KEY" when not empty
  bool chat = true;     // /v1/chat/completions; false: /v1/completions
  std::vector<int> concurrency = {1, 2, 4, 8};
  int prompt_tokens = 128;
  int max_tokens = 128;
  int requests = 0;         // measured requests per level; 0 with no duration: 4 per client
  double duration_s = 0;    // > 0: each level starts requests for this long instead
  int warmup = 1;           // closed loop: per client; open loop: in total, one at a time
  double rate = 0;          // > 0: open loop at this many requests per second
  int max_in_flight = 256;  // open loop: the most requests outstanding at once
  double timeout_s = 600;   // per request, for connecting and between received bytes
  uint64_t seed = 1;        // prompts and arrival times
  // When set, every prompt is sent as exactly prompt_tokens token ids (completions API
  // only: a chat template would add tokens), cut from the synthetic text as this
  // function (the served model's tokenizer) encodes it. Both llama-server and tandem
  // take token-id prompts, so the prompt length is the same on either.
  std::function<std::vector<int32_t>(const std::string&)> tokenize;
  std::string tokenizer;  // where `tokenize` came from, for the report
  // Sent as logit_bias -100 with every request (--whole-characters): the tokens whose
  // text is not whole UTF-8 characters. llama-server refuses (HTTP 500) output that
  // ends inside a character, which random-weight models produce.
  std::vector<int32_t> biased_away;
};

// Where requests go: "http://host:port" and "/v1/chat/completions".
struct Endpoint {
  std::string origin;
  std::string path;
};
// Accepts http(s)://host[:port] with no path, a path ending in /v1, or a full path.
// Throws tandem::Error for anything else.
Endpoint resolve_endpoint(const std::string& url, bool chat);

// One request, times in seconds from its start (open loop: its scheduled arrival).
struct RequestRecord {
  bool ok = false;
  int http_status = 0;     // 0 when no response arrived
  std::string error_kind;  // "http_500", "timeout", "connection", "stream", ...; empty when ok
  std::string error;       // human-readable detail
  double start_s = 0;      // from the start of the level
  double ttft_s = -1;      // first content, reasoning or tool-call delta; -1 when none
  double e2e_s = 0;
  int output_tokens = 0;   // from usage when the server sent it, else counted deltas
  int prompt_tokens = -1;  // from usage; -1 when not sent
  bool usage_reported = false;
  std::vector<double> itl_s;  // gaps between successive token deltas
};

struct LevelResult {
  int concurrency = 0;  // closed loop; 0 in open loop
  double rate = 0;      // open loop; 0 in closed loop
  double wall_s = 0;    // from the level's start to its last response
  int requests = 0;
  int errors = 0;
  std::map<std::string, int> errors_by_kind;
  int short_requests = 0;          // successful but under max_tokens: ignore_eos not honoured?
  int64_t output_tokens = 0;       // of successful requests
  double output_tok_s = 0;         // output_tokens / wall_s
  double mean_prompt_tokens = -1;  // from usage; -1 when no server reported it
  Summary decode_tok_s;            // per request: (output tokens - 1) / (end - first token)
  Summary ttft_s;
  Summary e2e_s;
  Summary itl_s;  // over all gaps of all successful requests
  std::vector<RequestRecord> records;
};

struct BenchResult {
  BenchOptions options;
  std::string model;  // as sent (maybe discovered)
  Endpoint endpoint;
  std::vector<LevelResult> levels;
};

// Computes the level's aggregates from its records and wall time.
void summarize_level(LevelResult& level, int max_tokens);

// Runs every level; calls `on_level` after each (for progress output). Throws
// tandem::Error for bad options or when the model cannot be discovered.
BenchResult run_bench(const BenchOptions& options,
                      const std::function<void(const LevelResult&)>& on_level = {});

}  // namespace tandem::bench
