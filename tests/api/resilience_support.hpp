// Helpers of the resilience tests: a provider driven by a script, and an observer that records.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include <llmux/llmux.hpp>

#include "api/operation.hpp"

namespace llmux::test {

// A provider whose every attempt runs `script(call_number, request, sink)` (call numbers start
// at 0 and count generate and stream attempts alike).
class ScriptedProvider final : public Provider {
 public:
  using Script = std::function<asio::awaitable<Response>(int call, Request request, EventSink sink)>;
  ScriptedProvider(Executor ex, Script script) : Provider(std::move(ex)), script_(std::move(script)) {}

  std::string_view name() const noexcept override { return "scripted"; }
  int calls() const noexcept { return calls_.load(); }

 protected:
  void do_generate(Request request, ResponseHandler handler) override {
    start(std::move(request), EventSink{}, std::move(handler));
  }
  void do_stream(Request request, EventSink sink, ResponseHandler handler) override {
    start(std::move(request), std::move(sink), std::move(handler));
  }

 private:
  void start(Request request, EventSink sink, ResponseHandler handler) {
    int n = calls_.fetch_add(1);
    auto script = script_;
    detail::spawn_operation(
        get_executor(),
        [script, n, request = std::move(request), sink = std::move(sink)] { return script(n, request, sink); },
        std::move(handler));
  }
  Script script_;
  std::atomic<int> calls_{0};
};

// Records every event as one line: "start", "first_token 1", "retry 1 250ms rate_limited",
// "error rate_limited 3", "end ok 2" / "end fail rate_limited 3".
class Recorder : public RequestObserver {
 public:
  void on_start(const RequestStartEvent& e) override { add("start", e.request); }
  void on_first_token(const FirstTokenEvent& e) override {
    add("first_token " + std::to_string(e.attempt), e.request);
  }
  void on_retry(const RetryEvent& e) override {
    add("retry " + std::to_string(e.attempt) + " " + std::to_string(e.delay.count()) + "ms " +
            std::string(to_string(e.code)),
        e.request);
  }
  void on_error(const ErrorEvent& e) override {
    add("error " + std::string(e.code ? to_string(*e.code) : "other") + " " + std::to_string(e.attempts),
        e.request);
  }
  void on_end(const RequestEndEvent& e) override {
    std::lock_guard lock(mu_);
    last_end_ = e;
    lines_.push_back(e.ok ? "end ok " + std::to_string(e.attempts)
                          : "end fail " + std::string(e.error ? to_string(*e.error) : "other") + " " +
                                std::to_string(e.attempts));
  }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }
  RequestEndEvent last_end() const {
    std::lock_guard lock(mu_);
    return last_end_;
  }
  std::vector<RequestInfo> infos() const {
    std::lock_guard lock(mu_);
    return infos_;
  }

 private:
  void add(std::string line, const RequestInfo& info) {
    std::lock_guard lock(mu_);
    lines_.push_back(std::move(line));
    infos_.push_back(info);
  }
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
  std::vector<RequestInfo> infos_;
  RequestEndEvent last_end_;
};

inline std::exception_ptr http_like_error(errc code, int status,
                                          std::optional<std::chrono::milliseconds> retry_after = {},
                                          std::optional<bool> should_retry = {}) {
  ErrorInfo info;
  info.provider = "scripted";
  info.http_status = status;
  info.retry_after = retry_after;
  info.should_retry = should_retry;
  return make_error(code, "scripted failure " + std::to_string(status), std::move(info));
}

}  // namespace llmux::test
