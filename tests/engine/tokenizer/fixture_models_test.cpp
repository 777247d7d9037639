// The fixture models' prompts tokenize to the ids in reference64.json (SentencePiece's own ids,
// BOS included), from the GGUF files llama.cpp's converter wrote.
//
// The fixtures' sp.model uses SentencePiece's default normalizer (remove_extra_whitespaces =
// true), which llama.cpp's converter does not record in the GGUF. Read as they are, the files
// give SentencePiece's ids for every prompt except the one with a double space (p2), where the
// two spaces stay two tokens (as llama.cpp's own tokenizer does); with the flag the sp.model
// carries, all twelve prompts match.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "engine/gguf/gguf.hpp"
#include "engine/gguf/metadata.hpp"
#include "engine/tokenizer/hf_import.hpp"
#include "engine/tokenizer/tokenizer.hpp"

namespace llmux::engine::tokenizer {
namespace {

namespace json = boost::json;

const std::string kDir = std::string(LLMUX_TEST_DATA_DIR) + "/tokenizer/";
constexpr std::pair<const char*, const char*> kModels[] = {
    {"llama", "llama-f32.gguf"}, {"llama-scaled", "llama-scaled-f32.gguf"},
    {"qwen2", "qwen2-f32.gguf"}, {"qwen3", "qwen3-f32.gguf"}};

struct Prompt {
  std::string text;
  std::vector<TokenId> ids;
};

std::vector<Prompt> prompts_of(const json::value& ref, const char* model) {
  std::vector<Prompt> out;
  for (const auto& p : ref.at("models").at(model).at("prompts").as_array()) {
    Prompt pr{std::string(p.at("text").as_string()), {}};
    for (const auto& id : p.at("ids").as_array()) {
      pr.ids.push_back(static_cast<TokenId>(id.as_int64()));
    }
    out.push_back(std::move(pr));
  }
  return out;
}

TEST(FixtureModels, PromptsTokenizeToReferenceIdsWithTheSpModelsNormalizer) {
  const json::value ref = json::parse(read_file(kDir + "reference64.json"));
  int checked = 0;
  for (const auto& [name, file] : kModels) {
    auto gguf = gguf::GgufFile::open(kDir + file);
    auto meta = gguf::read_tokenizer_metadata(gguf);
    EXPECT_FALSE(meta.remove_extra_whitespaces.has_value());
    meta.remove_extra_whitespaces = true;  // what sp.model's normalizer_spec says
    Tokenizer tok(meta);
    for (const auto& p : prompts_of(ref, name)) {
      EXPECT_EQ(tok.encode(p.text, {.add_special = true}), p.ids) << name << ": " << p.text;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 12);
}

TEST(FixtureModels, FilesAsWrittenMatchEveryPromptWithoutRepeatedSpaces) {
  const json::value ref = json::parse(read_file(kDir + "reference64.json"));
  for (const auto& [name, file] : kModels) {
    auto gguf = gguf::GgufFile::open(kDir + file);
    auto tok = Tokenizer::from_gguf(gguf);
    EXPECT_EQ(tok.kind(), Tokenizer::Kind::spm);
    EXPECT_EQ(tok.bos(), 1);
    EXPECT_EQ(tok.eos(), 2);
    for (const auto& p : prompts_of(ref, name)) {
      const auto got = tok.encode(p.text, {.add_special = true});
      if (p.text.find("  ") == std::string::npos) {
        EXPECT_EQ(got, p.ids) << name << ": " << p.text;
        // Decoding without BOS gives the prompt back.
        EXPECT_EQ(tok.decode(std::vector<TokenId>(p.ids.begin() + 1, p.ids.end())), p.text);
      } else {
        EXPECT_EQ(got.size(), p.ids.size() + 1) << "one extra space token expected";
        EXPECT_EQ(tok.decode(std::vector<TokenId>(got.begin() + 1, got.end())), p.text);
      }
    }
  }
}

}  // namespace
}  // namespace llmux::engine::tokenizer
