// Token ids equal to Hugging Face's Rust `tokenizers` on real vocabularies (goldens made by
// tools/make_tokenizer_goldens.py; see docs/tokenizers.md for the reference's exact settings).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "engine/tokenizer/hf_import.hpp"
#include "engine/tokenizer/vocab_fixture.hpp"

namespace llmux::engine::tokenizer {
namespace {

namespace json = boost::json;
using testing::load_vocab;

struct GoldenCase {
  std::string name, mode, text;
  bool add_special = false;
  std::vector<TokenId> ids;
};

std::string unhex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::vector<GoldenCase> load_goldens(const std::string& vocab) {
  const auto path = std::string(LLMUX_TEST_DATA_DIR) + "/tokenizer/" + vocab + ".json";
  const json::value doc = json::parse(read_file(path));
  std::vector<GoldenCase> out;
  for (const auto& c : doc.at("cases").as_array()) {
    const auto& o = c.as_object();
    GoldenCase g;
    g.name = std::string(o.at("name").as_string());
    g.mode = std::string(o.at("mode").as_string());
    g.add_special = o.at("add_special").as_bool();
    g.text = o.contains("hex") ? unhex(o.at("hex").as_string())
                               : std::string(o.at("text").as_string());
    for (const auto& id : o.at("ids").as_array()) {
      g.ids.push_back(static_cast<TokenId>(id.as_int64()));
    }
    out.push_back(std::move(g));
  }
  return out;
}

std::string ids_str(const std::vector<TokenId>& ids) {
  return fmt::format("[{}]", fmt::join(ids, ", "));
}

// Runs every golden case; returns the names of those that differ (with details in `log`).
std::vector<std::string> run_goldens(const Tokenizer& tok, const std::vector<GoldenCase>& cases,
                                     std::string& log) {
  std::vector<std::string> differing;
  for (const auto& g : cases) {
    EncodeOptions opt{g.add_special, g.mode == "special"};
    std::vector<TokenId> expected = g.ids;
    if (g.add_special && tok.bos() && expected.size() >= 2 && expected[0] == *tok.bos() &&
        expected[1] == *tok.bos()) {
      expected.erase(expected.begin());  // llmux never doubles BOS (documented rule)
    }
    const auto got = tok.encode(g.text, opt);
    if (got != expected) {
      differing.push_back(g.name + "/" + g.mode + (g.add_special ? "/bos" : ""));
      log += fmt::format("  {} ({}{}):\n    expected {}\n    got      {}\n", g.name, g.mode,
                         g.add_special ? ", add_special" : "", ids_str(expected), ids_str(got));
    }
  }
  return differing;
}

class BpeGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(BpeGolden, EqualsHuggingFaceOnEveryCase) {
  const std::string vocab = GetParam();
  const auto* v = load_vocab(vocab);
  if (!v) GTEST_SKIP() << testing::missing_data_message(vocab);
  const auto cases = load_goldens(vocab);
  ASSERT_GE(cases.size(), 150u);
  std::string log;
  auto differing = run_goldens(v->tokenizer, cases, log);
  EXPECT_TRUE(differing.empty()) << differing.size() << " of " << cases.size()
                                 << " cases differ:\n" << log;
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, BpeGolden, ::testing::Values("llama3", "qwen3"));

TEST(SpmGolden, AgreesWithHuggingFace) {
  const auto* v = load_vocab("llama2");
  if (!v) GTEST_SKIP() << testing::missing_data_message("llama2");
  const auto cases = load_goldens("llama2");
  ASSERT_GE(cases.size(), 150u);
  std::string log;
  auto differing = run_goldens(v->tokenizer, cases, log);
  std::cout << "SentencePiece vocabulary: " << cases.size() - differing.size() << " of "
            << cases.size() << " cases equal to Hugging Face\n" << log;
  EXPECT_TRUE(differing.empty()) << log;
}

}  // namespace
}  // namespace llmux::engine::tokenizer
