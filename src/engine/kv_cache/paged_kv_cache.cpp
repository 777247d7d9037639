#include "engine/kv_cache/paged_kv_cache.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include <llmux/error.hpp>

namespace llmux::engine::kv_cache {
namespace {

std::uint64_t mix(std::uint64_t h, std::uint64_t v) noexcept {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  return h;
}

std::uint64_t chain_hash(std::uint64_t parent, std::span<const TokenId> tokens) noexcept {
  std::uint64_t h = mix(parent, 0x51ed27a1ULL + tokens.size());
  for (const TokenId t : tokens) h = mix(h, static_cast<std::uint32_t>(t));
  return h | 1;  // never 0, which stands for "no parent"
}

}  // namespace

PagedKvCache::PagedKvCache(std::int64_t n_layer, std::int64_t k_dim, std::int64_t v_dim,
                           std::int64_t max_positions, KvType type, std::int64_t block_size,
                           std::int64_t n_blocks)
    : n_layer_(n_layer),
      k_dim_(k_dim),
      v_dim_(v_dim),
      max_positions_(max_positions),
      type_(type),
      block_size_(block_size) {
  if (block_size <= 0 || n_blocks <= 0 || n_blocks > (1 << 30)) {
    throw_error(errc::invalid_argument,
                fmt::format("paged KV cache: bad geometry ({} blocks of {} positions)", n_blocks,
                            block_size));
  }
  blocks_.resize(static_cast<std::size_t>(n_blocks));
  free_.reserve(blocks_.size());
  for (auto id = static_cast<std::int32_t>(n_blocks); id-- > 0;) free_.push_back(id);
}

std::size_t PagedKvCache::block_bytes() const noexcept {
  const std::size_t elem = type_ == KvType::f32 ? 4 : 2;
  return static_cast<std::size_t>(n_layer_ * block_size_ * (k_dim_ + v_dim_)) * elem;
}

std::byte* PagedKvCache::storage(std::int32_t id) {
  auto& b = blocks_[static_cast<std::size_t>(id)];
  if (!b.data) b.data = std::make_unique<std::byte[]>(block_bytes());
  return b.data.get();
}

std::int64_t PagedKvCache::free_blocks() const noexcept {
  return static_cast<std::int64_t>(free_.size() + lru_.size());
}

std::int64_t PagedKvCache::blocks_of(SeqId seq) const noexcept {
  const auto it = seqs_.find(seq);
  return it == seqs_.end() ? 0 : static_cast<std::int64_t>(it->second.table.size());
}

std::int64_t PagedKvCache::exclusive_blocks_of(SeqId seq) const noexcept {
  const auto it = seqs_.find(seq);
  if (it == seqs_.end()) return 0;
  std::int64_t n = 0;
  for (const std::int32_t id : it->second.table) n += blocks_[static_cast<std::size_t>(id)].refs == 1;
  return n;
}

void PagedKvCache::unpublish(std::int32_t id) {
  auto& b = blocks_[static_cast<std::size_t>(id)];
  if (!b.published) return;
  auto [lo, hi] = index_.equal_range(b.hash);
  for (auto it = lo; it != hi; ++it) {
    if (it->second == id) {
      index_.erase(it);
      break;
    }
  }
  b.published = false;
  b.tokens.clear();
}

std::int32_t PagedKvCache::take_block() {
  std::int32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = lru_.front();  // evict the least recently used cached block
    lru_.pop_front();
    unpublish(id);
  }
  blocks_[static_cast<std::size_t>(id)].refs = 1;
  storage(id);
  return id;
}

void PagedKvCache::release(std::int32_t id) {
  auto& b = blocks_[static_cast<std::size_t>(id)];
  if (--b.refs > 0) return;
  if (b.published) {
    b.lru_pos = lru_.insert(lru_.end(), id);
  } else {
    free_.push_back(id);
  }
}

void PagedKvCache::reserve(SeqId seq, std::int64_t n) {
  model::check_positions(n, max_positions_);
  auto& s = seqs_[seq];
  if (n <= s.size) return;
  const std::int64_t need = blocks_for(n) - static_cast<std::int64_t>(s.table.size());
  if (need > free_blocks()) {
    throw_error(errc::overloaded,
                fmt::format("paged KV cache: {} more blocks needed, {} free", need,
                            free_blocks()));
  }
  for (std::int64_t i = 0; i < need; ++i) s.table.push_back(take_block());
  s.size = n;
}

std::int64_t PagedKvCache::size(SeqId seq) const noexcept {
  const auto it = seqs_.find(seq);
  return it == seqs_.end() ? 0 : it->second.size;
}

