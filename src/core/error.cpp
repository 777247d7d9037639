#include <llmux/error.hpp>

#include <array>
#include <utility>

namespace llmux {
namespace {

struct ErrcName {
  errc code;
  std::string_view name;
  std::string_view message;
};

constexpr std::array kErrcNames{
    ErrcName{errc::authentication, "authentication", "authentication failed"},
    ErrcName{errc::permission_denied, "permission_denied", "permission denied"},
    ErrcName{errc::rate_limited, "rate_limited", "rate limited"},
    ErrcName{errc::invalid_request, "invalid_request", "invalid request"},
    ErrcName{errc::model_not_found, "model_not_found", "model not found"},
    ErrcName{errc::context_length_exceeded, "context_length_exceeded", "context length exceeded"},
    ErrcName{errc::timeout, "timeout", "timed out"},
    ErrcName{errc::cancelled, "cancelled", "cancelled"},
    ErrcName{errc::overloaded, "overloaded", "provider overloaded or unavailable"},
    ErrcName{errc::server_error, "server_error", "server error"},
    ErrcName{errc::connection_error, "connection_error", "connection error"},
    ErrcName{errc::protocol_error, "protocol_error", "protocol error"},
    ErrcName{errc::invalid_argument, "invalid_argument", "invalid argument"},
    ErrcName{errc::unknown_provider, "unknown_provider", "unknown provider"},
    ErrcName{errc::would_deadlock, "would_deadlock",
             "blocking call on a thread of the executor it waits for"},
    ErrcName{errc::invalid_output, "invalid_output", "model output failed validation"},
};

const ErrcName* find_errc(errc e) noexcept {
  for (const auto& n : kErrcNames) {
    if (n.code == e) return &n;
  }
  return nullptr;
}

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "llmux"; }
  std::string message(int ev) const override {
    const ErrcName* n = find_errc(static_cast<errc>(ev));
    return n ? std::string(n->message) : "unknown llmux error";
  }
  std::error_condition default_error_condition(int ev) const noexcept override {
    switch (static_cast<errc>(ev)) {
      case errc::timeout: return std::errc::timed_out;
      case errc::cancelled: return std::errc::operation_canceled;
      case errc::permission_denied: return std::errc::permission_denied;
      case errc::invalid_argument: return std::errc::invalid_argument;
      case errc::would_deadlock: return std::errc::resource_deadlock_would_occur;
      default: return {ev, *this};
    }
  }
};

template <class E>
std::exception_ptr make(errc code, const std::string& message, ErrorInfo&& info) {
  return std::make_exception_ptr(E(code, message, std::move(info)));
}

}  // namespace

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

bool is_retryable(errc e) noexcept {
  switch (e) {
    case errc::rate_limited:
    case errc::timeout:
    case errc::overloaded:
    case errc::server_error:
    case errc::connection_error:
      return true;
    default:
      return false;
  }
}

Error::Error(errc code, const std::string& message, ErrorInfo info)
    : std::runtime_error(message), code_(code), info_(std::move(info)) {}

std::exception_ptr make_error(errc code, const std::string& message, ErrorInfo info) {
  switch (code) {
    case errc::authentication: return make<AuthenticationError>(code, message, std::move(info));
    case errc::permission_denied: return make<PermissionDeniedError>(code, message, std::move(info));
    case errc::rate_limited: return make<RateLimitError>(code, message, std::move(info));
    case errc::invalid_request: return make<InvalidRequestError>(code, message, std::move(info));
    case errc::model_not_found: return make<ModelNotFoundError>(code, message, std::move(info));
    case errc::context_length_exceeded:
      return make<ContextLengthExceededError>(code, message, std::move(info));
    case errc::timeout: return make<TimeoutError>(code, message, std::move(info));
    case errc::cancelled: return make<CancelledError>(code, message, std::move(info));
    case errc::overloaded: return make<OverloadedError>(code, message, std::move(info));
    case errc::server_error: return make<ServerError>(code, message, std::move(info));
    case errc::connection_error: return make<ConnectionError>(code, message, std::move(info));
    case errc::protocol_error: return make<ProtocolError>(code, message, std::move(info));
    case errc::invalid_argument: return make<InvalidArgumentError>(code, message, std::move(info));
    case errc::unknown_provider: return make<UnknownProviderError>(code, message, std::move(info));
    case errc::would_deadlock: return make<WouldDeadlockError>(code, message, std::move(info));
    case errc::invalid_output: return make<InvalidOutputError>(code, message, std::move(info));
  }
  return make<Error>(code, message, std::move(info));
}

void throw_error(errc code, const std::string& message, ErrorInfo info) {
  std::rethrow_exception(make_error(code, message, std::move(info)));
}

std::optional<errc> error_code_of(const std::exception_ptr& e) noexcept {
  if (!e) return std::nullopt;
  try {
    std::rethrow_exception(e);
  } catch (const Error& err) {
    return err.code();
  } catch (...) {
    return std::nullopt;
  }
}

std::string_view to_string(errc e) noexcept {
  const ErrcName* n = find_errc(e);
  return n ? n->name : "unknown";
}

std::optional<errc> errc_from_string(std::string_view name) noexcept {
  for (const auto& n : kErrcNames) {
    if (n.name == name) return n.code;
  }
  return std::nullopt;
}

}  // namespace llmux
