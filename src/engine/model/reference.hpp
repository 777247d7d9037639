// A plain reference forward pass in the style of llama2.c: one sequence, one token at a time,
// every weight dequantized to float32 up front, straightforward loops, float32 KV cache. Slow
// and simple on purpose: tests compare the batched Context against it.
#pragma once

#include <memory>
#include <vector>

#include "engine/model/model.hpp"

namespace llmux::engine::model {

class ReferenceForward {
 public:
  explicit ReferenceForward(std::shared_ptr<const Model> model);

  // Feeds the token at the next position; returns the logits after it.
  std::vector<float> step(TokenId token);

 private:
  struct Layer {
    std::vector<float> wq, wk, wv, wo, gate, up, down;
    std::vector<float> key_cache, value_cache;  // [pos][kv dim]
  };
  std::shared_ptr<const Model> model_;
  std::vector<float> embd_, output_;
  std::vector<Layer> layers_;
  std::int64_t pos_ = 0;
};

}  // namespace llmux::engine::model
