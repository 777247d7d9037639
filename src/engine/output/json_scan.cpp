#include "engine/output/json_scan.hpp"

#include <boost/json/parse.hpp>

namespace llmux::engine::output {
namespace {

bool is_json_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::size_t skip_space(std::string_view s, std::size_t i) noexcept {
  while (i < s.size() && is_json_space(s[i])) ++i;
  return i;
}

// One past the closing quote of the string starting at s[i] == '"' (s.size() if unterminated).
std::size_t string_end(std::string_view s, std::size_t i) noexcept {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return s.size();
}

// One past the value starting at s[i].
std::size_t value_end(std::string_view s, std::size_t i) noexcept {
  if (i >= s.size()) return s.size();
  if (s[i] == '"') return string_end(s, i);
  if (s[i] == '{' || s[i] == '[') {
    JsonScanner scanner;
    if (scanner.scan(s.substr(i)) == ScanStatus::complete) return i + scanner.end();
    return s.size();
  }
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && !is_json_space(s[i])) ++i;
  return i;
}

}  // namespace

ScanStatus JsonScanner::scan(std::string_view text) noexcept {
  if (status_ != ScanStatus::incomplete) return status_;
  for (; pos_ < text.size(); ++pos_) {
    const char c = text[pos_];
    if (pos_ == 0 && c != '{' && c != '[') return status_ = ScanStatus::invalid;
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      if (depth_ == kMaxDepth) return status_ = ScanStatus::invalid;
      open_[static_cast<std::size_t>(depth_++)] = c;
    } else if (c == '}' || c == ']') {
      const char want = c == '}' ? '{' : '[';
      if (depth_ == 0 || open_[static_cast<std::size_t>(depth_ - 1)] != want) {
        return status_ = ScanStatus::invalid;
      }
      if (--depth_ == 0) {
        ++pos_;
        return status_ = ScanStatus::complete;
      }
    }
  }
  return status_;
}

std::vector<JsonMember> object_members(std::string_view text) {
  std::vector<JsonMember> members;
  std::size_t i = skip_space(text, 0);
  if (i >= text.size() || text[i] != '{') return members;
  i = skip_space(text, i + 1);
  while (i < text.size() && text[i] == '"') {
    const std::size_t key_end = string_end(text, i);
    boost::system::error_code ec;
    const auto key = boost::json::parse(text.substr(i, key_end - i), ec);
    i = skip_space(text, key_end);
    if (ec || !key.is_string() || i >= text.size() || text[i] != ':') break;
    i = skip_space(text, i + 1);
    const std::size_t end = value_end(text, i);
    members.push_back({std::string(key.get_string()), text.substr(i, end - i)});
    i = skip_space(text, end);
    if (i < text.size() && text[i] == ',') i = skip_space(text, i + 1);
  }
  return members;
}

std::string_view trim_json_space(std::string_view text) noexcept {
  std::size_t b = 0;
  std::size_t e = text.size();
  while (b < e && is_json_space(text[b])) ++b;
  while (e > b && is_json_space(text[e - 1])) --e;
  return text.substr(b, e - b);
}

}  // namespace llmux::engine::output
