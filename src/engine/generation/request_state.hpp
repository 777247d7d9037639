// The generation state of one request as a sequence of the model's scheduler: its prompt
// tokens, its own sampler (options and seed of this request), stop strings, streaming
// detokenizer and output parser. The scheduler hands it the logits after each of its tokens;
// it picks the next token, emits events and decides when the request is complete.
//
// Not thread-safe: constructed on any thread, then used by the scheduler's thread only. The
// `done` callback runs exactly once, on the scheduler's thread (or in the constructor's caller
// when the scheduler rejects the request at submit).
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <llmux/types.hpp>

#include "engine/generation/generator.hpp"
#include "engine/output/output_parser.hpp"
#include "engine/sampling/sampler.hpp"
#include "engine/sampling/stop_matcher.hpp"
#include "engine/scheduler/scheduler.hpp"
#include "engine/tokenizer/detokenizer.hpp"

namespace llmux::engine::generation {

class RequestState final : public scheduler::SequenceClient {
 public:
  using Done = std::function<void(std::exception_ptr, Response)>;

  // Renders and tokenizes the prompt, parses the request's options. Throws llmux::Error:
  // invalid_argument (bad options, empty prompt), context_length_exceeded (the prompt does not
  // fit a context of n_ctx positions).
  RequestState(std::shared_ptr<const LoadedModel> model, std::int64_t n_ctx,
               const Request& request, RunHooks hooks, Done done);

  std::span<const model::TokenId> prompt() const override { return prompt_.tokens; }
  bool cancelled() const override { return hooks_.cancel && hooks_.cancel->load(); }
  void on_admitted() override;
  std::optional<model::TokenId> next(std::span<const float> logits) override;
  void finish(std::exception_ptr error) override;

 private:
  using Clock = std::chrono::steady_clock;
  std::string piece_of(model::TokenId token);
  void emit(std::vector<StreamEvent> events);
  void flush_text();

  std::shared_ptr<const LoadedModel> model_;
  RunHooks hooks_;
  Done done_;
  LocalOptions local_;
  Prompt prompt_;
  std::int64_t max_tokens_ = 0;
  sampling::Sampler sampler_;
  sampling::StopMatcher stops_;
  output::OutputParser parser_;
  tokenizer::Detokenizer detok_;
  std::vector<std::string_view> markers_;
  Response response_;
  FinishReason reason_ = FinishReason::length;
  std::int64_t n_out_ = 0;
  Clock::time_point admitted_{}, first_token_{};
  bool finished_ = false;
};

}  // namespace llmux::engine::generation
