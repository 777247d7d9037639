#include "engine/model/model.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include <llmux/error.hpp>

#include "engine/kernels/dot.hpp"
#include "engine/kernels/half.hpp"
#include "engine/kernels/ops.hpp"

namespace llmux::engine::model {

namespace k = kernels;

Model::Model(gguf::GgufFile file)
    : file_(std::move(file)), hp_(read_hparams(file_)), weights_(Weights::load(file_, hp_)) {}

std::shared_ptr<const Model> Model::load(gguf::GgufFile file) {
  return std::shared_ptr<const Model>(new Model(std::move(file)));
}

std::shared_ptr<const Model> Model::load(const std::filesystem::path& path) {
  return load(gguf::GgufFile::open(path));
}

Context::Context(std::shared_ptr<const Model> model, const ContextOptions& options)
    : model_(std::move(model)), options_(options), pool_(std::max(1, options.n_threads)) {
  const HParams& hp = model_->hparams();
  n_ctx_ = options.n_ctx > 0 ? options.n_ctx : std::min<std::int64_t>(hp.n_ctx_train, 4096);
  const KvType type = options.precision == Precision::full ? KvType::f32 : KvType::f16;
  integer_ = options.precision != Precision::full;
  cache_ = std::make_unique<ContiguousKvCache>(hp.n_layer, hp.k_dim(), hp.v_dim(), n_ctx_, type);
}

Context::Context(std::shared_ptr<const Model> model, const ContextOptions& options,
                 std::unique_ptr<KvCache> cache)
    : model_(std::move(model)), options_(options), pool_(std::max(1, options.n_threads)) {
  const HParams& hp = model_->hparams();
  if (!cache || cache->n_layer() != hp.n_layer || cache->k_dim() != hp.k_dim() ||
      cache->v_dim() != hp.v_dim()) {
    throw_error(errc::invalid_argument, "the KV cache does not match the model's shape");
  }
  n_ctx_ = cache->max_positions();
  integer_ = options.precision != Precision::full;
  cache_ = std::move(cache);
}

void Context::check(std::span<const BatchToken> batch) {
  const HParams& hp = model_->hparams();
  for (const auto& t : batch) {
    if (t.token < 0 || t.token >= hp.n_vocab) {
      throw_error(errc::invalid_argument,
                  fmt::format("token id {} is outside the vocabulary (0..{})", t.token,
                              hp.n_vocab - 1));
    }
    if (t.pos < 0) throw_error(errc::invalid_argument, "negative position in a batch");
  }
  // Reserve the cache up to each sequence's largest position.
  for (const auto& t : batch) {
    if (t.pos + 1 > cache_->size(t.seq)) cache_->reserve(t.seq, t.pos + 1);
    cache_->prepare_write(t.seq, t.pos);
  }
}

void Context::rope_tables(std::span<const BatchToken> batch) {
  // Angles in float32 the way transformers computes them, also in its float64 models:
  // inv_freq = 1 / base^(2i/d) in float32, angle = inv_freq * position rounded to float32, then
  // cos and sin of that angle. Attention over random weights amplifies angle differences, so
  // matching this rounding is what puts the logits within 1e-6 of the reference.
  const HParams& hp = model_->hparams();
  const std::int64_t half = hp.rope_dim / 2;
  cos_.resize(batch.size() * static_cast<std::size_t>(half));
  sin_.resize(cos_.size());
  const float* factors = model_->weights().rope_freqs;
  const auto base = static_cast<float>(hp.rope_base);
  for (std::size_t t = 0; t < batch.size(); ++t) {
    const auto p = static_cast<float>(static_cast<double>(batch[t].pos) * hp.rope_position_scale);
    for (std::int64_t i = 0; i < half; ++i) {
      const float exponent = static_cast<float>(2 * i) / static_cast<float>(hp.rope_dim);
      float inv_freq = 1.0f / std::pow(base, exponent);
      if (factors) inv_freq /= factors[i];
      if (options_.rope_freq_f16) inv_freq = k::half_to_float(k::float_to_half(inv_freq));
      const float theta = inv_freq * p;
      cos_[t * half + i] = static_cast<float>(std::cos(static_cast<double>(theta)));
      sin_[t * half + i] = static_cast<float>(std::sin(static_cast<double>(theta)));
    }
  }
}

namespace {

void store_row(const float* src, std::byte* dst, std::int64_t n, KvType type) {
  if (type == KvType::f32) {
    std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float));
  } else {
    auto* h = reinterpret_cast<std::uint16_t*>(dst);
    for (std::int64_t i = 0; i < n; ++i) h[i] = k::float_to_half(src[i]);
  }
}


}  // namespace

