// The main demonstration: N requests through the `fake` provider (offline, simulated latency),
// first one after another, then all at once on one runtime thread. Shows what async buys for
// remote providers: the same work, a fraction of the wall time.
//
//   concurrency_demo [--requests N] [--ttft-ms T] [--tokens-per-second R] [--output-tokens K]
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <string>
#include <string_view>

#include <llmux/llmux.hpp>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int requests = 50;
  int ttft_ms = 200;
  int tokens_per_second = 100;
  int output_tokens = 20;
};

bool parse_int(const char* text, int& out) {
  auto end = text + std::strlen(text);
  auto [ptr, ec] = std::from_chars(text, end, out);
  return ec == std::errc() && ptr == end && out > 0;
}

bool parse_args(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    int* target = flag == "--requests"            ? &o.requests
                  : flag == "--ttft-ms"           ? &o.ttft_ms
                  : flag == "--tokens-per-second" ? &o.tokens_per_second
                  : flag == "--output-tokens"     ? &o.output_tokens
                                                  : nullptr;
    if (!target || i + 1 >= argc || !parse_int(argv[i + 1], *target)) {
      std::fprintf(stderr, "concurrency_demo: bad argument '%s' (see the header comment)\n",
                   argv[i]);
      return false;
    }
    ++i;
  }
  return true;
}

llmux::Request make_request(int i) {
  llmux::Request r;
  r.messages = {llmux::Message::user("Question number " + std::to_string(i))};
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_args(argc, argv, o)) return 2;
  try {
    llmux::Runtime runtime(1);  // one thread for everything
    llmux::ProviderConfig config;
    config.options = {{"ttft_ms", std::to_string(o.ttft_ms)},
                      {"tokens_per_second", std::to_string(o.tokens_per_second)},
                      {"output_tokens", std::to_string(o.output_tokens)}};
    auto llm = llmux::create_llm("fake", config, runtime);
    const double per_request_s =
        o.ttft_ms / 1000.0 + (o.output_tokens - 1) / static_cast<double>(o.tokens_per_second);
    std::printf("llmux demo: %d requests to the offline `fake` provider (%d ms to first token, "
                "%d tokens at %d tok/s: %.2f s each)\n\n",
                o.requests, o.ttft_ms, o.output_tokens, o.tokens_per_second, per_request_s);

    // 1. Sequential: the blocking API, one request at a time.
    auto t0 = Clock::now();
    std::int64_t tokens_seq = 0;
    for (int i = 0; i < o.requests; ++i) tokens_seq += llm->generate(make_request(i)).usage.output_tokens;
    const double seq_s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("sequential  (generate, one at a time): %7.2f s  %8.1f output tok/s\n", seq_s,
                tokens_seq / seq_s);

    // 2. Concurrent: every request in flight at once through async_generate.
    t0 = Clock::now();
    std::atomic<std::int64_t> tokens_conc{0};
    std::atomic<int> remaining{o.requests};
    std::atomic<int> errors{0};
    std::promise<void> done;
    for (int i = 0; i < o.requests; ++i) {
      llm->async_generate(make_request(i), [&](std::exception_ptr e, llmux::Response r) {
        if (e) errors.fetch_add(1);
        tokens_conc.fetch_add(r.usage.output_tokens);
        if (remaining.fetch_sub(1) == 1) done.set_value();
      });
    }
    done.get_future().wait();
    const double conc_s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("concurrent  (async_generate, all %d): %7.2f s  %8.1f output tok/s\n", o.requests,
                conc_s, tokens_conc.load() / conc_s);
    std::printf("\nspeedup: %.1fx on %zu runtime thread, %d errors\n", seq_s / conc_s,
                runtime.thread_count(), errors.load());
    return errors.load() == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "concurrency_demo: %s\n", e.what());
    return 1;
  }
}
