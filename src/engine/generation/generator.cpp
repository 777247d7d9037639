#include "engine/generation/generator.hpp"

#include <algorithm>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <llmux/error.hpp>

#include "engine/gguf/metadata.hpp"
#include "engine/output/output_parser.hpp"

namespace llmux::engine::generation {
namespace {


// Reads every page of the tensor data once, reporting progress.
void preload(const gguf::GgufFile& file, const std::function<void(double)>& progress) {
  std::uint64_t total = 0, done = 0;
  for (const auto& t : file.tensors()) total += t.data.size();
  volatile unsigned char sink = 0;
  unsigned char acc = 0;
  double reported = -1;
  for (const auto& t : file.tensors()) {
    for (std::size_t i = 0; i < t.data.size(); i += 4096) acc ^= static_cast<unsigned char>(t.data[i]);
    done += t.data.size();
    const double f = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
    if (f - reported >= 0.01 || done == total) {
      progress(f);
      reported = f;
    }
  }
  sink = acc;
  (void)sink;
}

std::string model_name(const gguf::GgufFile& file, const std::filesystem::path& path) {
  if (auto n = file.get_string("general.name"); n && !n->empty()) return std::string(*n);
  return path.stem().string();
}

}  // namespace

std::shared_ptr<const LoadedModel> LoadedModel::load(const std::filesystem::path& path,
                                                     const std::function<void(double)>& progress) {
  auto out = std::make_shared<LoadedModel>();
  out->model = model::Model::load(path);
  const auto& file = out->model->file();
  const auto meta = gguf::read_tokenizer_metadata(file);
  out->tokenizer = std::make_shared<const tokenizer::Tokenizer>(meta);
  out->template_info = chat_template::template_for_model(file, meta);
  out->chat_template =
      std::make_shared<const chat_template::ChatTemplate>(out->template_info.source);
  out->format = output::detect_format(out->template_info.source,
                                      file.get_string("general.architecture").value_or(""));
  out->name = model_name(file, path);
  if (progress) preload(file, progress);
  return out;
}

LocalOptions parse_local_options(std::string_view extra_body_json) {
  LocalOptions out;
  if (extra_body_json.empty()) return out;
  boost::system::error_code ec;
  const auto doc = boost::json::parse(extra_body_json, ec);
  if (ec || !doc.is_object()) {
    throw_error(errc::invalid_argument, "local provider: extra_body must be a JSON object");
  }
  for (const auto& [key, value] : doc.as_object()) {
    const auto bad = [&] {
      throw_error(errc::invalid_argument,
                  fmt::format("local provider: extra_body.{} has the wrong type", key));
    };
    if (key == "raw") {
      if (!value.is_bool()) bad();
      out.raw = value.as_bool();
    } else if (key == "repeat_penalty") {
      if (!value.is_number()) bad();
      out.repeat_penalty = static_cast<float>(value.to_number<double>());
    } else if (key == "repeat_last_n") {
      if (!value.is_int64()) bad();
      out.repeat_last_n = static_cast<int>(value.as_int64());
    } else if (key == "ignore_eos") {
      if (!value.is_bool()) bad();
      out.ignore_eos = value.as_bool();
    } else if (key == "chat_template_kwargs") {
      if (!value.is_object()) bad();
      out.template_variables = boost::json::serialize(value);
    } else {
      throw_error(errc::invalid_argument,
                  fmt::format("local provider: unknown extra_body member '{}' (known: raw, "
                              "repeat_penalty, repeat_last_n, chat_template_kwargs, ignore_eos)",
                              key));
    }
  }
  return out;
}

Prompt build_prompt(const LoadedModel& m, const Request& request, const LocalOptions& local) {
  Prompt p;
  tokenizer::EncodeOptions enc;
  enc.add_special = true;    // BOS as the metadata says (not doubled if the text has it)
  enc.parse_special = true;  // control tokens written by the template (or the raw prompt)
  if (local.raw) {
    for (const auto& msg : request.messages) p.text += msg.text();
  } else {
    chat_template::RenderOptions ro;
    ro.add_generation_prompt = true;
    ro.bos_token = m.template_info.bos_token;
    ro.eos_token = m.template_info.eos_token;
    if (local.template_variables) ro.extra_variables_json = *local.template_variables;
    p.text = m.chat_template->render(request.messages, request.options.tools, ro);
    p.opens_reasoning = output::prompt_opens_reasoning(p.text);
  }
  p.tokens = m.tokenizer->encode(p.text, enc);
  if (p.tokens.empty()) throw_error(errc::invalid_argument, "local provider: the prompt is empty");
  return p;
}

}  // namespace llmux::engine::generation
