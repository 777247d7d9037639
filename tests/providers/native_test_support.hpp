// Shared pieces of the Anthropic, Ollama and tool-calling tests: SSE / NDJSON transcripts, and
// feeding a wire stream to a decoder split at every byte.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "http/http_test_support.hpp"

namespace llmux::test {

// One SSE event per piece: "event: TYPE\ndata: DATA\n\n" (the type is taken from DATA's "type").
inline std::string sse_event(const std::string& data, const std::string& eol = "\n") {
  auto v = boost::json::parse(data);
  std::string type = "message";
  if (v.is_object() && v.as_object().contains("type")) type = v.at("type").as_string().c_str();
  return "event: " + type + eol + "data: " + data + eol + eol;
}

inline std::vector<std::string> sse_events(const std::vector<std::string>& datas) {
  std::vector<std::string> out;
  for (const auto& d : datas) out.push_back(sse_event(d));
  return out;
}

inline std::vector<std::string> ndjson_lines(const std::vector<std::string>& lines) {
  std::vector<std::string> out;
  for (const auto& l : lines) out.push_back(l + "\n");
  return out;
}

// A config for a loopback provider (no environment).
inline ProviderConfig loopback_config(std::string base_url, std::string api_key, std::string model,
                                      std::map<std::string, std::string> options = {}) {
  ProviderConfig c;
  c.base_url = std::move(base_url);
  c.api_key = std::move(api_key);
  c.model = std::move(model);
  c.options = std::move(options);
  c.use_environment = false;
  return c;
}

inline Request ask(std::string text) {
  Request r;
  r.messages = {Message::user(std::move(text))};
  return r;
}

inline std::string join(const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += p;
  return out;
}

// Calls `run` with the stream split into two reads at every position (and once whole, and once
// one byte per read), checking each gives what the whole stream gives.
template <class Result>
void expect_same_at_every_split(const std::string& bytes,
                                const std::function<Result(const std::vector<std::string_view>&)>& run) {
  const std::string_view all(bytes);
  const Result whole = run({all});
  std::vector<std::string_view> bytewise;
  for (std::size_t i = 0; i < all.size(); ++i) bytewise.push_back(all.substr(i, 1));
  EXPECT_EQ(run(bytewise), whole) << "one byte per read";
  for (std::size_t i = 1; i < all.size(); ++i) {
    const Result split = run({all.substr(0, i), all.substr(i)});
    if (!(split == whole)) {
      ADD_FAILURE() << "differs when split at byte " << i;
      return;
    }
  }
}

}  // namespace llmux::test