void Context::attention(std::span<const BatchToken> batch, std::int64_t il) {
  const HParams& hp = model_->hparams();
  const std::int64_t n_tok = static_cast<std::int64_t>(batch.size());
  const std::int64_t group = hp.n_head / hp.n_head_kv;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hp.head_dim_k)));
  std::int64_t max_len = 0;
  for (const auto& t : batch) max_len = std::max(max_len, t.pos + 1);
  // A task is one token's query heads that share a KV head (grouped-query attention), or a part
  // of them when there are too few tasks for the threads: the kernels read each cache row once
  // for two heads, and a run of rows stays in L1 for the others.
  const auto ceil_div = [](std::int64_t a, std::int64_t b) { return (a + b - 1) / b; };
  const std::int64_t want_parts =
      std::clamp<std::int64_t>(ceil_div(4 * pool_.size(), n_tok * hp.n_head_kv), 1, group);
  const std::int64_t heads_per_task = ceil_div(group, want_parts);
  const std::int64_t parts = ceil_div(group, heads_per_task);
  scores_.resize(static_cast<std::size_t>(pool_.size() * heads_per_task * max_len));
  const KvType type = cache_->type();
  const auto wtype = type == KvType::f32 ? k::WeightType::f32 : k::WeightType::f16;
  const k::ScoresFn scores_of = k::scores_function(wtype);
  const k::WeightedSumFn weighted_sum = k::weighted_sum_function(wtype);
  const std::size_t elem = type == KvType::f32 ? 4 : 2;
  // Rows per run at most (the cache's runs are split further): 64 rows of one KV head, 8 KiB in
  // float16. The kernels' value for a row does not depend on the run it is in.
  constexpr std::int64_t kRun = 64;
  pool_.parallel_for(n_tok * hp.n_head_kv * parts, [&](std::int64_t task, int worker) {
    const std::int64_t t = task / (hp.n_head_kv * parts);
    const std::int64_t kvh = task / parts % hp.n_head_kv;
    const std::int64_t h0 = kvh * group + task % parts * heads_per_task;
    const std::int64_t nh = std::min(heads_per_task, (kvh + 1) * group - h0);
    const BatchToken& bt = batch[static_cast<std::size_t>(t)];
    const float* q = q_.data() + t * hp.q_dim() + h0 * hp.head_dim_k;
    float* scores = scores_.data() + worker * heads_per_task * max_len;
    float* out = att_.data() + t * hp.n_head * hp.head_dim_v + h0 * hp.head_dim_v;
    const std::int64_t len = bt.pos + 1;
    const std::size_t k_off = static_cast<std::size_t>(kvh * hp.head_dim_k) * elem;
    const std::size_t v_off = static_cast<std::size_t>(kvh * hp.head_dim_v) * elem;
    // Scores over positions 0..pos, run by run, for every head.
    for (std::int64_t p = 0; p < len;) {
      const KvRows r = cache_->rows(il, bt.seq, p);
      const std::int64_t n = std::min({r.count, len - p, kRun});
      scores_of(q, nh, r.k + k_off, r.k_stride, n, hp.head_dim_k, scale, scores + p, max_len);
      p += n;
    }
    for (std::int64_t g = 0; g < nh; ++g) k::softmax(scores + g * max_len, len);
    std::fill(out, out + nh * hp.head_dim_v, 0.0f);
    for (std::int64_t p = 0; p < len;) {
      const KvRows r = cache_->rows(il, bt.seq, p);
      const std::int64_t n = std::min({r.count, len - p, kRun});
      weighted_sum(scores + p, max_len, nh, r.v + v_off, r.v_stride, n, hp.head_dim_v, out);
      p += n;
    }
  });
}

