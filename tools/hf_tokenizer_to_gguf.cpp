// hf_tokenizer_to_gguf: writes a vocabulary-only GGUF from a Hugging Face tokenizer directory
// (tokenizer.json, optional tokenizer_config.json), laid out as llama.cpp's converter does; see
// src/engine/tokenizer/hf_import.hpp for the details and the deliberate differences.
//
//   hf_tokenizer_to_gguf DIR OUT.gguf [NAME]
#include <cstdio>
#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "engine/gguf/gguf.hpp"
#include "engine/tokenizer/hf_import.hpp"
#include "engine/tokenizer/tokenizer.hpp"

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    fmt::print(stderr, "usage: hf_tokenizer_to_gguf DIR OUT.gguf [NAME]\n");
    return 2;
  }
  namespace fs = std::filesystem;
  namespace tk = llmux::engine::tokenizer;
  try {
    const fs::path dir = argv[1];
    const std::string config =
        fs::exists(dir / "tokenizer_config.json")
            ? tk::read_file((dir / "tokenizer_config.json").string()) : std::string();
    const std::string name = argc == 4 ? argv[3] : dir.filename().string();
    auto writer = tk::vocab_gguf_from_hf(tk::read_file((dir / "tokenizer.json").string()),
                                         config, name);
    writer.write(argv[2]);
    // Read it back as the engine would, so a file that does not load is never left unnoticed.
    auto file = llmux::engine::gguf::GgufFile::open(argv[2]);
    auto tok = tk::Tokenizer::from_gguf(file);
    fmt::print("{}: {} tokens, model {}, pre '{}'\n", argv[2], tok.vocab_size(),
               tok.kind() == tk::Tokenizer::Kind::spm ? "llama" : "gpt2", tok.pre());
  } catch (const std::exception& e) {
    fmt::print(stderr, "hf_tokenizer_to_gguf: {}\n", e.what());
    return 1;
  }
  return 0;
}
