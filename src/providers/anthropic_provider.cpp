// The `anthropic` provider: the Messages API over the async HTTP client.
#include <charconv>

#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include "api/operation.hpp"
#include "api/structured_output.hpp"
#include "http/client.hpp"
#include "http/sse.hpp"
#include "providers/anthropic.hpp"
#include "providers/http_errors.hpp"
#include "providers/tool_calls.hpp"

namespace llmux::providers {
namespace {

namespace bj = boost::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxErrorBody = 1u << 20;
constexpr int kMaxModelPages = 100;

std::chrono::microseconds since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t);
}

class AnthropicProvider final : public Provider, public detail::NativeResponseFormat {
 public:
  AnthropicProvider(Executor ex, AnthropicSettings settings, const ProviderConfig& config)
      : Provider(ex), settings_(std::move(settings)), config_(config) {
    if (config_.base_url.empty()) throw_error(errc::invalid_argument, "anthropic needs a base URL");
    http::parse_url(config_.base_url);
    for (const auto& [key, value] : config_.options) {
      if (key == "version") {
        settings_.version = value;
      } else if (key == "beta") {
        settings_.beta = value;
      } else if (key == "default_max_tokens") {
        std::int64_t v = 0;
        auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
        if (ec != std::errc() || ptr != value.data() + value.size() || v <= 0) {
          throw_error(errc::invalid_argument,
                      fmt::format("option default_max_tokens: '{}' is not a positive integer", value));
        }
        settings_.default_max_tokens = v;
      } else {
        throw_error(errc::invalid_argument,
                    fmt::format("{}: unknown option '{}' (known: version, beta, default_max_tokens)",
                                settings_.name, key));
      }
    }
    client_ = http::Client::create(ex, client_options(config_));
  }

  std::string_view name() const noexcept override { return settings_.name; }

 protected:
  void do_generate(Request request, ResponseHandler handler) override {
    start(std::move(request), EventSink{}, false, std::move(handler));
  }
  void do_stream(Request request, EventSink sink, ResponseHandler handler) override {
    start(std::move(request), std::move(sink), true, std::move(handler));
  }
  void do_list_models(ModelsHandler handler) override {
    auto self = std::static_pointer_cast<AnthropicProvider>(shared_from_this());
    detail::spawn_operation<std::vector<ModelInfo>>(
        get_executor(), [self] { return self->list(); }, std::move(handler));
  }

 private:
  void start(Request request, EventSink sink, bool stream, ResponseHandler handler) {
    auto self = std::static_pointer_cast<AnthropicProvider>(shared_from_this());
    detail::spawn_operation(
        get_executor(),
        [self, request = std::move(request), sink = std::move(sink), stream] {
          return self->run(request, sink, stream);
        },
        std::move(handler));
  }

  http::HttpRequest make_request(std::string method, std::string path, std::string body) const {
    http::HttpRequest req{std::move(method), http::join_url(config_.base_url, path), {}, std::move(body)};
    if (!req.body.empty()) req.headers.emplace_back("Content-Type", "application/json");
    if (!config_.api_key.empty()) req.headers.emplace_back("x-api-key", config_.api_key);
    req.headers.emplace_back("anthropic-version", settings_.version);
    if (!settings_.beta.empty()) req.headers.emplace_back("anthropic-beta", settings_.beta);
    for (const auto& h : config_.headers) req.headers.push_back(h);
    return req;
  }

  asio::awaitable<Response> run(Request request, EventSink sink, bool stream);
  asio::awaitable<Response> read_stream(http::ResponseStream& body, EventSink& sink,
                                        Clock::time_point start, std::string output_tool);
  asio::awaitable<std::vector<ModelInfo>> list();

  AnthropicSettings settings_;
  ProviderConfig config_;
  std::shared_ptr<http::Client> client_;
};

