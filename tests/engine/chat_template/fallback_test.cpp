// Built-in fallback templates: hand-written expected prompts in each family's published format,
// and the choice of template from architecture and vocabulary.
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "engine/chat_template/chat_template.hpp"
#include "engine/chat_template/fallback.hpp"

namespace ct = llmux::engine::chat_template;

namespace {

const char* const kConversation = R"([
  {"role": "system", "content": "Be brief."},
  {"role": "user", "content": "Hi"},
  {"role": "assistant", "content": "Hello!"},
  {"role": "user", "content": "Weather?"}
])";

const char* const kToolConversation = R"([
  {"role": "user", "content": "Weather in Paris?"},
  {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function",
    "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
  {"role": "tool", "tool_call_id": "c1", "content": "{\"temp\": 21}"}
])";

std::string render(ct::Fallback f, const char* messages, bool add_generation_prompt) {
  const ct::ChatTemplate tpl(ct::fallback_source(f));
  ct::RenderOptions opts;
  opts.add_generation_prompt = add_generation_prompt;
  opts.bos_token = "<s>";
  opts.eos_token = "</s>";
  return tpl.render_json(messages, "", opts);
}

TEST(Fallback, ChatML) {
  EXPECT_EQ(render(ct::Fallback::chatml, kConversation, true),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nWeather?<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(render(ct::Fallback::chatml, kToolConversation, false),
            "<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n"
            "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"
            "<|im_end|>\n<|im_start|>tool\n{\"temp\": 21}<|im_end|>\n");
}

TEST(Fallback, Llama2) {
  EXPECT_EQ(render(ct::Fallback::llama2, kConversation, true),
            "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s>"
            "<s>[INST] Weather? [/INST]");
  EXPECT_EQ(render(ct::Fallback::llama2, kToolConversation, false),
            "<s>[INST] Weather in Paris? [/INST] {\"name\": \"get_weather\", \"arguments\": "
            "{\"city\": \"Paris\"}} </s><s>[INST] {\"temp\": 21} [/INST]");
}

TEST(Fallback, Llama3) {
  EXPECT_EQ(render(ct::Fallback::llama3, kConversation, true),
            "<s><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nWeather?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(render(ct::Fallback::llama3, kToolConversation, false),
            "<s><|start_header_id|>user<|end_header_id|>\n\nWeather in Paris?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"get_weather\", "
            "\"parameters\": {\"city\": \"Paris\"}}<|eot_id|>"
            "<|start_header_id|>ipython<|end_header_id|>\n\n{\"temp\": 21}<|eot_id|>");
}

TEST(Fallback, Mistral) {
  EXPECT_EQ(render(ct::Fallback::mistral, kConversation, true),
            "<s>[INST] Be brief.\n\nHi [/INST]Hello!</s>[INST] Weather? [/INST]");
  EXPECT_EQ(render(ct::Fallback::mistral, kToolConversation, false),
            "<s>[INST] Weather in Paris? [/INST][TOOL_CALLS] [{\"name\": \"get_weather\", "
            "\"arguments\": {\"city\": \"Paris\"}}]</s>[TOOL_RESULTS] {\"temp\": 21} "
            "[/TOOL_RESULTS]");
}

TEST(Fallback, Gemma) {
  EXPECT_EQ(render(ct::Fallback::gemma, kConversation, true),
            "<s><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n"
            "Hello!<end_of_turn>\n<start_of_turn>user\nWeather?<end_of_turn>\n"
            "<start_of_turn>model\n");
  EXPECT_EQ(render(ct::Fallback::gemma, kToolConversation, false),
            "<s><start_of_turn>user\nWeather in Paris?<end_of_turn>\n<start_of_turn>model\n"
            "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}<end_of_turn>\n"
            "<start_of_turn>user\n{\"temp\": 21}<end_of_turn>\n");
}

TEST(Fallback, Zephyr) {
  EXPECT_EQ(render(ct::Fallback::zephyr, kConversation, true),
            "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello!</s>\n"
            "<|user|>\nWeather?</s>\n<|assistant|>\n");
}

TEST(Fallback, EmptyConversationRendersOnlyThePrompt) {
  EXPECT_EQ(render(ct::Fallback::chatml, "[]", true), "<|im_start|>assistant\n");
  EXPECT_EQ(render(ct::Fallback::llama3, "[]", false), "<s>");
}

TEST(Fallback, ChosenByVocabularyThenArchitecture) {
  auto vocab = [](std::set<std::string> tokens) {
    return [tokens = std::move(tokens)](std::string_view t) {
      return tokens.count(std::string(t)) > 0;
    };
  };
  EXPECT_EQ(ct::choose_fallback("qwen2", vocab({"<|im_start|>", "<|im_end|>"})), ct::Fallback::chatml);
  EXPECT_EQ(ct::choose_fallback("llama", vocab({"<|start_header_id|>", "<|eot_id|>"})),
            ct::Fallback::llama3);
  EXPECT_EQ(ct::choose_fallback("gemma2", vocab({})), ct::Fallback::gemma);
  EXPECT_EQ(ct::choose_fallback("llama", vocab({"<start_of_turn>"})), ct::Fallback::gemma);
  EXPECT_EQ(ct::choose_fallback("llama", vocab({"[INST]", "[/INST]"})), ct::Fallback::mistral);
  EXPECT_EQ(ct::choose_fallback("llama", vocab({"<|user|>"})), ct::Fallback::zephyr);
  EXPECT_EQ(ct::choose_fallback("llama", vocab({"<s>", "</s>"})), ct::Fallback::llama2);
  EXPECT_EQ(ct::choose_fallback("phi2", vocab({})), ct::Fallback::chatml);
  EXPECT_EQ(ct::choose_fallback("llama", nullptr), ct::Fallback::llama2);
}

TEST(Fallback, NamesRoundTrip) {
  for (auto f : {ct::Fallback::chatml, ct::Fallback::llama2, ct::Fallback::llama3,
                 ct::Fallback::mistral, ct::Fallback::gemma, ct::Fallback::zephyr}) {
    EXPECT_EQ(ct::fallback_from_name(ct::to_string(f)), f);
  }
  EXPECT_EQ(ct::fallback_from_name("nope"), std::nullopt);
}

}  // namespace