void Context::layer(std::span<const BatchToken> batch, std::int64_t il) {
  const HParams& hp = model_->hparams();
  const LayerWeights& L = model_->weights().layers[static_cast<std::size_t>(il)];
  const std::int64_t n_tok = static_cast<std::int64_t>(batch.size());
  const std::int64_t e = hp.n_embd;
  for (std::int64_t t = 0; t < n_tok; ++t) {
    k::rms_norm(x_.data() + t * e, L.attn_norm, xn_.data() + t * e, e, hp.rms_eps);
  }
  const k::MatmulOut qkv[] = {{&L.wq, q_.data(), hp.q_dim()},
                              {&L.wk, k_.data(), hp.k_dim()},
                              {&L.wv, v_.data(), hp.v_dim()}};
  k::matmul_many(qkv, xn_.data(), n_tok, e, integer_, scratch_, pool_);
  const std::int64_t half = hp.rope_dim / 2;
  for (std::int64_t t = 0; t < n_tok; ++t) {
    float* q = q_.data() + t * hp.q_dim();
    float* kk = k_.data() + t * hp.k_dim();
    float* v = v_.data() + t * hp.v_dim();
    if (L.bq) {
      for (std::int64_t i = 0; i < hp.q_dim(); ++i) q[i] += L.bq[i];
    }
    if (L.bk) {
      for (std::int64_t i = 0; i < hp.k_dim(); ++i) kk[i] += L.bk[i];
    }
    if (L.bv) {
      for (std::int64_t i = 0; i < hp.v_dim(); ++i) v[i] += L.bv[i];
    }
    const float* c = cos_.data() + t * half;
    const float* s = sin_.data() + t * half;
    for (std::int64_t h = 0; h < hp.n_head; ++h) {
      float* qh = q + h * hp.head_dim_k;
      if (L.q_norm) k::rms_norm(qh, L.q_norm, qh, hp.head_dim_k, hp.rms_eps);
      k::rope(qh, hp.rope_dim, c, s, hp.arch->rope_neox);
    }
    for (std::int64_t h = 0; h < hp.n_head_kv; ++h) {
      float* kh = kk + h * hp.head_dim_k;
      if (L.k_norm) k::rms_norm(kh, L.k_norm, kh, hp.head_dim_k, hp.rms_eps);
      k::rope(kh, hp.rope_dim, c, s, hp.arch->rope_neox);
    }
    const BatchToken& bt = batch[static_cast<std::size_t>(t)];
    const KvRows r = cache_->rows(il, bt.seq, bt.pos);
    store_row(kk, r.k, hp.k_dim(), cache_->type());
    store_row(v, r.v, hp.v_dim(), cache_->type());
  }
  attention(batch, il);
  const std::int64_t att_dim = hp.n_head * hp.head_dim_v;
  k::matmul(L.wo, att_.data(), n_tok, att_dim, xn_.data(), e, integer_, scratch_, pool_);
  for (std::int64_t i = 0; i < n_tok * e; ++i) x_[i] += xn_[i];
  for (std::int64_t t = 0; t < n_tok; ++t) {
    k::rms_norm(x_.data() + t * e, L.ffn_norm, xn_.data() + t * e, e, hp.rms_eps);
  }
  const k::MatmulOut gate_up[] = {{&L.gate, gate_.data(), hp.n_ff}, {&L.up, up_.data(), hp.n_ff}};
  k::matmul_many(gate_up, xn_.data(), n_tok, e, integer_, scratch_, pool_);
  constexpr std::int64_t kSwigluChunk = 2048;  // values per task
  const std::int64_t n_ff_all = n_tok * hp.n_ff;
  pool_.parallel_for((n_ff_all + kSwigluChunk - 1) / kSwigluChunk, [&](std::int64_t c, int) {
    const std::int64_t i = c * kSwigluChunk;
    const std::int64_t n = std::min(kSwigluChunk, n_ff_all - i);
    k::swiglu(gate_.data() + i, up_.data() + i, gate_.data() + i, n);
  });
  k::matmul(L.down, gate_.data(), n_tok, hp.n_ff, xn_.data(), e, integer_, scratch_, pool_);
  for (std::int64_t i = 0; i < n_tok * e; ++i) x_[i] += xn_[i];
}

std::span<const float> Context::eval(std::span<const BatchToken> batch) {
  if (batch.empty()) return {};
  check(batch);
  const HParams& hp = model_->hparams();
  const Weights& w = model_->weights();
  const auto n_tok = static_cast<std::int64_t>(batch.size());
  const std::int64_t e = hp.n_embd;
  auto size = [&](std::vector<float>& v, std::int64_t n) { v.resize(static_cast<std::size_t>(n)); };
  size(x_, n_tok * e);
  size(xn_, n_tok * e);
  size(q_, n_tok * hp.q_dim());
  size(k_, n_tok * hp.k_dim());
  size(v_, n_tok * hp.v_dim());
  size(att_, n_tok * hp.n_head * hp.head_dim_v);
  size(gate_, n_tok * hp.n_ff);
  size(up_, n_tok * hp.n_ff);
  for (std::int64_t t = 0; t < n_tok; ++t) {
    const TokenId id = batch[static_cast<std::size_t>(t)].token;
    k::dequantize_row(w.token_embd.type, w.token_embd.row(id), x_.data() + t * e, e);
  }
  rope_tables(batch);
  for (std::int64_t il = 0; il < hp.n_layer; ++il) layer(batch, il);
  // Final norm and output projection, only for the tokens that want logits.
  std::int64_t n_out = 0;
  for (std::int64_t t = 0; t < n_tok; ++t) {
    if (!batch[static_cast<std::size_t>(t)].logits) continue;
    k::rms_norm(x_.data() + t * e, w.output_norm, xn_.data() + n_out * e, e, hp.rms_eps);
    ++n_out;
  }
  size(logits_, n_out * hp.n_vocab);
  k::matmul(w.output, xn_.data(), n_out, e, logits_.data(), hp.n_vocab, integer_, scratch_, pool_);
  return logits_;
}

}  // namespace llmux::engine::model
