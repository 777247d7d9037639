// The `local` provider: GGUF models run in this process by the llmux engine, through the same
// Provider interface as every remote provider.
//
// ProviderConfig: `model` is the path of a .gguf file (loaded when the provider is created).
// options: "ctx_size" (positions per sequence; default min(training context, 4096)),
// "threads" (compute threads; default: the hardware's), "precision" ("default": float16 KV
// cache; "full": float32 KV cache), "progress" ("1": a progress bar on stderr while the weights
// are read, when stderr is a terminal). timeouts.first_token and timeouts.total apply.
// Request extra_body (JSON): "raw" (no chat template), "repeat_penalty", "repeat_last_n",
// "chat_template_kwargs" (template variables such as enable_thinking).
//
// async_generate / async_stream enqueue the request on the model's compute thread and return at
// once; events and the completion are delivered to the caller's executor. Requests to one
// provider run one after another (continuous batching is the scheduler's job). Cancellation
// stops generation before the next token.
#pragma once

#include <llmux/factory.hpp>

namespace llmux::providers {

ProviderInfo local_provider_info();

}  // namespace llmux::providers
