// The paged KV cache: blocks taken and given back, rows in runs within a block, prefix
// publishing and matching, copy-on-write of shared blocks, eviction of cached blocks.
#include <gtest/gtest.h>

#include <cstring>

#include <llmux/error.hpp>

#include "engine/kv_cache/paged_kv_cache.hpp"

namespace llmux::engine::kv_cache {
namespace {

float& k_at(PagedKvCache& c, SeqId s, std::int64_t layer, std::int64_t pos) {
  return *reinterpret_cast<float*>(c.rows(layer, s, pos).k);
}
float& v_at(PagedKvCache& c, SeqId s, std::int64_t layer, std::int64_t pos, std::int64_t i) {
  return reinterpret_cast<float*>(c.rows(layer, s, pos).v)[i];
}

TEST(PagedKvCache, ReservesWholeBlocksAndGivesThemBack) {
  PagedKvCache c(2, 3, 5, 100, KvType::f32, 4, 10);
  EXPECT_EQ(c.free_blocks(), 10);
  c.reserve(1, 9);
  EXPECT_EQ(c.blocks_of(1), 3);
  EXPECT_EQ(c.size(1), 9);
  EXPECT_EQ(c.free_blocks(), 7);
  const KvRows r = c.rows(1, 1, 5);
  EXPECT_EQ(r.count, 3);  // positions 5..7 of the second block
  EXPECT_EQ(r.k_stride, 12u);
  EXPECT_EQ(r.v_stride, 20u);
  EXPECT_EQ(c.rows(0, 1, 8).count, 1);  // only 9 positions reserved
  // Every (layer, position) has its own K and V storage.
  for (std::int64_t l = 0; l < 2; ++l) {
    for (std::int64_t p = 0; p < 9; ++p) {
      k_at(c, 1, l, p) = static_cast<float>(100 * l + p);
      for (int i = 0; i < 5; ++i) v_at(c, 1, l, p, i) = static_cast<float>(1000 * l + 10 * p + i);
    }
  }
  for (std::int64_t l = 0; l < 2; ++l) {
    for (std::int64_t p = 0; p < 9; ++p) {
      EXPECT_EQ(k_at(c, 1, l, p), static_cast<float>(100 * l + p));
      for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(v_at(c, 1, l, p, i), static_cast<float>(1000 * l + 10 * p + i));
      }
    }
  }
  c.remove(1);
  EXPECT_EQ(c.free_blocks(), 10);
  EXPECT_EQ(c.size(1), 0);
}

TEST(PagedKvCache, RefusesMoreThanItHasWithAClearError) {
  PagedKvCache c(1, 1, 1, 100, KvType::f16, 4, 3);
  c.reserve(1, 8);
  try {
    c.reserve(2, 8);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::overloaded);
  }
  EXPECT_EQ(c.blocks_of(2), 0);
  EXPECT_THROW(c.reserve(1, 101), ContextLengthExceededError);
  EXPECT_THROW(PagedKvCache(1, 1, 1, 10, KvType::f16, 0, 3), InvalidArgumentError);
}

TEST(PagedKvCache, PublishedPrefixesAreMatchedSharedAndCopiedOnWrite) {
  PagedKvCache c(1, 1, 1, 100, KvType::f32, 4, 10);
  const std::vector<TokenId> tokens = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  c.reserve(1, 10);
  for (std::int64_t p = 0; p < 10; ++p) k_at(c, 1, 0, p) = static_cast<float>(tokens[p]);
  c.publish(1, tokens, 10);  // two whole blocks
  const PrefixMatch none = c.match_prefix(std::vector<TokenId>{1, 2, 3, 5, 5, 6, 7, 8});
  EXPECT_TRUE(none.blocks.empty());
  const PrefixMatch one = c.match_prefix(std::vector<TokenId>{1, 2, 3, 4, 5, 6, 7, 9});
  EXPECT_EQ(one.positions, 4);
  const PrefixMatch m = c.match_prefix(tokens);
  ASSERT_EQ(m.positions, 8);
  EXPECT_EQ(m.unheld, 0);

  const auto free_before = c.free_blocks();
  c.attach_prefix(2, m);
  EXPECT_EQ(c.free_blocks(), free_before) << "sharing takes no storage";
  EXPECT_EQ(c.size(2), 8);
  EXPECT_EQ(k_at(c, 2, 0, 5), 6.0f);
  EXPECT_TRUE(c.is_shared(2, 7));
  c.prepare_write(2, 7);  // copy-on-write of the second block
  EXPECT_EQ(c.copies(), 1);
  EXPECT_EQ(c.free_blocks(), free_before - 1);
  k_at(c, 2, 0, 7) = -1.0f;
  EXPECT_EQ(k_at(c, 1, 0, 7), 8.0f) << "the original is untouched";
  EXPECT_EQ(k_at(c, 2, 0, 6), 7.0f) << "the copy has the block's contents";
  EXPECT_EQ(c.exclusive_blocks_of(2), 1);

  // Unheld published blocks stay cached, are found again, and are evicted when needed.
  c.remove(1);
  c.remove(2);
  EXPECT_EQ(c.free_blocks(), 10);
  EXPECT_EQ(c.cached_blocks(), 2);
  const PrefixMatch again = c.match_prefix(tokens);
  EXPECT_EQ(again.positions, 8);
  EXPECT_EQ(again.unheld, 2);
  c.reserve(3, 40);  // every block: the cached ones are evicted
  EXPECT_EQ(c.cached_blocks(), 0);
  EXPECT_TRUE(c.match_prefix(tokens).blocks.empty());
}

TEST(PagedKvCache, ABlockIsMatchedOnlyAfterTheSameTokensBeforeIt) {
  PagedKvCache c(1, 1, 1, 100, KvType::f32, 2, 10);
  c.reserve(1, 4);
  c.publish(1, std::vector<TokenId>{1, 2, 3, 4}, 4);
  EXPECT_EQ(c.match_prefix(std::vector<TokenId>{1, 2, 3, 4}).positions, 4);
  // Same second block, different first: no match at all.
  EXPECT_EQ(c.match_prefix(std::vector<TokenId>{9, 2, 3, 4}).positions, 0);
  // Publishing only counts computed positions.
  c.reserve(2, 4);
  c.publish(2, std::vector<TokenId>{5, 6, 7, 8}, 3);
  EXPECT_EQ(c.match_prefix(std::vector<TokenId>{5, 6, 7, 8}).positions, 2);
}

}  // namespace
}  // namespace llmux::engine::kv_cache
