// libFuzzer target for the JSON Schema validator (src/schema/). An input is a schema and an
// instance, separated by the first NUL byte (no NUL: the input is both). The schema is compiled
// (an llmux::InvalidArgumentError is the only allowed failure) and the instance validated twice
// — collecting errors and checking validity only — which must agree. Crashes, sanitizer
// reports, hangs (deep or cyclic references, hostile patterns) or disagreements abort.
//   cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DLLMUX_BUILD_FUZZ=ON
//   cmake --build build-fuzz --target json_schema_fuzz
//   build-fuzz/fuzz/json_schema_fuzz -max_total_time=600 -dict=fuzz/json_schema.dict CORPUS_DIR
// Seed the corpus with the suite's schemas, e.g. one file per group of
// /usr/share/json-schema-test-suite/tests/draft7/*.json.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>

#include <boost/json/parse.hpp>

#include <llmux/error.hpp>

#include "schema/json_schema.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string_view schema_text = input.substr(0, nul);
  const std::string_view instance_text =
      nul == std::string_view::npos ? input : input.substr(nul + 1);
  std::optional<llmux::schema::JsonSchema> schema;
  try {
    schema = llmux::schema::JsonSchema::from_text(schema_text);
  } catch (const llmux::InvalidArgumentError&) {
    return 0;
  }
  boost::json::parse_options options;
  options.max_depth = 128;
  boost::system::error_code ec;
  const boost::json::value instance = boost::json::parse(instance_text, ec, {}, options);
  if (ec) return 0;
  const bool valid = schema->is_valid(instance);
  const auto errors = schema->validate(instance);
  if (valid != errors.empty()) {
    std::fprintf(stderr, "json_schema_fuzz: is_valid=%d but %zu errors\n", valid, errors.size());
    std::abort();
  }
  for (const auto& e : errors) {
    if (e.keyword.empty() || e.message.empty()) std::abort();
  }
  return 0;
}
