// `llmux render-template`: exact prompts from a template file or a GGUF model (its own template,
// or a built-in fallback), variables, tools, and clean errors.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/cli_runner.hpp"

namespace fs = std::filesystem;
using llmux::test::run_cli;

namespace {

const std::string kData = std::string(LLMUX_TEST_DATA_DIR) + "/chat_templates/";

class RenderTemplateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("llmux-render-template-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& content) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

  fs::path dir_;
};

// A minimal GGUF v3 file with metadata only (strings, u32s and a string array).
class GgufBytes {
 public:
  void str(const std::string& key, const std::string& value) {
    header(key, 8);
    string(value);
  }
  void u32(const std::string& key, std::uint32_t v) {
    header(key, 4);
    put(v);
  }
  void strings(const std::string& key, const std::vector<std::string>& values) {
    header(key, 9);
    put(std::uint32_t{8});
    put(std::uint64_t{values.size()});
    for (const auto& v : values) string(v);
  }
  std::string bytes() const {
    std::string out = "GGUF";
    append(out, std::uint32_t{3});
    append(out, std::uint64_t{0});  // tensors
    append(out, std::uint64_t{count_});
    return out + body_;
  }

 private:
  template <typename T>
  static void append(std::string& out, T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  template <typename T>
  void put(T v) {
    append(body_, v);
  }
  void string(const std::string& s) {
    put(std::uint64_t{s.size()});
    body_ += s;
  }
  void header(const std::string& key, std::uint32_t type) {
    ++count_;
    string(key);
    put(type);
  }
  std::string body_;
  std::uint64_t count_ = 0;
};

std::string model_bytes(const std::string& arch, const std::vector<std::string>& tokens,
                        const std::string& chat_template) {
  GgufBytes g;
  g.str("general.architecture", arch);
  g.str("tokenizer.ggml.model", "gpt2");
  g.strings("tokenizer.ggml.tokens", tokens);
  g.u32("tokenizer.ggml.bos_token_id", 0);
  g.u32("tokenizer.ggml.eos_token_id", 1);
  if (!chat_template.empty()) g.str("tokenizer.chat_template", chat_template);
  return g.bytes();
}

const char* const kMessages =
    R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])";

TEST_F(RenderTemplateCli, TemplateFileMatchesTheTransformersFixture) {
  // Fixture case: Qwen2.5, "single" conversation, add_generation_prompt, no tools.
  const auto msgs = write("m.json", R"([{"role": "user", "content": "Hi there!"}])");
  const auto r = run_cli({"render-template", "--template", kData + "Qwen-Qwen2.5-7B-Instruct.jinja",
                          "--messages", msgs, "--add-generation-prompt"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
            "assistant.<|im_end|>\n<|im_start|>user\nHi there!<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST_F(RenderTemplateCli, ToolsAndVariables) {
  const auto tpl = write("t.jinja",
                         "{{ bos_token }}|{{ tools | map(attribute='function.name') | join(',') }}"
                         "|{{ enable_thinking }}|{{ n + 1 }}|{{ messages | length }}");
  const auto msgs = write("m.json", kMessages);
  const auto tools = write("tools.json",
                           R"([{"type": "function", "function": {"name": "a"}},)"
                           R"( {"type": "function", "function": {"name": "b"}}])");
  const auto r = run_cli({"render-template", "--template", tpl, "--messages", msgs, "--tools",
                          tools, "--var", "enable_thinking=false", "--var", "n=41", "--var",
                          "bos_token=\"<s>\""});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<s>|a,b|False|42|2");
}

TEST_F(RenderTemplateCli, ModelTemplateAndSpecialTokensComeFromTheGguf) {
  const auto model = write("m.gguf", model_bytes("qwen2", {"<B>", "<E>", "x"},
                                                 "{{ bos_token }}{% for m in messages %}"
                                                 "[{{ m.role }}:{{ m.content }}]{% endfor %}"
                                                 "{{ eos_token }}"));
  const auto msgs = write("m.json", kMessages);
  const auto r = run_cli({"render-template", "--model", model, "--messages", msgs});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<B>[system:Be brief.][user:Hi]<E>");
}

TEST_F(RenderTemplateCli, ModelWithoutTemplateUsesTheFallbackForItsVocabulary) {
  const auto msgs = write("m.json", kMessages);
  const auto chatml = write("c.gguf", model_bytes("qwen2", {"<s>", "</s>", "<|im_start|>"}, ""));
  auto r = run_cli({"render-template", "--model", chatml, "--messages", msgs,
                    "--add-generation-prompt"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
  const auto llama3 = write("l.gguf", model_bytes("llama", {"<|begin_of_text|>", "<|eot_id|>",
                                                            "<|start_header_id|>"}, ""));
  r = run_cli({"render-template", "--model", llama3, "--messages", msgs});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
}

TEST_F(RenderTemplateCli, TemplateErrorsAreOneLineWithTheTemplateLine) {
  const auto tpl = write("t.jinja", "ok\n{{ raise_exception('System role not supported') }}");
  const auto msgs = write("m.json", kMessages);
  const auto r = run_cli({"render-template", "--template", tpl, "--messages", msgs});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("TemplateError: System role not supported (template line 2)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
}

TEST_F(RenderTemplateCli, BadInputsAreCleanErrors) {
  const auto tpl = write("t.jinja", "{{ messages }}");
  const auto msgs = write("m.json", kMessages);
  const auto bad_json = write("bad.json", "[{");
  const auto bad_tpl = write("bad.jinja", "{% if %}");
  const auto not_gguf = write("x.gguf", "not a gguf file");
  const std::vector<std::vector<std::string>> cases = {
      {"render-template", "--messages", msgs},
      {"render-template", "--template", tpl},
      {"render-template", "--template", tpl, "--model", not_gguf, "--messages", msgs},
      {"render-template", "--template", (dir_ / "missing.jinja").string(), "--messages", msgs},
      {"render-template", "--template", tpl, "--messages", bad_json},
      {"render-template", "--template", bad_tpl, "--messages", msgs},
      {"render-template", "--template", tpl, "--messages", msgs, "--var", "x=not json"},
      {"render-template", "--template", tpl, "--messages", msgs, "--var", "novalue"},
      {"render-template", "--model", not_gguf, "--messages", msgs},
  };
  for (const auto& args : cases) {
    const auto r = run_cli(args);
    EXPECT_NE(r.exit_code, 0) << args.back();
    EXPECT_LT(r.exit_code, 128) << "crashed: " << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

}  // namespace
