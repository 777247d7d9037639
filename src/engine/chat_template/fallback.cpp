#include "engine/chat_template/fallback.hpp"

namespace llmux::engine::chat_template {

namespace {

// Tool calls are written as the JSON object {"name": ..., "arguments": ...} inside the format's
// assistant turn; tool results are their own turn where the format has a role for them.

constexpr std::string_view kChatml = R"({%- for message in messages %}
{%- if message.role == 'assistant' and message.tool_calls %}
{{- '<|im_start|>assistant' }}
{%- if message.content %}{{- '\n' + message.content }}{% endif %}
{%- for call in message.tool_calls %}
{%- set fn = call.function if call.function is defined else call %}
{{- '\n<tool_call>\n{"name": "' + fn.name + '", "arguments": ' }}
{{- fn.arguments if fn.arguments is string else fn.arguments | tojson }}
{{- '}\n</tool_call>' }}
{%- endfor %}
{{- '<|im_end|>\n' }}
{%- else %}
{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|im_start|>assistant\n' }}
{%- endif %})";

constexpr std::string_view kLlama2 = R"({%- if messages and messages[0].role == 'system' %}
{%- set system_message = messages[0].content %}
{%- set loop_messages = messages[1:] %}
{%- else %}
{%- set loop_messages = messages %}
{%- endif %}
{%- set ns = namespace(first_user=true) %}
{%- for message in loop_messages %}
{%- if message.role == 'user' or message.role == 'tool' %}
{%- set content = message.content | trim %}
{%- if ns.first_user and system_message is defined %}
{%- set content = '<<SYS>>\n' + system_message | trim + '\n<</SYS>>\n\n' + content %}
{%- endif %}
{%- set ns.first_user = false %}
{{- bos_token + '[INST] ' + content + ' [/INST]' }}
{%- elif message.role == 'assistant' %}
{{- (' ' + message.content | trim) if message.content | trim }}
{%- for call in message.tool_calls or [] %}
{{- ' {"name": "' + call.function.name + '", "arguments": ' + (call.function.arguments if call.function.arguments is string else call.function.arguments | tojson) + '}' }}
{%- endfor %}
{{- ' ' + eos_token }}
{%- endif %}
{%- endfor %})";

constexpr std::string_view kLlama3 = R"({{- bos_token }}
{%- for message in messages %}
{%- set role = 'ipython' if message.role == 'tool' else message.role %}
{{- '<|start_header_id|>' + role + '<|end_header_id|>\n\n' }}
{%- if message.tool_calls %}
{%- for call in message.tool_calls %}
{{- '{"name": "' + call.function.name + '", "parameters": ' + (call.function.arguments if call.function.arguments is string else call.function.arguments | tojson) + '}' }}
{%- endfor %}
{%- else %}
{{- message.content | trim }}
{%- endif %}
{{- '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %})";

constexpr std::string_view kMistral = R"({%- if messages and messages[0].role == 'system' %}
{%- set system_message = messages[0].content %}
{%- set loop_messages = messages[1:] %}
{%- else %}
{%- set loop_messages = messages %}
{%- endif %}
{{- bos_token }}
{%- set ns = namespace(first_user=true) %}
{%- for message in loop_messages %}
{%- if message.role == 'user' %}
{%- if ns.first_user and system_message is defined %}
{{- '[INST] ' + system_message + '\n\n' + message.content + ' [/INST]' }}
{%- else %}
{{- '[INST] ' + message.content + ' [/INST]' }}
{%- endif %}
{%- set ns.first_user = false %}
{%- elif message.role == 'assistant' %}
{%- if message.tool_calls %}
{{- '[TOOL_CALLS] [' }}
{%- for call in message.tool_calls %}
{{- '{"name": "' + call.function.name + '", "arguments": ' + (call.function.arguments if call.function.arguments is string else call.function.arguments | tojson) + '}' }}
{{- ', ' if not loop.last }}
{%- endfor %}
{{- ']' + eos_token }}
{%- else %}
{{- message.content + eos_token }}
{%- endif %}
{%- elif message.role == 'tool' %}
{{- '[TOOL_RESULTS] ' + message.content + ' [/TOOL_RESULTS]' }}
{%- endif %}
{%- endfor %})";

constexpr std::string_view kGemma = R"({{- bos_token }}
{%- if messages and messages[0].role == 'system' %}
{%- set system_message = messages[0].content | trim %}
{%- set loop_messages = messages[1:] %}
{%- else %}
{%- set loop_messages = messages %}
{%- endif %}
{%- set ns = namespace(first_user=true, content='') %}
{%- for message in loop_messages %}
{%- set role = 'model' if message.role == 'assistant' else 'user' %}
{%- set ns.content = message.content | trim %}
{%- for call in message.tool_calls or [] %}
{%- set ns.content = ns.content + ('\n' if ns.content else '') + '{"name": "' + call.function.name + '", "arguments": ' + (call.function.arguments if call.function.arguments is string else call.function.arguments | tojson) + '}' %}
{%- endfor %}
{%- if role == 'user' and ns.first_user and system_message is defined %}
{%- set ns.content = system_message + '\n\n' + ns.content %}
{%- endif %}
{%- if role == 'user' %}{% set ns.first_user = false %}{% endif %}
{{- '<start_of_turn>' + role + '\n' + ns.content + '<end_of_turn>\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<start_of_turn>model\n' }}
{%- endif %})";

constexpr std::string_view kZephyr = R"({%- for message in messages %}
{{- '<|' + message.role + '|>\n' }}
{%- if message.tool_calls %}
{%- for call in message.tool_calls %}
{{- '{"name": "' + call.function.name + '", "arguments": ' + (call.function.arguments if call.function.arguments is string else call.function.arguments | tojson) + '}' }}
{%- endfor %}
{%- else %}
{{- message.content }}
{%- endif %}
{{- eos_token + '\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|assistant|>\n' }}
{%- endif %})";

}  // namespace

