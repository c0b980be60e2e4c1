#include "cli/bench/sse_parser.h"

namespace tandem::bench {

std::vector<SseEvent> SseParser::feed(std::string_view bytes) {
  std::vector<SseEvent> out;
  if (!checked_bom_) {
    // The BOM may itself be split; wait until three bytes (or a mismatch) are seen.
    static constexpr std::string_view kBom = "\xEF\xBB\xBF";
    line_.append(bytes);
    if (line_.size() < kBom.size() && kBom.substr(0, line_.size()) == line_) return out;
    checked_bom_ = true;
    std::string pending = std::move(line_);
    line_.clear();
    std::string_view rest = pending;
    if (rest.substr(0, kBom.size()) == kBom) rest.remove_prefix(kBom.size());
    std::vector<SseEvent> events = feed(rest);
    return events;
  }
  size_t start = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (c != '\n' && c != '\r') {
      after_cr_ = false;
      continue;
    }
    if (c == '\n' && after_cr_) {  // second half of a CRLF split across or within pieces
      after_cr_ = false;
      start = i + 1;
      continue;
    }
    after_cr_ = (c == '\r');
    line_.append(bytes.substr(start, i - start));
    process_line(line_, out);
    line_.clear();
    start = i + 1;
  }
  if (start < bytes.size()) {
    line_.append(bytes.substr(start));
  }
  return out;
}

std::vector<SseEvent> SseParser::finish() {
  std::vector<SseEvent> out;
  if (!line_.empty()) {
    process_line(line_, out);
    line_.clear();
  }
  dispatch(out);
  return out;
}

void SseParser::process_line(std::string_view line, std::vector<SseEvent>& out) {
  if (line.empty()) {
    dispatch(out);
    return;
  }
  if (line.front() == ':') return;  // comment (servers send these as keep-alives)
  std::string_view field = line;
  std::string_view value;
  if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_ += '\n';
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    type_ = value;
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_id_ = value;
  }
  // "retry" and unknown fields are ignored, as the standard says.
}

void SseParser::dispatch(std::vector<SseEvent>& out) {
  if (has_data_) {
    SseEvent event;
    if (!type_.empty()) event.type = type_;
    event.data = std::move(data_);
    event.id = last_id_;
    out.push_back(std::move(event));
  }
  data_.clear();
  type_.clear();
  has_data_ = false;
}

}  // namespace tandem::bench
