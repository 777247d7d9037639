#include "engine/output/output_parser.hpp"

#include <algorithm>
#include <utility>

#include <llmux/error.hpp>

#include "engine/sampling/rng.hpp"
#include "engine/tokenizer/unicode.hpp"

namespace llmux::engine::output {
namespace {

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kPythonTag = "<|python_tag|>";
constexpr std::string_view kMistralCalls = "[TOOL_CALLS]";
constexpr std::string_view kMistralArgs = "[ARGS]";
constexpr std::string_view kMistralCallId = "[CALL_ID]";
// A [TOOL_CALLS] function name or [CALL_ID] id this long is not one.
constexpr std::size_t kMaxCallHeader = 512;

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view rtrim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// The longest suffix of `text` that is a proper prefix of `marker`.
std::size_t partial_marker(std::string_view text, std::string_view marker) noexcept {
  for (std::size_t len = std::min(marker.size() - 1, text.size()); len > 0; --len) {
    if (text.substr(text.size() - len) == marker.substr(0, len)) return len;
  }
  return 0;
}

// Bytes allowed in a Mistral [TOOL_CALLS]name or [CALL_ID]id.
bool is_name_char(char c) noexcept {
  return !is_space(c) && c != '[' && c != ']' && c != '{' && c != '}' && c != '"' && c != '<';
}

}  // namespace

std::string synthesize_tool_call_id(std::uint64_t seed, std::size_t index, ToolFormat format) {
  static constexpr std::string_view kAlphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::uint64_t state = seed ^ (0xD1B54A32D192ED03ull * (static_cast<std::uint64_t>(index) + 1));
  std::uint64_t bits = sampling::splitmix64(state);
  std::string id = format == ToolFormat::mistral ? "" : "call_";
  for (int i = 0; i < 9; ++i) {
    id += kAlphabet[bits % kAlphabet.size()];
    bits /= kAlphabet.size();
  }
  return id;
}

OutputParser::OutputParser(ParserOptions options) : options_(options) {
  if (options_.parse_tool_calls) {
    switch (options_.format.tools) {
      case ToolFormat::hermes: markers_ = {kHermesOpen}; break;
      case ToolFormat::llama3_json: markers_ = {kPythonTag}; break;
      case ToolFormat::mistral: markers_ = {kMistralCalls}; break;
      case ToolFormat::none: break;
    }
  }
  if (options_.starts_in_reasoning) mode_ = Mode::reasoning;
}

std::vector<StreamEvent> OutputParser::feed(std::string_view text_delta) {
  if (finished_) throw_error(errc::invalid_argument, "output parser: feed() after finish()");
  buf_.append(text_delta);
  std::vector<StreamEvent> out;
  run(out);
  return out;
}

std::vector<StreamEvent> OutputParser::finish() {
  if (finished_) throw_error(errc::invalid_argument, "output parser: finish() called twice");
  final_ = true;
  std::vector<StreamEvent> out;
  run(out);
  finished_ = true;
  return out;
}

void OutputParser::run(std::vector<StreamEvent>& out) {
  out_ = &out;
  for (;;) {
    bool progressed = false;
    switch (mode_) {
      case Mode::start: progressed = step_start(); break;
      case Mode::reasoning: progressed = step_reasoning(); break;
      case Mode::content: progressed = step_content(); break;
      case Mode::hermes: progressed = step_hermes(); break;
      case Mode::json_call: progressed = step_json_call(); break;
      case Mode::after_json: progressed = step_after_json(); break;
      case Mode::python_tag: progressed = step_python_tag(); break;
      case Mode::mistral: progressed = step_mistral(); break;
    }
    if (!progressed) break;
  }
  out_ = nullptr;
}

// ---- helpers -------------------------------------------------------------------------------

void OutputParser::consume(std::size_t n) { buf_.erase(0, n); }

void OutputParser::drop_leading_space() {
  std::size_t n = 0;
  while (n < buf_.size() && is_space(buf_[n])) ++n;
  consume(n);
}

// How many bytes of `text` are certain: not a possible marker start, not possibly-trailing
// whitespace (when hold_space), not half a UTF-8 character.
std::size_t OutputParser::emittable(std::string_view text, bool hold_space) const {
  std::size_t held = 0;
  if (mode_ == Mode::reasoning) {
    held = partial_marker(text, kThinkClose);
  } else {
    for (const auto marker : markers_) held = std::max(held, partial_marker(text, marker));
  }
  std::size_t cut = text.size() - held;
  if (hold_space) {
    while (cut > 0 && is_space(text[cut - 1])) --cut;
  }
  return cut - tokenizer::incomplete_utf8_tail(text.substr(0, cut));
}

void OutputParser::emit_text(std::string_view text) {
  if (text.empty()) return;
  content_.append(text);
  if (!out_->empty()) {
    if (auto* last = std::get_if<TextDelta>(&out_->back())) {
      last->text.append(text);
      return;
    }
  }
  out_->push_back(TextDelta{std::string(text)});
}

void OutputParser::emit_reasoning(std::string_view text) {
  if (text.empty()) return;
  reasoning_.append(text);
  if (!out_->empty()) {
    if (auto* last = std::get_if<ReasoningDelta>(&out_->back())) {
      last->text.append(text);
      return;
    }
  }
  out_->push_back(ReasoningDelta{std::string(text)});
}

void OutputParser::emit_call(ParsedToolCall parsed) {
  const std::size_t index = calls_.size();
  ToolCall call{parsed.id, std::move(parsed.name), std::move(parsed.arguments)};
  if (call.id.empty()) call.id = synthesize_tool_call_id(options_.id_seed, index, options_.format.tools);
  out_->push_back(ToolCallDelta{index, call.id, call.name, call.arguments});
  out_->push_back(ToolCallDone{index, call});
  calls_.push_back(std::move(call));
}

// A failed call: its raw text (after the whitespace that preceded its marker) becomes content.
void OutputParser::emit_malformed(std::string_view raw, bool counted) {
  if (counted) ++malformed_;
  if (!content_.empty()) emit_text(space_before_);
  emit_text(marker_);
  emit_text(raw);
  space_before_.clear();
  marker_.clear();
  segment_start_ = false;
  mode_ = Mode::content;
}

// ---- reasoning and content -----------------------------------------------------------------

bool OutputParser::step_start() {
  drop_leading_space();
  if (buf_.empty()) return false;
  if (options_.format.reasoning) {
    if (buf_.starts_with(kThinkOpen)) {
      consume(kThinkOpen.size());
      mode_ = Mode::reasoning;
      return true;
    }
    if (kThinkOpen.starts_with(buf_) && !final_) return false;  // maybe "<think>" still coming
  }
  mode_ = Mode::content;
  return true;
}

bool OutputParser::step_reasoning() {
  if (reasoning_start_) {
    drop_leading_space();
    if (buf_.empty()) return false;
    reasoning_start_ = false;
  }
  const std::size_t close = buf_.find(kThinkClose);
  if (close != std::string::npos) {
    emit_reasoning(rtrim(std::string_view(buf_).substr(0, close)));
    consume(close + kThinkClose.size());
    mode_ = Mode::content;
    segment_start_ = true;
    return true;
  }
  if (final_) {
    emit_reasoning(rtrim(buf_));
    buf_.clear();
    return false;
  }
  const std::size_t n = emittable(buf_, true);
  emit_reasoning(std::string_view(buf_).substr(0, n));
  consume(n);
  return false;
}

bool OutputParser::step_content() {
  if (segment_start_) {
    drop_leading_space();
    if (buf_.empty()) return false;
    if (options_.parse_tool_calls && options_.format.tools == ToolFormat::llama3_json &&
        buf_.front() == '{') {
      marker_.clear();
      space_before_.clear();
      python_tagged_ = false;
      scanner_.reset();
      mode_ = Mode::json_call;
      return true;
    }
  }
  std::size_t first = std::string::npos;
  std::string_view marker;
  for (const auto m : markers_) {
    const std::size_t at = buf_.find(m);
    if (at < first) {
      first = at;
      marker = m;
    }
  }
  if (first != std::string::npos) return enter_call_mode(first, marker);
  if (final_) {
    emit_text(rtrim(buf_));
    buf_.clear();
    return false;
  }
  const std::size_t n = emittable(buf_, true);
  if (n > 0) {
    emit_text(std::string_view(buf_).substr(0, n));
    consume(n);
    segment_start_ = false;
  }
  return false;
}

bool OutputParser::enter_call_mode(std::size_t marker_at, std::string_view marker) {
  const std::string_view before(std::string_view(buf_).substr(0, marker_at));
  const std::string_view text = rtrim(before);
  emit_text(text);
  space_before_.assign(before.substr(text.size()));
  if (!text.empty()) segment_start_ = false;
  marker_.assign(marker);
  consume(marker_at + marker.size());
  scanner_.reset();
  if (marker == kHermesOpen) {
    mode_ = Mode::hermes;
  } else if (marker == kPythonTag) {
    mode_ = Mode::python_tag;
  } else {
    mode_ = Mode::mistral;
  }
  return true;
}

// ---- Hermes / Qwen -------------------------------------------------------------------------

bool OutputParser::step_hermes() {
  // Resume the search where the last one stopped: a long call arrives in many pieces.
  const std::size_t close = buf_.find(kHermesClose, searched_);
  if (close == std::string::npos && !final_) {
    searched_ = buf_.size() >= kHermesClose.size() ? buf_.size() - kHermesClose.size() + 1 : 0;
    return false;
  }
  searched_ = 0;
  const bool closed = close != std::string::npos;
  const std::size_t body_size = closed ? close : buf_.size();
  const std::string_view body = std::string_view(buf_).substr(0, body_size);
  if (auto call = parse_tool_call(trim_json_space(body))) {
    emit_call(std::move(*call));
    mode_ = Mode::content;
    segment_start_ = true;
  } else {
    const std::string raw = closed ? buf_.substr(0, close + kHermesClose.size()) : buf_;
    emit_malformed(raw);
  }
  consume(closed ? close + kHermesClose.size() : buf_.size());
  return true;
}

// ---- Llama 3 JSON --------------------------------------------------------------------------

bool OutputParser::step_python_tag() {
  drop_leading_space();
  if (buf_.empty() && !final_) return false;
  if (!buf_.empty() && buf_.front() == '{') {
    python_tagged_ = true;
    scanner_.reset();
    mode_ = Mode::json_call;
    return true;
  }
  // Code for a built-in tool (`brave_search.call(…)`) or nothing: llmux does not run those.
  emit_malformed("", false);
  return true;
}

bool OutputParser::step_json_call() {
  const ScanStatus status = scanner_.scan(buf_);
  if (status == ScanStatus::incomplete && !final_) return false;
  if (status == ScanStatus::complete) {
    const std::string_view raw = std::string_view(buf_).substr(0, scanner_.end());
    if (auto call = parse_tool_call(raw)) {
      emit_call(std::move(*call));
      consume(scanner_.end());
      mode_ = Mode::after_json;
      return true;
    }
    emit_malformed(raw, python_tagged_);
    consume(scanner_.end());
    return true;
  }
  // Cut off at the end: all of it; brackets that cannot balance: up to the offending byte.
  const std::size_t end = status == ScanStatus::invalid ? scanner_.end() : buf_.size();
  emit_malformed(std::string_view(buf_).substr(0, end), python_tagged_);
  consume(end);
  return true;
}

bool OutputParser::step_after_json() {
  std::size_t n = 0;
  while (n < buf_.size() && (is_space(buf_[n]) || buf_[n] == ';')) ++n;
  consume(n);
  if (buf_.empty()) return false;
  python_tagged_ = false;
  marker_.clear();
  space_before_.clear();
  if (buf_.front() == '{') {
    scanner_.reset();
    mode_ = Mode::json_call;
  } else {
    mode_ = Mode::content;
    segment_start_ = true;
  }
  return true;
}

// ---- Mistral -------------------------------------------------------------------------------

bool OutputParser::step_mistral() {
  drop_leading_space();
  if (buf_.empty()) {
    if (final_) emit_malformed("");
    return final_;
  }
  return buf_.front() == '[' ? step_mistral_array() : step_mistral_named();
}

bool OutputParser::step_mistral_array() {
  const ScanStatus status = scanner_.scan(buf_);
  if (status == ScanStatus::incomplete && !final_) return false;
  if (status == ScanStatus::complete) {
    const std::string_view raw = std::string_view(buf_).substr(0, scanner_.end());
    if (auto calls = parse_tool_call_array(raw); calls && !calls->empty()) {
      for (auto& call : *calls) emit_call(std::move(call));
      consume(scanner_.end());
      mode_ = Mode::content;
      segment_start_ = true;
      return true;
    }
    emit_malformed(raw);
    consume(scanner_.end());
    return true;
  }
  const std::size_t end = status == ScanStatus::invalid ? scanner_.end() : buf_.size();
  emit_malformed(std::string_view(buf_).substr(0, end));
  consume(end);
  return true;
}

// NAME ( "[CALL_ID]" ID )? "[ARGS]" OBJECT. Every decision depends only on the bytes before
// it, so the result does not depend on how the text was split.
bool OutputParser::step_mistral_named() {
  const std::string_view buf(buf_);
  const auto run_end = [&](std::size_t from) {
    std::size_t i = from;
    while (i < buf.size() && i - from < kMaxCallHeader && is_name_char(buf[i])) ++i;
    return i;
  };
  const auto fail = [&](std::size_t end) {
    emit_malformed(buf.substr(0, end));
    consume(end);
    return true;
  };
  // A name or id still growing: wait; too long: not a call (cut where the limit was hit, as
  // a byte-by-byte feed would); at the end: not a call.
  const auto wait_or_fail = [&](std::size_t run_end_at, std::size_t run_length) {
    if (run_length == kMaxCallHeader) return fail(run_end_at);
    if (!final_) return false;
    return fail(buf.size());
  };
  ParsedToolCall call;
  const std::size_t name_end = run_end(0);
  if (name_end == buf.size() || name_end == kMaxCallHeader) {
    return wait_or_fail(name_end, name_end);
  }
  call.name = buf.substr(0, name_end);
  std::size_t at = name_end;
  if (buf.substr(at).starts_with(kMistralCallId)) {
    const std::size_t id_at = at + kMistralCallId.size();
    const std::size_t id_end = run_end(id_at);
    if (id_end == buf.size() || id_end - id_at == kMaxCallHeader) {
      return wait_or_fail(id_end, id_end - id_at);
    }
    call.id = buf.substr(id_at, id_end - id_at);
    at = id_end;
  }
  const std::string_view rest = buf.substr(at);
  if (!rest.starts_with(kMistralArgs)) {
    const bool maybe = kMistralArgs.starts_with(rest) ||
                       (at == name_end && kMistralCallId.starts_with(rest));
    if (maybe && !final_) return false;
    return fail(maybe ? buf.size() : at);
  }
  std::size_t json_at = at + kMistralArgs.size();
  while (json_at < buf.size() && is_space(buf[json_at])) ++json_at;
  if (json_at == buf.size()) return final_ ? fail(buf.size()) : false;
  const ScanStatus status = scanner_.scan(buf.substr(json_at));
  if (status == ScanStatus::incomplete) return final_ ? fail(buf.size()) : false;
  if (status == ScanStatus::invalid) return fail(json_at + scanner_.end());
  const std::size_t end = json_at + scanner_.end();
  auto arguments = parse_arguments_object(buf.substr(json_at, scanner_.end()));
  if (!arguments || call.name.empty() || (at != name_end && call.id.empty())) return fail(end);
  call.arguments = std::move(*arguments);
  emit_call(std::move(call));
  consume(end);
  mode_ = Mode::content;
  segment_start_ = true;
  return true;
}

}  // namespace llmux::engine::output
