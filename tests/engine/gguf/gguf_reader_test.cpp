// GGUF reader: round trips through the writer, the fixture models, and typed metadata access.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include <llmux/error.hpp>

#include "engine/gguf/gguf.hpp"
#include "engine/gguf/gguf_writer.hpp"
#include "engine/gguf/metadata.hpp"

namespace llmux::engine::gguf {
namespace {

const std::filesystem::path kData = LLMUX_TEST_DATA_DIR;

std::vector<std::byte> f32_bytes(std::size_t n, float start) {
  std::vector<std::byte> out(n * 4);
  for (std::size_t i = 0; i < n; ++i) {
    float v = start + static_cast<float>(i);
    std::memcpy(out.data() + 4 * i, &v, 4);
  }
  return out;
}

TEST(GgufReader, RoundTripsEveryValueType) {
  for (std::uint32_t version : {2u, 3u}) {
    GgufWriter w(version);
    w.add("k.u8", OwnedValue::u8(200));
    w.add("k.i8", OwnedValue::i8(-100));
    w.add("k.u16", OwnedValue::u16(60000));
    w.add("k.i16", OwnedValue::i16(-30000));
    w.add("k.u32", OwnedValue::u32(4000000000u));
    w.add("k.i32", OwnedValue::i32(-2000000000));
    w.add("k.u64", OwnedValue::u64(18000000000000000000ull));
    w.add("k.i64", OwnedValue::i64(-9000000000000000000ll));
    w.add("k.f32", OwnedValue::f32(1.5f));
    w.add("k.f64", OwnedValue::f64(-2.25));
    w.add("k.bool", OwnedValue::boolean(true));
    w.add("k.str", OwnedValue::string(std::string("h\0llo", 5)));
    w.add("k.nested", OwnedValue::array(ValueType::array,
                                        {OwnedValue::i32_array({1, 2}),
                                         OwnedValue::i32_array({}),
                                         OwnedValue::i32_array({-3})}));
    w.add("k.strs", OwnedValue::string_array({"a", "", "ccc"}));
    auto f = GgufFile::from_bytes(w.bytes());
    EXPECT_EQ(f.version(), version);
    EXPECT_EQ(f.metadata().size(), 14u);
    EXPECT_EQ(f.get_uint("k.u8"), 200u);
    EXPECT_EQ(f.get_int("k.i8"), -100);
    EXPECT_EQ(f.get_uint("k.u16"), 60000u);
    EXPECT_EQ(f.get_int("k.i16"), -30000);
    EXPECT_EQ(f.get_uint("k.u32"), 4000000000u);
    EXPECT_EQ(f.get_int("k.i32"), -2000000000);
    EXPECT_EQ(f.get_uint("k.u64"), 18000000000000000000ull);
    EXPECT_EQ(f.get_int("k.i64"), -9000000000000000000ll);
    EXPECT_EQ(f.get_float("k.f32"), 1.5);
    EXPECT_EQ(f.get_float("k.f64"), -2.25);
    EXPECT_EQ(f.get_bool("k.bool"), true);
    EXPECT_EQ(f.get_string("k.str"), std::string_view("h\0llo", 5));
    EXPECT_EQ(f.find("k.u32")->type(), ValueType::u32);
    const Array* nested = f.get_array("k.nested");
    ASSERT_NE(nested, nullptr);
    EXPECT_EQ(nested->element_type, ValueType::array);
    ASSERT_EQ(nested->items.size(), 3u);
    EXPECT_EQ(nested->items[0].as_array()->items[1].as_int(), 2);
    EXPECT_TRUE(nested->items[1].as_array()->items.empty());
    EXPECT_EQ(nested->items[2].as_array()->items[0].as_int(), -3);
    EXPECT_EQ(f.get_array("k.strs")->items[2].as_string(), "ccc");
    EXPECT_EQ(f.find("missing"), nullptr);
    EXPECT_EQ(f.get_uint("missing"), std::nullopt);
  }
}

TEST(GgufReader, TypedGettersRejectWrongTypesByName) {
  GgufWriter w;
  w.add("neg", OwnedValue::i32(-1));
  w.add("s", OwnedValue::string("x"));
  auto f = GgufFile::from_bytes(w.bytes(), "t.gguf");
  EXPECT_EQ(f.get_int("neg"), -1);
  try {
    (void)f.get_uint("neg");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("'neg'"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)f.get_bool("s"), Error);
  EXPECT_THROW((void)f.require_string("absent"), Error);
  EXPECT_EQ(f.get_float("neg"), -1.0);  // integers widen to floats
}

TEST(GgufReader, TensorsHaveTypesShapesOffsetsAndData) {
  GgufWriter w;
  w.add("general.alignment", OwnedValue::u32(64));
  auto a = f32_bytes(6, 0.0f);
  std::vector<std::byte> q(2 * 34, std::byte{7});  // two q8_0 blocks
  w.add_tensor("a", TensorType::f32, {3, 2}, a);
  w.add_tensor("q", TensorType::q8_0, {64}, q);
  auto f = GgufFile::from_bytes(w.bytes());
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  ASSERT_EQ(f.tensors().size(), 2u);
  const TensorInfo* ta = f.find_tensor("a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->shape, (std::vector<std::uint64_t>{3, 2}));
  EXPECT_EQ(ta->n_elements, 6u);
  EXPECT_EQ(ta->n_bytes, 24u);
  float v5;
  std::memcpy(&v5, ta->data.data() + 20, 4);
  EXPECT_EQ(v5, 5.0f);
  const TensorInfo* tq = f.find_tensor("q");
  EXPECT_EQ(tq->type, TensorType::q8_0);
  EXPECT_EQ(tq->offset, 64u);
  EXPECT_EQ(tq->n_bytes, 68u);
  EXPECT_EQ(to_string(tq->type), "q8_0");
}

TEST(GgufReader, ReadsFixtureModelAndItsHyperParameters) {
  auto f = GgufFile::open(kData / "tokenizer" / "llama-f32.gguf");
  EXPECT_EQ(f.version(), 3u);
  auto m = read_model_info(f);
  EXPECT_EQ(m.architecture, "llama");
  EXPECT_EQ(m.embedding_length, 64u);
  EXPECT_EQ(m.block_count, 2u);
  EXPECT_EQ(m.feed_forward_length, 160u);
  EXPECT_EQ(m.head_count, 4u);
  EXPECT_EQ(m.head_count_kv, 2u);
  EXPECT_EQ(m.key_length, 16u);
  EXPECT_DOUBLE_EQ(m.rms_norm_epsilon, static_cast<double>(1e-5f));
  EXPECT_EQ(m.rope.freq_base, 10000.0);
  EXPECT_EQ(m.vocab_size, 512u);
  const TensorInfo* emb = f.find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->type, TensorType::f32);
  EXPECT_EQ(emb->shape, (std::vector<std::uint64_t>{64, 512}));
  auto t = read_tokenizer_metadata(f);
  EXPECT_EQ(t.model, "llama");
  EXPECT_EQ(t.tokens.size(), 512u);
  EXPECT_EQ(t.scores.size(), 512u);
  EXPECT_EQ(t.token_types.size(), 512u);
  EXPECT_EQ(t.bos_id, 1);
  EXPECT_EQ(t.eos_id, 2);
  EXPECT_EQ(t.unk_id, std::nullopt);  // absent: the SPM tokenizer defaults it to 0
  EXPECT_EQ(t.add_bos, true);
  EXPECT_EQ(t.pre, "default");
}

TEST(GgufReader, ReadsRopeScalingOfScaledFixture) {
  auto f = GgufFile::open(kData / "tokenizer" / "llama-scaled-f32.gguf");
  auto m = read_model_info(f);
  EXPECT_EQ(m.head_count_kv, 1u);
  EXPECT_NE(f.find_tensor("rope_freqs.weight"), nullptr);
}

TEST(GgufReader, OpenReportsMissingFile) {
  try {
    (void)GgufFile::open(kData / "does-not-exist.gguf");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does-not-exist.gguf"), std::string::npos);
  }
}

}  // namespace
}  // namespace llmux::engine::gguf
