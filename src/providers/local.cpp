#include "providers/local.hpp"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <thread>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <llmux/error.hpp>
#include <llmux/provider.hpp>

#include "api/operation.hpp"
#include "engine/generation/worker.hpp"

namespace llmux::providers {
namespace {

namespace gen = engine::generation;
using Clock = std::chrono::steady_clock;

struct LocalSettings {
  engine::model::ContextOptions context;
  gen::WorkerOptions worker;
  bool progress = false;
  Timeouts timeouts;
};

long parse_int(const std::string& key, const std::string& value, long min, long max) {
  long v = 0;
  const auto* end = value.data() + value.size();
  const auto [p, ec] = std::from_chars(value.data(), end, v);
  if (ec != std::errc() || p != end || v < min || v > max) {
    throw_error(errc::invalid_argument,
                fmt::format("local provider option {}: '{}' is not an integer in {}..{}", key,
                            value, min, max));
  }
  return v;
}

LocalSettings parse_settings(const ProviderConfig& config) {
  LocalSettings s;
  s.context.n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  s.timeouts = config.timeouts;
  for (const auto& [key, value] : config.options) {
    if (key == "ctx_size") {
      s.context.n_ctx = parse_int(key, value, 1, 1 << 24);
    } else if (key == "threads") {
      s.context.n_threads = static_cast<int>(parse_int(key, value, 1, 1024));
    } else if (key == "precision") {
      if (value == "default") {
        s.context.precision = engine::model::Precision::default_;
      } else if (value == "full") {
        s.context.precision = engine::model::Precision::full;
      } else {
        throw_error(errc::invalid_argument,
                    fmt::format("local provider option precision: '{}' is not default or full",
                                value));
      }
    } else if (key == "kv_size") {
      s.worker.kv_size = parse_int(key, value, 1, 1 << 26);
    } else if (key == "batch_tokens") {
      s.worker.scheduler.token_budget = parse_int(key, value, 1, 1 << 16);
    } else if (key == "prefill_while_decoding") {
      s.worker.scheduler.prefill_while_decoding = parse_int(key, value, 0, 1 << 16);
    } else if (key == "max_sequences") {
      s.worker.scheduler.max_running = parse_int(key, value, 1, 4096);
    } else if (key == "progress") {
      s.progress = value == "1" || value == "true";
    } else {
      throw_error(errc::invalid_argument,
                  fmt::format("local provider: unknown option '{}' (known: ctx_size, threads, "
                              "precision, kv_size, batch_tokens, prefill_while_decoding, "
                              "max_sequences, progress)",
                              key));
    }
  }
  return s;
}

// A progress bar on stderr while the weights are read (only on a terminal).
std::function<void(double)> progress_bar(const std::string& path) {
  if (!::isatty(STDERR_FILENO)) return {};
  return [path](double f) {
    const int width = 30;
    const int filled = static_cast<int>(f * width);
    std::fprintf(stderr, "\rloading %s [%s%s] %3d%%", path.c_str(),
                 std::string(static_cast<std::size_t>(filled), '#').c_str(),
                 std::string(static_cast<std::size_t>(width - filled), ' ').c_str(),
                 static_cast<int>(f * 100));
    if (f >= 1.0) std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  };
}

class LocalProvider final : public Provider {
 public:
  LocalProvider(Executor executor, std::shared_ptr<const gen::LoadedModel> model,
                LocalSettings settings)
      : Provider(std::move(executor)),
        settings_(settings),
        worker_(std::make_shared<gen::Worker>(std::move(model), settings.context,
                                             settings.worker)) {}

  ~LocalProvider() override {
    // The last reference can be dropped by the compute thread itself (a finished request
    // releases the stream state it emitted into, which may own the operation holding this
    // provider). The worker cannot join its own thread: another thread destroys it, after the
    // current step returns.
    if (worker_ && worker_->on_worker_thread()) {
      std::thread([w = std::move(worker_)]() mutable { w.reset(); }).detach();
    }
  }

  std::string_view name() const noexcept override { return "local"; }

