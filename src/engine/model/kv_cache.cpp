#include "engine/model/kv_cache.hpp"

#include <fmt/format.h>

#include <llmux/error.hpp>

namespace llmux::engine::model {

ContiguousKvCache::ContiguousKvCache(std::int64_t n_layer, std::int64_t k_dim, std::int64_t v_dim,
                                     std::int64_t max_positions, KvType type)
    : n_layer_(n_layer), k_dim_(k_dim), v_dim_(v_dim), max_positions_(max_positions), type_(type) {}

void check_positions(std::int64_t n, std::int64_t max_positions) {
  if (n > max_positions) {
    throw_error(errc::context_length_exceeded,
                fmt::format("{} tokens do not fit the context of {} tokens", n, max_positions));
  }
}

void ContiguousKvCache::reserve(SeqId seq, std::int64_t n) {
  check_positions(n, max_positions_);
  auto& s = seqs_[seq];
  if (n <= s.size) return;
  s.k.resize(static_cast<std::size_t>(n_layer_));
  s.v.resize(static_cast<std::size_t>(n_layer_));
  for (std::int64_t l = 0; l < n_layer_; ++l) {
    s.k[l].resize(static_cast<std::size_t>(n * k_dim_) * elem());
    s.v[l].resize(static_cast<std::size_t>(n * v_dim_) * elem());
  }
  s.size = n;
}

std::int64_t ContiguousKvCache::size(SeqId seq) const noexcept {
  const auto it = seqs_.find(seq);
  return it == seqs_.end() ? 0 : it->second.size;
}

KvRows ContiguousKvCache::rows(std::int64_t layer, SeqId seq, std::int64_t first) {
  auto& s = seqs_.at(seq);
  KvRows r;
  r.k_stride = static_cast<std::size_t>(k_dim_) * elem();
  r.v_stride = static_cast<std::size_t>(v_dim_) * elem();
  r.k = s.k[layer].data() + static_cast<std::size_t>(first) * r.k_stride;
  r.v = s.v[layer].data() + static_cast<std::size_t>(first) * r.v_stride;
  r.count = s.size - first;
  return r;
}

void ContiguousKvCache::remove(SeqId seq) { seqs_.erase(seq); }

}  // namespace llmux::engine::model
