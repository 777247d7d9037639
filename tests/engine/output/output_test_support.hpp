// Helpers for the output-parser tests: run a parser over deltas and collect what it produced.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/output/output_parser.hpp"

namespace llmux::engine::output::testing {

struct Parsed {
  std::string content;
  std::string reasoning;
  std::vector<ToolCall> calls;
  std::size_t malformed = 0;
  // What the events said, to check they agree with the final values.
  std::string text_events;
  std::string reasoning_events;
  std::vector<ToolCall> done_events;
  std::vector<ToolCallDelta> delta_events;
  std::vector<StreamEvent> events;

  friend bool operator==(const Parsed& a, const Parsed& b) {
    return a.content == b.content && a.reasoning == b.reasoning && a.calls == b.calls &&
           a.malformed == b.malformed;
  }
};

inline void collect(Parsed& p, const std::vector<StreamEvent>& events) {
  for (const auto& e : events) {
    p.events.push_back(e);
    if (const auto* t = std::get_if<TextDelta>(&e)) p.text_events += t->text;
    if (const auto* r = std::get_if<ReasoningDelta>(&e)) p.reasoning_events += r->text;
    if (const auto* d = std::get_if<ToolCallDelta>(&e)) p.delta_events.push_back(*d);
    if (const auto* d = std::get_if<ToolCallDone>(&e)) p.done_events.push_back(d->call);
  }
}

inline Parsed parse_chunks(const ParserOptions& options, std::string_view text,
                           std::size_t chunk) {
  OutputParser parser(options);
  Parsed p;
  for (std::size_t i = 0; i < text.size(); i += chunk) collect(p, parser.feed(text.substr(i, chunk)));
  collect(p, parser.finish());
  p.content = parser.content();
  p.reasoning = parser.reasoning();
  p.calls = parser.tool_calls();
  p.malformed = parser.malformed_tool_calls();
  return p;
}

inline void expect_consistent_events(const Parsed& p) {
  EXPECT_EQ(p.text_events, p.content);
  EXPECT_EQ(p.reasoning_events, p.reasoning);
  EXPECT_EQ(p.done_events, p.calls);
  ASSERT_EQ(p.delta_events.size(), p.calls.size());
  for (std::size_t i = 0; i < p.calls.size(); ++i) {
    EXPECT_EQ(p.delta_events[i].index, i);
    EXPECT_EQ(p.delta_events[i].id, p.calls[i].id);
    EXPECT_EQ(p.delta_events[i].name, p.calls[i].name);
    EXPECT_EQ(p.delta_events[i].arguments, p.calls[i].arguments);
  }
}

// Parses `text` whole, byte by byte and in chunks of 2, 3, 5 and 7 bytes: all give the same
// result, and the events agree with it. Returns the whole-text result.
inline Parsed parse_all_ways(const ParserOptions& options, std::string_view text) {
  const Parsed whole = parse_chunks(options, text, text.empty() ? 1 : text.size());
  expect_consistent_events(whole);
  for (const std::size_t chunk : {1u, 2u, 3u, 5u, 7u}) {
    const Parsed split = parse_chunks(options, text, chunk);
    EXPECT_EQ(split.content, whole.content) << "chunk " << chunk;
    EXPECT_EQ(split.reasoning, whole.reasoning) << "chunk " << chunk;
    EXPECT_EQ(split.calls, whole.calls) << "chunk " << chunk;
    EXPECT_EQ(split.malformed, whole.malformed) << "chunk " << chunk;
    expect_consistent_events(split);
  }
  return whole;
}

inline ParserOptions options_for(ToolFormat tools, bool reasoning = false, bool parse_tools = true) {
  ParserOptions o;
  o.format = {tools, reasoning};
  o.parse_tool_calls = parse_tools;
  o.id_seed = 1;
  return o;
}

}  // namespace llmux::engine::output::testing
