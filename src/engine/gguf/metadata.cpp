#include "engine/gguf/metadata.hpp"

#include <fmt/format.h>

#include <llmux/error.hpp>

namespace llmux::engine::gguf {
namespace {

[[noreturn]] void invalid(const GgufFile& f, std::string_view key, std::string_view what) {
  throw_error(errc::invalid_argument, fmt::format("gguf: {}: '{}' {}", f.name(), key, what));
}

// A hyper-parameter stored either as a scalar or as a per-layer array of one repeated value.
std::optional<std::uint64_t> uniform_uint(const GgufFile& f, const std::string& key) {
  const Value* v = f.find(key);
  if (!v) return std::nullopt;
  if (const Array* a = v->as_array()) {
    if (a->items.empty()) invalid(f, key, "is an empty array");
    auto first = a->items[0].as_uint();
    for (const auto& item : a->items) {
      auto u = item.as_uint();
      if (!u) invalid(f, key, "holds a non-integer element");
      if (*u != *first) invalid(f, key, "varies per layer, which is not supported");
    }
    return first;
  }
  return f.get_uint(key);
}

std::uint64_t positive(const GgufFile& f, const std::string& key) {
  auto v = uniform_uint(f, key);
  if (!v) invalid(f, key, "is missing");
  if (*v == 0 || *v > (std::uint64_t{1} << 32)) invalid(f, key, "is out of range");
  return *v;
}

}  // namespace

ModelInfo read_model_info(const GgufFile& f) {
  ModelInfo m;
  m.architecture = std::string(f.require_string("general.architecture"));
  if (auto n = f.get_string("general.name")) m.name = std::string(*n);
  const std::string p = m.architecture + ".";
  m.context_length = positive(f, p + "context_length");
  m.embedding_length = positive(f, p + "embedding_length");
  m.block_count = positive(f, p + "block_count");
  m.feed_forward_length = positive(f, p + "feed_forward_length");
  m.head_count = positive(f, p + "attention.head_count");
  m.head_count_kv = uniform_uint(f, p + "attention.head_count_kv").value_or(m.head_count);
  if (m.head_count_kv == 0 || m.head_count % m.head_count_kv != 0) {
    invalid(f, p + "attention.head_count_kv", "must divide attention.head_count");
  }
  const bool has_k = f.find(p + "attention.key_length") != nullptr;
  const bool has_v = f.find(p + "attention.value_length") != nullptr;
  if ((!has_k || !has_v) && m.embedding_length % m.head_count != 0) {
    invalid(f, p + "attention.head_count", "does not divide embedding_length");
  }
  m.key_length = has_k ? positive(f, p + "attention.key_length")
                       : m.embedding_length / m.head_count;
  m.value_length = has_v ? positive(f, p + "attention.value_length")
                         : m.embedding_length / m.head_count;
  if (auto eps = f.get_float(p + "attention.layer_norm_rms_epsilon")) {
    if (!(*eps > 0.0 && *eps < 1.0)) invalid(f, p + "attention.layer_norm_rms_epsilon",
                                             "is out of range");
    m.rms_norm_epsilon = *eps;
  }
  if (auto vs = f.get_uint(p + "vocab_size")) {
    m.vocab_size = *vs;
  } else if (const Array* toks = f.get_array("tokenizer.ggml.tokens")) {
    m.vocab_size = toks->items.size();
  }

  m.rope.dimension_count = f.get_uint(p + "rope.dimension_count").value_or(m.key_length);
  if (m.rope.dimension_count > m.key_length || m.rope.dimension_count % 2 != 0) {
    invalid(f, p + "rope.dimension_count", "must be even and at most the head size");
  }
  m.rope.freq_base = f.get_float(p + "rope.freq_base").value_or(10000.0);
  if (!(m.rope.freq_base > 0.0)) invalid(f, p + "rope.freq_base", "must be positive");
  if (auto t = f.get_string(p + "rope.scaling.type")) m.rope.scaling_type = std::string(*t);
  if (auto s = f.get_float(p + "rope.scaling.factor")) {
    if (!(*s > 0.0)) invalid(f, p + "rope.scaling.factor", "must be positive");
    m.rope.scaling_factor = *s;
  }
  m.rope.original_context_length =
      f.get_uint(p + "rope.scaling.original_context_length").value_or(0);
  return m;
}

namespace {

std::vector<std::string_view> string_list(const GgufFile& f, std::string_view key) {
  std::vector<std::string_view> out;
  const Array* a = f.get_array(key);
  if (!a) return out;
  if (a->element_type != ValueType::string) invalid(f, key, "is not an array of strings");
  out.reserve(a->items.size());
  for (const auto& item : a->items) out.push_back(*item.as_string());
  return out;
}

std::optional<std::int32_t> token_id(const GgufFile& f, std::string_view key,
                                     std::size_t n_tokens) {
  auto v = f.get_int(key);
  if (!v) return std::nullopt;
  // llama.cpp writes -1 (or a u32 of 0xFFFFFFFF) for "none".
  if (*v == -1 || *v == 0xFFFFFFFFll) return std::nullopt;
  if (*v < 0 || static_cast<std::uint64_t>(*v) >= n_tokens) {
    invalid(f, key, fmt::format("= {} is outside the vocabulary of {} tokens", *v, n_tokens));
  }
  return static_cast<std::int32_t>(*v);
}

}  // namespace

TokenizerMetadata read_tokenizer_metadata(const GgufFile& f) {
  TokenizerMetadata t;
  t.model = f.require_string("tokenizer.ggml.model");
  t.pre = f.get_string("tokenizer.ggml.pre").value_or("");
  t.tokens = string_list(f, "tokenizer.ggml.tokens");
  const std::size_t n = t.tokens.size();
  if (n == 0) invalid(f, "tokenizer.ggml.tokens", "is missing or empty");
  if (n > 0x7FFFFFFF) invalid(f, "tokenizer.ggml.tokens", "is too large");

  if (const Array* a = f.get_array("tokenizer.ggml.scores")) {
    if (a->element_type != ValueType::f32 && a->element_type != ValueType::f64) {
      invalid(f, "tokenizer.ggml.scores", "is not an array of floats");
    }
    if (a->items.size() != n) invalid(f, "tokenizer.ggml.scores", "length differs from tokens");
    t.scores.reserve(n);
    for (const auto& item : a->items) t.scores.push_back(static_cast<float>(*item.as_float()));
  }
  if (const Array* a = f.get_array("tokenizer.ggml.token_type")) {
    if (a->items.size() != n) {
      invalid(f, "tokenizer.ggml.token_type", "length differs from tokens");
    }
    t.token_types.reserve(n);
    for (const auto& item : a->items) {
      auto v = item.as_int();
      if (!v || *v < 0 || *v > 6) invalid(f, "tokenizer.ggml.token_type", "holds an unknown type");
      t.token_types.push_back(static_cast<TokenType>(*v));
    }
  }
  t.merges = string_list(f, "tokenizer.ggml.merges");

  t.bos_id = token_id(f, "tokenizer.ggml.bos_token_id", n);
  t.eos_id = token_id(f, "tokenizer.ggml.eos_token_id", n);
  t.unk_id = token_id(f, "tokenizer.ggml.unknown_token_id", n);
  t.sep_id = token_id(f, "tokenizer.ggml.seperator_token_id", n);
  t.pad_id = token_id(f, "tokenizer.ggml.padding_token_id", n);
  t.eot_id = token_id(f, "tokenizer.ggml.eot_token_id", n);
  t.eom_id = token_id(f, "tokenizer.ggml.eom_token_id", n);
  t.fim_pre_id = token_id(f, "tokenizer.ggml.fim_pre_token_id", n);
  t.fim_suf_id = token_id(f, "tokenizer.ggml.fim_suf_token_id", n);
  t.fim_mid_id = token_id(f, "tokenizer.ggml.fim_mid_token_id", n);
  t.fim_pad_id = token_id(f, "tokenizer.ggml.fim_pad_token_id", n);
  t.fim_rep_id = token_id(f, "tokenizer.ggml.fim_rep_token_id", n);
  t.fim_sep_id = token_id(f, "tokenizer.ggml.fim_sep_token_id", n);
  t.add_bos = f.get_bool("tokenizer.ggml.add_bos_token");
  t.add_eos = f.get_bool("tokenizer.ggml.add_eos_token");
  t.add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix");
  t.remove_extra_whitespaces = f.get_bool("tokenizer.ggml.remove_extra_whitespaces");
  t.chat_template = f.get_string("tokenizer.chat_template");
  return t;
}

}  // namespace llmux::engine::gguf
