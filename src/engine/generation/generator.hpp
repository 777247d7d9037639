// One request on a loaded model: the prompt (chat template or raw text -> tokens), then token
// by token generation through the sampler chain, the streaming detokenizer, stop strings and
// the output parser, producing llmux's common Response and StreamEvents.
//
// LoadedModel bundles what every request of one model file shares (weights, tokenizer, chat
// template, output format); it is immutable and thread-safe. A request's generation state is a
// RequestState (request_state.hpp), run by the model's scheduler with many others.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <llmux/types.hpp>

#include "engine/chat_template/chat_template.hpp"
#include "engine/chat_template/model_template.hpp"
#include "engine/model/model.hpp"
#include "engine/output/format.hpp"
#include "engine/tokenizer/tokenizer.hpp"

namespace llmux::engine::generation {

struct LoadedModel {
  std::shared_ptr<const model::Model> model;
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;
  chat_template::ModelTemplate template_info;
  std::shared_ptr<const chat_template::ChatTemplate> chat_template;
  output::Format format;
  std::string name;  // general.name, else the file name without extension

  // Loads and validates everything. `progress` (optional) is called with 0..1 while the
  // weights are read into memory once (so the first request does not pay for page faults).
  // Throws llmux::Error.
  static std::shared_ptr<const LoadedModel> load(
      const std::filesystem::path& path, const std::function<void(double)>& progress = {});
};

// Local-engine settings of a request, beyond GenerateOptions (from its extra_body JSON).
struct LocalOptions {
  bool raw = false;                 // no chat template: the messages' text is the prompt
  std::optional<float> repeat_penalty;
  std::optional<int> repeat_last_n;
  std::optional<std::string> template_variables;  // JSON object, e.g. {"enable_thinking":false}
  bool ignore_eos = false;  // end-of-generation tokens are never sampled (benchmarks)
};
// Parses {"raw": bool, "repeat_penalty": number, "repeat_last_n": int,
// "chat_template_kwargs": {...}, "ignore_eos": bool}; other members are an error
// (errc::invalid_argument).
LocalOptions parse_local_options(std::string_view extra_body_json);

// The prompt tokens of a request (exposed for tests and `llmux tokenize`-like tools).
struct Prompt {
  std::string text;  // the rendered (or raw) prompt
  std::vector<model::TokenId> tokens;
  bool opens_reasoning = false;
};
Prompt build_prompt(const LoadedModel& m, const Request& request, const LocalOptions& local);

struct RunHooks {
  std::function<void(StreamEvent)> on_event;  // every event in order, Finish last (optional)
  const std::atomic<bool>* cancel = nullptr;  // read before each step of the scheduler
  std::chrono::steady_clock::time_point submitted = std::chrono::steady_clock::now();
};

}  // namespace llmux::engine::generation
