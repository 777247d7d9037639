// libFuzzer target for the chat-template interpreter (src/engine/chat_template/): the input is a
// template; it is parsed and, when it parses, rendered against a fixed conversation with tool
// calls, tools and special tokens, under tight sandbox limits so every input finishes quickly.
// Any failure must be an llmux::Error (TemplateError or a JSON input error); a crash, a
// sanitizer report, a timeout, or any other exception is a bug.
//
// Build and run (docs/chat_templates.md):
//   cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DLLMUX_BUILD_FUZZ=ON
//   ninja -C build-fuzz chat_template_fuzz
//   mkdir -p /tmp/ct-corpus && cp tests/data/chat_templates/*.jinja /tmp/ct-corpus/
//   build-fuzz/fuzz/chat_template_fuzz -dict=fuzz/chat_template.dict -max_total_time=600 \
//       -timeout=10 -rss_limit_mb=2048 /tmp/ct-corpus
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string_view>

#include <llmux/error.hpp>

#include "engine/chat_template/chat_template.hpp"

namespace {

namespace ct = llmux::engine::chat_template;

constexpr std::string_view kMessages = R"([
  {"role": "system", "content": "Use tools when helpful."},
  {"role": "user", "content": "Weather in Paris? <think>x</think> \u00e9\u65e5 \ud83e\udd99"},
  {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function",
    "function": {"name": "get_weather", "arguments": {"city": "Paris", "n": [1, 2.5, null]}}}]},
  {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temp\": 21}"},
  {"role": "assistant", "content": "<think>\nhm\n</think>\n\nIt is 21."}
])";

constexpr std::string_view kTools = R"([{"type": "function", "function": {"name": "get_weather",
  "description": "Current weather.", "parameters": {"type": "object", "properties":
  {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
  "required": ["city"]}}}])";

std::tm fixed_time() {
  std::tm tm{};
  tm.tm_year = 124;
  tm.tm_mon = 6;
  tm.tm_mday = 26;
  tm.tm_hour = 12;
  return tm;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  try {
    const ct::ChatTemplate tpl(source);
    ct::RenderOptions opts;
    opts.add_generation_prompt = size % 2 == 0;
    opts.bos_token = "<s>";
    opts.eos_token = "</s>";
    opts.extra_variables_json = R"({"enable_thinking": false, "date_string": "26 Jul 2024"})";
    opts.clock = fixed_time;
    opts.limits.max_steps = 100'000;
    opts.limits.max_output_bytes = 1 << 20;
    opts.limits.max_call_depth = 64;
    (void)tpl.render_json(kMessages, size % 3 == 0 ? std::string_view() : kTools, opts);
  } catch (const llmux::Error&) {
    // Clean errors are the expected outcome for most inputs.
  }
  return 0;
}
