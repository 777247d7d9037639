// Helpers shared by the tests that run the fixture models through the local engine.
#pragma once

#include <cstdint>
#include <string>

#include <llmux/types.hpp>

namespace llmux::test {

inline std::string fixture_model(const std::string& file) {
  return std::string(LLMUX_TEST_DATA_DIR) + "/models/" + file;
}

// Greedy, no chat template: the text is the prompt.
inline Request raw_request(const std::string& text, std::int64_t max_tokens) {
  Request r;
  r.messages = {Message::user(text)};
  r.options.max_output_tokens = max_tokens;
  r.options.temperature = 0;
  r.options.extra_body = R"({"raw": true})";
  return r;
}

}  // namespace llmux::test
