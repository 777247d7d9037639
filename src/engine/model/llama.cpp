// Llama 1/2/3 and Mistral: normal RoPE ordering (the GGUF converter permutes Q and K for it),
// optional Q/K/V biases, Llama 3 RoPE scaling through the rope_freqs tensor.
#include "engine/model/hparams.hpp"

namespace llmux::engine::model {

const ArchTraits& llama_arch() noexcept {
  static constexpr ArchTraits kTraits{"llama", /*rope_neox=*/false, /*qkv_bias=*/false,
                                      /*qk_norm=*/false};
  return kTraits;
}

}  // namespace llmux::engine::model
