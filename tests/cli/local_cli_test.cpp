// `llmux generate --model FILE.gguf` and `llmux logits` on the fixture models.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "cli/cli_runner.hpp"

namespace llmux::test {
namespace {

std::string fixture(const std::string& file) {
  return std::string(LLMUX_TEST_DATA_DIR) + "/models/" + file;
}

std::vector<double> parse_lines(const std::string& text) {
  std::vector<double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(std::stod(line));
  return out;
}

TEST(LocalCli, GenerateFromAGgufFilePrintsTheJsonResult) {
  const auto r = run_cli({"generate", "--model", fixture("qwen2-f16.gguf"), "--raw",
                          "--max-tokens", "5", "--temperature", "0", "--threads", "1", "--json",
                          "The event loop runs"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = boost::json::parse(r.out).as_object();
  EXPECT_EQ(doc.at("provider").as_string(), "local");
  EXPECT_EQ(doc.at("finish_reason").as_string(), "length");
  EXPECT_EQ(doc.at("usage").at("output_tokens").as_int64(), 5);
  EXPECT_GT(doc.at("usage").at("input_tokens").as_int64(), 3);
  EXPECT_FALSE(doc.at("content").as_string().empty());
  EXPECT_FALSE(doc.at("model").as_string().empty());

  // Greedy is deterministic, streamed or not.
  const auto s = run_cli({"generate", "--model", fixture("qwen2-f16.gguf"), "--raw",
                          "--max-tokens", "5", "--temperature", "0", "--stream", "--json",
                          "The event loop runs"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const auto last_line = s.out.substr(s.out.rfind('\n', s.out.size() - 2) + 1);
  EXPECT_EQ(boost::json::parse(last_line).at("content"), doc.at("content"));
}

TEST(LocalCli, GenerateErrorsAreOneLine) {
  auto r = run_cli({"generate", "--model", fixture("qwen2-f16.gguf"), "--ctx-size", "8",
                    "a prompt that is much longer than eight tokens, surely longer"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("context_length_exceeded"), std::string::npos) << r.err;
  r = run_cli({"generate", "--provider", "openai", "--model", fixture("qwen2-f16.gguf"), "hi"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--provider local"), std::string::npos) << r.err;
  r = run_cli({"generate", "--provider", "fake", "--raw", "hi"});
  EXPECT_EQ(r.exit_code, 2);
  r = run_cli({"generate", "--model", "/nonexistent/model.gguf", "hi"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("model.gguf"), std::string::npos) << r.err;
}

TEST(LocalCli, LogitsPrintsOneFloatPerVocabularyEntry) {
  const std::string tokens = "1 350 321 445 377 303";
  const auto d = run_cli({"logits", "--model", fixture("llama-f32.gguf"), "--tokens", tokens});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  const auto def = parse_lines(d.out);
  ASSERT_EQ(def.size(), 512u);
  const auto f = run_cli({"logits", "--model", fixture("llama-f32.gguf"), "--tokens", tokens,
                          "--precision", "full"});
  ASSERT_EQ(f.exit_code, 0) << f.err;
  const auto full = parse_lines(f.out);
  ASSERT_EQ(full.size(), 512u);
  double num = 0, den = 0;
  for (std::size_t i = 0; i < full.size(); ++i) {
    ASSERT_TRUE(std::isfinite(def[i]));
    num += (def[i] - full[i]) * (def[i] - full[i]);
    den += full[i] * full[i];
  }
  EXPECT_LT(std::sqrt(num / den), 5e-3);  // float16 KV cache vs float32
  EXPECT_GT(num, 0.0);                    // ... which does differ
}

TEST(LocalCli, LogitsRejectsBadTokenLists) {
  auto r = run_cli({"logits", "--model", fixture("llama-f32.gguf"), "--tokens", "1 two 3"});
  EXPECT_EQ(r.exit_code, 2);
  r = run_cli({"logits", "--model", fixture("llama-f32.gguf"), "--tokens", "1 9999"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("outside the vocabulary"), std::string::npos) << r.err;
}

// The generation is timed in segments of 16 tokens with the read bandwidth probed before the
// first and after each; the roofline's bandwidth is the probes' mean around the segments, and
// each repetition's rate counts the segments' time only (not the probes'); the reported rates
// are the repetitions' means.
TEST(LocalCli, BenchEngineProbesTheBandwidthThroughTheGeneration) {
  const auto r = run_cli({"bench", "engine", "--model", fixture("qwen2-f16.gguf"), "--threads", "1",
                          "--prompt-tokens", "4", "--gen-tokens", "20", "--reps", "2", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = boost::json::parse(r.out).as_object();
  const auto& samples = doc.at("mem_read_gbps_samples").as_array();
  const auto& segments = doc.at("tg_segment_tok_s").as_array();
  const auto& tg_reps = doc.at("tg_tok_s_reps").as_array();
  const auto& pp_reps = doc.at("pp_tok_s_reps").as_array();
  ASSERT_EQ(segments.size(), 4u);  // 16 + 4 tokens, twice
  ASSERT_EQ(samples.size(), 5u);
  ASSERT_EQ(tg_reps.size(), 2u);
  ASSERT_EQ(pp_reps.size(), 2u);
  double lo = 1e300, hi = 0;
  for (const auto& v : samples) {
    lo = std::min(lo, v.as_double());
    hi = std::max(hi, v.as_double());
  }
  EXPECT_GT(lo, 0);
  const double gbps = doc.at("mem_read_gbps").as_double();
  EXPECT_GE(gbps, lo);
  EXPECT_LE(gbps, hi);
  for (int rep = 0; rep < 2; ++rep) {
    const double seconds = 16 / segments[2 * rep].as_double() + 4 / segments[2 * rep + 1].as_double();
    EXPECT_NEAR(tg_reps[rep].as_double(), 20 / seconds, 1e-9 * tg_reps[rep].as_double());
  }
  const double tg = doc.at("tg_tok_s").as_double();
  EXPECT_NEAR(tg, (tg_reps[0].as_double() + tg_reps[1].as_double()) / 2, 1e-9 * tg);
  const double pp = doc.at("pp_tok_s").as_double();
  EXPECT_GT(pp, 0);
  EXPECT_NEAR(pp, (pp_reps[0].as_double() + pp_reps[1].as_double()) / 2, 1e-9 * pp);
  // The roofline is the bandwidth over a fixed byte count: their ratio is the weights' bytes
  // per token, more than the f16 fixture's smallest matrix and less than 1 GB.
  const double bytes = gbps * 1e9 / doc.at("roofline_tg_tok_s").as_double();
  EXPECT_GT(bytes, 1e5);
  EXPECT_LT(bytes, 1e9);

  // Either test can be left out; not both, and not with --concurrency.
  const auto tg_only = run_cli({"bench", "engine", "--model", fixture("qwen2-f16.gguf"), "--threads", "1",
                                "--prompt-tokens", "0", "--gen-tokens", "4", "--json"});
  ASSERT_EQ(tg_only.exit_code, 0) << tg_only.err;
  const auto tg_doc = boost::json::parse(tg_only.out).as_object();
  EXPECT_FALSE(tg_doc.contains("pp_tok_s"));
  EXPECT_GT(tg_doc.at("tg_tok_s").as_double(), 0);
  EXPECT_GT(tg_doc.at("roofline_tg_tok_s").as_double(), 0);
  const auto pp_only = run_cli({"bench", "engine", "--model", fixture("qwen2-f16.gguf"), "--threads", "1",
                                "--prompt-tokens", "4", "--gen-tokens", "0", "--json"});
  ASSERT_EQ(pp_only.exit_code, 0) << pp_only.err;
  const auto pp_doc = boost::json::parse(pp_only.out).as_object();
  EXPECT_GT(pp_doc.at("pp_tok_s").as_double(), 0);
  EXPECT_FALSE(pp_doc.contains("tg_tok_s"));
  EXPECT_FALSE(pp_doc.contains("mem_read_gbps"));
  for (const std::vector<std::string>& bad_args :
       {std::vector<std::string>{"--prompt-tokens", "0", "--gen-tokens", "0"},
        std::vector<std::string>{"--prompt-tokens", "0", "--concurrency", "2"},
        std::vector<std::string>{"--gen-tokens", "-1"}}) {
    std::vector<std::string> args = {"bench", "engine", "--model", fixture("qwen2-f16.gguf")};
    args.insert(args.end(), bad_args.begin(), bad_args.end());
    const auto bad = run_cli(args);
    EXPECT_NE(bad.exit_code, 0) << bad_args[1];
    EXPECT_NE(bad.err.find("tokens"), std::string::npos) << bad.err;
  }
}

}  // namespace
}  // namespace llmux::test
