#include "engine/model/hparams.hpp"

#include <fmt/format.h>

#include <llmux/error.hpp>

namespace llmux::engine::model {
namespace {

[[noreturn]] void fail(const gguf::GgufFile& file, const std::string& what) {
  throw_error(errc::invalid_argument, fmt::format("{}: {}", file.name(), what));
}

std::int64_t positive(const gguf::GgufFile& file, const std::string& key, std::uint64_t value,
                      std::uint64_t max) {
  if (value == 0 || value > max) {
    fail(file, fmt::format("{} = {} is out of range (1..{})", key, value, max));
  }
  return static_cast<std::int64_t>(value);
}

}  // namespace

const ArchTraits& find_arch(std::string_view architecture) {
  for (const ArchTraits* a : {&llama_arch(), &qwen2_arch(), &qwen3_arch()}) {
    if (a->name == architecture) return *a;
  }
  throw_error(errc::invalid_argument,
              fmt::format("unsupported model architecture '{}' (supported: llama, qwen2, qwen3)",
                          architecture));
}

HParams read_hparams(const gguf::GgufFile& file) {
  const auto arch_name = file.get_string("general.architecture");
  if (!arch_name) fail(file, "general.architecture is missing");
  HParams hp;
  hp.arch = &find_arch(*arch_name);
  const std::string p = std::string(*arch_name) + ".";
  constexpr std::uint64_t kMaxDim = 1u << 20;
  auto req = [&](const char* key, std::uint64_t max) {
    const std::string k = p + key;
    return positive(file, k, file.require_uint(k), max);
  };
  hp.n_embd = req("embedding_length", kMaxDim);
  hp.n_layer = req("block_count", 4096);
  hp.n_head = req("attention.head_count", 4096);
  hp.n_ff = req("feed_forward_length", kMaxDim);
  hp.n_ctx_train = req("context_length", 1u << 24);
  hp.n_head_kv = hp.n_head;
  if (auto v = file.get_uint(p + "attention.head_count_kv")) {
    hp.n_head_kv = positive(file, p + "attention.head_count_kv", *v, 4096);
  }
  if (hp.n_head % hp.n_head_kv != 0) {
    fail(file, fmt::format("attention.head_count {} is not a multiple of head_count_kv {}",
                           hp.n_head, hp.n_head_kv));
  }
  hp.head_dim_k = hp.n_embd / hp.n_head;
  if (auto v = file.get_uint(p + "attention.key_length")) {
    hp.head_dim_k = positive(file, p + "attention.key_length", *v, 4096);
  } else if (hp.n_embd % hp.n_head != 0) {
    fail(file, "embedding_length is not a multiple of head_count and key_length is missing");
  }
  hp.head_dim_v = hp.head_dim_k;
  if (auto v = file.get_uint(p + "attention.value_length")) {
    hp.head_dim_v = positive(file, p + "attention.value_length", *v, 4096);
  }
  hp.rope_dim = hp.head_dim_k;
  if (auto v = file.get_uint(p + "rope.dimension_count")) {
    hp.rope_dim = positive(file, p + "rope.dimension_count", *v, 4096);
  }
  if (hp.rope_dim > hp.head_dim_k || hp.rope_dim % 2 != 0) {
    fail(file, fmt::format("rope.dimension_count {} must be even and at most the head size {}",
                           hp.rope_dim, hp.head_dim_k));
  }
  if (auto v = file.get_float(p + "rope.freq_base")) {
    if (!(*v > 0)) fail(file, "rope.freq_base must be positive");
    hp.rope_base = *v;
  }
  if (auto v = file.get_float(p + "attention.layer_norm_rms_epsilon")) {
    if (!(*v > 0 && *v < 1)) fail(file, "attention.layer_norm_rms_epsilon is out of range");
    hp.rms_eps = static_cast<float>(*v);
  }
  const auto scaling = file.get_string(p + "rope.scaling.type");
  if (scaling && *scaling != "none") {
    if (*scaling != "linear") {
      fail(file, fmt::format("RoPE scaling type '{}' is not supported (none, linear, or a "
                             "rope_freqs tensor)", *scaling));
    }
    const auto factor = file.get_float(p + "rope.scaling.factor");
    if (!factor || !(*factor > 0)) fail(file, "linear RoPE scaling needs rope.scaling.factor > 0");
    hp.rope_position_scale = 1.0 / *factor;
  } else if (auto v = file.get_float(p + "rope.scale_linear")) {
    if (!(*v > 0)) fail(file, "rope.scale_linear must be positive");
    hp.rope_position_scale = 1.0 / *v;
  }
  const auto* embd = file.find_tensor("token_embd.weight");
  if (!embd) fail(file, "tensor token_embd.weight is missing");
  if (embd->shape.size() != 2) fail(file, "token_embd.weight is not a matrix");
  hp.n_vocab = positive(file, "token_embd.weight rows", embd->shape[1], 1u << 24);
  return hp;
}

}  // namespace llmux::engine::model
