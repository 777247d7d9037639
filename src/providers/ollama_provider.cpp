// The `ollama` provider: Ollama's native /api/chat (NDJSON streaming) and /api/tags.
#include <charconv>

#include <fmt/format.h>

#include "api/operation.hpp"
#include "api/structured_output.hpp"
#include "http/client.hpp"
#include "http/ndjson.hpp"
#include "providers/http_errors.hpp"
#include "providers/ollama.hpp"
#include "providers/tool_calls.hpp"

namespace llmux::providers {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxErrorBody = 1u << 20;

std::chrono::microseconds since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t);
}

class OllamaProvider final : public Provider, public detail::NativeResponseFormat {
 public:
  OllamaProvider(Executor ex, const ProviderConfig& config) : Provider(ex), config_(config) {
    config_.base_url = ollama_base_url(config_.base_url);
    http::parse_url(config_.base_url);
    for (const auto& [key, value] : config_.options) {
      if (key == "keep_alive") {
        settings_.keep_alive = value;
      } else if (key == "num_ctx") {
        std::int64_t v = 0;
        auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
        if (ec != std::errc() || ptr != value.data() + value.size() || v <= 0) {
          throw_error(errc::invalid_argument,
                      fmt::format("option num_ctx: '{}' is not a positive integer", value));
        }
        settings_.num_ctx = v;
      } else {
        throw_error(errc::invalid_argument,
                    fmt::format("{}: unknown option '{}' (known: keep_alive, num_ctx)",
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
    auto self = std::static_pointer_cast<OllamaProvider>(shared_from_this());
    detail::spawn_operation<std::vector<ModelInfo>>(
        get_executor(), [self] { return self->list(); }, std::move(handler));
  }

 private:
  void start(Request request, EventSink sink, bool stream, ResponseHandler handler) {
    auto self = std::static_pointer_cast<OllamaProvider>(shared_from_this());
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
    if (!config_.api_key.empty()) req.headers.emplace_back("Authorization", "Bearer " + config_.api_key);
    for (const auto& h : config_.headers) req.headers.push_back(h);
    return req;
  }

  asio::awaitable<Response> run(Request request, EventSink sink, bool stream);
  asio::awaitable<Response> read_stream(http::ResponseStream& body, EventSink& sink,
                                        Clock::time_point start);
  asio::awaitable<std::vector<ModelInfo>> list();

  OllamaSettings settings_;
  ProviderConfig config_;
  std::shared_ptr<http::Client> client_;
};

asio::awaitable<Response> OllamaProvider::run(Request request, EventSink sink, bool stream) {
  const auto start = Clock::now();
  http::HttpRequest req = make_request(
      "POST", "/api/chat", encode_ollama_request(request, config_.model, settings_, stream));
  std::unique_ptr<http::ResponseStream> body;
  Response response;
  try {
    body = co_await client_->open(std::move(req));
    if (body->status() / 100 != 2) {
      std::string text = co_await body->read_all(kMaxErrorBody);
      std::rethrow_exception(
          http_status_error(settings_.name, body->status(), body->headers(), std::move(text)));
    }
    if (stream) {
      response = co_await read_stream(*body, sink, start);
    } else {
      std::string text = co_await body->read_all(client_->options().max_response_bytes);
      response = decode_ollama_response(text, settings_.name);
    }
  } catch (const Error& e) {
    rethrow_with_context(e, settings_.name, e.partial() ? nullptr : &response);
  }
  response.request_id = request_id_of(body->headers());
  response.rate_limits = rate_limits_of(body->headers());
  response.timings.total = since(start);
  co_return response;
}

asio::awaitable<Response> OllamaProvider::read_stream(http::ResponseStream& body, EventSink& sink,
                                                      Clock::time_point start) {
  OllamaStreamAssembler assembler(settings_.name);
  http::NdjsonDecoder decoder;
  std::vector<std::string> lines;
  auto deliver = [&] {
    for (const auto& line : lines) {
      for (auto& e : assembler.feed(line)) {
        if (!assembler.response().timings.time_to_first_token &&
            !std::holds_alternative<UsageEvent>(e) && !std::holds_alternative<Finish>(e)) {
          assembler.response().timings.time_to_first_token = since(start);
        }
        sink.emit(std::move(e));
      }
      if (assembler.done()) break;
    }
    lines.clear();
  };
  try {
    while (!assembler.done()) {
      auto piece = co_await body.read_some();
      if (!piece) {
        decoder.finish(lines);
        deliver();
        break;
      }
      decoder.feed(*piece, lines);
      deliver();
    }
    assembler.finish();
  } catch (const Error& e) {
    rethrow_with_context(e, settings_.name, e.partial() ? nullptr : &assembler.response());
  }
  co_return assembler.response();
}

asio::awaitable<std::vector<ModelInfo>> OllamaProvider::list() {
  std::vector<ModelInfo> models;
  try {
    http::HttpResponse r = co_await client_->request(make_request("GET", "/api/tags", {}));
    if (r.status / 100 != 2) {
      std::rethrow_exception(http_status_error(settings_.name, r.status, r.headers, std::move(r.body)));
    }
    models = decode_ollama_tags(r.body, settings_.name);
  } catch (const Error& e) {
    rethrow_with_context(e, settings_.name, nullptr);
  }
  co_return models;
}

}  // namespace

ProviderInfo ollama_provider_info() {
  ProviderInfo info;
  info.name = "ollama";
  info.description = "Ollama native API (/api/chat, NDJSON streaming)";
  info.default_base_url = "http://localhost:11434";
  info.base_url_env = "OLLAMA_HOST";
  info.api_key_env = "OLLAMA_API_KEY";
  info.requires_api_key = false;
  info.create = [](Executor ex, const ProviderConfig& config) -> std::shared_ptr<Provider> {
    return std::make_shared<OllamaProvider>(std::move(ex), config);
  };
  return info;
}

}  // namespace llmux::providers
