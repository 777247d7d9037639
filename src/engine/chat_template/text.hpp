// Python `str` semantics over UTF-8 bytes: code-point counting and slicing, whitespace as
// `str.isspace`, strip/split/case methods, and the string escapes of `repr` and `json.dumps`.
// Invalid UTF-8 never fails: each invalid byte counts as one code point and is kept as-is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::engine::chat_template::text {

// Decodes the code point at `pos` and advances `pos`; an invalid byte gives U+FFFD and
// advances by one.
char32_t decode(std::string_view s, std::size_t& pos);
void append_utf8(std::string& out, char32_t cp);

// Byte offsets of each code point's start, plus s.size() at the end.
std::vector<std::size_t> offsets(std::string_view s);
std::size_t length(std::string_view s);

bool is_space(char32_t cp);  // Python str.isspace()

std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left,
                  bool right);
// str.split(sep, maxsplit); sep == nullopt splits on runs of whitespace.
std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep,
                               std::int64_t maxsplit);
std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep,
                                std::int64_t maxsplit);
std::vector<std::string> splitlines(std::string_view s);
// str.replace; throws TemplateError("SecurityError") if the result would exceed max_bytes.
std::string replace(std::string_view s, std::string_view from, std::string_view to,
                    std::int64_t count, std::size_t max_bytes);
std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string title(std::string_view s);
std::string capitalize(std::string_view s);
// Index in code points of the first occurrence, or -1.
std::int64_t find(std::string_view s, std::string_view sub);
std::int64_t count(std::string_view s, std::string_view sub);

// The body of a JSON string (no quotes) as Python's json.dumps writes it.
void append_json_string(std::string& out, std::string_view s, bool ensure_ascii);
// Python's repr of a str, quotes included.
std::string repr_string(std::string_view s);

}  // namespace llmux::engine::chat_template::text
