// Properties of the batched forward pass: batching and thread count never change results, the
// plain reference implementation agrees, and bad inputs give clear errors.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <llmux/error.hpp>

#include "engine/gguf/gguf_writer.hpp"
#include "engine/model/reference.hpp"
#include "model_test_support.hpp"

namespace llmux::test {
namespace {

using engine::model::BatchToken;
using engine::model::Context;
using engine::model::Model;
using engine::model::Precision;
using engine::model::TokenId;

std::vector<float> eval_alone(const std::shared_ptr<const Model>& model,
                              const std::vector<TokenId>& ids, int threads, Precision precision) {
  Context ctx(model, {.precision = precision, .n_threads = threads});
  const auto l = ctx.eval(sequence_batch(ids));
  return {l.begin(), l.end()};
}

TEST(Forward, InterleavedBatchOfThreeSequencesIsBitIdenticalToEachAlone) {
  for (const char* file : {"qwen3-f16.gguf", "llama-256-q4_k_m-lcpp.gguf"}) {
    for (Precision precision : {Precision::full, Precision::default_}) {
      const auto model = Model::load(model_path(file));
      const auto n_vocab = static_cast<std::size_t>(model->hparams().n_vocab);
      const std::string name = std::string(file).find("qwen3") != std::string::npos ? "qwen3"
                                                                                    : "llama-256";
      const auto prompts = prompts_of(name);
      std::vector<std::vector<float>> alone;
      for (const auto& p : prompts) alone.push_back(eval_alone(model, p.ids, 1, precision));
      // All three prompts in chunks of 7 tokens, interleaved, over several evals, 2 threads.
      Context ctx(model, {.precision = precision, .n_threads = 2});
      std::vector<std::vector<float>> together(prompts.size());
      for (std::size_t start = 0;; start += 7) {
        std::vector<BatchToken> batch;
        for (std::size_t s = 0; s < prompts.size(); ++s) {
          const auto& ids = prompts[s].ids;
          for (std::size_t i = start; i < std::min(ids.size(), start + 7); ++i) {
            batch.push_back({ids[i], static_cast<std::int64_t>(i), static_cast<int>(s), true});
          }
        }
        if (batch.empty()) break;
        const auto logits = ctx.eval(batch);
        for (std::size_t b = 0; b < batch.size(); ++b) {
          auto& out = together[static_cast<std::size_t>(batch[b].seq)];
          out.insert(out.end(), logits.begin() + b * n_vocab, logits.begin() + (b + 1) * n_vocab);
        }
      }
      for (std::size_t s = 0; s < prompts.size(); ++s) {
        EXPECT_EQ(together[s], alone[s]) << file << " sequence " << s;
      }
    }
  }
}

TEST(Forward, ThreadCountDoesNotChangeLogits) {
  const auto model = Model::load(model_path("llama-256-q6_k-lcpp.gguf"));
  const auto ids = prompts_of("llama-256")[1].ids;
  EXPECT_EQ(eval_alone(model, ids, 1, Precision::full), eval_alone(model, ids, 3, Precision::full));
  // Token by token (decode steps), default precision (an f16 cache), 1 thread against 16 (more
  // threads than attention tasks and than row tasks of the small matrices).
  const auto stepwise = [&](int threads) {
    Context ctx(model, {.precision = Precision::default_, .n_threads = threads});
    std::vector<float> all;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const BatchToken b{ids[i], static_cast<std::int64_t>(i), 0, true};
      const auto l = ctx.eval({&b, 1});
      all.insert(all.end(), l.begin(), l.end());
    }
    return all;
  };
  EXPECT_EQ(stepwise(1), stepwise(16));
}

TEST(Forward, AgreesWithThePlainReferenceImplementation) {
  for (const char* file : {"llama-scaled-f32.gguf", "qwen2-f16.gguf", "qwen3-f32.gguf",
                           "llama-256-q5_0-lcpp.gguf"}) {
    const auto model = Model::load(model_path(file));
    const auto n_vocab = static_cast<std::size_t>(model->hparams().n_vocab);
    const auto ids = prompts_of("llama")[0].ids;
    const auto batched = eval_alone(model, ids, 2, Precision::full);
    engine::model::ReferenceForward ref(model);
    double worst = 0;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const auto r = ref.step(ids[i]);
      std::vector<double> rd(r.begin(), r.end());
      worst = std::max(worst, rel_l2(std::span<const float>(batched).subspan(i * n_vocab, n_vocab),
                                     rd.data(), n_vocab));
    }
    EXPECT_LT(worst, 1e-5) << file;
  }
}

