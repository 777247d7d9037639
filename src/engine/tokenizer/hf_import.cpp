#include "engine/tokenizer/hf_import.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <llmux/error.hpp>

#include "engine/gguf/metadata.hpp"
#include "engine/tokenizer/pretokenizer.hpp"

namespace llmux::engine::tokenizer {
namespace json = boost::json;
using gguf::OwnedValue;
using gguf::TokenType;

namespace {

[[noreturn]] void invalid(std::string_view what) {
  throw_error(errc::invalid_argument, fmt::format("hf import: {}", what));
}

json::value parse(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) invalid(fmt::format("{} is not valid JSON: {}", what, ec.message()));
  return v;
}

const json::object& object_at(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v || !v->is_object()) invalid(fmt::format("'{}' is missing or not an object", key));
  return v->get_object();
}

bool looks_special(std::string_view t) {
  auto starts = [&](std::string_view p) { return t.substr(0, p.size()) == p; };
  auto ends = [&](std::string_view s) {
    return t.size() >= s.size() && t.substr(t.size() - s.size()) == s;
  };
  return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" ||
         (starts("<|") && ends("|>")) ||
         (starts("<\xEF\xBD\x9C") && ends("\xEF\xBD\x9C>")) ||
         (starts("<unused") && ends(">"));
}

struct Added {
  std::string content;
  bool special;
};

// Collects every regex of Split pre-tokenizers, and whether a ByteLevel with use_regex or a
// Digits(individual) is present, in order, into a signature matched against known families.
void collect_pretokenizers(const json::value& v, std::vector<std::string>& sig) {
  if (!v.is_object()) return;
  const auto& o = v.get_object();
  const std::string type = o.contains("type") ? std::string(o.at("type").as_string()) : "";
  if (type == "Sequence") {
    if (const auto* list = o.if_contains("pretokenizers"); list && list->is_array()) {
      for (const auto& p : list->get_array()) collect_pretokenizers(p, sig);
    }
  } else if (type == "Split") {
    const auto* pat = o.if_contains("pattern");
    if (pat && pat->is_object() && pat->get_object().contains("Regex")) {
      sig.emplace_back(pat->get_object().at("Regex").as_string());
    } else {
      sig.emplace_back("<split:string>");
    }
  } else if (type == "ByteLevel") {
    const auto* use = o.if_contains("use_regex");
    if (!use || (use->is_bool() && use->as_bool())) sig.emplace_back("<gpt2>");
  } else if (type == "Digits") {
    const auto* ind = o.if_contains("individual_digits");
    sig.emplace_back(ind && ind->is_bool() && ind->as_bool() ? "<digits1>" : "<digits>");
  } else if (!type.empty()) {
    sig.push_back("<" + type + ">");
  }
}

std::string detect_pre(const json::object& root) {
  std::vector<std::string> sig;
  if (const auto* p = root.if_contains("pre_tokenizer")) collect_pretokenizers(*p, sig);
  const std::string gpt2 = pretokenizer_regexes("gpt-2").at(0);
  for (auto& s : sig) {
    if (s == "<gpt2>") s = gpt2;
    if (s == "<digits1>") s = pretokenizer_regexes("smollm").at(0);
  }
  for (std::string_view pre : {"llama-bpe", "qwen2", "gpt-2", "smollm", "tekken"}) {
    if (sig == pretokenizer_regexes(pre)) return std::string(pre);
  }
  std::string desc;
  for (const auto& s : sig) desc += (desc.empty() ? "" : " | ") + s;
  invalid(fmt::format("unsupported pre-tokenizer: {}", desc.empty() ? "(none)" : desc));
}

std::optional<std::string> config_token(const json::object& cfg, std::string_view key) {
  const json::value* v = cfg.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_object()) {
    if (const auto* c = v->get_object().if_contains("content"); c && c->is_string()) {
      return std::string(c->as_string());
    }
  }
  return std::nullopt;
}

std::optional<bool> config_bool(const json::object& cfg, std::string_view key) {
  const json::value* v = cfg.if_contains(key);
  if (v && v->is_bool()) return v->as_bool();
  return std::nullopt;
}

// add_bos/add_eos implied by a TemplateProcessing post-processor's single-sequence template.
void template_flags(const json::object& root, std::optional<bool>& bos, std::optional<bool>& eos) {
  const json::value* pp = root.if_contains("post_processor");
  if (!pp || !pp->is_object()) return;
  const json::object* tp = &pp->get_object();
  if (tp->contains("processors")) {
    tp = nullptr;
    for (const auto& p : pp->get_object().at("processors").as_array()) {
      if (p.is_object() && p.get_object().contains("type") &&
          p.get_object().at("type").as_string() == "TemplateProcessing") {
        tp = &p.get_object();
      }
    }
  }
  if (!tp || !tp->contains("type") || tp->at("type").as_string() != "TemplateProcessing") return;
  const auto* single = tp->if_contains("single");
  if (!single || !single->is_array() || single->as_array().empty()) return;
  const auto& items = single->as_array();
  bos = items.front().is_object() && items.front().get_object().contains("SpecialToken");
  eos = items.size() > 1 && items.back().is_object() &&
        items.back().get_object().contains("SpecialToken");
}

}  // namespace

