// `llmux bench engine --model FILE.gguf [--threads N] [--prompt-tokens 512] [--gen-tokens 128]
// [--reps 1] [--concurrency 1,2,4,8,16] [--json]` (DESIGN.md, "Command-line contract"): prompt
// processing and generation speed of the in-process engine, the machine's memory read
// bandwidth and the decode roofline (bandwidth / weight bytes read per token), and, per
// --concurrency level, that many requests submitted at once to the continuous-batching
// scheduler the local provider uses: aggregate generation speed, time to first token and
// inter-token latency percentiles.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "core/json_codec.hpp"
#include "engine/kernels/membw.hpp"
#include "engine/kernels/scan.hpp"
#include "engine/kv_cache/paged_kv_cache.hpp"
#include "engine/model/model.hpp"
#include "engine/scheduler/scheduler.hpp"

namespace llmux::cli {
namespace {

namespace em = engine::model;
using Clock = std::chrono::steady_clock;

struct BenchEngineArgs {
  std::string model;
  int threads = 0;
  int prompt_tokens = 512;
  int gen_tokens = 128;
  int reps = 1;
  std::string concurrency;
  bool json = false;
};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::vector<int> parse_levels(const std::string& text) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    int v = 0;
    try {
      v = std::stoi(item);
    } catch (...) {
      v = 0;
    }
    if (v <= 0 || v > 256) throw CliError(fmt::format("--concurrency: '{}' is not in 1..256", item));
    out.push_back(v);
  }
  return out;
}

em::TokenId argmax(std::span<const float> v) {
  return static_cast<em::TokenId>(engine::kernels::first_max_index(v.data(), static_cast<std::int64_t>(v.size())));
}

// Evaluates `n` tokens of each of `seqs` sequences (random ids) as prompt chunks of up to 512.
void prefill(em::Context& ctx, int seqs, int n, std::mt19937& rng) {
  std::uniform_int_distribution<em::TokenId> id(0, static_cast<em::TokenId>(ctx.model().hparams().n_vocab - 1));
  std::vector<em::BatchToken> batch;
  for (int s = 0; s < seqs; ++s) {
    for (int i = 0; i < n; ++i) {
      batch.push_back({id(rng), i, s, i + 1 == n});
      if (static_cast<int>(batch.size()) == 512) {
        ctx.eval(batch);
        batch.clear();
      }
    }
  }
  if (!batch.empty()) ctx.eval(batch);
}

struct LevelResult {
  int c;
  double tg_tok_s, ttft_ms_p50, ttft_ms_p99, itl_ms_p50, itl_ms_p99;
};

// One benchmark request for the scheduler: a prompt of random ids, then exactly `gen` greedy
// tokens (no end-of-generation: every level generates the same number of tokens).
class BenchSequence final : public engine::scheduler::SequenceClient {
 public:
  BenchSequence(std::vector<em::TokenId> prompt, int gen) : prompt_(std::move(prompt)), gen_(gen) {}
  std::span<const em::TokenId> prompt() const override { return prompt_; }
  bool cancelled() const override { return false; }
  std::optional<em::TokenId> next(std::span<const float> logits) override {
    times.push_back(Clock::now());
    if (static_cast<int>(times.size()) == gen_) return std::nullopt;
    return argmax(logits);
  }
  void finish(std::exception_ptr e) override { error = std::move(e); }

  std::vector<Clock::time_point> times;  // when each token was chosen
  std::exception_ptr error;

 private:
  std::vector<em::TokenId> prompt_;
  int gen_;
};

