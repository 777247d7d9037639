#include "providers/fake.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "api/operation.hpp"

namespace llmux::providers {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::array<std::string_view, 32> kWords{
    "the",   "model", "river", "quiet", "signal", "amber", "stone", "light",
    "north", "paper", "cloud", "swift", "orbit",  "maple", "ember", "tide",
    "glass", "field", "lunar", "pixel", "cedar",  "delta", "frost", "harbor",
    "prism", "vivid", "coral", "echo",  "meadow", "atlas", "spark", "willow"};

// FNV-1a, so the output depends on the request and nothing else.
struct Hasher {
  std::uint64_t h = 1469598103934665603ULL;
  void add(std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;  // separator
    h *= 1099511628211ULL;
  }
};

std::uint64_t splitmix(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t request_hash(const Request& request, const std::string& model) {
  Hasher h;
  h.add(model);
  for (const auto& m : request.messages) {
    h.add(to_string(m.role));
    h.add(m.text());
    for (const auto& c : m.tool_calls) h.add(c.name + c.arguments);
    h.add(m.tool_call_id);
  }
  if (request.options.seed) h.add(std::to_string(*request.options.seed));
  return h.h;
}

std::int64_t count_words(std::string_view s) {
  std::int64_t n = 0;
  bool in_word = false;
  for (char c : s) {
    bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

// The tool the fake model calls: forced by tool_choice, or (automatic) the first tool whose name
// the last user message mentions. Never right after a tool result.
const ToolDefinition* chosen_tool(const Request& request) {
  const auto& opts = request.options;
  if (opts.tools.empty() || request.messages.empty()) return nullptr;
  if (request.messages.back().role == Role::tool) return nullptr;
  auto mode = opts.tool_choice ? opts.tool_choice->mode : ToolChoice::Mode::automatic;
  switch (mode) {
    case ToolChoice::Mode::none: return nullptr;
    case ToolChoice::Mode::required: return &opts.tools.front();
    case ToolChoice::Mode::tool:
      for (const auto& t : opts.tools) {
        if (t.name == opts.tool_choice->name) return &t;
      }
      throw_error(errc::invalid_request,
                  fmt::format("tool_choice names '{}', which is not among the tools",
                              opts.tool_choice->name));
    case ToolChoice::Mode::automatic: break;
  }
  std::string last = request.messages.back().text();
  for (const auto& t : opts.tools) {
    if (!t.name.empty() && last.find(t.name) != std::string::npos) return &t;
  }
  return nullptr;
}

template <class T>
T parse_number(const std::string& key, const std::string& value) {
  T out{};
  const char* end = value.data() + value.size();
  auto [ptr, ec] = std::from_chars(value.data(), end, out);
  if (ec != std::errc() || ptr != end || value.empty()) {
    throw_error(errc::invalid_argument,
                fmt::format("fake provider option {}: '{}' is not a valid number", key, value));
  }
  return out;
}

std::chrono::milliseconds parse_ms(const std::string& key, const std::string& value) {
  auto ms = parse_number<double>(key, value);
  if (!(ms >= 0) || ms > 1e9) {
    throw_error(errc::invalid_argument,
                fmt::format("fake provider option {}: '{}' is out of range", key, value));
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(ms)));
}

int parse_count(const std::string& key, const std::string& value) {
  auto n = parse_number<int>(key, value);
  if (n < 0) {
    throw_error(errc::invalid_argument,
                fmt::format("fake provider option {}: '{}' must not be negative", key, value));
  }
  return n;
}

class FakeProvider final : public Provider {
 public:
  FakeProvider(Executor executor, FakeSettings settings)
      : Provider(std::move(executor)), settings_(std::move(settings)) {}

  std::string_view name() const noexcept override { return "fake"; }

 protected:
  void do_generate(Request request, ResponseHandler handler) override {
    start(std::move(request), EventSink{}, std::move(handler));
  }
  void do_stream(Request request, EventSink sink, ResponseHandler handler) override {
    start(std::move(request), std::move(sink), std::move(handler));
  }
  void do_list_models(ModelsHandler handler) override {
    std::vector<ModelInfo> models{{settings_.model, "llmux", 0}};
    detail::spawn_operation<std::vector<ModelInfo>>(
        get_executor(),
        [models]() -> asio::awaitable<std::vector<ModelInfo>> { co_return models; },
        std::move(handler));
  }

 private:
  void start(Request request, EventSink sink, ResponseHandler handler) {
    auto self = std::static_pointer_cast<FakeProvider>(shared_from_this());
    std::uint64_t number = requests_.fetch_add(1, std::memory_order_relaxed);
    detail::spawn_operation(
        get_executor(),
        [self, request = std::move(request), sink = std::move(sink), number] {
          return self->run(request, sink, number);
        },
        std::move(handler));
  }

  bool should_fail(std::uint64_t number) const {
    if (!settings_.fail) return false;
    if (number < static_cast<std::uint64_t>(settings_.fail_first)) return true;
    std::uint64_t x = settings_.fail_seed ^ (number * 0x9e3779b97f4a7c15ULL);
    double u = static_cast<double>(splitmix(x) >> 11) * 0x1.0p-53;
    return u < settings_.fail_rate;
  }

  asio::awaitable<Response> run(Request request, EventSink sink, std::uint64_t number);

  FakeSettings settings_;
  std::atomic<std::uint64_t> requests_{0};
};

// Sleeps until `deadline`; returns false when the wait was cancelled.
asio::awaitable<bool> sleep_until(Clock::time_point deadline) {
  asio::steady_timer timer(co_await asio::this_coro::executor, deadline);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

asio::awaitable<Response> FakeProvider::run(Request request, EventSink sink,
                                            std::uint64_t number) {
  const auto start = Clock::now();
  Response response;
  response.provider = "fake";
  response.model = request.model.empty() ? settings_.model : request.model;
  FakePlan plan = plan_fake_response(request, settings_);
  response.usage.input_tokens = plan.usage.input_tokens;

  const bool fail = should_fail(number);
  std::size_t n_tokens = plan.pieces.size();
  if (fail && settings_.fail_after_tokens) {
    n_tokens = std::min<std::size_t>(n_tokens, *settings_.fail_after_tokens);
  }
  const auto first_token_at = start + settings_.latency + settings_.ttft;
  const auto token_time = [&](std::size_t i) {
    if (settings_.tokens_per_second <= 0) return first_token_at;
    auto step = std::chrono::duration<double>(static_cast<double>(i) / settings_.tokens_per_second);
    return first_token_at + std::chrono::duration_cast<Clock::duration>(step);
  };

  // Emits token i (to the sink and the response) and returns whether the wait before it was
  // interrupted by cancellation.
  std::size_t produced = 0;
  bool cancelled = false;
  if (sink) {
    for (std::size_t i = 0; i < n_tokens && !cancelled; ++i) {
      if (!co_await sleep_until(token_time(i))) {
        cancelled = true;
        break;
      }
      if (i == 0) response.timings.time_to_first_token =
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
      sink.emit(TextDelta{plan.pieces[i]});
      response.content += plan.pieces[i];
      ++produced;
    }
  } else {
    auto done_at = n_tokens ? token_time(n_tokens - 1) : first_token_at;
    if (!co_await sleep_until(done_at)) {
      cancelled = true;
      // What a real server would have generated by now.
      auto now = Clock::now();
      while (produced < n_tokens && token_time(produced) <= now) {
        response.content += plan.pieces[produced++];
      }
    } else {
      produced = n_tokens;
      for (std::size_t i = 0; i < n_tokens; ++i) response.content += plan.pieces[i];
      if (n_tokens) {
        response.timings.time_to_first_token =
            std::chrono::duration_cast<std::chrono::microseconds>(first_token_at - start);
      }
    }
  }
  response.usage.output_tokens = static_cast<std::int64_t>(produced);
  response.usage.total_tokens = response.usage.input_tokens + response.usage.output_tokens;
  response.timings.total =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);

  if (cancelled || fail) {
    ErrorInfo info;
    info.provider = "fake";
    response.finish_reason = cancelled ? FinishReason::cancelled : FinishReason::error;
    info.partial = std::make_shared<const Response>(response);
    if (cancelled) throw_error(errc::cancelled, "fake request cancelled", std::move(info));
    info.retry_after = settings_.retry_after;
    throw_error(*settings_.fail,
                fmt::format("fake provider: injected {} failure (request #{})",
                            to_string(*settings_.fail), number),
                std::move(info));
  }

  for (std::size_t i = 0; i < plan.tool_calls.size(); ++i) {
    if (sink) {
      const ToolCall& c = plan.tool_calls[i];
      sink.emit(ToolCallDelta{i, c.id, c.name, c.arguments});
      sink.emit(ToolCallDone{i, c});
    }
  }
  response.tool_calls = std::move(plan.tool_calls);
  response.finish_reason = plan.finish_reason;
  if (sink) {
    sink.emit(UsageEvent{response.usage});
    sink.emit(Finish{response.finish_reason});
  }
  co_return response;
}

}  // namespace

FakeSettings parse_fake_settings(const ProviderConfig& config) {
  FakeSettings s;
  if (!config.model.empty()) s.model = config.model;
  for (const auto& [key, value] : config.options) {
    if (key == "latency_ms") {
      s.latency = parse_ms(key, value);
    } else if (key == "ttft_ms") {
      s.ttft = parse_ms(key, value);
    } else if (key == "tokens_per_second") {
      s.tokens_per_second = parse_number<double>(key, value);
      if (!(s.tokens_per_second >= 0) || !std::isfinite(s.tokens_per_second)) {
        throw_error(errc::invalid_argument,
                    fmt::format("fake provider option {}: '{}' is out of range", key, value));
      }
    } else if (key == "output_tokens") {
      s.output_tokens = parse_count(key, value);
    } else if (key == "fail") {
      s.fail = errc_from_string(value);
      if (!s.fail) {
        throw_error(errc::invalid_argument,
                    fmt::format("fake provider option fail: unknown error '{}'", value));
      }
    } else if (key == "fail_first") {
      s.fail_first = parse_count(key, value);
    } else if (key == "fail_rate") {
      s.fail_rate = parse_number<double>(key, value);
      if (!(s.fail_rate >= 0 && s.fail_rate <= 1)) {
        throw_error(errc::invalid_argument,
                    fmt::format("fake provider option fail_rate: '{}' is not in [0, 1]", value));
      }
    } else if (key == "fail_seed") {
      s.fail_seed = parse_number<std::uint64_t>(key, value);
    } else if (key == "fail_after_tokens") {
      s.fail_after_tokens = parse_count(key, value);
    } else if (key == "retry_after_ms") {
      s.retry_after = parse_ms(key, value);
    } else {
      throw_error(errc::invalid_argument,
                  fmt::format("fake provider: unknown option '{}' (known: latency_ms, ttft_ms, "
                              "tokens_per_second, output_tokens, fail, fail_first, fail_rate, "
                              "fail_seed, fail_after_tokens, retry_after_ms)",
                              key));
    }
  }
  if ((s.fail_first > 0 || s.fail_rate > 0 || s.fail_after_tokens) && !s.fail) {
    throw_error(errc::invalid_argument,
                "fake provider: fail_first, fail_rate and fail_after_tokens need option 'fail'");
  }
  if (s.fail && s.fail_first == 0 && s.fail_rate == 0) s.fail_rate = 1;  // fail means always
  return s;
}

FakePlan plan_fake_response(const Request& request, const FakeSettings& settings) {
  FakePlan plan;
  for (const auto& m : request.messages) {
    plan.usage.input_tokens += 4 + count_words(m.text());
  }
  const std::string model = request.model.empty() ? settings.model : request.model;
  std::uint64_t state = request_hash(request, model);

  if (const ToolDefinition* tool = chosen_tool(request)) {
    plan.tool_calls.push_back(ToolCall{fmt::format("call_{:016x}", splitmix(state)), tool->name,
                                       "{}"});
    plan.finish_reason = FinishReason::tool_calls;
    return plan;
  }

  const bool json = request.options.response_format.kind != ResponseFormat::Kind::text;
  std::int64_t limit = settings.output_tokens;
  if (request.options.max_output_tokens && *request.options.max_output_tokens < limit) {
    limit = std::max<std::int64_t>(*request.options.max_output_tokens, 0);
    plan.finish_reason = FinishReason::length;
  }
  std::string text;
  for (std::int64_t i = 0; i < limit; ++i) {
    std::string piece = (i == 0 && json) ? R"({"text": ")" : (i == 0 ? "" : " ");
    piece += kWords[splitmix(state) % kWords.size()];
    if (json && i + 1 == settings.output_tokens) piece += "\"}";
    plan.pieces.push_back(std::move(piece));
  }
  // Stop sequences: cut the text at the earliest match; the token holding it is cut short.
  for (const auto& piece : plan.pieces) text += piece;
  std::size_t cut = std::string::npos;
  for (const auto& stop : request.options.stop) {
    if (!stop.empty()) cut = std::min(cut, text.find(stop));
  }
  if (cut != std::string::npos) {
    std::size_t offset = 0;
    std::vector<std::string> kept;
    for (auto& piece : plan.pieces) {
      if (offset >= cut) break;
      kept.push_back(piece.substr(0, cut - offset));
      offset += piece.size();
    }
    plan.pieces = std::move(kept);
    plan.finish_reason = FinishReason::stop;
  }
  return plan;
}

ProviderInfo fake_provider_info() {
  ProviderInfo info;
  info.name = "fake";
  info.description = "deterministic offline provider with simulated latency and failures";
  info.create = [](Executor ex, const ProviderConfig& config) -> std::shared_ptr<Provider> {
    return std::make_shared<FakeProvider>(std::move(ex), parse_fake_settings(config));
  };
  return info;
}

}  // namespace llmux::providers
