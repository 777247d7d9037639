#include "engine/chat_template/text.hpp"

#include <algorithm>

#include <utf8proc.h>

#include "engine/chat_template/template_error.hpp"

namespace llmux::engine::chat_template::text {

char32_t decode(std::string_view s, std::size_t& pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) {
    ++pos;
    return b0;
  }
  int len = 0;
  char32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    ++pos;
    return 0xFFFD;
  }
  if (pos + len > s.size()) {
    ++pos;
    return 0xFFFD;
  }
  for (int i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(s[pos + i]);
    if ((b & 0xC0) != 0x80) {
      ++pos;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  const bool overlong = (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
                        (len == 4 && cp < 0x10000);
  if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++pos;
    return 0xFFFD;
  }
  pos += len;
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::vector<std::size_t> offsets(std::string_view s) {
  std::vector<std::size_t> out;
  out.reserve(s.size() + 1);
  std::size_t pos = 0;
  while (pos < s.size()) {
    out.push_back(pos);
    decode(s, pos);
  }
  out.push_back(s.size());
  return out;
}

std::size_t length(std::string_view s) {
  std::size_t n = 0;
  std::size_t pos = 0;
  while (pos < s.size()) {
    decode(s, pos);
    ++n;
  }
  return n;
}

bool is_space(char32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D:
    case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x20:
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

namespace {

// Code points of `s` with their byte ranges.
struct Cp {
  char32_t cp;
  std::size_t begin;
  std::size_t end;
};

std::vector<Cp> code_points(std::string_view s) {
  std::vector<Cp> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    const std::size_t begin = pos;
    const char32_t cp = decode(s, pos);
    out.push_back({cp, begin, pos});
  }
  return out;
}

bool in_set(const Cp& c, std::string_view s, const std::optional<std::string>& chars) {
  if (!chars) return is_space(c.cp);
  const std::string_view unit = s.substr(c.begin, c.end - c.begin);
  // Compare code point by code point so "é" in chars matches only "é".
  std::size_t pos = 0;
  while (pos < chars->size()) {
    const std::size_t begin = pos;
    decode(*chars, pos);
    if (std::string_view(*chars).substr(begin, pos - begin) == unit) return true;
  }
  return false;
}

using Parts = std::vector<std::string>;

Parts split_whitespace(std::string_view s, std::int64_t maxsplit) {
  Parts out;
  const auto cps = code_points(s);
  std::size_t i = 0;
  while (i < cps.size()) {
    while (i < cps.size() && is_space(cps[i].cp)) ++i;
    if (i == cps.size()) break;
    if (maxsplit >= 0 && static_cast<std::int64_t>(out.size()) == maxsplit) {
      std::size_t end = s.size();
      // Python keeps the remainder but strips its trailing whitespace.
      std::size_t j = cps.size();
      while (j > i && is_space(cps[j - 1].cp)) --j;
      end = cps[j - 1].end;
      out.emplace_back(s.substr(cps[i].begin, end - cps[i].begin));
      return out;
    }
    const std::size_t start = cps[i].begin;
    while (i < cps.size() && !is_space(cps[i].cp)) ++i;
    const std::size_t end = i < cps.size() ? cps[i].begin : s.size();
    out.emplace_back(s.substr(start, end - start));
  }
  return out;
}

}  // namespace

std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left,
                  bool right) {
  const auto cps = code_points(s);
  std::size_t lo = 0;
  std::size_t hi = cps.size();
  if (left) {
    while (lo < hi && in_set(cps[lo], s, chars)) ++lo;
  }
  if (right) {
    while (hi > lo && in_set(cps[hi - 1], s, chars)) --hi;
  }
  if (lo == hi) return {};
  return std::string(s.substr(cps[lo].begin, cps[hi - 1].end - cps[lo].begin));
}

std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep,
                               std::int64_t maxsplit) {
  if (!sep) return split_whitespace(s, maxsplit);
  Parts out;
  std::size_t start = 0;
  while (maxsplit < 0 || static_cast<std::int64_t>(out.size()) < maxsplit) {
    const std::size_t at = s.find(*sep, start);
    if (at == std::string_view::npos) break;
    out.emplace_back(s.substr(start, at - start));
    start = at + sep->size();
  }
  out.emplace_back(s.substr(start));
  return out;
}

