// The OpenAI-compatible provider family over the async HTTP client.
#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include "api/operation.hpp"
#include "api/structured_output.hpp"
#include "http/client.hpp"
#include "http/sse.hpp"
#include "providers/http_errors.hpp"
#include "providers/openai_compat.hpp"

namespace llmux::providers {
namespace {

namespace bj = boost::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxErrorBody = 1u << 20;

http::Timeouts to_http(const Timeouts& t) { return {t.connect, t.first_token, t.idle, t.total}; }

bool parse_bool(const std::string& key, const std::string& value) {
  if (value == "true" || value == "1") return true;
  if (value == "false" || value == "0") return false;
  throw_error(errc::invalid_argument,
              fmt::format("option {}: '{}' is not true or false", key, value));
}

// Adds provider name and partial response to an error thrown below the provider (HTTP layer).
[[noreturn]] void rethrow_with_context(const Error& e, const std::string& provider,
                                       const Response* partial) {
  ErrorInfo info = e.info();
  if (info.provider.empty()) info.provider = provider;
  if (!info.partial && partial) info.partial = std::make_shared<const Response>(*partial);
  std::string message = e.what();
  if (!message.starts_with(provider + ":")) message = provider + ": " + message;
  throw_error(e.code(), message, std::move(info));
}

class OpenAICompatProvider final : public Provider, public detail::NativeResponseFormat {
 public:
  OpenAICompatProvider(Executor ex, OpenAIDialect dialect, const ProviderConfig& config)
      : Provider(ex), dialect_(std::move(dialect)), config_(config) {
    if (config_.base_url.empty()) {
      throw_error(errc::invalid_argument,
                  fmt::format("provider '{}' needs a base URL", dialect_.name));
    }
    http::parse_url(config_.base_url);  // validated now, connected later
    for (const auto& [key, value] : config_.options) {
      if (key == "include_usage") {
        dialect_.include_usage = parse_bool(key, value);
      } else if (key == "max_tokens_field") {
        if (value != "max_tokens" && value != "max_completion_tokens") {
          throw_error(errc::invalid_argument,
                      "option max_tokens_field: expected max_tokens or max_completion_tokens");
        }
        dialect_.max_completion_tokens = value == "max_completion_tokens";
      } else if (key == "organization") {
        dialect_.extra_headers.emplace_back("OpenAI-Organization", value);
      } else if (key == "project") {
        dialect_.extra_headers.emplace_back("OpenAI-Project", value);
      } else if (key == "app_url" && dialect_.name == "openrouter") {
        set_header("HTTP-Referer", value);
      } else if (key == "app_name" && dialect_.name == "openrouter") {
        set_header("X-Title", value);
      } else {
        throw_error(errc::invalid_argument,
                    fmt::format("{}: unknown option '{}' (known: include_usage, max_tokens_field, "
                                "organization, project{})",
                                dialect_.name, key,
                                dialect_.name == "openrouter" ? ", app_url, app_name" : ""));
      }
    }
    http::ClientOptions options;
    options.max_connections_per_origin = config_.max_connections;
    options.ca_file = config_.ca_file;
    options.verify_peer = config_.verify_tls;
    options.timeouts = to_http(config_.timeouts);
    client_ = http::Client::create(ex, std::move(options));
  }

  std::string_view name() const noexcept override { return dialect_.name; }

 protected:
  void do_generate(Request request, ResponseHandler handler) override {
    start(std::move(request), EventSink{}, false, std::move(handler));
  }
  void do_stream(Request request, EventSink sink, ResponseHandler handler) override {
    start(std::move(request), std::move(sink), true, std::move(handler));
  }
  void do_list_models(ModelsHandler handler) override {
    auto self = std::static_pointer_cast<OpenAICompatProvider>(shared_from_this());
    detail::spawn_operation<std::vector<ModelInfo>>(
        get_executor(), [self] { return self->list(); }, std::move(handler));
  }

 private:
  void set_header(const std::string& name, const std::string& value) {
    std::erase_if(dialect_.extra_headers, [&](const auto& h) { return h.first == name; });
    dialect_.extra_headers.emplace_back(name, value);
  }

