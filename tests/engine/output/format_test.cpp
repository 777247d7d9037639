#include "engine/output/format.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace llmux::engine::output {
namespace {

std::string read_template(const std::string& name) {
  std::ifstream in(std::string(LLMUX_TEST_DATA_DIR) + "/chat_templates/" + name,
                   std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Case {
  const char* file;
  const char* arch;
  ToolFormat tools;
  bool reasoning;
};

TEST(DetectFormat, RealChatTemplates) {
  const Case cases[] = {
      {"Qwen-Qwen2.5-7B-Instruct.jinja", "qwen2", ToolFormat::hermes, false},
      {"Qwen-Qwen3-0.6B.jinja", "qwen3", ToolFormat::hermes, true},
      {"NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", "llama", ToolFormat::hermes, false},
      {"meta-llama-Llama-3.1-8B-Instruct.jinja", "llama", ToolFormat::llama3_json, false},
      {"meta-llama-Llama-3.2-3B-Instruct.jinja", "llama", ToolFormat::llama3_json, false},
      {"mistralai-Mistral-Nemo-Instruct-2407.jinja", "llama", ToolFormat::mistral, false},
      // R1's own tool syntax is not parsed; its <think> is, and the arch must not make it Hermes.
      {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", "qwen2", ToolFormat::none, true},
      {"HuggingFaceTB-SmolLM3-3B.jinja", "smollm3", ToolFormat::none, true},
      {"google-gemma-2-2b-it.jinja", "gemma2", ToolFormat::none, false},
      {"microsoft-Phi-3.5-mini-instruct.jinja", "phi3", ToolFormat::none, false},
      {"openai-gpt-oss-120b.jinja", "gpt-oss", ToolFormat::none, false},
  };
  for (const auto& c : cases) {
    const Format f = detect_format(read_template(c.file), c.arch);
    EXPECT_EQ(f.tools, c.tools) << c.file << " -> " << to_string(f.tools);
    EXPECT_EQ(f.reasoning, c.reasoning) << c.file;
  }
}

TEST(DetectFormat, ArchitectureFallbackWithoutToolMarkers) {
  EXPECT_EQ(detect_format("{{ messages }}", "qwen2").tools, ToolFormat::hermes);
  EXPECT_EQ(detect_format("{{ messages }}", "qwen3"), (Format{ToolFormat::hermes, true}));
  EXPECT_EQ(detect_format("[INST]{{ m }}[/INST]", "llama").tools, ToolFormat::mistral);
  EXPECT_EQ(detect_format("<|start_header_id|>", "llama").tools, ToolFormat::llama3_json);
  EXPECT_EQ(detect_format("", "llama"), (Format{ToolFormat::none, false}));
  EXPECT_EQ(detect_format("", ""), (Format{ToolFormat::none, false}));
  EXPECT_EQ(detect_format("", "gemma3"), (Format{ToolFormat::none, false}));
}

TEST(ParserMarkers, PerFormat) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(parser_markers({ToolFormat::none, false}), V{});
  EXPECT_EQ(parser_markers({ToolFormat::hermes, true}),
            (V{"<tool_call>", "</tool_call>", "<think>", "</think>"}));
  EXPECT_EQ(parser_markers({ToolFormat::llama3_json, false}), V{"<|python_tag|>"});
  EXPECT_EQ(parser_markers({ToolFormat::mistral, false}),
            (V{"[TOOL_CALLS]", "[ARGS]", "[CALL_ID]"}));
}

TEST(PromptOpensReasoning, Cases) {
  EXPECT_TRUE(prompt_opens_reasoning("<｜User｜>hi<｜Assistant｜><think>\n"));
  EXPECT_TRUE(prompt_opens_reasoning("<|im_start|>assistant\n<think>"));
  EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<|im_start|>assistant\n"));
  EXPECT_FALSE(prompt_opens_reasoning("<think> is a tag. Answer:"));
  EXPECT_FALSE(prompt_opens_reasoning(""));
}

}  // namespace
}  // namespace llmux::engine::output
