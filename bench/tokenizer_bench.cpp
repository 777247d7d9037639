// Tokenizer throughput: encodes whole files with real vocabularies and prints one JSON line per
// (vocabulary, file): MB/s (10^6 input bytes per second, best of 5 after a warm-up, one thread)
// and the token count (compare with tools/hf_tokenizer_bench.py, which prints the same fields
// for Hugging Face `tokenizers`).
//
//   tokenizer_bench NAME=DIR_WITH_tokenizer.json... -- FILE...
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <llmux/error.hpp>

#include "engine/gguf/gguf.hpp"
#include "engine/tokenizer/hf_import.hpp"
#include "engine/tokenizer/tokenizer.hpp"

namespace tk = llmux::engine::tokenizer;
namespace gguf = llmux::engine::gguf;

namespace {

double best_seconds(const tk::Tokenizer& tok, const std::string& text, std::size_t& n_tokens) {
  n_tokens = tok.encode(text).size();  // warm-up
  double best = 1e30;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = tok.encode(text);
    const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    best = std::min(best, dt.count());
    if (ids.size() != n_tokens) throw std::runtime_error("non-deterministic token count");
  }
  return best;
}

int run(int argc, char** argv) {
  std::vector<std::string> vocabs, files;
  bool after_sep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") after_sep = true;
    else (after_sep ? files : vocabs).push_back(a);
  }
  if (vocabs.empty() || files.empty()) {
    fmt::print(stderr, "usage: tokenizer_bench NAME=DIR... -- FILE...\n");
    return 2;
  }
  for (const auto& spec : vocabs) {
    const auto eq = spec.find('=');
    const std::string name = spec.substr(0, eq), dir = spec.substr(eq + 1);
    auto w = tk::vocab_gguf_from_hf(tk::read_file(dir + "/tokenizer.json"),
                                    tk::read_file(dir + "/tokenizer_config.json"), name);
    auto file = gguf::GgufFile::from_bytes(w.bytes(), name);
    auto tok = tk::Tokenizer::from_gguf(file);
    for (const auto& path : files) {
      const std::string text = tk::read_file(path);
      std::size_t n_tokens = 0;
      const double s = best_seconds(tok, text, n_tokens);
      const auto base = path.substr(path.find_last_of('/') + 1);
      fmt::print("{{\"impl\": \"llmux\", \"vocab\": \"{}\", \"file\": \"{}\", \"bytes\": {}, "
                 "\"tokens\": {}, \"mb_s\": {:.2f}}}\n",
                 name, base, text.size(), n_tokens, text.size() / s / 1e6);
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "tokenizer_bench: {}\n", e.what());
    return 1;
  }
}
