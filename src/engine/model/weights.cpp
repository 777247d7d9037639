#include "engine/model/weights.hpp"

#include <fmt/format.h>

#include <llmux/error.hpp>

namespace llmux::engine::model {
namespace {

class Loader {
 public:
  Loader(const gguf::GgufFile& file, Weights& w) : file_(file), w_(w) {}

  Matrix matrix(const std::string& name, std::int64_t cols, std::int64_t rows) {
    const auto* t = find(name);
    if (!t) fail(name, "is missing");
    check_shape(*t, {cols, rows});
    const auto layout = kernels::weight_layout(static_cast<std::uint32_t>(t->type));
    if (!layout) {
      fail(name, fmt::format("has type {}, which this engine cannot compute with (supported: "
                             "f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q4_K, q5_K, q6_K)",
                             gguf::to_string(t->type)));
    }
    Matrix m;
    m.type = static_cast<kernels::WeightType>(t->type);
    m.cols = cols;
    m.rows = rows;
    m.row_bytes = kernels::row_bytes(m.type, cols);
    m.data = t->data.data();
    w_.bytes += t->n_bytes;
    return m;
  }

  // A 1-D tensor of n values as float32 (null if absent and optional).
  const float* vector(const std::string& name, std::int64_t n, bool required) {
    const auto* t = find(name);
    if (!t) {
      if (required) fail(name, "is missing");
      return nullptr;
    }
    check_shape(*t, {n});
    const auto layout = kernels::weight_layout(static_cast<std::uint32_t>(t->type));
    if (!layout || n % layout->block_size != 0) {
      fail(name, fmt::format("has unsupported type {}", gguf::to_string(t->type)));
    }
    auto& values = owned_.emplace_back(static_cast<std::size_t>(n));
    kernels::dequantize_row(static_cast<kernels::WeightType>(t->type), t->data.data(),
                            values.data(), n);
    w_.bytes += t->n_bytes;
    return values.data();
  }

  bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }

  std::vector<std::vector<float>> take_owned() { return std::move(owned_); }

 private:
  const gguf::TensorInfo* find(const std::string& name) const { return file_.find_tensor(name); }

  void check_shape(const gguf::TensorInfo& t, std::initializer_list<std::int64_t> want) {
    bool ok = t.shape.size() == want.size();
    std::size_t i = 0;
    for (auto d : want) {
      ok = ok && static_cast<std::int64_t>(t.shape[i++]) == d;
    }
    if (!ok) {
      std::string got, exp;
      for (auto d : t.shape) got += (got.empty() ? "" : ", ") + std::to_string(d);
      for (auto d : want) exp += (exp.empty() ? "" : ", ") + std::to_string(d);
      fail(std::string(t.name), fmt::format("has shape [{}], expected [{}]", got, exp));
    }
  }

  [[noreturn]] void fail(const std::string& name, const std::string& what) const {
    throw_error(errc::invalid_argument,
                fmt::format("{}: tensor {} {}", file_.name(), name, what));
  }

  const gguf::GgufFile& file_;
  Weights& w_;
  std::vector<std::vector<float>> owned_;
};

}  // namespace

Weights Weights::load(const gguf::GgufFile& file, const HParams& hp) {
  Weights w;
  Loader l(file, w);
  const std::int64_t e = hp.n_embd;
  w.token_embd = l.matrix("token_embd.weight", e, hp.n_vocab);
  w.output_norm = l.vector("output_norm.weight", e, true);
  w.tied_output = !l.has("output.weight");
  w.output = w.tied_output ? w.token_embd : l.matrix("output.weight", e, hp.n_vocab);
  w.rope_freqs = l.vector("rope_freqs.weight", hp.rope_dim / 2, false);
  for (std::int64_t i = 0; i < hp.n_layer; ++i) {
    const std::string b = fmt::format("blk.{}.", i);
    LayerWeights L;
    L.attn_norm = l.vector(b + "attn_norm.weight", e, true);
    L.wq = l.matrix(b + "attn_q.weight", e, hp.q_dim());
    L.wk = l.matrix(b + "attn_k.weight", e, hp.k_dim());
    L.wv = l.matrix(b + "attn_v.weight", e, hp.v_dim());
    L.wo = l.matrix(b + "attn_output.weight", hp.n_head * hp.head_dim_v, e);
    const bool bias = hp.arch->qkv_bias;
    L.bq = l.vector(b + "attn_q.bias", hp.q_dim(), bias);
    L.bk = l.vector(b + "attn_k.bias", hp.k_dim(), bias);
    L.bv = l.vector(b + "attn_v.bias", hp.v_dim(), bias);
    if (hp.arch->qk_norm) {
      L.q_norm = l.vector(b + "attn_q_norm.weight", hp.head_dim_k, true);
      L.k_norm = l.vector(b + "attn_k_norm.weight", hp.head_dim_k, true);
    }
    L.ffn_norm = l.vector(b + "ffn_norm.weight", e, true);
    L.gate = l.matrix(b + "ffn_gate.weight", e, hp.n_ff);
    L.up = l.matrix(b + "ffn_up.weight", e, hp.n_ff);
    L.down = l.matrix(b + "ffn_down.weight", hp.n_ff, e);
    w.layers.push_back(L);
  }
  w.owned_ = l.take_owned();
  // Packed copies of the matrices the forward pass multiplies with (not the embedding table,
  // which is only looked up, unless it doubles as the output projection).
  // All in one buffer, so that huge pages cover it whole.
  std::vector<Matrix*> packable = {&w.output};
  for (auto& L : w.layers) {
    for (Matrix* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.gate, &L.up, &L.down}) packable.push_back(m);
  }
  const auto aligned = [](std::size_t n) { return (n + 63) / 64 * 64; };
  std::size_t total = 0;
  for (const Matrix* m : packable) total += aligned(kernels::packed_matrix_bytes(*m));
  if (total) {
    kernels::PackedBuffer buffer(total);
    std::size_t offset = 0;
    for (Matrix* m : packable) {
      kernels::pack_matrix_into(*m, buffer.data() + offset);
      offset += aligned(kernels::packed_matrix_bytes(*m));
    }
    w.packed_.push_back(std::move(buffer));
  }
  return w;
}

}  // namespace llmux::engine::model
