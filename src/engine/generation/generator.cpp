#include "engine/generation/generator.hpp"

#include <algorithm>
#include <random>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <llmux/error.hpp>

#include "engine/gguf/metadata.hpp"
#include "engine/output/output_parser.hpp"
#include "engine/sampling/sampler.hpp"
#include "engine/sampling/stop_matcher.hpp"
#include "engine/tokenizer/detokenizer.hpp"

namespace llmux::engine::generation {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::int64_t kPromptChunk = 512;  // tokens per forward pass while reading the prompt

// Reads every page of the tensor data once, reporting progress.
void preload(const gguf::GgufFile& file, const std::function<void(double)>& progress) {
  std::uint64_t total = 0, done = 0;
  for (const auto& t : file.tensors()) total += t.data.size();
  volatile unsigned char sink = 0;
  unsigned char acc = 0;
  double reported = -1;
  for (const auto& t : file.tensors()) {
    for (std::size_t i = 0; i < t.data.size(); i += 4096) acc ^= static_cast<unsigned char>(t.data[i]);
    done += t.data.size();
    const double f = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
    if (f - reported >= 0.01 || done == total) {
      progress(f);
      reported = f;
    }
  }
  sink = acc;
  (void)sink;
}

std::string model_name(const gguf::GgufFile& file, const std::filesystem::path& path) {
  if (auto n = file.get_string("general.name"); n && !n->empty()) return std::string(*n);
  return path.stem().string();
}

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

std::chrono::microseconds since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t);
}

}  // namespace

std::shared_ptr<const LoadedModel> LoadedModel::load(const std::filesystem::path& path,
                                                     const std::function<void(double)>& progress) {
  auto out = std::make_shared<LoadedModel>();
  out->model = model::Model::load(path);
  const auto& file = out->model->file();
  const auto meta = gguf::read_tokenizer_metadata(file);
  out->tokenizer = std::make_shared<const tokenizer::Tokenizer>(meta);
  out->template_info = chat_template::template_for_model(file, meta);
  out->chat_template =
      std::make_shared<const chat_template::ChatTemplate>(out->template_info.source);
  out->format = output::detect_format(out->template_info.source,
                                      file.get_string("general.architecture").value_or(""));
  out->name = model_name(file, path);
  if (progress) preload(file, progress);
  return out;
}

LocalOptions parse_local_options(std::string_view extra_body_json) {
  LocalOptions out;
  if (extra_body_json.empty()) return out;
  boost::system::error_code ec;
  const auto doc = boost::json::parse(extra_body_json, ec);
  if (ec || !doc.is_object()) {
    throw_error(errc::invalid_argument, "local provider: extra_body must be a JSON object");
  }
  for (const auto& [key, value] : doc.as_object()) {
    const auto bad = [&] {
      throw_error(errc::invalid_argument,
                  fmt::format("local provider: extra_body.{} has the wrong type", key));
    };
    if (key == "raw") {
      if (!value.is_bool()) bad();
      out.raw = value.as_bool();
    } else if (key == "repeat_penalty") {
      if (!value.is_number()) bad();
      out.repeat_penalty = static_cast<float>(value.to_number<double>());
    } else if (key == "repeat_last_n") {
      if (!value.is_int64()) bad();
      out.repeat_last_n = static_cast<int>(value.as_int64());
    } else if (key == "chat_template_kwargs") {
      if (!value.is_object()) bad();
      out.template_variables = boost::json::serialize(value);
    } else {
      throw_error(errc::invalid_argument,
                  fmt::format("local provider: unknown extra_body member '{}' (known: raw, "
                              "repeat_penalty, repeat_last_n, chat_template_kwargs)", key));
    }
  }
  return out;
}

Prompt build_prompt(const LoadedModel& m, const Request& request, const LocalOptions& local) {
  Prompt p;
  tokenizer::EncodeOptions enc;
  enc.add_special = true;    // BOS as the metadata says (not doubled if the text has it)
  enc.parse_special = true;  // control tokens written by the template (or the raw prompt)
  if (local.raw) {
    for (const auto& msg : request.messages) p.text += msg.text();
  } else {
    chat_template::RenderOptions ro;
    ro.add_generation_prompt = true;
    ro.bos_token = m.template_info.bos_token;
    ro.eos_token = m.template_info.eos_token;
    if (local.template_variables) ro.extra_variables_json = *local.template_variables;
    p.text = m.chat_template->render(request.messages, request.options.tools, ro);
    p.opens_reasoning = output::prompt_opens_reasoning(p.text);
  }
  p.tokens = m.tokenizer->encode(p.text, enc);
  if (p.tokens.empty()) throw_error(errc::invalid_argument, "local provider: the prompt is empty");
  return p;
}