asio::awaitable<Response> AnthropicProvider::run(Request request, EventSink sink, bool stream) {
  const auto start = Clock::now();
  http::HttpRequest req = make_request(
      "POST", "/v1/messages", encode_anthropic_request(request, config_.model, settings_, stream));
  std::unique_ptr<http::ResponseStream> body;
  Response response;
  try {
    body = co_await client_->open(std::move(req));
    if (body->status() / 100 != 2) {
      std::string text = co_await body->read_all(kMaxErrorBody);
      std::rethrow_exception(
          http_status_error(settings_.name, body->status(), body->headers(), std::move(text)));
    }
    const std::string type = http::find_header(body->headers(), "content-type").value_or("");
    if (stream && type.find("text/event-stream") != std::string::npos) {
      response = co_await read_stream(*body, sink, start, anthropic_output_tool(request.options));
    } else {
      std::string text = co_await body->read_all(client_->options().max_response_bytes);
      response = decode_anthropic_response(text, settings_.name, anthropic_output_tool(request.options));
      if (sink) {
        response.timings.time_to_first_token = since(start);
        emit_whole_response(response, sink);
      }
    }
  } catch (const Error& e) {
    rethrow_with_context(e, settings_.name, e.partial() ? nullptr : &response);
  }
  response.request_id = request_id_of(body->headers());
  response.rate_limits = rate_limits_of(body->headers());
  response.timings.total = since(start);
  co_return response;
}

asio::awaitable<Response> AnthropicProvider::read_stream(http::ResponseStream& body,
                                                         EventSink& sink, Clock::time_point start,
                                                         std::string output_tool) {
  AnthropicStreamAssembler assembler(settings_.name, std::move(output_tool));
  http::SseDecoder decoder;
  std::vector<http::SseEvent> events;
  try {
    while (!assembler.done()) {
      auto piece = co_await body.read_some();
      if (!piece) break;
      events.clear();
      decoder.feed(*piece, events);
      for (const auto& event : events) {
        for (auto& e : assembler.feed(event.type, event.data)) {
          if (!assembler.response().timings.time_to_first_token &&
              !std::holds_alternative<UsageEvent>(e) && !std::holds_alternative<Finish>(e)) {
            assembler.response().timings.time_to_first_token = since(start);
          }
          sink.emit(std::move(e));
        }
        if (assembler.done()) break;
      }
    }
    assembler.finish();
  } catch (const Error& e) {
    rethrow_with_context(e, settings_.name, e.partial() ? nullptr : &assembler.response());
  }
  co_return assembler.response();
}

asio::awaitable<std::vector<ModelInfo>> AnthropicProvider::list() {
  std::vector<ModelInfo> models;
  try {
    std::string after;
    for (int page = 0; page < kMaxModelPages; ++page) {
      std::string path = "/v1/models?limit=1000";
      if (!after.empty()) path += "&after_id=" + after;
      http::HttpResponse r = co_await client_->request(make_request("GET", path, {}));
      if (r.status / 100 != 2) {
        std::rethrow_exception(http_status_error(settings_.name, r.status, r.headers, std::move(r.body)));
      }
      boost::system::error_code ec;
      bj::value v = bj::parse(r.body, ec);
      const bj::value* data = !ec && v.is_object() ? v.get_object().if_contains("data") : nullptr;
      if (!data || !data->is_array()) {
        throw_error(errc::protocol_error,
                    fmt::format("{}: /v1/models did not return a data array", settings_.name));
      }
      for (const auto& m : data->get_array()) {
        if (!m.is_object()) continue;
        const bj::object& o = m.get_object();
        ModelInfo info;
        if (auto* id = o.if_contains("id"); id && id->is_string()) info.id = id->get_string();
        if (auto* t = o.if_contains("created_at"); t && t->is_string()) {
          info.created = parse_rfc3339(t->get_string());
        }
        info.owned_by = "anthropic";
        if (!info.id.empty()) models.push_back(std::move(info));
      }
      const bj::value* more = v.get_object().if_contains("has_more");
      const bj::value* last = v.get_object().if_contains("last_id");
      if (!more || !more->is_bool() || !more->get_bool() || !last || !last->is_string() ||
          last->get_string().empty()) {
        break;
      }
      after = last->get_string();
    }
  } catch (const Error& e) {
    rethrow_with_context(e, settings_.name, nullptr);
  }
  co_return models;
}

}  // namespace

ProviderInfo anthropic_provider_info() {
  ProviderInfo info;
  info.name = "anthropic";
  info.description = "Anthropic Messages API";
  info.default_base_url = "https://api.anthropic.com";
  info.base_url_env = "ANTHROPIC_BASE_URL";
  info.api_key_env = "ANTHROPIC_API_KEY";
  info.requires_api_key = true;
  info.create = [](Executor ex, const ProviderConfig& config) -> std::shared_ptr<Provider> {
    return std::make_shared<AnthropicProvider>(std::move(ex), AnthropicSettings{}, config);
  };
  return info;
}

}  // namespace llmux::providers
