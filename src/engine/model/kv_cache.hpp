// The key/value cache of the attention layers, behind an interface that a paged cache can
// implement: storage is reached in runs of consecutive positions ("rows"), never as one array.
//
// For every layer and sequence, position p holds the K vector (k_dim values) and the V vector
// (v_dim values) of the token at p, in float32 or float16. Not thread-safe: one forward pass
// at a time writes and reads it; different positions may be accessed from several threads of
// that pass.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace llmux::engine::model {

using SeqId = std::int32_t;

enum class KvType { f32, f16 };

// Consecutive positions [first, first + count) of one layer and sequence.
struct KvRows {
  std::byte* k = nullptr;  // count rows of k_dim values, `k_stride` bytes apart
  std::byte* v = nullptr;
  std::int64_t count = 0;
  std::size_t k_stride = 0;
  std::size_t v_stride = 0;
};

class KvCache {
 public:
  virtual ~KvCache() = default;

  virtual KvType type() const noexcept = 0;
  virtual std::int64_t n_layer() const noexcept = 0;
  virtual std::int64_t k_dim() const noexcept = 0;
  virtual std::int64_t v_dim() const noexcept = 0;
  // The most positions one sequence may hold.
  virtual std::int64_t max_positions() const noexcept = 0;

  // Makes positions [0, n) of `seq` available (contents of new positions undefined). Throws
  // llmux::Error(context_length_exceeded) when n exceeds what the cache can hold.
  virtual void reserve(SeqId seq, std::int64_t n) = 0;
  // Positions available for `seq` (0 for an unknown sequence).
  virtual std::int64_t size(SeqId seq) const noexcept = 0;
  // The run of positions starting at `first` (< size(seq)); count >= 1.
  virtual KvRows rows(std::int64_t layer, SeqId seq, std::int64_t first) = 0;
  // Called before position `pos` (< size(seq)) of every layer is written: a cache that shares
  // storage between sequences makes that position private to `seq` here.
  virtual void prepare_write(SeqId seq, std::int64_t pos) {
    (void)seq;
    (void)pos;
  }
  // Forgets the sequence and frees its storage.
  virtual void remove(SeqId seq) = 0;
};

// Throws llmux::Error(context_length_exceeded) when n positions exceed `max_positions`.
void check_positions(std::int64_t n, std::int64_t max_positions);

// One growable buffer per sequence and layer: the simplest cache, one run per sequence.
class ContiguousKvCache final : public KvCache {
 public:
  ContiguousKvCache(std::int64_t n_layer, std::int64_t k_dim, std::int64_t v_dim,
                    std::int64_t max_positions, KvType type);

  KvType type() const noexcept override { return type_; }
  std::int64_t n_layer() const noexcept override { return n_layer_; }
  std::int64_t k_dim() const noexcept override { return k_dim_; }
  std::int64_t v_dim() const noexcept override { return v_dim_; }
  std::int64_t max_positions() const noexcept override { return max_positions_; }
  void reserve(SeqId seq, std::int64_t n) override;
  std::int64_t size(SeqId seq) const noexcept override;
  KvRows rows(std::int64_t layer, SeqId seq, std::int64_t first) override;
  void remove(SeqId seq) override;

 private:
  struct Sequence {
    std::int64_t size = 0;
    std::vector<std::vector<std::byte>> k, v;  // per layer
  };
  std::size_t elem() const noexcept { return type_ == KvType::f32 ? 4 : 2; }

  std::int64_t n_layer_, k_dim_, v_dim_, max_positions_;
  KvType type_;
  std::unordered_map<SeqId, Sequence> seqs_;
};

}  // namespace llmux::engine::model