Response run_request(const LoadedModel& m, model::Context& ctx, const Request& request,
                     const RunHooks& hooks) {
  const LocalOptions local = parse_local_options(request.options.extra_body);
  const Prompt prompt = build_prompt(m, request, local);
  const auto n_prompt = static_cast<std::int64_t>(prompt.tokens.size());
  if (n_prompt >= ctx.n_ctx()) {
    throw_error(errc::context_length_exceeded,
                fmt::format("the prompt has {} tokens and does not fit the context of {} tokens "
                            "(a larger --ctx-size / ctx_size option may help)",
                            n_prompt, ctx.n_ctx()));
  }
  std::int64_t max_tokens = ctx.n_ctx() - n_prompt;
  if (const auto& mt = request.options.max_output_tokens) {
    if (*mt <= 0) throw_error(errc::invalid_argument, "max_output_tokens must be positive");
    max_tokens = std::min(max_tokens, *mt);
  }
  sampling::Sampler sampler(sampler_options(request.options, local),
                            static_cast<int>(m.model->hparams().n_vocab));
  sampling::StopMatcher stops(request.options.stop);
  output::ParserOptions po;
  po.format = m.format;
  po.parse_tool_calls = !request.options.tools.empty() && !local.raw &&
                        !(request.options.tool_choice &&
                          request.options.tool_choice->mode == ToolChoice::Mode::none);
  po.starts_in_reasoning = prompt.opens_reasoning && m.format.reasoning;
  po.id_seed = sampler.options().seed;
  output::OutputParser parser(po);
  tokenizer::Detokenizer detok(*m.tokenizer);
  // Control tokens are not text, except the markers the output parser reads (Mistral's
  // [TOOL_CALLS], Llama's <|python_tag|>, ...): those are rendered.
  const auto markers = output::parser_markers(m.format);
  const auto piece_of = [&](model::TokenId token) {
    if (m.tokenizer->token_type(token) == tokenizer::TokenType::control) {
      const auto text = m.tokenizer->token_text(token);
      if (std::find(markers.begin(), markers.end(), text) != markers.end()) {
        return detok.finish() + std::string(text);
      }
    }
    return detok.push(token);
  };

  Response response;
  response.provider = "local";
  response.model = request.model.empty() ? m.name : request.model;
  response.usage.input_tokens = n_prompt;
  const auto emit = [&](std::vector<StreamEvent> events) {
    if (!hooks.on_event) return;
    for (auto& e : events) hooks.on_event(std::move(e));
  };
  struct Cleanup {
    model::Context& ctx;
    ~Cleanup() { ctx.cache().remove(0); }
  } cleanup{ctx};

  // The prompt, in chunks; logits for its last token only.
  const auto prompt_start = Clock::now();
  std::span<const float> logits;
  for (std::int64_t start = 0; start < n_prompt; start += kPromptChunk) {
    const std::int64_t end = std::min(n_prompt, start + kPromptChunk);
    std::vector<model::BatchToken> batch;
    for (std::int64_t i = start; i < end; ++i) {
      batch.push_back({prompt.tokens[static_cast<std::size_t>(i)], i, 0, i + 1 == n_prompt});
    }
    if (hooks.cancel && hooks.cancel->load()) break;
    logits = ctx.eval(batch);
  }

  response.timings.prompt_eval = since(prompt_start);
  const auto generation_start = Clock::now();
  FinishReason reason = FinishReason::length;
  std::int64_t n_out = 0;
  bool cancelled = false;
  for (std::int64_t pos = n_prompt; n_out < max_tokens; ++pos) {
    if (hooks.cancel && hooks.cancel->load()) {
      cancelled = true;
      break;
    }
    const auto token = sampler.sample(logits).token;
    if (n_out == 0) response.timings.time_to_first_token = since(hooks.submitted);
    if (m.tokenizer->is_eog(token)) {
      reason = FinishReason::stop;
      break;
    }
    sampler.accept(token);
    ++n_out;
    const auto r = stops.feed(piece_of(token));
    emit(parser.feed(r.text));
    if (r.stopped) {
      reason = FinishReason::stop;
      break;
    }
    if (n_out == max_tokens) break;
    const model::BatchToken next{token, pos, 0, true};
    logits = ctx.eval({&next, 1});
  }
  if (!stops.stopped()) {
    const auto r = stops.feed(detok.finish());
    emit(parser.feed(r.text));
    if (!r.stopped) emit(parser.feed(stops.flush()));
  }
  emit(parser.finish());
  response.content = parser.content();
  response.reasoning = parser.reasoning();
  response.tool_calls = parser.tool_calls();
  response.usage.output_tokens = n_out;
  response.usage.total_tokens = n_prompt + n_out;
  response.timings.generation = since(generation_start);
  response.timings.total = since(hooks.submitted);
  if (cancelled) {
    response.finish_reason = FinishReason::cancelled;
    ErrorInfo info;
    info.provider = "local";
    info.partial = std::make_shared<const Response>(response);
    throw_error(errc::cancelled, "local request cancelled", std::move(info));
  }
  if (reason == FinishReason::stop && !response.tool_calls.empty()) {
    reason = FinishReason::tool_calls;
  }
  response.finish_reason = reason;
  if (hooks.on_event) {
    hooks.on_event(UsageEvent{response.usage});
    hooks.on_event(Finish{reason});
  }
  return response;
}

}  // namespace llmux::engine::generation
