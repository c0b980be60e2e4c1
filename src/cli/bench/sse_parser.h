#pragma once
// Incremental parser for a text/event-stream body (Server-Sent Events, as the WHATWG
// HTML standard defines them). Bytes may arrive split anywhere, even between the CR
// and LF of one line ending. Lines end with LF, CR or CRLF; lines starting with ':'
// are comments; "field: value" loses one leading space of the value; several data
// lines join with '\n'; a blank line ends the event; an event without data is dropped.
//
// One leniency beyond the standard: finish() treats the end of the stream as the end
// of the last line and event, so a server that omits the final blank line still
// delivers its last event (often "data: [DONE]").

#include <string>
#include <string_view>
#include <vector>

namespace tandem::bench {

struct SseEvent {
  std::string type = "message";  // the "event" field
  std::string data;
  std::string id;  // the last "id" field seen so far in the stream
};

class SseParser {
 public:
  // Parses the next piece of the stream; returns the events it completed, in order.
  std::vector<SseEvent> feed(std::string_view bytes);
  // End of the stream: returns the event still pending, if any.
  std::vector<SseEvent> finish();

 private:
  void process_line(std::string_view line, std::vector<SseEvent>& out);
  void dispatch(std::vector<SseEvent>& out);

  std::string line_;          // the current line, not yet terminated
  bool after_cr_ = false;     // the last byte was CR: an LF right after it is skipped
  bool checked_bom_ = false;  // a UTF-8 byte order mark is stripped at the very start
  std::string data_;
  std::string type_;
  std::string last_id_;
  bool has_data_ = false;
};

}  // namespace tandem::bench
