#include "engine/generation/request_state.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>

#include <llmux/error.hpp>

namespace llmux::engine::generation {
namespace {

sampling::SamplerOptions sampler_options(const GenerateOptions& o, const LocalOptions& local) {
  sampling::SamplerOptions s;
  if (o.temperature) s.temperature = static_cast<float>(*o.temperature);
  if (o.top_k) s.top_k = *o.top_k;
  if (o.top_p) s.top_p = static_cast<float>(*o.top_p);
  if (o.min_p) s.min_p = static_cast<float>(*o.min_p);
  if (o.presence_penalty) s.presence_penalty = static_cast<float>(*o.presence_penalty);
  if (o.frequency_penalty) s.frequency_penalty = static_cast<float>(*o.frequency_penalty);
  if (local.repeat_penalty) s.repeat_penalty = *local.repeat_penalty;
  if (local.repeat_last_n) s.repeat_last_n = *local.repeat_last_n;
  s.seed = o.seed ? *o.seed : (static_cast<std::uint64_t>(std::random_device{}()) << 32 |
                               std::random_device{}());
  return s;
}

output::ParserOptions parser_options(const LoadedModel& m, const Request& request,
                                     const LocalOptions& local, const Prompt& prompt,
                                     std::uint64_t seed) {
  output::ParserOptions po;
  po.format = m.format;
  po.parse_tool_calls = !request.options.tools.empty() && !local.raw &&
                        !(request.options.tool_choice &&
                          request.options.tool_choice->mode == ToolChoice::Mode::none);
  po.starts_in_reasoning = prompt.opens_reasoning && m.format.reasoning;
  po.id_seed = seed;
  return po;
}

std::int64_t max_new_tokens(const Request& request, std::int64_t n_prompt, std::int64_t n_ctx) {
  if (n_prompt >= n_ctx) {
    throw_error(errc::context_length_exceeded,
                fmt::format("the prompt has {} tokens and does not fit the context of {} tokens "
                            "(a larger --ctx-size / ctx_size option may help)",
                            n_prompt, n_ctx));
  }
  std::int64_t max_tokens = n_ctx - n_prompt;
  if (const auto& mt = request.options.max_output_tokens) {
    if (*mt <= 0) throw_error(errc::invalid_argument, "max_output_tokens must be positive");
    max_tokens = std::min(max_tokens, *mt);
  }
  return max_tokens;
}

std::chrono::microseconds between(std::chrono::steady_clock::time_point a,
                                  std::chrono::steady_clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::microseconds>(b - a);
}

}  // namespace

RequestState::RequestState(std::shared_ptr<const LoadedModel> model, std::int64_t n_ctx,
                           const Request& request, RunHooks hooks, Done done)
    : model_(std::move(model)),
      hooks_(std::move(hooks)),
      done_(std::move(done)),
      local_(parse_local_options(request.options.extra_body)),
      prompt_(build_prompt(*model_, request, local_)),
      max_tokens_(max_new_tokens(request, static_cast<std::int64_t>(prompt_.tokens.size()), n_ctx)),
      sampler_(sampler_options(request.options, local_),
               static_cast<int>(model_->model->hparams().n_vocab)),
      stops_(request.options.stop),
      parser_(parser_options(*model_, request, local_, prompt_, sampler_.options().seed)),
      detok_(*model_->tokenizer),
      markers_(output::parser_markers(model_->format)) {
  response_.provider = "local";
  response_.model = request.model.empty() ? model_->name : request.model;
  response_.usage.input_tokens = static_cast<std::int64_t>(prompt_.tokens.size());
  if (local_.ignore_eos) {
    const auto n_vocab = static_cast<model::TokenId>(model_->model->hparams().n_vocab);
    std::vector<std::int32_t> eog;
    for (model::TokenId t = 0; t < n_vocab; ++t) {
      if (model_->tokenizer->is_eog(t)) eog.push_back(t);
    }
    sampler_.ban(eog);
  }
}

void RequestState::on_admitted() { admitted_ = Clock::now(); }

std::string RequestState::piece_of(model::TokenId token) {
  // Control tokens are not text, except the markers the output parser reads (Mistral's
  // [TOOL_CALLS], Llama's <|python_tag|>, ...): those are rendered.
  const auto& tok = *model_->tokenizer;
  if (tok.token_type(token) == tokenizer::TokenType::control) {
    const auto text = tok.token_text(token);
    if (std::find(markers_.begin(), markers_.end(), text) != markers_.end()) {
      return detok_.finish() + std::string(text);
    }
  }
  return detok_.push(token);
}

void RequestState::emit(std::vector<StreamEvent> events) {
  if (!hooks_.on_event) return;
  for (auto& e : events) hooks_.on_event(std::move(e));
}

std::optional<model::TokenId> RequestState::next(std::span<const float> logits) {
  const auto now = Clock::now();
  if (n_out_ == 0) {
    first_token_ = now;
    response_.timings.prompt_eval = between(admitted_, now);
    response_.timings.time_to_first_token = between(hooks_.submitted, now);
  }
  const auto token = sampler_.sample(logits).token;
  if (model_->tokenizer->is_eog(token)) {
    reason_ = FinishReason::stop;
    return std::nullopt;
  }
  sampler_.accept(token);
  ++n_out_;
  const auto r = stops_.feed(piece_of(token));
  emit(parser_.feed(r.text));
  if (r.stopped) {
    reason_ = FinishReason::stop;
    return std::nullopt;
  }
  if (n_out_ == max_tokens_) return std::nullopt;  // reason_ stays length
  return token;
}

void RequestState::flush_text() {
  if (!stops_.stopped()) {
    const auto r = stops_.feed(detok_.finish());
    emit(parser_.feed(r.text));
    if (!r.stopped) emit(parser_.feed(stops_.flush()));
  }
  emit(parser_.finish());
  response_.content = parser_.content();
  response_.reasoning = parser_.reasoning();
  response_.tool_calls = parser_.tool_calls();
  response_.usage.output_tokens = n_out_;
  response_.usage.total_tokens = response_.usage.input_tokens + n_out_;
  const auto now = Clock::now();
  if (n_out_ > 0 || first_token_ != Clock::time_point{}) {
    response_.timings.generation = between(first_token_, now);
  }
  response_.timings.total = between(hooks_.submitted, now);
}

void RequestState::finish(std::exception_ptr error) {
  if (finished_) return;
  finished_ = true;
  try {
    flush_text();
    if (error) {
      if (error_code_of(error) == errc::cancelled) {
        response_.finish_reason = FinishReason::cancelled;
        ErrorInfo info;
        info.provider = "local";
        info.partial = std::make_shared<const Response>(response_);
        error = make_error(errc::cancelled, "local request cancelled", std::move(info));
      }
      done_(std::move(error), {});
      return;
    }
    if (reason_ == FinishReason::stop && !response_.tool_calls.empty()) {
      reason_ = FinishReason::tool_calls;
    }
    response_.finish_reason = reason_;
    if (hooks_.on_event) {
      hooks_.on_event(UsageEvent{response_.usage});
      hooks_.on_event(Finish{reason_});
    }
  } catch (...) {
    done_(std::current_exception(), {});
    return;
  }
  done_(nullptr, std::move(response_));
}

}  // namespace llmux::engine::generation