TEST(Forward, ReadsArchitectureDetails) {
  const auto qwen3 = Model::load(model_path("qwen3-f32.gguf"));
  EXPECT_EQ(qwen3->hparams().arch->name, "qwen3");
  EXPECT_EQ(qwen3->hparams().head_dim_k, 32);  // explicit, not 64 / 4
  EXPECT_TRUE(qwen3->weights().tied_output);
  const auto llama = Model::load(model_path("llama-f32.gguf"));
  EXPECT_FALSE(llama->weights().tied_output);
  EXPECT_FALSE(llama->hparams().arch->rope_neox);
  const auto scaled = Model::load(model_path("llama-scaled-f16.gguf"));
  EXPECT_NE(scaled->weights().rope_freqs, nullptr);
  const auto qwen2 = Model::load(model_path("qwen2-q8_0.gguf"));
  EXPECT_NE(qwen2->weights().layers[0].bq, nullptr);
}

void expect_error(const std::function<void()>& f, errc code, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error, expected one containing: " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Forward, BadTokensAndPositionsAreClearErrors) {
  const auto model = Model::load(model_path("llama-f16.gguf"));
  Context ctx(model, {.n_ctx = 16});
  const BatchToken bad_token{512, 0, 0, true};
  expect_error([&] { ctx.eval({&bad_token, 1}); }, errc::invalid_argument, "outside the vocabulary");
  const BatchToken negative{1, -1, 0, true};
  expect_error([&] { ctx.eval({&negative, 1}); }, errc::invalid_argument, "negative position");
  const BatchToken too_far{1, 16, 0, true};
  expect_error([&] { ctx.eval({&too_far, 1}); }, errc::context_length_exceeded, "context of 16");
}

engine::gguf::OwnedValue to_owned(const engine::gguf::Value& v) {
  return engine::gguf::OwnedValue::copy_of(v);
}

// Rewrites a fixture with one change, for the validation tests.
std::shared_ptr<const Model> load_modified(
    const std::function<void(engine::gguf::GgufWriter&, const engine::gguf::GgufFile&)>& edit) {
  const auto src = engine::gguf::GgufFile::open(model_path("llama-f32.gguf"));
  engine::gguf::GgufWriter w;
  edit(w, src);
  return Model::load(engine::gguf::GgufFile::from_bytes(w.bytes(), "modified.gguf"));
}

TEST(Forward, UnsupportedOrIncompleteModelsAreClearErrors) {
  using engine::gguf::GgufFile;
  using engine::gguf::GgufWriter;
  auto copy_all = [](GgufWriter& w, const GgufFile& src, const std::string& skip_tensor,
                     const std::string& arch) {
    for (const auto& kv : src.metadata()) {
      if (kv.key == "general.architecture" && !arch.empty()) {
        w.add("general.architecture", engine::gguf::OwnedValue::string(arch));
      } else {
        w.add(std::string(kv.key), to_owned(kv.value));
      }
    }
    for (const auto& t : src.tensors()) {
      if (t.name != skip_tensor) w.add_tensor(std::string(t.name), t.type, t.shape, t.data);
    }
  };
  expect_error([&] { load_modified([&](auto& w, auto& s) { copy_all(w, s, "", "gpt2"); }); },
               errc::invalid_argument, "unsupported model architecture 'gpt2'");
  expect_error([&] {
    load_modified([&](auto& w, auto& s) { copy_all(w, s, "blk.1.ffn_up.weight", ""); });
  }, errc::invalid_argument, "blk.1.ffn_up.weight is missing");
  // A weight type the engine cannot compute with: IQ4_NL has Q4_0's block size and bytes, so
  // relabelling a Q4_0 tensor gives a valid GGUF file with an unsupported type.
  expect_error([&] {
    const auto src = GgufFile::open(model_path("llama-256-q4_0-lcpp.gguf"));
    GgufWriter w;
    for (const auto& kv : src.metadata()) w.add(std::string(kv.key), to_owned(kv.value));
    for (const auto& t : src.tensors()) {
      const auto type = t.name == "blk.0.attn_q.weight" ? engine::gguf::TensorType::iq4_nl : t.type;
      w.add_tensor(std::string(t.name), type, t.shape, t.data);
    }
    Model::load(GgufFile::from_bytes(w.bytes(), "iq4.gguf"));
  }, errc::invalid_argument, "blk.0.attn_q.weight has type iq4_nl");
  // A wrong shape.
  expect_error([&] {
    load_modified([&](auto& w, auto& s) {
      for (const auto& kv : s.metadata()) {
        if (kv.key == "llama.feed_forward_length") {
          w.add("llama.feed_forward_length", engine::gguf::OwnedValue::u32(96));
        } else {
          w.add(std::string(kv.key), to_owned(kv.value));
        }
      }
      for (const auto& t : s.tensors()) w.add_tensor(std::string(t.name), t.type, t.shape, t.data);
    });
  }, errc::invalid_argument, "expected [64, 96]");
}

}  // namespace
}  // namespace llmux::test
