// Shared input layout of the HTTP stream-decoder fuzzers: the fuzzer's bytes choose a size limit
// and cut the stream into pieces, so each run compares "all at once" with "in these pieces".
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace llmux::fuzz {

struct PiecewiseInput {
  std::size_t limit = 0;
  std::vector<std::string> pieces;  // possibly empty pieces: empty reads must change nothing
  std::string whole;                // the concatenation of `pieces`
};

// The limit is small half of the time (to reach the limit errors), else generous. Lengths come
// from the end of the data and contents from the front (FuzzedDataProvider's layout).
inline PiecewiseInput split_input(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider provider(data, size);
  PiecewiseInput in;
  in.limit = provider.ConsumeBool() ? provider.ConsumeIntegralInRange<std::size_t>(1, 96)
                                    : std::size_t{1} << 20;
  while (provider.remaining_bytes() > 0) {
    const auto length = provider.ConsumeIntegralInRange<std::size_t>(0, 48);
    in.pieces.push_back(provider.ConsumeBytesAsString(length));
    in.whole += in.pieces.back();
  }
  return in;
}

}  // namespace llmux::fuzz
