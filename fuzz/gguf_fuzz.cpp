// libFuzzer target for the GGUF reader and the tokenizer built from what it reads.
//
// Build (opt-in): cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++
//                 -DLLMUX_BUILD_FUZZ=ON && cmake --build build-fuzz --target gguf_fuzz
// Run:            build-fuzz/fuzz/gguf_fuzz -max_total_time=600 -max_len=65536 CORPUS_DIR
// (seed CORPUS_DIR with tests/data/tokenizer/*.gguf). Any input must either parse or throw
// llmux::Error; an accepted file's tensor data and metadata must be readable in bounds.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <llmux/error.hpp>

#include "engine/gguf/gguf.hpp"
#include "engine/gguf/metadata.hpp"
#include "engine/tokenizer/tokenizer.hpp"

namespace {

using namespace llmux::engine;

std::uint64_t touch(const gguf::Value& v, int depth = 0) {
  std::uint64_t h = static_cast<std::uint64_t>(v.type());
  if (auto s = v.as_string()) {
    for (char c : *s) h = h * 31 + static_cast<unsigned char>(c);
  } else if (const gguf::Array* a = v.as_array()) {
    for (const auto& item : a->items) h += touch(item, depth + 1);
  } else if (auto u = v.as_uint()) {
    h ^= *u;
  }
  return h;
}

void exercise(const gguf::GgufFile& f) {
  volatile std::uint64_t sink = 0;
  for (const auto& kv : f.metadata()) sink = sink + touch(kv.value);
  for (const auto& t : f.tensors()) {
    if (!t.data.empty()) sink = sink + static_cast<std::uint64_t>(t.data.front()) +
                                static_cast<std::uint64_t>(t.data.back());
  }
  try {
    (void)gguf::read_model_info(f);
  } catch (const llmux::Error&) {
  }
  try {
    auto tok = tokenizer::Tokenizer::from_gguf(f);
    const auto ids = tok.encode("Hello \xF0\x9F\x8D\x95 <|im_end|>  wor\xFF" "ld 123",
                                {.add_special = true, .parse_special = true});
    (void)tok.decode(ids, {.render_special = true});
  } catch (const llmux::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::byte> bytes(reinterpret_cast<const std::byte*>(data),
                               reinterpret_cast<const std::byte*>(data) + size);
  try {
    auto f = gguf::GgufFile::from_bytes(std::move(bytes), "fuzz.gguf");
    exercise(f);
  } catch (const llmux::Error&) {
  }
  return 0;
}
