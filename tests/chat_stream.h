#pragma once
// The events of a streamed response (`text/event-stream` body of /v1/chat/completions
// or /v1/completions with "stream":true), as the serving tests read them.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tandem::testing {

// The text of a streamed answer (reasoning and content), its finish reason, whether
// [DONE] came, and an error event if any.
struct ChatStream {
  std::string text;
  std::string finish;
  bool done = false;
  nlohmann::json error;
};

// The data of each `data: ` event of an event-stream body, in order ("[DONE]" included).
inline std::vector<std::string> sse_data_events(const std::string& body) {
  std::vector<std::string> data;
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find("\n\n", start);
    if (end == std::string::npos) end = body.size();
    const std::string event = body.substr(start, end - start);
    start = end + 2;
    if (event.rfind("data: ", 0) == 0) data.push_back(event.substr(6));
  }
  return data;
}

inline ChatStream parse_chat_stream(const std::string& body) {
  ChatStream out;
  for (const std::string& data : sse_data_events(body)) {
    if (data == "[DONE]") {
      out.done = true;
      continue;
    }
    const nlohmann::json chunk = nlohmann::json::parse(data, nullptr, false);
    if (!chunk.is_object()) continue;
    if (chunk.contains("error")) out.error = chunk["error"];
    if (!chunk.contains("choices") || chunk["choices"].empty()) continue;
    const nlohmann::json& choice = chunk["choices"][0];
    for (const char* key : {"reasoning_content", "content"}) {
      if (choice["delta"].contains(key) && choice["delta"][key].is_string()) {
        out.text += choice["delta"][key].get<std::string>();
      }
    }
    if (choice["finish_reason"].is_string()) out.finish = choice["finish_reason"];
  }
  return out;
}

}  // namespace tandem::testing
