// The `local` provider end to end on the fixture models: the same Request through
// async_generate, generate and async_stream gives the same answer, greedy decoding gives the
// engine's own greedy tokens, cancellation stops generation within a token, and bad requests
// and files give clear errors.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <fstream>
#include <future>

#include <llmux/llmux.hpp>

#include "engine/generation/worker.hpp"
#include "engine/model/model.hpp"
#include "engine/tokenizer/detokenizer.hpp"
#include "engine/tokenizer/tokenizer.hpp"
#include "local_test_support.hpp"

namespace llmux {
namespace {

std::string model_path(const std::string& file) { return test::fixture_model(file); }

std::string prompt_text(const std::string& model, int index) {
  std::ifstream in(model_path("reference64.json"));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto doc = boost::json::parse(text);
  return std::string(doc.at("models").at(model).at("prompts").at(index).at("text").as_string());
}

std::shared_ptr<Provider> make_local(Executor ex, const std::string& file,
                                     std::map<std::string, std::string> options = {}) {
  ProviderConfig config;
  config.model = model_path(file);
  options.emplace("threads", "2");
  config.options = std::move(options);
  return create_llm("local", std::move(config), std::move(ex));
}

using test::raw_request;

Response without_timings(Response r) {
  r.timings = {};
  return r;
}

TEST(LocalProvider, GreedyRawGenerationIsTheEnginesGreedyContinuation) {
  Runtime runtime(1);
  const std::string text = prompt_text("qwen3", 0);
  auto llm = make_local(runtime.get_executor(), "qwen3-f32.gguf", {{"precision", "full"}});
  const Response r = llm->generate(raw_request(text, 16));

  // The same continuation computed directly with the engine.
  namespace em = engine::model;
  const auto model = em::Model::load(model_path("qwen3-f32.gguf"));
  const auto tok = engine::tokenizer::Tokenizer::from_gguf(model->file());
  auto ids = tok.encode(text, {.add_special = true, .parse_special = true});
  EXPECT_EQ(r.usage.input_tokens, static_cast<std::int64_t>(ids.size()));
  em::Context ctx(model, {.precision = em::Precision::full});
  std::vector<em::BatchToken> batch;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    batch.push_back({ids[i], static_cast<std::int64_t>(i), 0, i + 1 == ids.size()});
  }
  auto logits = ctx.eval(batch);
  std::vector<em::TokenId> out;
  for (int i = 0; i < 16; ++i) {
    const auto best = static_cast<em::TokenId>(
        std::max_element(logits.begin(), logits.end()) - logits.begin());
    if (tok.is_eog(best)) break;
    out.push_back(best);
    const em::BatchToken next{best, static_cast<std::int64_t>(ids.size() + out.size() - 1), 0, true};
    logits = ctx.eval({&next, 1});
  }
  engine::tokenizer::Detokenizer detok(tok);
  std::string expected;
  for (auto id : out) expected += detok.push(id);
  expected += detok.finish();
  EXPECT_EQ(r.content, expected);
  EXPECT_EQ(r.usage.output_tokens, static_cast<std::int64_t>(out.size()));
  EXPECT_EQ(r.finish_reason, out.size() == 16 ? FinishReason::length : FinishReason::stop);
  EXPECT_EQ(r.provider, "local");
  EXPECT_FALSE(r.model.empty());
  ASSERT_TRUE(r.timings.prompt_eval && r.timings.generation && r.timings.time_to_first_token);
  EXPECT_LE(*r.timings.prompt_eval + *r.timings.generation, r.timings.total);
}

TEST(LocalProvider, SyncAsyncAndStreamingGiveTheSameSampledAnswer) {
  Runtime runtime(2);
  auto llm = make_local(runtime.get_executor(), "llama-f16.gguf");
  Request req;
  req.messages = {Message::system("You are terse."), Message::user("Tell me about the sea.")};
  req.options.max_output_tokens = 24;
  req.options.temperature = 0.9;
  req.options.seed = 1234;
  const Response sync = llm->generate(req);
  const Response async = llm->async_generate(req, asio::use_future).get();
  const Response awaited =
      asio::co_spawn(runtime.get_executor(), llm->async_generate(req, asio::use_awaitable),
                     asio::use_future)
          .get();
  EXPECT_EQ(without_timings(sync), without_timings(async));
  EXPECT_EQ(without_timings(sync), without_timings(awaited));
  EXPECT_EQ(sync.usage.output_tokens + sync.usage.input_tokens, sync.usage.total_tokens);

  Stream s = llm->async_stream(req);
  std::string text;
  std::vector<StreamEvent> tail;
  while (auto e = s.next()) {
    if (auto* t = std::get_if<TextDelta>(&*e)) text += t->text;
    tail.push_back(*e);
  }
  EXPECT_EQ(text, sync.content);
  ASSERT_GE(tail.size(), 2u);
  EXPECT_EQ(std::get<UsageEvent>(tail[tail.size() - 2]).usage, sync.usage);
  EXPECT_EQ(std::get<Finish>(tail.back()).reason, sync.finish_reason);
  ASSERT_TRUE(s.response());
  EXPECT_EQ(without_timings(*s.response()), without_timings(sync));

  // A different seed samples something else.
  req.options.seed = 99;
  EXPECT_NE(llm->generate(req).content, sync.content);
}

// A sampled raw request on the 256-token Llama fixture (whose context fits max_tokens).
Request sampled_llama_request(std::int64_t max_tokens, double temperature, std::uint64_t seed) {
  Request req = raw_request(prompt_text("llama-256", 1), max_tokens);
  req.options.temperature = temperature;
  req.options.seed = seed;
  return req;
}

TEST(LocalProvider, CancellingAStreamStopsItsGenerationAndFreesTheModel) {
  Runtime runtime(1);
  auto llm = make_local(runtime.get_executor(), "llama-256-f16.gguf", {{"ctx_size", "4096"}});
  const Request req = sampled_llama_request(4000, 1.0, 5);
  Stream s = llm->async_stream(req);
  int deltas = 0;
  while (auto e = s.next()) {
    if (std::holds_alternative<TextDelta>(*e) && ++deltas == 3) break;
  }
  ASSERT_EQ(deltas, 3);
  s.cancel();
  try {
    while (s.next()) {
    }
    FAIL() << "the stream ended without the cancellation error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::cancelled);
    ASSERT_TRUE(e.info().partial);
    EXPECT_FALSE(e.info().partial->content.empty());
  }
  // The model is free again at once: a 2-token request does not wait for 4000 tokens.
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(llm->generate(raw_request("x", 2)).usage.output_tokens, 2);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

TEST(LocalWorker, CancellationStopsBeforeTheNextToken) {
  namespace gen = engine::generation;
  auto model = gen::LoadedModel::load(model_path("llama-f16.gguf"));
  gen::Worker worker(model, {.n_threads = 1});
  auto job = std::make_shared<gen::Job>();
  job->request = raw_request(prompt_text("llama", 0), 500);
  job->request.options.temperature = 1.0;
  job->request.options.seed = 3;
  int tokens = 0;
  gen::Job* raw = job.get();
  job->on_event = [&tokens, raw](StreamEvent e) {
    if (std::holds_alternative<TextDelta>(e) && ++tokens == 3) raw->cancel.store(true);
  };
  std::promise<void> done;
  job->notify = [&done] { done.set_value(); };
  worker.submit(job);
  done.get_future().wait();
  ASSERT_TRUE(job->error);
  try {
    std::rethrow_exception(job->error);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::cancelled);
    ASSERT_TRUE(e.info().partial);
    // Text deltas can lag tokens (a UTF-8 character split over byte tokens), never lead them:
    // the third delta came with token 3 or later, and no token followed the cancel.
    const auto n = e.info().partial->usage.output_tokens;
    EXPECT_GE(n, 3);
    EXPECT_LE(n, 8);
    EXPECT_EQ(e.info().partial->finish_reason, FinishReason::cancelled);
  }
}

TEST(LocalProvider, MaxTokensAndStopStrings) {
  Runtime runtime(1);
  auto llm = make_local(runtime.get_executor(), "qwen2-f16.gguf");
  const Request base = raw_request(prompt_text("qwen2", 2), 5);
  const Response five = llm->generate(base);
  EXPECT_EQ(five.usage.output_tokens, 5);
  EXPECT_EQ(five.finish_reason, FinishReason::length);

  Request longer = base;
  longer.options.max_output_tokens = 30;
  const Response full = llm->generate(longer);
  ASSERT_GT(full.content.size(), 6u);
  Request stopped = longer;
  const std::string stop = full.content.substr(full.content.size() / 2, 3);
  stopped.options.stop = {stop};
  const Response r = llm->generate(stopped);
  EXPECT_EQ(r.finish_reason, FinishReason::stop);
  EXPECT_EQ(r.content, full.content.substr(0, full.content.find(stop)));
}

TEST(LocalProvider, IgnoreEosRunsToMaxTokens) {
  // A hot, unfiltered distribution over a 256-token vocabulary: for some seed, generation
  // samples an end-of-generation token before max_tokens; with ignore_eos the same request
  // runs to max_tokens.
  Runtime runtime(1);
  auto llm = make_local(runtime.get_executor(), "llama-256-f16.gguf", {{"ctx_size", "1024"}});
  Request req = sampled_llama_request(200, 4.0, 1);
  req.options.top_p = 1.0;
  req.options.top_k = 0;
  req.options.min_p = 0.0;
  bool stopped = false;
  for (std::uint64_t seed = 1; seed <= 40 && !stopped; ++seed) {
    req.options.seed = seed;
    const Response r = llm->generate(req);
    stopped = r.finish_reason == FinishReason::stop;
    if (stopped) EXPECT_LT(r.usage.output_tokens, 200);
  }
  ASSERT_TRUE(stopped) << "no seed sampled an end-of-generation token";
  req.options.extra_body = R"({"raw": true, "ignore_eos": true})";
  const Response fixed = llm->generate(req);
  EXPECT_EQ(fixed.finish_reason, FinishReason::length);
  EXPECT_EQ(fixed.usage.output_tokens, 200);
  req.options.temperature = 0;  // greedy takes the same path
  const Response greedy = llm->generate(req);
  EXPECT_EQ(greedy.usage.output_tokens, 200);
}

TEST(LocalProvider, ConcurrentRequestsEachGetTheirOwnAnswer) {
  Runtime runtime(2);
  auto llm = make_local(runtime.get_executor(), "qwen3-f16.gguf");
  std::vector<Request> reqs;
  std::vector<Response> alone;
  for (int i = 0; i < 4; ++i) {
    reqs.push_back(raw_request(prompt_text("qwen3", i % 3), 8 + i));
    alone.push_back(llm->generate(reqs.back()));
  }
  std::vector<std::future<Response>> futures;
  for (const auto& r : reqs) futures.push_back(llm->async_generate(r, asio::use_future));
  for (std::size_t i = 0; i < futures.size(); ++i) {
    EXPECT_EQ(without_timings(futures[i].get()), without_timings(alone[i])) << i;
  }
}

TEST(LocalProvider, TwoLoadedModelsServeConcurrentStreamsFromOneRuntimeThread) {
  // Each provider has its own scheduler; one runtime thread drives sixteen coroutines over both.
  Runtime runtime(1);
  auto llama = make_local(runtime.get_executor(), "llama-f16.gguf");
  auto qwen = make_local(runtime.get_executor(), "qwen2-f16.gguf");
  std::vector<std::pair<std::shared_ptr<Provider>, Request>> work;
  for (int i = 0; i < 16; ++i) {
    const bool l = i % 2 == 0;
    work.emplace_back(l ? llama : qwen, raw_request(prompt_text(l ? "llama" : "qwen2", i % 3), 6 + i % 5));
  }
  std::vector<Response> alone;
  for (auto& [p, r] : work) alone.push_back(p->generate(r));
  std::vector<std::future<std::string>> streamed;
  for (auto& [p, r] : work) {
    auto provider = p;
    auto request = r;
    auto body = [provider, request]() -> asio::awaitable<std::string> {
      Stream s = provider->async_stream(request);
      std::string text;
      for (;;) {
        auto e = co_await s.async_next(asio::use_awaitable);
        if (!e) break;
        if (auto* d = std::get_if<TextDelta>(&*e)) text += d->text;
      }
      co_return text;
    };
    streamed.push_back(asio::co_spawn(runtime.get_executor(), std::move(body), asio::use_future));
  }
  for (std::size_t i = 0; i < streamed.size(); ++i) {
    EXPECT_EQ(streamed[i].get(), alone[i].content) << i;
  }
}

TEST(LocalProvider, ChatTemplatedRequestCountsTheRenderedPrompt) {
  Runtime runtime(1);
  auto llm = make_local(runtime.get_executor(), "qwen2-f32.gguf");
  Request req;
  req.messages = {Message::user("hi")};
  req.options.max_output_tokens = 3;
  const Response r = llm->generate(req);
  // The fallback ChatML template wraps "hi" in role markers: many more tokens than "hi" alone.
  EXPECT_GT(r.usage.input_tokens, 8);
  EXPECT_EQ(r.usage.output_tokens, 3);
  const auto models = llm->list_models();
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0].id, r.model);
}

TEST(LocalProvider, ClearErrors) {
  Runtime runtime(1);
  auto ex = runtime.get_executor();
  EXPECT_THROW(make_local(ex, "no-such-file.gguf"), InvalidArgumentError);
  EXPECT_THROW(make_local(ex, "qwen2-f16.gguf", {{"ctx_size", "zero"}}), InvalidArgumentError);
  EXPECT_THROW(make_local(ex, "qwen2-f16.gguf", {{"colour", "blue"}}), InvalidArgumentError);
  EXPECT_THROW(make_local(ex, "qwen2-f16.gguf", {{"precision", "half"}}), InvalidArgumentError);
  auto llm = make_local(ex, "qwen2-f16.gguf", {{"ctx_size", "16"}});
  try {
    llm->generate(raw_request(prompt_text("qwen2", 0), 4));
    FAIL() << "a 40-token prompt fit a 16-token context";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::context_length_exceeded) << e.what();
  }
  Request bad = raw_request("hello", 4);
  bad.options.extra_body = R"({"mirostat": 2})";
  EXPECT_THROW(llm->generate(bad), InvalidArgumentError);
}

}  // namespace
}  // namespace llmux