std::string_view to_string(Fallback f) noexcept {
  switch (f) {
    case Fallback::chatml: return "chatml";
    case Fallback::llama2: return "llama2";
    case Fallback::llama3: return "llama3";
    case Fallback::mistral: return "mistral";
    case Fallback::gemma: return "gemma";
    case Fallback::zephyr: return "zephyr";
  }
  return "chatml";
}

std::optional<Fallback> fallback_from_name(std::string_view name) noexcept {
  for (Fallback f : {Fallback::chatml, Fallback::llama2, Fallback::llama3, Fallback::mistral,
                     Fallback::gemma, Fallback::zephyr}) {
    if (to_string(f) == name) return f;
  }
  return std::nullopt;
}

std::string_view fallback_source(Fallback f) noexcept {
  switch (f) {
    case Fallback::chatml: return kChatml;
    case Fallback::llama2: return kLlama2;
    case Fallback::llama3: return kLlama3;
    case Fallback::mistral: return kMistral;
    case Fallback::gemma: return kGemma;
    case Fallback::zephyr: return kZephyr;
  }
  return kChatml;
}

Fallback choose_fallback(std::string_view architecture,
                         const std::function<bool(std::string_view)>& has_token) {
  const auto has = [&](std::string_view t) { return has_token && has_token(t); };
  if (has("<|im_start|>")) return Fallback::chatml;
  if (has("<|start_header_id|>") && has("<|eot_id|>")) return Fallback::llama3;
  if (has("<start_of_turn>") || architecture.substr(0, 5) == "gemma") return Fallback::gemma;
  if (has("[INST]")) return Fallback::mistral;
  if (has("<|user|>")) return Fallback::zephyr;
  if (architecture == "llama") return Fallback::llama2;
  return Fallback::chatml;
}

}  // namespace llmux::engine::chat_template