std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep,
                                std::int64_t maxsplit) {
  if (!sep || maxsplit < 0) {
    if (!sep && maxsplit >= 0) {
      // Rare: whitespace rsplit with a limit. Split fully, then re-join the head.
      Parts all = split_whitespace(s, -1);
      if (static_cast<std::int64_t>(all.size()) <= maxsplit + 1) return all;
      const std::size_t head_parts = all.size() - static_cast<std::size_t>(maxsplit);
      std::size_t pos = 0;
      for (std::size_t k = 0; k < head_parts; ++k) pos = s.find(all[k], pos) + all[k].size();
      Parts out;
      out.emplace_back(strip(s.substr(0, pos), std::nullopt, true, false));
      out.insert(out.end(), all.begin() + static_cast<std::ptrdiff_t>(head_parts), all.end());
      return out;
    }
    return split(s, sep, -1);
  }
  Parts out;
  std::size_t end = s.size();
  while (static_cast<std::int64_t>(out.size()) < maxsplit && end >= sep->size()) {
    const std::size_t at = s.rfind(*sep, end - sep->size());
    if (at == std::string_view::npos) break;
    out.emplace_back(s.substr(at + sep->size(), end - at - sep->size()));
    end = at;
  }
  out.emplace_back(s.substr(0, end));
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::string> splitlines(std::string_view s) {
  Parts out;
  const auto cps = code_points(s);
  std::size_t start = 0;
  for (std::size_t i = 0; i < cps.size(); ++i) {
    const char32_t c = cps[i].cp;
    const bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D ||
                     c == 0x1E || c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!brk) continue;
    out.emplace_back(s.substr(start, cps[i].begin - start));
    std::size_t next = cps[i].end;
    if (c == '\r' && i + 1 < cps.size() && cps[i + 1].cp == '\n') {
      ++i;
      next = cps[i].end;
    }
    start = next;
  }
  if (start < s.size()) out.emplace_back(s.substr(start));
  return out;
}

std::string replace(std::string_view s, std::string_view from, std::string_view to,
                    std::int64_t count, std::size_t max_bytes) {
  // Size the result first so a hostile replace never allocates past the limit.
  std::int64_t n = from.empty() ? static_cast<std::int64_t>(length(s)) + 1 : text::count(s, from);
  if (count >= 0) n = std::min(n, count);
  const long double size = static_cast<long double>(s.size()) +
                           static_cast<long double>(n) * (static_cast<long double>(to.size()) -
                                                          static_cast<long double>(from.size()));
  if (size > static_cast<long double>(max_bytes)) {
    fail("SecurityError", "string exceeds " + std::to_string(max_bytes) + " bytes (sandbox limit)");
  }
  std::string out;
  out.reserve(static_cast<std::size_t>(size));
  if (from.empty()) {
    // Python inserts `to` around every code point.
    const auto cps = code_points(s);
    std::int64_t done = 0;
    for (const Cp& c : cps) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      out += s.substr(c.begin, c.end - c.begin);
    }
    if (count < 0 || done < count) out += to;
    return out;
  }
  std::size_t start = 0;
  std::int64_t done = 0;
  while (count < 0 || done < count) {
    const std::size_t at = s.find(from, start);
    if (at == std::string_view::npos) break;
    out += s.substr(start, at - start);
    out += to;
    start = at + from.size();
    ++done;
  }
  out += s.substr(start);
  return out;
}

namespace {

bool is_cased(char32_t cp) {
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL ||
         cat == UTF8PROC_CATEGORY_LT;
}

template <typename F>
std::string map_code_points(std::string_view s, F f) {
  std::string out;
  out.reserve(s.size());
  std::size_t pos = 0;
  std::size_t index = 0;
  bool prev_cased = false;
  while (pos < s.size()) {
    const std::size_t begin = pos;
    const char32_t cp = decode(s, pos);
    if (cp == 0xFFFD && pos - begin == 1 && static_cast<unsigned char>(s[begin]) >= 0x80) {
      out += s.substr(begin, 1);  // keep invalid bytes as they are
    } else {
      append_utf8(out, f(cp, index, prev_cased));
    }
    prev_cased = is_cased(cp);
    ++index;
  }
  return out;
}

char32_t to_upper(char32_t c) {
  return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c)));
}
char32_t to_lower(char32_t c) {
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
}
char32_t to_title(char32_t c) {
  return static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(c)));
}

}  // namespace

