// `tandem serve` with one slot and a queue limit of one request, on a tiny reference
// model: a client that closes its connection while a non-streaming answer is being
// generated frees the slot at once, and a request over the queue limit gets 503 with
// Retry-After in the OpenAI error shape.

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <thread>

#include "child_process.h"
#include "test_paths.h"

namespace tandem {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Far more tokens than the test waits for: an answer that is not cancelled holds the
// only slot for many seconds.
constexpr char kLongBody[] =
    R"({"model":"qwen3moe-tiny-Q8_0","prompt":"Hello","max_tokens":1900,"ignore_eos":true,)"
    R"("temperature":0})";
constexpr char kShortBody[] =
    R"({"model":"qwen3moe-tiny-Q8_0","prompt":"Hello","max_tokens":4,"temperature":0})";

// A raw HTTP/1.1 POST whose connection the test closes itself.
class RawRequest {
 public:
  RawRequest(int port, const std::string& body) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return;
    const std::string request =
        "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    sent_ = send(fd_, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size());
  }
  ~RawRequest() { close_now(); }
  RawRequest(const RawRequest&) = delete;
  RawRequest& operator=(const RawRequest&) = delete;

  bool sent() const { return sent_; }
  void close_now() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool sent_ = false;
};

class ServeCancelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TANDEM_REQUIRE_SHARED();
    char dir[] = "/tmp/tandem-serve-cancel-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    server_ = std::make_unique<testing::Child>(
        std::vector<std::string>{
            testing::tandem_binary(), "serve", testing::reference_path("qwen3moe-tiny-Q8_0.gguf"),
            "--port", "0", "--ctx", "2048", "--parallel", "1", "--queue-limit", "1", "-t", "1"},
        dir_ + "/serve.log");
    const auto port =
        server_->wait_for(R"(listening on http://127\.0\.0\.1:(\d+))", std::chrono::seconds(20));
    ASSERT_TRUE(port) << server_->output();
    port_ = std::stoi(*port);
  }
  void TearDown() override {
    server_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // The value of an unlabelled metric, or -1.
  double metric(const std::string& name) {
    httplib::Client client("127.0.0.1", port_);
    const auto result = client.Get("/metrics");
    if (!result || result->status != 200) return -1;
    std::smatch match;
    const std::regex line("\n" + name + " ([0-9.e+]+)");
    if (!std::regex_search(result->body, match, line)) return -1;
    return std::strtod(match[1].str().c_str(), nullptr);
  }
  // Waits until `name` reaches `value`; returns the seconds it took, or nullopt.
  std::optional<double> wait_metric(const std::string& name, double value, double timeout_s) {
    const auto start = Clock::now();
    while (std::chrono::duration<double>(Clock::now() - start).count() < timeout_s) {
      if (metric(name) >= value) return std::chrono::duration<double>(Clock::now() - start).count();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }
  httplib::Result post(const std::string& body) {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(20);
    return client.Post("/v1/completions", body, "application/json");
  }

  std::string dir_;
  std::unique_ptr<testing::Child> server_;
  int port_ = 0;
};

TEST_F(ServeCancelTest, ClosedConnectionCancelsNonStreamingRequestAtOnce) {
  RawRequest request(port_, kLongBody);
  ASSERT_TRUE(request.sent());
  // Generating: the answer is under way (and far from done).
  ASSERT_TRUE(wait_metric("tandem_generation_tokens_total", 2, 20)) << server_->output();
  request.close_now();
  const auto cancelled_after = wait_metric("tandem_requests_cancelled_total", 1, 10);
  ASSERT_TRUE(cancelled_after) << server_->output();
  EXPECT_LT(*cancelled_after, 1.0);
  EXPECT_LT(metric("tandem_generation_tokens_total"), 1900);
  EXPECT_NE(server_->output().find("cancelled: client disconnected"), std::string::npos);

  // The only slot (and the only queue place) is free: the next request runs at once.
  const auto start = Clock::now();
  const auto next = post(kShortBody);
  ASSERT_TRUE(next);
  ASSERT_EQ(next->status, 200) << next->body;
  EXPECT_EQ(json::parse(next->body)["usage"]["completion_tokens"], 4);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 5.0);
}

TEST_F(ServeCancelTest, FullQueueIs503WithRetryAfter) {
  RawRequest request(port_, kLongBody);
  ASSERT_TRUE(request.sent());
  ASSERT_TRUE(wait_metric("tandem_requests_total", 1, 20)) << server_->output();

  const auto refused = post(kShortBody);
  ASSERT_TRUE(refused);
  ASSERT_EQ(refused->status, 503) << refused->body;
  ASSERT_TRUE(refused->has_header("Retry-After"));
  EXPECT_GE(std::stoi(refused->get_header_value("Retry-After")), 1);
  const json body = json::parse(refused->body, nullptr, false);
  ASSERT_TRUE(body.is_object() && body.contains("error")) << refused->body;
  EXPECT_TRUE(body["error"]["message"].is_string());
  EXPECT_EQ(body["error"]["type"], "unavailable_error");
  EXPECT_EQ(body["error"]["code"], "server_overloaded");
  EXPECT_EQ(metric("tandem_requests_rejected_total"), 1);

  request.close_now();
  ASSERT_TRUE(wait_metric("tandem_requests_cancelled_total", 1, 10)) << server_->output();
  const auto accepted = post(kShortBody);
  ASSERT_TRUE(accepted);
  EXPECT_EQ(accepted->status, 200) << accepted->body;
}

}  // namespace
}  // namespace tandem
