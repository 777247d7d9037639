// Incremental parser of a local model's decoded output into llmux's common shape: content,
// reasoning and tool calls, as stream events and as final values.
//
// Feed the decoded text as it is generated (after stop sequences are cut, see
// sampling/stop_matcher.hpp), then call finish() once. Non-streaming use is the same parser fed
// everything at once: the final content(), reasoning() and tool_calls() do not depend on how
// the text was split into deltas (tested for every format by feeding byte by byte).
//
// What it recognizes (ParserOptions::format, from detect_format()):
//   - reasoning: "<think>" at the very start of the output (after whitespace) opens reasoning,
//     "</think>" closes it; with starts_in_reasoning the output begins inside it (the prompt
//     already opened <think>). An unterminated block is all reasoning.
//   - tool calls, only when parse_tool_calls is set (the request offered tools):
//       hermes       <tool_call>{"name":…,"arguments":{…}}</tool_call>, any number, anywhere in
//                    the content; a call left open at the end is accepted if its JSON is whole;
//       llama3_json  a JSON call object that starts the content (or follows <|python_tag|>);
//                    further objects may follow, separated by whitespace or ';';
//       mistral      [TOOL_CALLS][{…},{…}] or [TOOL_CALLS]name[ARGS]{…} (also
//                    name[CALL_ID]id[ARGS]{…}), repeated for parallel calls.
//     See tool_call_json.hpp for the accepted call objects. Arguments are the model's JSON text
//     of the arguments object, byte for byte.
//
// Whitespace: leading whitespace of the reasoning and of the content (at the start, after
// </think> and after each tool call), trailing whitespace of both, and whitespace next to a
// tool call are dropped; whitespace inside text is kept. A llama3_json message that starts
// with '{' is held back until the JSON value closes: if it is not a call it becomes content.
//
// Malformed tool calls (invalid JSON, a missing name, an unclosed [ARGS] object at the end) are
// never an error: their raw text, markers included, becomes content (with the whitespace that
// preceded it), and malformed_tool_calls() counts them. JSON that starts a llama3_json message
// but is not a call object is content without being counted.
//
// Streaming: text that might be the start of a marker (a partial "<tool_call>", "</think>",
// "[TOOL_CALLS]" …), whitespace that might turn out to be trailing, and an incomplete UTF-8
// character at the end of a delta are held back until the next feed() or finish(); nothing is
// lost. Every byte of the output ends up in exactly one of: content, reasoning, a tool call,
// a recognized marker or dropped whitespace. The concatenated TextDelta events equal content(),
// the concatenated ReasoningDelta events equal reasoning(). Each tool call is emitted whole
// once its JSON is complete: a ToolCallDelta carrying index, id, name and all of the arguments,
// then a ToolCallDone. The parser emits no UsageEvent or Finish: the provider does (with
// FinishReason::tool_calls when tool_calls() is not empty).
//
// Ids: the model's own id where the format has one (Mistral); otherwise synthesized
// deterministically from id_seed and the call's index: "call_" + 9 alphanumerics, or exactly 9
// alphanumerics for Mistral (its template rejects other ids when the call is sent back). Pass a
// different id_seed per request where ids must be unique across turns.
//
// Not thread-safe; one parser per generation. feed() after finish() throws
// llmux::Error(errc::invalid_argument).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <llmux/types.hpp>

#include "engine/output/format.hpp"
#include "engine/output/json_scan.hpp"
#include "engine/output/tool_call_json.hpp"

namespace llmux::engine::output {

struct ParserOptions {
  Format format;                     // detect_format(template, architecture)
  bool parse_tool_calls = false;     // tools were offered (and tool_choice is not "none")
  bool starts_in_reasoning = false;  // prompt_opens_reasoning(rendered prompt)
  std::uint64_t id_seed = 0;         // synthesized tool-call ids derive from it
};

// The id given to the index-th synthesized tool call (see the header comment).
std::string synthesize_tool_call_id(std::uint64_t seed, std::size_t index, ToolFormat format);

class OutputParser {
 public:
  explicit OutputParser(ParserOptions options);

  // The events that became certain with this text (possibly none).
  std::vector<StreamEvent> feed(std::string_view text_delta);
  // End of output: resolves everything held back. Call once.
  std::vector<StreamEvent> finish();

  const std::string& content() const noexcept { return content_; }
  const std::string& reasoning() const noexcept { return reasoning_; }
  const std::vector<ToolCall>& tool_calls() const noexcept { return calls_; }
  std::size_t malformed_tool_calls() const noexcept { return malformed_; }
  const ParserOptions& options() const noexcept { return options_; }

 private:
  enum class Mode { start, reasoning, content, hermes, json_call, after_json, python_tag, mistral };

  void run(std::vector<StreamEvent>& out);
  bool step_start();
  bool step_reasoning();
  bool step_content();
  bool step_hermes();
  bool step_json_call();
  bool step_after_json();
  bool step_python_tag();
  bool step_mistral();
  bool step_mistral_array();
  bool step_mistral_named();

  bool enter_call_mode(std::size_t marker_at, std::string_view marker);
  void drop_leading_space();
  void emit_text(std::string_view text);
  void emit_reasoning(std::string_view text);
  void emit_call(ParsedToolCall call);
  void emit_malformed(std::string_view raw, bool counted = true);
  void consume(std::size_t n);
  std::size_t emittable(std::string_view text, bool hold_space) const;

  ParserOptions options_;
  std::vector<std::string_view> markers_;  // tool-call markers of the format, when parsed
  Mode mode_ = Mode::start;
  std::string buf_;  // input not yet resolved
  bool final_ = false;
  bool finished_ = false;
  bool segment_start_ = true;   // at the start of content: leading whitespace is dropped
  bool reasoning_start_ = true;  // at the start of reasoning: leading whitespace is dropped
  bool python_tagged_ = false;  // the current llama3 JSON call followed <|python_tag|>
  std::string marker_;          // the marker that opened the current call
  std::string space_before_;    // whitespace dropped before that marker
  std::size_t searched_ = 0;     // hermes: no "</tool_call>" starts before this offset
  JsonScanner scanner_;
  std::vector<StreamEvent>* out_ = nullptr;  // events of the current feed()/finish()
  std::string content_;
  std::string reasoning_;
  std::vector<ToolCall> calls_;
  std::size_t malformed_ = 0;
};

}  // namespace llmux::engine::output