 protected:
  void do_generate(Request request, ResponseHandler handler) override {
    start(std::move(request), EventSink{}, std::move(handler));
  }
  void do_stream(Request request, EventSink sink, ResponseHandler handler) override {
    start(std::move(request), std::move(sink), std::move(handler));
  }
  void do_list_models(ModelsHandler handler) override {
    std::vector<ModelInfo> models{{worker_->model().name, "local", 0}};
    detail::spawn_operation<std::vector<ModelInfo>>(
        get_executor(),
        [models]() -> asio::awaitable<std::vector<ModelInfo>> { co_return models; },
        std::move(handler));
  }

 private:
  void start(Request request, EventSink sink, ResponseHandler handler) {
    auto self = std::static_pointer_cast<LocalProvider>(shared_from_this());
    auto body = [self, request = std::move(request), sink = std::move(sink)]() mutable {
      return self->run(std::move(request), std::move(sink));
    };
    detail::spawn_operation<Response>(get_executor(), std::move(body), std::move(handler));
  }

  asio::awaitable<Response> run(Request request, EventSink sink);

  LocalSettings settings_;
  std::shared_ptr<gen::Worker> worker_;
};

asio::awaitable<Response> LocalProvider::run(Request request, EventSink sink) {
  auto ex = co_await asio::this_coro::executor;
  const auto start = Clock::now();
  auto timer = std::make_shared<asio::steady_timer>(ex);
  auto job = std::make_shared<gen::Job>();
  job->request = std::move(request);
  job->submitted = start;
  auto first_event = std::make_shared<std::atomic<bool>>(false);
  if (sink || settings_.timeouts.first_token) {
    job->on_event = [sink, first_event](StreamEvent e) {
      first_event->store(true);
      if (sink) sink.emit(std::move(e));
    };
  }
  job->notify = [ex, timer] { asio::post(ex, [timer] { timer->cancel(); }); };

  // Deadlines: total, and first token (until the first event).
  const auto& t = settings_.timeouts;
  const auto deadline = [&] {
    auto d = Clock::time_point::max();
    if (t.total) d = std::min(d, start + *t.total);
    if (t.first_token && !first_event->load()) d = std::min(d, start + *t.first_token);
    return d;
  };
  timer->expires_at(deadline());
  worker_->submit(job);

  bool timed_out = false;
  while (!job->done.load()) {
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (job->done.load()) break;
    if (!ec) {
      if (Clock::now() >= deadline()) {  // a deadline passed: stop the generation
        timed_out = true;
        worker_->cancel(*job);
        timer->expires_at(Clock::time_point::max());
      } else {
        timer->expires_at(deadline());  // the first token came: only the total deadline left
      }
    } else if ((co_await asio::this_coro::cancellation_state).cancelled() !=
               asio::cancellation_type::none) {
      // The caller cancelled: stop at the next step, then complete with the partial result.
      worker_->cancel(*job);
      co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    }
  }
  if (timed_out && job->error) {
    ErrorInfo info;
    info.provider = "local";
    try {
      std::rethrow_exception(job->error);
    } catch (const Error& e) {
      info.partial = e.info().partial;
    }
    throw_error(errc::timeout, "local request timed out", std::move(info));
  }
  if (job->error) std::rethrow_exception(job->error);
  co_return std::move(job->response);
}

}  // namespace

ProviderInfo local_provider_info() {
  ProviderInfo info;
  info.name = "local";
  info.description = "GGUF models run in-process by the llmux engine (model: path to a .gguf)";
  info.create = [](Executor executor, const ProviderConfig& config) -> std::shared_ptr<Provider> {
    if (config.model.empty()) {
      throw_error(errc::invalid_argument, "local provider: set model to the path of a .gguf file");
    }
    LocalSettings settings = parse_settings(config);
    std::function<void(double)> progress;
    if (settings.progress) progress = progress_bar(config.model);
    auto model = gen::LoadedModel::load(config.model, progress);
    return std::make_shared<LocalProvider>(std::move(executor), std::move(model), settings);
  };
  return info;
}

}  // namespace llmux::providers