// c requests submitted at once to a continuous-batching scheduler (as the local provider runs
// them): aggregate generation speed once every sequence decodes, time to first token,
// inter-token latency.
LevelResult run_level(const std::shared_ptr<const em::Model>& model, const BenchEngineArgs& a,
                      int threads, int c, std::mt19937& rng) {
  const std::int64_t n_ctx = a.prompt_tokens + a.gen_tokens + 1;
  const std::int64_t bs = 16;
  const std::int64_t blocks = c * ((n_ctx + bs - 1) / bs) + 1;
  const auto& hp = model->hparams();
  auto cache = std::make_unique<engine::kv_cache::PagedKvCache>(
      hp.n_layer, hp.k_dim(), hp.v_dim(), n_ctx, em::KvType::f16, bs, blocks);
  auto* kv = cache.get();
  em::Context ctx(model, {.n_threads = threads}, std::move(cache));
  engine::scheduler::Scheduler scheduler(
      *kv, [&](std::span<const em::BatchToken> b) { return ctx.eval(b); }, hp.n_vocab,
      {.max_running = c});  // the provider's defaults otherwise
  std::uniform_int_distribution<em::TokenId> id(0, static_cast<em::TokenId>(hp.n_vocab - 1));
  std::vector<std::shared_ptr<BenchSequence>> seqs;
  for (int i = 0; i < c; ++i) {
    std::vector<em::TokenId> prompt(static_cast<std::size_t>(a.prompt_tokens));
    for (auto& t : prompt) t = id(rng);
    seqs.push_back(std::make_shared<BenchSequence>(std::move(prompt), a.gen_tokens));
  }
  const auto t0 = Clock::now();
  for (auto& s : seqs) scheduler.submit(s);
  while (scheduler.step()) {
  }
  const auto t_end = Clock::now();
  std::vector<double> ttft, itl;
  auto all_decoding = t0;  // when the last sequence got its first token
  for (const auto& s : seqs) {
    if (s->error) std::rethrow_exception(s->error);
    ttft.push_back(std::chrono::duration<double, std::milli>(s->times.front() - t0).count());
    all_decoding = std::max(all_decoding, s->times.front());
    for (std::size_t i = 1; i < s->times.size(); ++i) {
      itl.push_back(std::chrono::duration<double, std::milli>(s->times[i] - s->times[i - 1]).count());
    }
  }
  // Tokens chosen after every sequence was decoding, over that time.
  std::size_t late = 0;
  for (const auto& s : seqs) {
    late += static_cast<std::size_t>(std::count_if(s->times.begin(), s->times.end(),
                                                   [&](auto t) { return t > all_decoding; }));
  }
  const double window = std::chrono::duration<double>(t_end - all_decoding).count();
  const double tg = window > 0 ? static_cast<double>(late) / window : 0;
  return {c, tg, percentile(ttft, 0.5), percentile(ttft, 0.99), percentile(itl, 0.5),
          percentile(itl, 0.99)};
}

// Generation speed and the memory read bandwidth it runs against. This machine kind's
// bandwidth moves by a third within seconds (the probe read 29 and then 39 GB/s around one
// 128-token run), so a probe before and after the run can miss what the run had. The tokens
// are timed in segments of kTgSegment with the bandwidth probed before the first and after
// every segment (a 1 GiB buffer set up once, each probe the median of 3 reads, ~0.1 s); the
// roofline takes the probes around each segment, weighted by the segment's time. The probes'
// time is not counted in the generation's. Each repetition generates from an empty context
// (as llama-bench's tg test, its n_prompt 0: the rate of the weights' reads, not of attention
// over a prompt); the rate is the mean of the repetitions' rates, as llama-bench's.
constexpr int kTgSegment = 16;

struct Generation {
  double tok_s = 0;
  double gbps = 0;                    // time-weighted bandwidth around the segments
  std::vector<double> rep_tok_s;      // every repetition's rate
  std::vector<double> gbps_samples;   // every probe, in order
  std::vector<double> segment_tok_s;  // every segment's rate
};

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

