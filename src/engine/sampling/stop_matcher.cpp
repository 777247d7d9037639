#include "engine/sampling/stop_matcher.hpp"

#include <algorithm>
#include <utility>

#include "engine/tokenizer/unicode.hpp"

namespace llmux::engine::sampling {

StopMatcher::StopMatcher(std::vector<std::string> stops) {
  for (auto& s : stops) {
    if (s.empty()) continue;
    max_stop_ = std::max(max_stop_, s.size());
    stops_.push_back(std::move(s));
  }
}

StopMatcher::Result StopMatcher::feed(std::string_view text_delta) {
  Result result;
  if (stopped_) {
    result.stopped = true;
    return result;
  }
  // A new match must end in the new bytes, so it starts at most max_stop_ - 1 bytes earlier.
  const std::size_t old_size = pending_.size();
  pending_.append(text_delta);
  const std::size_t from = old_size >= max_stop_ ? old_size - max_stop_ + 1 : 0;
  // The stop that completes first wins (what a token-by-token check sees); on a tie, the one
  // that starts first.
  std::size_t first = std::string::npos;
  std::size_t first_end = std::string::npos;
  for (const auto& stop : stops_) {
    const std::size_t at = pending_.find(stop, from);
    if (at == std::string::npos) continue;
    const std::size_t end = at + stop.size();
    if (end < first_end || (end == first_end && at < first)) {
      first = at;
      first_end = end;
      matched_ = stop;
    }
  }
  if (first != std::string::npos) {
    result.text = pending_.substr(0, first);
    result.stopped = stopped_ = true;
    pending_.clear();
    return result;
  }
  std::size_t cut = pending_.size() - holdback_length();
  cut -= tokenizer::incomplete_utf8_tail(std::string_view(pending_).substr(0, cut));
  result.text = pending_.substr(0, cut);
  pending_.erase(0, cut);
  return result;
}

std::string StopMatcher::flush() {
  return std::exchange(pending_, {});
}

// The longest suffix of pending_ that is a proper prefix of some stop string.
std::size_t StopMatcher::holdback_length() const noexcept {
  const std::string_view text(pending_);
  std::size_t best = 0;
  for (const auto& stop : stops_) {
    const std::size_t longest = std::min(stop.size() - 1, text.size());
    for (std::size_t len = longest; len > best; --len) {
      if (text.substr(text.size() - len) == std::string_view(stop).substr(0, len)) {
        best = len;
        break;
      }
    }
  }
  return best;
}

}  // namespace llmux::engine::sampling
