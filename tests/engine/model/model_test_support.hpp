// Shared helpers of the model tests: fixture paths, the reference JSON, error measures.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cmath>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "engine/model/model.hpp"
#include "npz.hpp"

namespace llmux::test {

inline std::string model_path(const std::string& file) {
  return std::string(LLMUX_TEST_DATA_DIR) + "/models/" + file;
}

inline const boost::json::object& reference64() {
  static const boost::json::value doc = [] {
    std::ifstream in(model_path("reference64.json"));
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return boost::json::parse(text);
  }();
  return doc.as_object();
}

struct PromptRef {
  std::vector<engine::model::TokenId> ids;
  std::vector<engine::model::TokenId> greedy;
};

inline std::vector<PromptRef> prompts_of(const std::string& model) {
  std::vector<PromptRef> out;
  for (const auto& p : reference64().at("models").at(model).at("prompts").as_array()) {
    PromptRef r;
    for (const auto& v : p.at("ids").as_array()) r.ids.push_back(static_cast<int>(v.as_int64()));
    for (const auto& v : p.at("greedy_32").as_array()) {
      r.greedy.push_back(static_cast<int>(v.as_int64()));
    }
    out.push_back(std::move(r));
  }
  return out;
}

// ||a - b|| / ||b||
inline double rel_l2(std::span<const float> a, const double* b, std::size_t n) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < n; ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return std::sqrt(num / den);
}

inline engine::model::TokenId argmax(std::span<const float> v) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (v[i] > v[best]) best = i;
  }
  return static_cast<engine::model::TokenId>(best);
}

// One sequence's tokens as a batch starting at `pos0`, logits for every token.
inline std::vector<engine::model::BatchToken> sequence_batch(
    std::span<const engine::model::TokenId> ids, std::int64_t pos0 = 0,
    engine::model::SeqId seq = 0, bool all_logits = true) {
  std::vector<engine::model::BatchToken> b;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    b.push_back({ids[i], pos0 + static_cast<std::int64_t>(i), seq,
                 all_logits || i + 1 == ids.size()});
  }
  return b;
}

}  // namespace llmux::test