Generation measure_generation(em::Context& ctx, int threads, int tokens, int reps) {
  engine::kernels::ThreadPool pool(threads);
  engine::kernels::ReadBandwidthProbe probe(pool);
  Generation out;
  out.gbps_samples.push_back(probe.measure());
  double all_seconds = 0, weighted = 0;
  for (int r = 0; r < reps; ++r) {
    ctx.cache().remove(0);
    double seconds = 0;
    em::TokenId tok = 1;
    for (int done = 0; done < tokens;) {
      const int n = std::min(kTgSegment, tokens - done);
      const auto t0 = Clock::now();
      for (int g = done; g < done + n; ++g) {
        const em::BatchToken b{tok, g, 0, true};
        tok = argmax(ctx.eval({&b, 1}));
      }
      const double s = seconds_since(t0);
      done += n;
      out.gbps_samples.push_back(probe.measure());
      out.segment_tok_s.push_back(n / s);
      seconds += s;
      weighted += s * (out.gbps_samples[out.gbps_samples.size() - 2] + out.gbps_samples.back()) / 2;
    }
    out.rep_tok_s.push_back(tokens / seconds);
    all_seconds += seconds;
  }
  out.tok_s = mean(out.rep_tok_s);
  out.gbps = weighted / all_seconds;
  return out;
}