KvRows PagedKvCache::rows(std::int64_t layer, SeqId seq, std::int64_t first) {
  const Sequence& s = seqs_.find(seq)->second;
  const std::int32_t id = s.table[static_cast<std::size_t>(first / block_size_)];
  const std::int64_t off = first % block_size_;
  const std::size_t elem = type_ == KvType::f32 ? 4 : 2;
  KvRows r;
  r.k_stride = static_cast<std::size_t>(k_dim_) * elem;
  r.v_stride = static_cast<std::size_t>(v_dim_) * elem;
  std::byte* base = blocks_[static_cast<std::size_t>(id)].data.get() +
                    static_cast<std::size_t>(layer * block_size_) * (r.k_stride + r.v_stride);
  r.k = base + static_cast<std::size_t>(off) * r.k_stride;
  r.v = base + static_cast<std::size_t>(block_size_) * r.k_stride +
        static_cast<std::size_t>(off) * r.v_stride;
  r.count = std::min(block_size_ - off, s.size - first);
  return r;
}

bool PagedKvCache::is_shared(SeqId seq, std::int64_t pos) const noexcept {
  const auto it = seqs_.find(seq);
  if (it == seqs_.end()) return false;
  const auto i = static_cast<std::size_t>(pos / block_size_);
  if (i >= it->second.table.size()) return false;
  const Block& b = blocks_[static_cast<std::size_t>(it->second.table[i])];
  return b.refs > 1 || b.published;
}

void PagedKvCache::prepare_write(SeqId seq, std::int64_t pos) {
  if (!is_shared(seq, pos)) return;
  auto& s = seqs_.find(seq)->second;
  const auto i = static_cast<std::size_t>(pos / block_size_);
  const std::int32_t old = s.table[i];
  // Held by others, or published (its cached contents must stay as published): copy it.
  if (free_blocks() == 0) {
    throw_error(errc::overloaded, "paged KV cache: no free block to copy a shared block into");
  }
  const std::int32_t copy = take_block();
  std::memcpy(storage(copy), storage(old), block_bytes());
  release(old);
  s.table[i] = copy;
  if (s.published > static_cast<std::int64_t>(i)) s.published = static_cast<std::int64_t>(i);
  ++copies_;
}

void PagedKvCache::remove(SeqId seq) {
  const auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  for (const std::int32_t id : it->second.table) release(id);
  seqs_.erase(it);
}

PrefixMatch PagedKvCache::match_prefix(std::span<const TokenId> tokens) const {
  PrefixMatch m;
  std::uint64_t parent = 0;
  const auto bs = static_cast<std::size_t>(block_size_);
  for (std::size_t start = 0; start + bs <= tokens.size(); start += bs) {
    const auto own = tokens.subspan(start, bs);
    const std::uint64_t h = chain_hash(parent, own);
    std::int32_t found = -1;
    auto [lo, hi] = index_.equal_range(h);
    for (auto it = lo; it != hi && found < 0; ++it) {
      const Block& b = blocks_[static_cast<std::size_t>(it->second)];
      if (b.parent_hash == parent && std::equal(own.begin(), own.end(), b.tokens.begin(),
                                                b.tokens.end())) {
        found = it->second;
      }
    }
    if (found < 0) break;
    m.blocks.push_back(found);
    if (blocks_[static_cast<std::size_t>(found)].refs == 0) ++m.unheld;
    parent = h;
  }
  m.positions = static_cast<std::int64_t>(m.blocks.size()) * block_size_;
  return m;
}

void PagedKvCache::attach_prefix(SeqId seq, const PrefixMatch& match) {
  auto& s = seqs_[seq];
  if (!s.table.empty()) {
    throw_error(errc::invalid_argument, "paged KV cache: prefix attached to a non-empty sequence");
  }
  for (const std::int32_t id : match.blocks) {
    Block& b = blocks_[static_cast<std::size_t>(id)];
    if (b.refs++ == 0) lru_.erase(b.lru_pos);  // cached without holders until now
    s.table.push_back(id);
  }
  s.size = match.positions;
  s.published = static_cast<std::int64_t>(match.blocks.size());
}

void PagedKvCache::publish(SeqId seq, std::span<const TokenId> tokens, std::int64_t n_computed) {
  const auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  Sequence& s = it->second;
  const std::int64_t whole = std::min<std::int64_t>(
      {n_computed, static_cast<std::int64_t>(tokens.size()), s.size}) / block_size_;
  std::uint64_t parent = 0;
  if (s.published > 0) {
    parent = blocks_[static_cast<std::size_t>(s.table[static_cast<std::size_t>(s.published - 1)])]
                 .hash;
  }
  for (std::int64_t i = s.published; i < whole; ++i) {
    const auto own = tokens.subspan(static_cast<std::size_t>(i * block_size_),
                                    static_cast<std::size_t>(block_size_));
    const std::uint64_t h = chain_hash(parent, own);
    Block& b = blocks_[static_cast<std::size_t>(s.table[static_cast<std::size_t>(i)])];
    if (!b.published) {
      b.published = true;
      b.hash = h;
      b.parent_hash = parent;
      b.tokens.assign(own.begin(), own.end());
      index_.emplace(h, s.table[static_cast<std::size_t>(i)]);
    }
    parent = h;
  }
  s.published = std::max(s.published, whole);
}

}  // namespace llmux::engine::kv_cache