// Python's full case mapping turns U+00DF (sharp s) into "SS"/"Ss"; utf8proc's simple mapping
// would give U+1E9E. Rewrite it first (the only special case handled, see docs).
static std::string expand_sharp_s(std::string_view s, const char* with) {
  return replace(s, "\xC3\x9F", with, -1, static_cast<std::size_t>(-1));
}

std::string upper(std::string_view s) {
  const std::string expanded = s.find("\xC3\x9F") == std::string_view::npos ? std::string(s)
                                                                              : expand_sharp_s(s, "SS");
  return map_code_points(expanded, [](char32_t c, std::size_t, bool) { return to_upper(c); });
}

std::string lower(std::string_view s) {
  return map_code_points(s, [](char32_t c, std::size_t, bool) { return to_lower(c); });
}

std::string title(std::string_view s) {
  return map_code_points(
      s, [](char32_t c, std::size_t, bool prev) { return prev ? to_lower(c) : to_title(c); });
}

std::string capitalize(std::string_view s) {
  return map_code_points(
      s, [](char32_t c, std::size_t i, bool) { return i == 0 ? to_title(c) : to_lower(c); });
}

std::int64_t find(std::string_view s, std::string_view sub) {
  const std::size_t at = s.find(sub);
  if (at == std::string_view::npos) return -1;
  return static_cast<std::int64_t>(length(s.substr(0, at)));
}

std::int64_t count(std::string_view s, std::string_view sub) {
  if (sub.empty()) return static_cast<std::int64_t>(length(s)) + 1;
  std::int64_t n = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t at = s.find(sub, start);
    if (at == std::string_view::npos) return n;
    ++n;
    start = at + sub.size();
  }
}

namespace {

const char* const kHex = "0123456789abcdef";

void append_hex(std::string& out, std::uint32_t v, int digits) {
  for (int i = digits - 1; i >= 0; --i) out += kHex[(v >> (4 * i)) & 0xF];
}

void append_u_escape(std::string& out, std::uint32_t unit) {
  out += "\\u";
  append_hex(out, unit, 4);
}

bool printable(char32_t cp) {
  if (cp == ' ') return true;
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  switch (cat) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP:
      return false;
    default:
      return true;
  }
}

}  // namespace

void append_json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  std::size_t pos = 0;
  while (pos < s.size()) {
    const std::size_t begin = pos;
    const char32_t cp = decode(s, pos);
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (cp < 0x20) {
      append_u_escape(out, cp);
    } else if (cp < 0x80 || !ensure_ascii) {
      out += s.substr(begin, pos - begin);
    } else if (cp < 0x10000) {
      append_u_escape(out, cp);
    } else {
      const char32_t v = cp - 0x10000;
      append_u_escape(out, 0xD800 + (v >> 10));
      append_u_escape(out, 0xDC00 + (v & 0x3FF));
    }
  }
}

std::string repr_string(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  std::size_t pos = 0;
  while (pos < s.size()) {
    const std::size_t begin = pos;
    const char32_t cp = decode(s, pos);
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (printable(cp) && !(cp == 0xFFFD && pos - begin == 1)) {
      out += s.substr(begin, pos - begin);
    } else if (cp < 0x100 || (cp == 0xFFFD && pos - begin == 1)) {
      out += "\\x";
      const std::uint32_t v = cp == 0xFFFD ? static_cast<unsigned char>(s[begin]) : cp;
      append_hex(out, v, 2);
    } else if (cp < 0x10000) {
      append_u_escape(out, cp);
    } else {
      out += "\\U";
      append_hex(out, cp, 8);
    }
  }
  out += quote;
  return out;
}

}  // namespace llmux::engine::chat_template::text
