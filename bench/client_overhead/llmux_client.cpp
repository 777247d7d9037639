// Client overhead of llmux: N chat-completion requests to an OpenAI-compatible server (normally
// `llmux mock-server` with no simulated latency) with at most C in flight, on one runtime thread,
// through the public async API. After W warm-up requests, measures wall time and this process's
// CPU time (getrusage: user + system, all threads) and prints one JSON line. openai_node.cjs
// does the same with the official openai Node SDK; run.sh runs both side by side.
//
//   llmux_client --base-url URL --requests N --concurrency C [--warmup W] [--stream]
//                [--max-tokens K]
#include <sys/resource.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <string>
#include <string_view>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <llmux/llmux.hpp>

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string base_url;
  long requests = 2000;
  long concurrency = 1;
  long warmup = 200;
  long max_tokens = 0;
  bool stream = false;
};

bool parse_long(const char* text, long& out) {
  auto end = text + std::strlen(text);
  auto [ptr, ec] = std::from_chars(text, end, out);
  return ec == std::errc() && ptr == end && out >= 0;
}

bool parse_args(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "--stream") {
      o.stream = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    const char* value = argv[++i];
    if (flag == "--base-url") {
      o.base_url = value;
    } else {
      long* target = flag == "--requests"      ? &o.requests
                     : flag == "--concurrency" ? &o.concurrency
                     : flag == "--warmup"      ? &o.warmup
                     : flag == "--max-tokens"  ? &o.max_tokens
                                               : nullptr;
      if (!target || !parse_long(value, *target)) return false;
    }
  }
  return !o.base_url.empty() && o.requests > 0 && o.concurrency > 0;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

struct Batch {
  std::shared_ptr<llmux::Provider> provider;
  llmux::Request request;
  bool stream = false;
  long total = 0;
  std::atomic<long> next{0};
  std::atomic<long> errors{0};
  std::atomic<long> workers_left{0};
  std::promise<void> done;
};

asio::awaitable<void> one(std::shared_ptr<Batch> b) {
  if (!b->stream) {
    co_await b->provider->async_generate(b->request, asio::use_awaitable);
    co_return;
  }
  llmux::Stream s = b->provider->async_stream(b->request);
  while (co_await s.async_next(asio::use_awaitable)) {
  }
}

asio::awaitable<void> worker(std::shared_ptr<Batch> b) {
  while (b->next.fetch_add(1) < b->total) {
    try {
      co_await one(b);
    } catch (const std::exception&) {
      b->errors.fetch_add(1);
    }
  }
}

// Runs `total` requests with at most `c` in flight; returns the number of errors.
long run_batch(llmux::Runtime& rt, std::shared_ptr<llmux::Provider> provider, const llmux::Request& req,
               bool stream, long total, long c) {
  auto b = std::make_shared<Batch>();
  b->provider = std::move(provider);
  b->request = req;
  b->stream = stream;
  b->total = total;
  const long workers = std::min(c, total);
  b->workers_left = workers;
  auto finished = b->done.get_future();
  for (long w = 0; w < workers; ++w) {
    asio::co_spawn(rt.get_executor(), worker(b), [b](std::exception_ptr) {
      if (b->workers_left.fetch_sub(1) == 1) b->done.set_value();
    });
  }
  finished.wait();
  return b->errors.load();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_args(argc, argv, o)) {
    std::fprintf(stderr, "llmux_client: bad arguments (see the header comment)\n");
    return 2;
  }
  try {
    llmux::Runtime rt(1);
    llmux::ProviderConfig config;
    config.base_url = o.base_url;
    config.model = "llmux-mock";
    config.use_environment = false;
    auto provider = llmux::create_llm("openai-compatible", config, rt);
    llmux::Request req;
    req.messages = {llmux::Message::user("Say something about request overhead.")};
    if (o.max_tokens > 0) req.options.max_output_tokens = o.max_tokens;
    if (o.warmup > 0) run_batch(rt, provider, req, o.stream, o.warmup, o.concurrency);
    const double cpu0 = cpu_seconds();
    const auto t0 = Clock::now();
    const long errors = run_batch(rt, provider, req, o.stream, o.requests, o.concurrency);
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    const double cpu = cpu_seconds() - cpu0;
    std::printf(
        "{\"client\":\"llmux\",\"stream\":%s,\"c\":%ld,\"requests\":%ld,\"wall_s\":%.4f,\"rps\":%.1f,"
        "\"cpu_s\":%.4f,\"cpu_us_per_request\":%.1f,\"errors\":%ld}\n",
        o.stream ? "true" : "false", o.concurrency, o.requests, wall, o.requests / wall, cpu,
        cpu * 1e6 / o.requests, errors);
    return errors == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llmux_client: %s\n", e.what());
    return 1;
  }
}
