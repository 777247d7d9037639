// The tensors of a llama-family model, located in a GGUF file and checked against the
// hyper-parameters: every required tensor present, every shape exact, every type supported.
// Matrices point into the file's mapping; 1-D tensors (norms, biases, RoPE factors) are
// converted to float32 copies owned here, and so are the packed copies of the matrices whose
// type has a packed kernel on this CPU (kernels/dot.hpp), made once at load.
#pragma once

#include <vector>

#include "engine/gguf/gguf.hpp"
#include "engine/kernels/ops.hpp"
#include "engine/model/hparams.hpp"

namespace llmux::engine::model {

using kernels::Matrix;

struct LayerWeights {
  const float* attn_norm = nullptr;
  Matrix wq, wk, wv, wo;
  const float* bq = nullptr;  // biases: null when the model has none
  const float* bk = nullptr;
  const float* bv = nullptr;
  const float* q_norm = nullptr;  // per-head norms (Qwen3): null otherwise
  const float* k_norm = nullptr;
  const float* ffn_norm = nullptr;
  Matrix gate, up, down;
};

struct Weights {
  Matrix token_embd;             // rows: vocabulary
  const float* output_norm = nullptr;
  Matrix output;                 // the token embedding when tied
  bool tied_output = false;
  const float* rope_freqs = nullptr;  // Llama 3 RoPE scaling: rope_dim / 2 divisors, or null
  std::vector<LayerWeights> layers;
  std::size_t bytes = 0;         // bytes of all tensors used

  // Throws llmux::Error(invalid_argument) naming the tensor for anything missing or wrong.
  static Weights load(const gguf::GgufFile& file, const HParams& hp);

 private:
  std::vector<std::vector<float>> owned_;
  std::vector<kernels::PackedBuffer> packed_;
};

}  // namespace llmux::engine::model