  void start(Request request, EventSink sink, bool stream, ResponseHandler handler) {
    auto self = std::static_pointer_cast<OpenAICompatProvider>(shared_from_this());
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
    for (const auto& h : dialect_.extra_headers) req.headers.push_back(h);
    for (const auto& h : config_.headers) req.headers.push_back(h);
    return req;
  }

  asio::awaitable<Response> run(Request request, EventSink sink, bool stream);
  asio::awaitable<Response> read_stream(http::ResponseStream& body, EventSink& sink,
                                        Clock::time_point start);
  asio::awaitable<std::vector<ModelInfo>> list();

  OpenAIDialect dialect_;
  ProviderConfig config_;
  std::shared_ptr<http::Client> client_;
};

asio::awaitable<Response> OpenAICompatProvider::run(Request request, EventSink sink, bool stream) {
  const auto start = Clock::now();
  http::HttpRequest req = make_request(
      "POST", "/chat/completions", encode_chat_request(request, config_.model, dialect_, stream));
  std::unique_ptr<http::ResponseStream> body;
  Response response;
  try {
    body = co_await client_->open(std::move(req));
    if (body->status() / 100 != 2) {
      std::string text = co_await body->read_all(kMaxErrorBody);
      std::rethrow_exception(http_status_error(dialect_.name, body->status(), body->headers(), std::move(text)));
    }
    const std::string type = http::find_header(body->headers(), "content-type").value_or("");
    if (stream && type.find("text/event-stream") != std::string::npos) {
      response = co_await read_stream(*body, sink, start);
    } else {
      // Not streaming, or a server that answered a stream request with one JSON body.
      std::string text = co_await body->read_all(client_->options().max_response_bytes);
      response = decode_chat_response(text, dialect_);
      if (sink) {
        response.timings.time_to_first_token =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
        if (!response.reasoning.empty()) sink.emit(ReasoningDelta{response.reasoning});
        if (!response.content.empty()) sink.emit(TextDelta{response.content});
        for (std::size_t i = 0; i < response.tool_calls.size(); ++i) {
          const ToolCall& c = response.tool_calls[i];
          sink.emit(ToolCallDelta{i, c.id, c.name, c.arguments});
          sink.emit(ToolCallDone{i, c});
        }
        sink.emit(UsageEvent{response.usage});
        sink.emit(Finish{response.finish_reason});
      }
    }
  } catch (const Error& e) {
    rethrow_with_context(e, dialect_.name, e.partial() ? nullptr : &response);
  }
  if (response.provider.empty()) response.provider = dialect_.name;
  response.request_id = request_id_of(body->headers());
  response.rate_limits = rate_limits_of(body->headers());
  response.timings.total = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  co_return response;
}

asio::awaitable<Response> OpenAICompatProvider::read_stream(http::ResponseStream& body,
                                                            EventSink& sink,
                                                            Clock::time_point start) {
  OpenAIStreamAssembler assembler(dialect_.name);
  http::SseDecoder decoder;
  std::vector<http::SseEvent> events;
  auto deliver = [&](std::vector<StreamEvent> produced) {
    for (auto& e : produced) {
      if (!assembler.response().timings.time_to_first_token &&
          !std::holds_alternative<UsageEvent>(e) && !std::holds_alternative<Finish>(e)) {
        assembler.response().timings.time_to_first_token =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
      }
      sink.emit(std::move(e));
    }
  };
  try {
    while (!assembler.done()) {
      auto piece = co_await body.read_some();
      if (!piece) break;
      events.clear();
      decoder.feed(*piece, events);
      for (const auto& event : events) {
        if (event.type == "error") {
          // Some servers send `event: error` with the error object as data.
          boost::system::error_code ec;
          bj::value v = bj::parse(event.data, ec);
          std::string payload = !ec && v.is_object() && !v.get_object().contains("error")
                                    ? "{\"error\":" + event.data + "}"
                                    : event.data;
          deliver(assembler.feed(payload));
        } else if (!event.data.empty()) {
          deliver(assembler.feed(event.data));
        }
        if (assembler.done()) break;
      }
    }
    if (!assembler.done()) {
      decoder.finish();
      deliver(assembler.finish());
    }
  } catch (const Error& e) {
    rethrow_with_context(e, dialect_.name, e.partial() ? nullptr : &assembler.response());
  }
  co_return assembler.response();
}

asio::awaitable<std::vector<ModelInfo>> OpenAICompatProvider::list() {
  std::vector<ModelInfo> models;
  try {
    http::HttpRequest req = make_request("GET", "/models", {});
    http::HttpResponse r = co_await client_->request(std::move(req));
    if (r.status / 100 != 2) {
      std::rethrow_exception(http_status_error(dialect_.name, r.status, r.headers, std::move(r.body)));
    }
    boost::system::error_code ec;
    bj::value v = bj::parse(r.body, ec);
    const bj::value* data = !ec && v.is_object() ? v.get_object().if_contains("data") : nullptr;
    if (!data || !data->is_array()) {
      throw_error(errc::protocol_error, fmt::format("{}: /models did not return a data array", dialect_.name));
    }
    for (const auto& m : data->get_array()) {
      if (!m.is_object()) continue;
      const bj::object& o = m.get_object();
      ModelInfo info;
      if (auto* id = o.if_contains("id"); id && id->is_string()) info.id = std::string(id->get_string());
      if (auto* owner = o.if_contains("owned_by"); owner && owner->is_string()) {
        info.owned_by = std::string(owner->get_string());
      }
      if (auto* created = o.if_contains("created"); created && created->is_int64()) {
        info.created = created->get_int64();
      }
      if (!info.id.empty()) models.push_back(std::move(info));
    }
  } catch (const Error& e) {
    rethrow_with_context(e, dialect_.name, nullptr);
  }
  co_return models;
}

ProviderInfo make_info(std::string name, std::string description, std::string base_url,
                       std::string base_url_env, std::string api_key_env, bool requires_key,
                       OpenAIDialect dialect) {
  ProviderInfo info;
  info.name = name;
  info.description = std::move(description);
  info.default_base_url = std::move(base_url);
  info.base_url_env = std::move(base_url_env);
  info.api_key_env = std::move(api_key_env);
  info.requires_api_key = requires_key;
  dialect.name = std::move(name);
  info.create = [dialect](Executor ex, const ProviderConfig& config) -> std::shared_ptr<Provider> {
    return std::make_shared<OpenAICompatProvider>(std::move(ex), dialect, config);
  };
  return info;
}

}  // namespace

std::vector<ProviderInfo> openai_compatible_provider_infos() {
  OpenAIDialect openai;
  openai.max_completion_tokens = true;
  openai.sampling_extensions = false;
  OpenAIDialect local;  // inference servers: max_tokens, top_k and min_p accepted
  OpenAIDialect openrouter;
  openrouter.reasoning_object = true;
  openrouter.extra_headers = {{"HTTP-Referer", "https://github.com/llmux/llmux"}, {"X-Title", "llmux"}};
  return {
      make_info("openai", "OpenAI chat completions", "https://api.openai.com/v1", "OPENAI_BASE_URL",
                "OPENAI_API_KEY", true, openai),
      make_info("lmstudio", "LM Studio local server (OpenAI-compatible)", "http://localhost:1234/v1",
                "LMSTUDIO_BASE_URL", "LMSTUDIO_API_KEY", false, local),
      make_info("vllm", "vLLM server (OpenAI-compatible)", "http://localhost:8000/v1",
                "VLLM_BASE_URL", "VLLM_API_KEY", false, local),
      make_info("llamacpp", "llama.cpp server (OpenAI-compatible)", "http://localhost:8080/v1",
                "LLAMACPP_BASE_URL", "LLAMACPP_API_KEY", false, local),
      make_info("openrouter", "OpenRouter (OpenAI-compatible, attribution headers)",
                "https://openrouter.ai/api/v1", "OPENROUTER_BASE_URL", "OPENROUTER_API_KEY", true,
                openrouter),
      make_info("openai-compatible", "any OpenAI-compatible endpoint (--base-url required)", "",
                "OPENAI_COMPATIBLE_BASE_URL", "OPENAI_COMPATIBLE_API_KEY", false, local),
  };
}

}  // namespace llmux::providers
