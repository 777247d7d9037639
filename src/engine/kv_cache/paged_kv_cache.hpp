// A paged key/value cache: storage is a pool of fixed-size blocks (`block_size` positions of
// every layer's K and V), each sequence holds a table of blocks, and blocks are freed when the
// sequence ends. Blocks whose positions are all computed can be published under the tokens
// they hold (with everything before them): a later sequence that starts with the same tokens
// attaches those blocks instead of computing them again (prefix sharing). Shared blocks are
// reference-counted and copied before a sequence writes into one (copy-on-write). A published
// block nobody holds stays cached until its storage is needed (least recently used first).
//
// Capacity accounting is explicit so that a scheduler can plan: free_blocks() counts blocks
// that reserve() may take (unused plus cached-but-unheld ones); reserve() throws only when the
// caller asked for more than that.
//
// Not thread-safe, like every KvCache: one thread plans and evaluates; during an evaluation
// several threads may call rows() at once (it does not modify the cache).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/model/kv_cache.hpp"

namespace llmux::engine::kv_cache {

using model::KvRows;
using model::KvType;
using model::SeqId;
using TokenId = std::int32_t;

// The result of looking up a prompt's prefix in the published blocks.
struct PrefixMatch {
  std::vector<std::int32_t> blocks;  // matching blocks, in order
  std::int64_t positions = 0;        // positions they cover (blocks.size() * block_size)
  std::int64_t unheld = 0;           // of those, blocks no sequence holds now (cached)
};

class PagedKvCache final : public model::KvCache {
 public:
  // `n_blocks` blocks of `block_size` positions; `max_positions` positions per sequence.
  // Storage of a block is allocated the first time it is used.
  PagedKvCache(std::int64_t n_layer, std::int64_t k_dim, std::int64_t v_dim,
               std::int64_t max_positions, KvType type, std::int64_t block_size,
               std::int64_t n_blocks);

  KvType type() const noexcept override { return type_; }
  std::int64_t n_layer() const noexcept override { return n_layer_; }
  std::int64_t k_dim() const noexcept override { return k_dim_; }
  std::int64_t v_dim() const noexcept override { return v_dim_; }
  std::int64_t max_positions() const noexcept override { return max_positions_; }
  // Takes blocks until positions [0, n) are covered. Throws context_length_exceeded when
  // n > max_positions(), overloaded when the pool has fewer free blocks than needed (the
  // sequence keeps what it had).
  void reserve(SeqId seq, std::int64_t n) override;
  std::int64_t size(SeqId seq) const noexcept override;
  KvRows rows(std::int64_t layer, SeqId seq, std::int64_t first) override;
  // Copies the block holding `pos` if another sequence shares it (takes one free block).
  void prepare_write(SeqId seq, std::int64_t pos) override;
  void remove(SeqId seq) override;

  std::int64_t block_size() const noexcept { return block_size_; }
  std::int64_t n_blocks() const noexcept { return static_cast<std::int64_t>(blocks_.size()); }
  // Blocks reserve() can take: never used, released, or cached without a holder.
  std::int64_t free_blocks() const noexcept;
  // Blocks held by at least one sequence.
  std::int64_t used_blocks() const noexcept { return n_blocks() - free_blocks(); }
  // Blocks a sequence holds.
  std::int64_t blocks_of(SeqId seq) const noexcept;
  // Blocks of `seq` no other sequence holds (what removing it gives back).
  std::int64_t exclusive_blocks_of(SeqId seq) const noexcept;
  // Blocks needed to cover n positions.
  std::int64_t blocks_for(std::int64_t n) const noexcept {
    return (n + block_size_ - 1) / block_size_;
  }
  // Whether writing into the block holding `pos` of `seq` would copy it.
  bool is_shared(SeqId seq, std::int64_t pos) const noexcept;

  // The longest run of published blocks that hold exactly the first tokens of `tokens`
  // (whole blocks only). Does not change the cache.
  PrefixMatch match_prefix(std::span<const TokenId> tokens) const;
  // Makes `seq` (which must hold nothing) start with the matched blocks: it holds them
  // shared, as if it had computed those positions.
  void attach_prefix(SeqId seq, const PrefixMatch& match);
  // Publishes the whole blocks of `seq` within its first `n_computed` positions, whose tokens
  // are `tokens[0, n_computed)`, so later sequences can share them. Cheap when nothing new.
  void publish(SeqId seq, std::span<const TokenId> tokens, std::int64_t n_computed);

  // Counters for tests and benchmarks.
  std::int64_t cached_blocks() const noexcept { return static_cast<std::int64_t>(lru_.size()); }
  std::int64_t copies() const noexcept { return copies_; }

 private:
  struct Block {
    std::unique_ptr<std::byte[]> data;  // allocated on first use
    int refs = 0;
    bool published = false;
    std::uint64_t hash = 0;         // chain hash of every token up to the block's end
    std::uint64_t parent_hash = 0;  // chain hash of the block before (0 for the first)
    std::vector<TokenId> tokens;    // the block's own tokens, when published
    std::list<std::int32_t>::iterator lru_pos;  // valid while cached without holders
  };
  struct Sequence {
    std::vector<std::int32_t> table;
    std::int64_t size = 0;       // positions reserved
    std::int64_t published = 0;  // leading blocks already published
  };

  std::size_t block_bytes() const noexcept;
  std::byte* storage(std::int32_t id);
  std::int32_t take_block();  // from the free list, else the least recently used cached one
  void release(std::int32_t id);
  void unpublish(std::int32_t id);

  std::int64_t n_layer_, k_dim_, v_dim_, max_positions_;
  KvType type_;
  std::int64_t block_size_;
  std::vector<Block> blocks_;
  std::vector<std::int32_t> free_;  // never used or released unpublished blocks
  std::list<std::int32_t> lru_;     // published blocks nobody holds, oldest first
  std::unordered_multimap<std::uint64_t, std::int32_t> index_;  // hash -> published block
  std::unordered_map<SeqId, Sequence> seqs_;
  std::int64_t copies_ = 0;
};

}  // namespace llmux::engine::kv_cache
