#include "engine/model/reference.hpp"

#include <cmath>

namespace llmux::engine::model {
namespace {

std::vector<float> dequant(const Matrix& m) {
  std::vector<float> out(static_cast<std::size_t>(m.rows * m.cols));
  for (std::int64_t r = 0; r < m.rows; ++r) {
    kernels::dequantize_row(m.type, m.row(r), out.data() + r * m.cols, m.cols);
  }
  return out;
}

// out[r] = sum_c w[r][c] * x[c]
void matvec(const std::vector<float>& w, const float* x, float* out, std::int64_t rows,
            std::int64_t cols) {
  for (std::int64_t r = 0; r < rows; ++r) {
    double s = 0;
    for (std::int64_t c = 0; c < cols; ++c) s += static_cast<double>(w[r * cols + c]) * x[c];
    out[r] = static_cast<float>(s);
  }
}

void rmsnorm(float* out, const float* x, const float* w, std::int64_t n, float eps) {
  double ss = 0;
  for (std::int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const double scale = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
  for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(x[i] * scale * w[i]);
}

void rotate(float* v, const HParams& hp, const float* factors, std::int64_t pos) {
  const std::int64_t half = hp.rope_dim / 2;
  for (std::int64_t i = 0; i < half; ++i) {
    double theta = static_cast<double>(pos) * hp.rope_position_scale /
                   std::pow(hp.rope_base, static_cast<double>(2 * i) / static_cast<double>(hp.rope_dim));
    if (factors) theta /= factors[i];
    const std::int64_t a = hp.arch->rope_neox ? i : 2 * i;
    const std::int64_t b = hp.arch->rope_neox ? i + half : 2 * i + 1;
    const double x0 = v[a], x1 = v[b];
    v[a] = static_cast<float>(x0 * std::cos(theta) - x1 * std::sin(theta));
    v[b] = static_cast<float>(x0 * std::sin(theta) + x1 * std::cos(theta));
  }
}

}  // namespace

ReferenceForward::ReferenceForward(std::shared_ptr<const Model> model) : model_(std::move(model)) {
  const Weights& w = model_->weights();
  embd_ = dequant(w.token_embd);
  output_ = dequant(w.output);
  for (const LayerWeights& L : w.layers) {
    layers_.push_back({dequant(L.wq), dequant(L.wk), dequant(L.wv), dequant(L.wo),
                       dequant(L.gate), dequant(L.up), dequant(L.down), {}, {}});
  }
}

std::vector<float> ReferenceForward::step(TokenId token) {
  const HParams& hp = model_->hparams();
  const Weights& w = model_->weights();
  const std::int64_t e = hp.n_embd, hd = hp.head_dim_k, hdv = hp.head_dim_v;
  std::vector<float> x(embd_.begin() + token * e, embd_.begin() + (token + 1) * e);
  std::vector<float> xb(static_cast<std::size_t>(std::max(e, hp.n_head * hdv)));
  std::vector<float> q(static_cast<std::size_t>(hp.q_dim())), k(static_cast<std::size_t>(hp.k_dim())),
      v(static_cast<std::size_t>(hp.v_dim())), att(static_cast<std::size_t>(hp.n_head * hdv)),
      h1(static_cast<std::size_t>(hp.n_ff)), h2(static_cast<std::size_t>(hp.n_ff));
  for (std::size_t il = 0; il < layers_.size(); ++il) {
    Layer& l = layers_[il];
    const LayerWeights& L = w.layers[il];
    rmsnorm(xb.data(), x.data(), L.attn_norm, e, hp.rms_eps);
    matvec(l.wq, xb.data(), q.data(), hp.q_dim(), e);
    matvec(l.wk, xb.data(), k.data(), hp.k_dim(), e);
    matvec(l.wv, xb.data(), v.data(), hp.v_dim(), e);
    for (std::int64_t i = 0; L.bq && i < hp.q_dim(); ++i) q[i] += L.bq[i];
    for (std::int64_t i = 0; L.bk && i < hp.k_dim(); ++i) k[i] += L.bk[i];
    for (std::int64_t i = 0; L.bv && i < hp.v_dim(); ++i) v[i] += L.bv[i];
    for (std::int64_t h = 0; h < hp.n_head; ++h) {
      if (L.q_norm) rmsnorm(&q[h * hd], &q[h * hd], L.q_norm, hd, hp.rms_eps);
      rotate(&q[h * hd], hp, w.rope_freqs, pos_);
    }
    for (std::int64_t h = 0; h < hp.n_head_kv; ++h) {
      if (L.k_norm) rmsnorm(&k[h * hd], &k[h * hd], L.k_norm, hd, hp.rms_eps);
      rotate(&k[h * hd], hp, w.rope_freqs, pos_);
    }
    l.key_cache.insert(l.key_cache.end(), k.begin(), k.end());
    l.value_cache.insert(l.value_cache.end(), v.begin(), v.end());
    for (std::int64_t h = 0; h < hp.n_head; ++h) {
      const std::int64_t kvh = h / (hp.n_head / hp.n_head_kv);
      std::vector<double> scores(static_cast<std::size_t>(pos_ + 1));
      double max = -INFINITY;
      for (std::int64_t t = 0; t <= pos_; ++t) {
        double s = 0;
        for (std::int64_t i = 0; i < hd; ++i) {
          s += static_cast<double>(q[h * hd + i]) * l.key_cache[t * hp.k_dim() + kvh * hd + i];
        }
        scores[t] = s / std::sqrt(static_cast<double>(hd));
        max = std::max(max, scores[t]);
      }
      double sum = 0;
      for (auto& s : scores) sum += (s = std::exp(s - max));
      for (std::int64_t i = 0; i < hdv; ++i) {
        double acc = 0;
        for (std::int64_t t = 0; t <= pos_; ++t) {
          acc += scores[t] / sum * l.value_cache[t * hp.v_dim() + kvh * hdv + i];
        }
        att[h * hdv + i] = static_cast<float>(acc);
      }
    }
    matvec(l.wo, att.data(), xb.data(), e, hp.n_head * hdv);
    for (std::int64_t i = 0; i < e; ++i) x[i] += xb[i];
    rmsnorm(xb.data(), x.data(), L.ffn_norm, e, hp.rms_eps);
    matvec(l.gate, xb.data(), h1.data(), hp.n_ff, e);
    matvec(l.up, xb.data(), h2.data(), hp.n_ff, e);
    for (std::int64_t i = 0; i < hp.n_ff; ++i) h1[i] = h1[i] / (1.0f + std::exp(-h1[i])) * h2[i];
    matvec(l.down, h1.data(), xb.data(), e, hp.n_ff);
    for (std::int64_t i = 0; i < e; ++i) x[i] += xb[i];
  }
  rmsnorm(xb.data(), x.data(), w.output_norm, e, hp.rms_eps);
  std::vector<float> logits(static_cast<std::size_t>(hp.n_vocab));
  matvec(output_, xb.data(), logits.data(), hp.n_vocab, e);
  ++pos_;
  return logits;
}

}  // namespace llmux::engine::model