namespace {

struct Specials {
  std::optional<bool> add_bos, add_eos;
  std::map<std::string, std::int32_t> ids;  // GGUF key suffix -> id
  std::optional<std::string> chat_template;
};

Specials read_specials(const json::object& root, const json::object& cfg,
                       const std::map<std::string, std::int32_t>& ids_by_text) {
  Specials s;
  template_flags(root, s.add_bos, s.add_eos);
  if (auto b = config_bool(cfg, "add_bos_token")) s.add_bos = b;
  if (auto e = config_bool(cfg, "add_eos_token")) s.add_eos = e;
  const std::pair<const char*, const char*> keys[] = {
      {"bos_token", "bos_token_id"}, {"eos_token", "eos_token_id"},
      {"unk_token", "unknown_token_id"}, {"sep_token", "seperator_token_id"},
      {"pad_token", "padding_token_id"}};
  for (const auto& [cfg_key, gguf_key] : keys) {
    if (auto text = config_token(cfg, cfg_key)) {
      auto it = ids_by_text.find(*text);
      if (it != ids_by_text.end()) s.ids[gguf_key] = it->second;
    }
  }
  if (const json::value* t = cfg.if_contains("chat_template")) {
    if (t->is_string()) {
      s.chat_template = std::string(t->as_string());
    } else if (t->is_array()) {
      for (const auto& named : t->as_array()) {
        if (named.is_object() && named.get_object().contains("name") &&
            named.get_object().at("name") == "default") {
          s.chat_template = std::string(named.get_object().at("template").as_string());
        }
      }
    }
  }
  return s;
}

std::vector<std::string> merge_strings(const json::object& model) {
  std::vector<std::string> merges;
  const json::value* m = model.if_contains("merges");
  if (!m || !m->is_array()) invalid("model.merges is missing");
  merges.reserve(m->as_array().size());
  for (const auto& item : m->as_array()) {
    if (item.is_string()) {
      merges.emplace_back(item.as_string());
    } else if (item.is_array() && item.as_array().size() == 2 && item.as_array()[0].is_string() &&
               item.as_array()[1].is_string()) {
      merges.push_back(std::string(item.as_array()[0].as_string()) + " " +
                       std::string(item.as_array()[1].as_string()));
    } else {
      invalid("a merge is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
  return merges;
}

std::int32_t checked_id(const json::value& v) {
  if (!v.is_int64() || v.as_int64() < 0 || v.as_int64() > 0x7FFFFFF) invalid("bad token id");
  return static_cast<std::int32_t>(v.as_int64());
}

// Token texts and GGUF types, as llama.cpp's converter assigns them.
void type_tokens(std::int32_t n, bool spm, const std::map<std::int32_t, std::string>& by_id,
                 const std::map<std::int32_t, Added>& added, const Specials& specials,
                 std::vector<std::string>& tokens, std::vector<std::int32_t>& types) {
  tokens.assign(static_cast<std::size_t>(n), std::string());
  types.assign(static_cast<std::size_t>(n), 0);
  for (std::int32_t i = 0; i < n; ++i) {
    auto it = by_id.find(i);
    auto& tok = tokens[static_cast<std::size_t>(i)];
    auto& type = types[static_cast<std::size_t>(i)];
    if (it == by_id.end()) {
      tok = fmt::format("[PAD{}]", i);
      type = static_cast<std::int32_t>(TokenType::unused);
      continue;
    }
    tok = it->second;
    auto ad = added.find(i);
    const bool is_special_id = std::any_of(specials.ids.begin(), specials.ids.end(),
                                           [&](const auto& kv) { return kv.second == i; });
    if (spm) {
      const bool byte = tok.size() == 6 && tok.rfind("<0x", 0) == 0 && tok[5] == '>';
      type = static_cast<std::int32_t>(
          byte ? TokenType::byte
               : (is_special_id || (ad != added.end() && ad->second.special)) ? TokenType::control
                                                                              : TokenType::normal);
    } else if (ad != added.end()) {
      if (ad->second.special || looks_special(tok)) {
        type = static_cast<std::int32_t>(TokenType::control);
      } else {
        type = static_cast<std::int32_t>(TokenType::user_defined);
        for (std::size_t p; (p = tok.find("\xE2\x96\x81")) != std::string::npos;) {
          tok.replace(p, 3, " ");
        }
      }
    } else {
      type = static_cast<std::int32_t>(TokenType::normal);
    }
  }
}

}  // namespace

gguf::GgufWriter vocab_gguf_from_hf(std::string_view tokenizer_json,
                                    std::string_view tokenizer_config_json,
                                    const std::string& name) {
  const json::value root_v = parse(tokenizer_json, "tokenizer.json");
  if (!root_v.is_object()) invalid("tokenizer.json is not an object");
  const json::object& root = root_v.get_object();
  json::value cfg_v = tokenizer_config_json.empty() ? json::value(json::object())
                                                    : parse(tokenizer_config_json,
                                                            "tokenizer_config.json");
  if (!cfg_v.is_object()) invalid("tokenizer_config.json is not an object");
  const json::object& cfg = cfg_v.get_object();

  const json::object& model = object_at(root, "model");
  if (!model.contains("type") || model.at("type") != "BPE") {
    invalid("only BPE tokenizer models are supported");
  }
  const json::value* bf = model.if_contains("byte_fallback");
  const bool spm = bf && bf->is_bool() && bf->as_bool();

  std::map<std::int32_t, std::string> by_id;
  std::map<std::string, std::int32_t> ids_by_text;
  for (const auto& [text, id] : object_at(model, "vocab")) {
    by_id[checked_id(id)] = std::string(text);
    ids_by_text.emplace(std::string(text), checked_id(id));
  }
  std::map<std::int32_t, Added> added;
  if (const json::value* a = root.if_contains("added_tokens"); a && a->is_array()) {
    for (const auto& t : a->as_array()) {
      const auto& o = t.as_object();
      const std::int32_t id = checked_id(o.at("id"));
      Added ad{std::string(o.at("content").as_string()),
               o.contains("special") && o.at("special").as_bool()};
      by_id[id] = ad.content;
      ids_by_text[ad.content] = id;
      added[id] = std::move(ad);
    }
  }
  if (by_id.empty()) invalid("the vocabulary is empty");
  const std::int32_t n = by_id.rbegin()->first + 1;
  const std::vector<std::string> merges = merge_strings(model);
  const Specials specials = read_specials(root, cfg, ids_by_text);

  std::vector<std::string> tokens;
  std::vector<std::int32_t> types;
  std::vector<float> scores;
  type_tokens(n, spm, by_id, added, specials, tokens, types);

  gguf::GgufWriter w(3);
  w.add("general.architecture", OwnedValue::string("llama"));
  w.add("general.type", OwnedValue::string("vocab"));
  w.add("general.name", OwnedValue::string(name));
  w.add("tokenizer.ggml.model", OwnedValue::string(spm ? "llama" : "gpt2"));
  w.add("tokenizer.ggml.pre", OwnedValue::string(spm ? "default" : detect_pre(root)));
  w.add("tokenizer.ggml.tokens", OwnedValue::string_array(tokens));
  if (spm) {
    // Score = -(rank of the first merge producing the token): SentencePiece's merge order.
    scores.assign(static_cast<std::size_t>(n), 0.0f);
    std::vector<bool> seen(static_cast<std::size_t>(n), false);
    for (std::size_t r = 0; r < merges.size(); ++r) {
      const auto sp = merges[r].find(' ', 1);
      if (sp == std::string::npos) invalid(fmt::format("merge {} has no space", r));
      auto it = ids_by_text.find(merges[r].substr(0, sp) + merges[r].substr(sp + 1));
      if (it == ids_by_text.end() || seen[static_cast<std::size_t>(it->second)]) continue;
      seen[static_cast<std::size_t>(it->second)] = true;
      scores[static_cast<std::size_t>(it->second)] = -static_cast<float>(r);
    }
    w.add("tokenizer.ggml.scores", OwnedValue::f32_array(scores));
  }
  w.add("tokenizer.ggml.token_type", OwnedValue::i32_array(types));
  if (!spm) w.add("tokenizer.ggml.merges", OwnedValue::string_array(merges));
  for (const auto& [key, id] : specials.ids) {
    w.add("tokenizer.ggml." + key, OwnedValue::u32(static_cast<std::uint32_t>(id)));
  }
  // Written always: when neither the config nor a TemplateProcessing says, the Hugging Face
  // tokenizer adds nothing, so neither does the GGUF (llama.cpp would fall back to its own
  // per-family default, e.g. BOS for llama-bpe).
  w.add("tokenizer.ggml.add_bos_token", OwnedValue::boolean(specials.add_bos.value_or(false)));
  w.add("tokenizer.ggml.add_eos_token", OwnedValue::boolean(specials.add_eos.value_or(false)));
  if (specials.chat_template) {
    w.add("tokenizer.chat_template", OwnedValue::string(*specials.chat_template));
  }
  return w;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) invalid(fmt::format("cannot read {}", path));
  std::ostringstream ss;
  ss << f.rdbuf();
  return std::move(ss).str();
}

}  // namespace llmux::engine::tokenizer
