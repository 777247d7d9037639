// Special tokens, BOS/EOS/EOG rules, invalid UTF-8, decoding and streaming, bad vocabularies.
#include <gtest/gtest.h>

#include <random>

#include <llmux/error.hpp>

#include "engine/gguf/gguf_writer.hpp"
#include "engine/tokenizer/detokenizer.hpp"
#include "engine/tokenizer/unicode.hpp"
#include "engine/tokenizer/vocab_fixture.hpp"

namespace llmux::engine::tokenizer {
namespace {

using testing::load_vocab;
using Ids = std::vector<TokenId>;

Tokenizer fixture_spm() {
  return Tokenizer::from_gguf(gguf::GgufFile::open(std::string(LLMUX_TEST_DATA_DIR) +
                                                   "/tokenizer/llama-f32.gguf"));
}

TEST(Specials, ControlTokensStayTextUnlessAsked) {
  const auto* v = load_vocab("llama3");
  if (!v) GTEST_SKIP() << testing::missing_data_message("llama3");
  const auto& tok = v->tokenizer;
  EXPECT_EQ(tok.encode("<|eot_id|>", {.parse_special = true}), Ids{128009});
  const Ids plain = tok.encode("<|eot_id|>");
  EXPECT_GT(plain.size(), 1u);
  for (TokenId id : plain) EXPECT_EQ(tok.token_type(id), TokenType::normal);
  EXPECT_EQ(tok.decode(plain), "<|eot_id|>");
}

TEST(Specials, UserDefinedTokensAreAlwaysMatched) {
  const auto* v = load_vocab("qwen3");
  if (!v) GTEST_SKIP() << testing::missing_data_message("qwen3");
  const auto& tok = v->tokenizer;
  EXPECT_EQ(tok.token_type(151667), TokenType::user_defined);  // <think>
  EXPECT_EQ(tok.encode("<think>"), Ids{151667});
  EXPECT_EQ(tok.encode("<think>", {.parse_special = true}), Ids{151667});
  EXPECT_EQ(tok.token_type(151659), TokenType::control);  // <|fim_prefix|> looks special
}

TEST(Specials, EndOfGenerationSets) {
  const auto* q = load_vocab("qwen3");
  const auto* l = load_vocab("llama3");
  if (!q || !l) GTEST_SKIP() << testing::missing_data_message("qwen3/llama3");
  EXPECT_TRUE(q->tokenizer.is_eog(151645));  // <|im_end|> (eos)
  EXPECT_TRUE(q->tokenizer.is_eog(151643));  // <|endoftext|>
  EXPECT_FALSE(q->tokenizer.is_eog(151644));  // <|im_start|>
  EXPECT_EQ(q->tokenizer.eot(), 151645);
  EXPECT_FALSE(q->tokenizer.bos().has_value());
  EXPECT_TRUE(l->tokenizer.is_eog(128001));  // <|end_of_text|> (eos)
  EXPECT_TRUE(l->tokenizer.is_eog(128009));  // <|eot_id|>
  EXPECT_FALSE(l->tokenizer.is_eog(128008));  // a reserved token in Llama 3.0
  EXPECT_EQ(l->tokenizer.eot(), 128009);
  EXPECT_FALSE(l->tokenizer.is_eog(128000));
}

TEST(Specials, BosAddedOnceFromMetadata) {
  auto tok = fixture_spm();
  ASSERT_TRUE(tok.add_bos());
  EXPECT_FALSE(tok.add_eos());
  const Ids plain = tok.encode("hi");
  Ids with_bos = plain;
  with_bos.insert(with_bos.begin(), 1);
  EXPECT_EQ(tok.encode("hi", {.add_special = true}), with_bos);
  EXPECT_EQ(tok.encode("", {.add_special = true}), Ids{1});
  EXPECT_EQ(tok.encode(""), Ids{});
  // Text starting with the BOS token, parsed: no second BOS.
  const Ids parsed = tok.encode("<s>hi", {.add_special = true, .parse_special = true});
  ASSERT_GE(parsed.size(), 2u);
  EXPECT_EQ(parsed[0], 1);
  EXPECT_NE(parsed[1], 1);
  // Unparsed, "<s>" is text and BOS is added in front of it.
  const Ids unparsed = tok.encode("<s>hi", {.add_special = true});
  EXPECT_EQ(unparsed[0], 1);
  EXPECT_EQ(tok.decode(Ids(unparsed.begin() + 1, unparsed.end())), "<s>hi");
}

TEST(InvalidUtf8, IsReplacedNotDroppedForEveryVocabulary) {
  for (const char* name : {"llama3", "qwen3", "llama2"}) {
    const auto* v = load_vocab(name);
    if (!v) GTEST_SKIP() << testing::missing_data_message(name);
    const Ids ids = v->tokenizer.encode("a\xFF" "b\xF0\x9F");
    EXPECT_EQ(v->tokenizer.decode(ids), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD") << name;
  }
}

TEST(Decode, RoundTripsTextThroughEveryVocabulary) {
  const std::string samples[] = {
      "Hello, world!", "  leading and trailing  ", "tabs\tand\nnewlines\r\n",
      "日本語のテキスト", "emoji 👩🏽‍💻 and flags 🇺🇸", "numbers 1234567890", "ünïcödé ✓"};
  for (const char* name : {"llama3", "qwen3", "llama2"}) {
    const auto* v = load_vocab(name);
    if (!v) GTEST_SKIP() << testing::missing_data_message(name);
    for (const auto& s : samples) {
      EXPECT_EQ(v->tokenizer.decode(v->tokenizer.encode(s)), s) << name;
    }
  }
}

TEST(Detokenizer, NeverEmitsHalfACharacter) {
  const auto* v = load_vocab("llama2");
  if (!v) GTEST_SKIP() << testing::missing_data_message("llama2");
  const auto& tok = v->tokenizer;
  const Ids ids = tok.encode("pizza \U0001F355 time");  // the emoji is four byte tokens
  Detokenizer d(tok);
  std::string streamed;
  int byte_tokens = 0;
  for (TokenId id : ids) {
    if (tok.token_type(id) == TokenType::byte) ++byte_tokens;
    std::string part = d.push(id);
    EXPECT_TRUE(is_valid_utf8(part));
    streamed += part;
  }
  streamed += d.finish();
  EXPECT_EQ(byte_tokens, 4);
  EXPECT_EQ(streamed, "pizza \U0001F355 time");
}

TEST(Detokenizer, RandomIdsAlwaysGiveValidUtf8) {
  for (const char* name : {"llama3", "llama2"}) {
    const auto* v = load_vocab(name);
    if (!v) GTEST_SKIP() << testing::missing_data_message(name);
    std::mt19937 rng(42);
    std::uniform_int_distribution<TokenId> pick(0, static_cast<TokenId>(v->tokenizer.vocab_size() - 1));
    Detokenizer d(v->tokenizer);
    Ids ids;
    std::string streamed;
    for (int i = 0; i < 2000; ++i) {
      ids.push_back(pick(rng));
      std::string part = d.push(ids.back());
      ASSERT_TRUE(is_valid_utf8(part)) << name;
      streamed += part;
    }
    streamed += d.finish();
    EXPECT_EQ(streamed, sanitize_utf8(v->tokenizer.decode(ids))) << name;
  }
}

gguf::GgufFile tiny_bpe(std::vector<std::string> merges, std::string model = "gpt2",
                        std::string pre = "gpt-2") {
  using gguf::OwnedValue;
  ByteLevelMap m;
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.emplace_back(m.encode(static_cast<std::uint8_t>(b)));
  tokens.push_back("ab");
  gguf::GgufWriter w;
  w.add("tokenizer.ggml.model", OwnedValue::string(model));
  w.add("tokenizer.ggml.pre", OwnedValue::string(pre));
  w.add("tokenizer.ggml.tokens", OwnedValue::string_array(tokens));
  w.add("tokenizer.ggml.merges", OwnedValue::string_array(merges));
  return gguf::GgufFile::from_bytes(w.bytes());
}

TEST(BadVocabularies, GiveClearErrors) {
  EXPECT_NO_THROW(Tokenizer::from_gguf(tiny_bpe({"a b"})));
  EXPECT_EQ(Tokenizer::from_gguf(tiny_bpe({"a b"})).encode("abab"), (Ids{256, 256}));
  EXPECT_THROW(Tokenizer::from_gguf(tiny_bpe({"a zz"})), Error);        // unknown merge part
  EXPECT_THROW(Tokenizer::from_gguf(tiny_bpe({"ab"})), Error);          // no space
  EXPECT_THROW(Tokenizer::from_gguf(tiny_bpe({}, "bert")), Error);      // unsupported model
  EXPECT_THROW(Tokenizer::from_gguf(tiny_bpe({}, "gpt2", "martian")), Error);  // unknown pre
  auto tok = Tokenizer::from_gguf(tiny_bpe({}));
  EXPECT_THROW(tok.token_to_piece(-1), Error);
  EXPECT_THROW(tok.token_to_piece(100000), Error);
}

}  // namespace
}  // namespace llmux::engine::tokenizer
