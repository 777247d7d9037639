// A loaded llama-family model and its forward pass over a batch of tokens from several
// sequences.
//
// Model: the mapped GGUF file, its hyper-parameters and located weights. Immutable after load,
// shared by any number of contexts and threads.
//
// Context: the working memory and compute threads of forward passes over one model. eval()
// takes tokens of any sequences at any positions (each token attends to positions 0..pos of its
// own sequence in the cache, which must hold the earlier positions), writes their K/V into the
// cache, and returns logits for the tokens that ask for them, in batch order. One eval at a
// time per Context (not thread-safe); results do not depend on how tokens are batched.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "engine/gguf/gguf.hpp"
#include "engine/kernels/thread_pool.hpp"
#include "engine/model/hparams.hpp"
#include "engine/model/kv_cache.hpp"
#include "engine/model/weights.hpp"

namespace llmux::engine::model {

using TokenId = std::int32_t;

// default: float16 KV cache; full: float32 KV cache. Activations are float32 in both.
enum class Precision { default_, full };

struct BatchToken {
  TokenId token = 0;
  std::int64_t pos = 0;
  SeqId seq = 0;
  bool logits = false;
};

class Model {
 public:
  // Validates the file (architecture, hyper-parameters, every tensor). Throws llmux::Error.
  static std::shared_ptr<const Model> load(gguf::GgufFile file);
  static std::shared_ptr<const Model> load(const std::filesystem::path& path);

  const gguf::GgufFile& file() const noexcept { return file_; }
  const HParams& hparams() const noexcept { return hp_; }
  const Weights& weights() const noexcept { return weights_; }

 private:
  explicit Model(gguf::GgufFile file);
  gguf::GgufFile file_;
  HParams hp_;
  Weights weights_;
};

struct ContextOptions {
  Precision precision = Precision::default_;
  int n_threads = 1;
  std::int64_t n_ctx = 0;  // positions per sequence; 0: min(training context, 4096)
  // Round the RoPE inverse frequencies to float16, as a transformers model that was cast
  // through float16 (model.half().double()) does: its `inv_freq` buffer is converted with the
  // weights. The reference logits of ../shared/fixtures were made that way; tests set this to
  // compare against them at float32 precision. Never needed for real inference.
  bool rope_freq_f16 = false;
};

class Context {
 public:
  Context(std::shared_ptr<const Model> model, const ContextOptions& options);
  // With a cache made by the caller (a paged cache); it must match the model's layer count
  // and K/V sizes (invalid_argument otherwise) and sets the context size.
  Context(std::shared_ptr<const Model> model, const ContextOptions& options,
          std::unique_ptr<KvCache> cache);

  const Model& model() const noexcept { return *model_; }
  std::int64_t n_ctx() const noexcept { return n_ctx_; }
  KvCache& cache() noexcept { return *cache_; }

  // Evaluates the batch. Throws llmux::Error(invalid_argument) for an out-of-range token id or
  // position, context_length_exceeded when a position does not fit. Returns n_vocab logits per
  // token with `logits` set, valid until the next eval.
  std::span<const float> eval(std::span<const BatchToken> batch);

 private:
  void check(std::span<const BatchToken> batch);
  void attention(std::span<const BatchToken> batch, std::int64_t layer);
  void layer(std::span<const BatchToken> batch, std::int64_t il);
  void rope_tables(std::span<const BatchToken> batch);

  std::shared_ptr<const Model> model_;
  ContextOptions options_;
  std::int64_t n_ctx_ = 0;
  std::unique_ptr<KvCache> cache_;
  kernels::ThreadPool pool_;
  // Working memory, reused across evals.
  std::vector<float> x_, xn_, q_, k_, v_, att_, gate_, up_, logits_, scores_, cos_, sin_;
  kernels::MatmulScratch scratch_;
  bool integer_ = true;  // integer dot products (default precision)
};

}  // namespace llmux::engine::model