void run_bench_engine(const BenchEngineArgs& a) {
  // Either test can be left out (0 tokens, as llama-bench's -p 0 / -n 0), so that a script can
  // pair each with the other engine's run of the same test seconds apart.
  if (a.prompt_tokens < 0 || a.gen_tokens < 0) throw CliError("--prompt-tokens and --gen-tokens must be >= 0");
  if (a.prompt_tokens == 0 && a.gen_tokens == 0) {
    throw CliError("--prompt-tokens and --gen-tokens are both 0: nothing to measure");
  }
  if (!a.concurrency.empty() && (a.prompt_tokens < 1 || a.gen_tokens < 1)) {
    throw CliError("--concurrency needs --prompt-tokens and --gen-tokens >= 1");
  }
  const bool run_pp = a.prompt_tokens > 0, run_tg = a.gen_tokens > 0;
  const int threads = a.threads > 0 ? a.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const auto levels = a.concurrency.empty() ? std::vector<int>{} : parse_levels(a.concurrency);
  const auto model = em::Model::load(a.model);
  const auto& w = model->weights();
  // Weight bytes read per generated token: every layer matrix and the output matrix (the token
  // embedding contributes one row unless it is the output).
  std::size_t per_token = w.bytes;
  if (!w.tied_output) {
    per_token -= static_cast<std::size_t>(w.token_embd.rows) * w.token_embd.row_bytes;
  }
  std::mt19937 rng(42);

  constexpr int kWarmUp = 16;
  em::Context ctx(model, {.n_threads = threads, .n_ctx = std::max(a.prompt_tokens, kWarmUp) + a.gen_tokens + 1});
  prefill(ctx, 1, run_pp ? std::min(a.prompt_tokens, kWarmUp) : kWarmUp, rng);  // page faults, caches
  ctx.cache().remove(0);
  // The prompt rate: the mean of the repetitions' rates, as llama-bench's.
  std::vector<double> pp_reps;
  for (int r = 0; run_pp && r < a.reps; ++r) {
    ctx.cache().remove(0);
    const auto t0 = Clock::now();
    prefill(ctx, 1, a.prompt_tokens, rng);
    pp_reps.push_back(a.prompt_tokens / seconds_since(t0));
  }
  const double pp = mean(pp_reps);
  const Generation gen = run_tg ? measure_generation(ctx, threads, a.gen_tokens, a.reps) : Generation{};
  const double tg = gen.tok_s;
  const double gbps = gen.gbps;
  const double roofline = gbps * 1e9 / static_cast<double>(per_token);

  std::vector<LevelResult> results;
  for (int c : levels) results.push_back(run_level(model, a, threads, c, rng));

  if (a.json) {
    boost::json::object o;
    o["model"] = a.model;
    o["threads"] = threads;
    const auto array = [](const std::vector<double>& v) {
      boost::json::array out;
      for (double x : v) out.push_back(x);
      return out;
    };
    if (run_pp) {
      o["pp_tok_s"] = pp;
      o["pp_tok_s_reps"] = array(pp_reps);
    }
    if (run_tg) {
      o["tg_tok_s"] = tg;
      o["tg_tok_s_reps"] = array(gen.rep_tok_s);
      o["mem_read_gbps"] = gbps;
      o["mem_read_gbps_samples"] = array(gen.gbps_samples);
      o["tg_segment_tok_s"] = array(gen.segment_tok_s);
      o["roofline_tg_tok_s"] = roofline;
    }
    boost::json::array arr;
    for (const auto& r : results) {
      arr.push_back(boost::json::object{{"c", r.c}, {"tg_tok_s", r.tg_tok_s},
                                        {"ttft_ms_p50", r.ttft_ms_p50}, {"ttft_ms_p99", r.ttft_ms_p99},
                                        {"itl_ms_p50", r.itl_ms_p50}, {"itl_ms_p99", r.itl_ms_p99}});
    }
    o["concurrency"] = std::move(arr);
    const std::string line = json::to_text(o);
    std::fputs(line.c_str(), stdout);
    std::fputc('\n', stdout);
    return;
  }
  fmt::print("model        {}\nthreads      {}\n", a.model, threads);
  const std::string of_reps = a.reps > 1 ? fmt::format(" (mean of {} runs)", a.reps) : "";
  if (run_pp) fmt::print("pp{:<10} {:.1f} tok/s{}\n", a.prompt_tokens, pp, of_reps);
  if (run_tg) {
    fmt::print("tg{:<10} {:.1f} tok/s{}\n", a.gen_tokens, tg, of_reps);
    const auto [lo, hi] = std::minmax_element(gen.gbps_samples.begin(), gen.gbps_samples.end());
    fmt::print("memory read  {:.1f} GB/s (probed {} times through tg: {:.1f}-{:.1f}); weights per token "
               "{:.1f} MiB; decode roofline {:.1f} tok/s (tg at {:.0f}%)\n", gbps, gen.gbps_samples.size(),
               *lo, *hi, static_cast<double>(per_token) / (1 << 20), roofline, 100 * tg / roofline);
  }
  if (!results.empty()) {
    fmt::print("{:>4} {:>10} {:>13} {:>13} {:>12} {:>12}\n", "c", "tg tok/s", "ttft p50 ms",
               "ttft p99 ms", "itl p50 ms", "itl p99 ms");
  }
  for (const auto& r : results) {
    fmt::print("{:>4} {:>10.1f} {:>13.1f} {:>13.1f} {:>12.1f} {:>12.1f}\n", r.c, r.tg_tok_s,
               r.ttft_ms_p50, r.ttft_ms_p99, r.itl_ms_p50, r.itl_ms_p99);
  }
}

}  // namespace

void add_bench_engine(CLI::App& bench) {
  auto args = std::make_shared<BenchEngineArgs>();
  CLI::App* cmd = bench.add_subcommand(
      "engine", "Local engine speed: prompt processing, generation, memory roofline, batching");
  cmd->add_option("--model", args->model, "GGUF model file")->required();
  cmd->add_option("--threads", args->threads, "Compute threads (default: all cores)")->check(CLI::PositiveNumber);
  cmd->add_option("--prompt-tokens", args->prompt_tokens, "Prompt length (default 512; 0: no prompt test)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--gen-tokens", args->gen_tokens, "Generated tokens (default 128; 0: no generation test)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--reps", args->reps, "Repetitions of the prompt and generation runs, rates averaged (default 1)")
      ->check(CLI::Range(1, 100));
  cmd->add_option("--concurrency", args->concurrency,
                  "Sequences decoded together, e.g. 1,2,4,8,16 (aggregate tok/s per level)");
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->callback([args] { run_bench_engine(*args); });
}

}  // namespace llmux::cli
