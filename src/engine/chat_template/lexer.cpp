#include "engine/chat_template/lexer.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include "engine/chat_template/template_error.hpp"
#include "engine/chat_template/text.hpp"

namespace llmux::engine::chat_template {

namespace {

// \r\n, \r and \n become \n; one trailing newline is dropped (Jinja2's tokeniter).
std::string normalize_source(std::string_view src) {
  std::string out;
  out.reserve(src.size());
  for (std::size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\r') {
      out += '\n';
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
    } else {
      out += src[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

int count_newlines(std::string_view s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

// Length in bytes of the whitespace run (Python's \s) starting at pos.
std::size_t space_run(std::string_view s, std::size_t pos) {
  std::size_t p = pos;
  while (p < s.size()) {
    std::size_t next = p;
    if (!text::is_space(text::decode(s, next))) break;
    p = next;
  }
  return p - pos;
}

// Python's str.rstrip() length.
std::size_t rstrip_length(std::string_view s) {
  const auto offs = text::offsets(s);
  std::size_t n = offs.size() - 1;
  while (n > 0) {
    std::size_t p = offs[n - 1];
    if (!text::is_space(text::decode(s, p))) break;
    --n;
  }
  return offs[n];
}

bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(normalize_source(src)) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) lex_root();
    push(Tok::eof, {});
    return std::move(tokens_);
  }

 private:
  enum class TagKind { block, var, comment, raw };
  struct TagStart {
    std::size_t at;    // position of '{'
    std::size_t end;   // position after the delimiter and its sign (after "%}" for raw)
    TagKind kind;
    char sign;         // '-', '+' or 0
  };

  void push(Tok type, std::string text) {
    Token t;
    t.type = type;
    t.text = std::move(text);
    t.line = line_;
    tokens_.push_back(std::move(t));
  }

  [[noreturn]] void error(std::string msg) { fail("TemplateSyntaxError", std::move(msg), line_); }

  std::optional<TagStart> next_tag(std::size_t from) const {
    std::size_t p = from;
    while ((p = src_.find('{', p)) != std::string::npos && p + 1 < src_.size()) {
      const char c = src_[p + 1];
      if (c == '{' || c == '%' || c == '#') {
        std::size_t e = p + 2;
        char sign = 0;
        if (e < src_.size() && (src_[e] == '-' || src_[e] == '+')) sign = src_[e++];
        const TagKind kind = c == '{' ? TagKind::var : c == '%' ? TagKind::block : TagKind::comment;
        TagStart t{p, e, kind, sign};
        if (kind == TagKind::block) {
          if (const auto raw_end = match_raw_begin(e)) {
            t.kind = TagKind::raw;
            t.end = *raw_end;
          }
        }
        return t;
      }
      ++p;
    }
    return std::nullopt;
  }

  // After "{%" and its sign: \s* raw \s* (-%}\s* | %}). Returns the end position.
  std::optional<std::size_t> match_raw_begin(std::size_t p) const {
    p += space_run(src_, p);
    if (src_.compare(p, 3, "raw") != 0) return std::nullopt;
    p += 3;
    if (p < src_.size() && is_name_char(src_[p])) return std::nullopt;
    p += space_run(src_, p);
    if (src_.compare(p, 3, "-%}") == 0) return p + 3 + space_run(src_, p + 3);
    if (src_.compare(p, 2, "%}") == 0) return p + 2;
    return std::nullopt;
  }

  // Emits the text before a tag, applying `-` stripping or lstrip_blocks.
  void emit_text(std::string_view text, char sign, bool lstrip_ok) {
    int stripped_newlines = 0;
    if (sign == '-') {
      const std::size_t keep = rstrip_length(text);
      stripped_newlines = count_newlines(text.substr(keep));
      text = text.substr(0, keep);
    } else if (sign != '+' && lstrip_ok) {
      const std::size_t nl = text.rfind('\n');
      const std::size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
      if (l_pos > 0 || line_starting_) {
        const std::size_t run = space_run(text, l_pos);
        if (run > 0 && l_pos + run == text.size()) text = text.substr(0, l_pos);
      }
    }
    if (!text.empty()) push(Tok::data, std::string(text));
    line_ += count_newlines(text) + stripped_newlines;
  }

  void lex_root() {
    const auto tag = next_tag(pos_);
    if (!tag) {
      const std::string_view rest = std::string_view(src_).substr(pos_);
      push(Tok::data, std::string(rest));
      line_ += count_newlines(rest);
      pos_ = src_.size();
      return;
    }
    const std::string_view text = std::string_view(src_).substr(pos_, tag->at - pos_);
    emit_text(text, tag->sign, tag->kind != TagKind::var);
    line_starting_ = false;
    line_ += count_newlines(std::string_view(src_).substr(tag->at, tag->end - tag->at));
    pos_ = tag->end;
    switch (tag->kind) {
      case TagKind::comment: lex_comment(); break;
      case TagKind::raw: lex_raw(); break;
      case TagKind::block:
        push(Tok::block_begin, "{%");
        lex_tag(false);
        break;
      case TagKind::var:
        push(Tok::var_begin, "{{");
        lex_tag(true);
        break;
    }
  }

  // After "{#" and its sign: the comment runs to the first "#}"; "-#}" strips the whitespace
  // after it, "+#}" keeps it, and a plain "#}" drops one newline (trim_blocks).
  void lex_comment() {
    const std::size_t p = src_.find("#}", pos_);
    if (p == std::string::npos) error("Missing end of comment tag");
    std::size_t end = p + 2;
    const char before = p > pos_ ? src_[p - 1] : 0;
    if (before == '-') {
      end += space_run(src_, end);
    } else if (before != '+' && end < src_.size() && src_[end] == '\n') {
      ++end;
    }
    finish_at(end);
  }

  void finish_at(std::size_t end) {
    const std::string_view consumed = std::string_view(src_).substr(pos_, end - pos_);
    line_ += count_newlines(consumed);
    line_starting_ = end > 0 && src_[end - 1] == '\n';
    pos_ = end;
  }

  void lex_raw() {
    // Find "{%" sign? \s* endraw \s* (+%} | -%}\s* | %}\n?).
    std::size_t p = pos_;
    while (true) {
      p = src_.find("{%", p);
      if (p == std::string::npos) error("Missing end of raw directive");
      std::size_t q = p + 2;
      char sign = 0;
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) sign = src_[q++];
      q += space_run(src_, q);
      if (src_.compare(q, 6, "endraw") != 0) {
        ++p;
        continue;
      }
      q += 6;
      q += space_run(src_, q);
      std::size_t end;
      if (src_.compare(q, 3, "+%}") == 0) {
        end = q + 3;
      } else if (src_.compare(q, 3, "-%}") == 0) {
        end = q + 3 + space_run(src_, q + 3);
      } else if (src_.compare(q, 2, "%}") == 0) {
        end = q + 2;
        if (end < src_.size() && src_[end] == '\n') ++end;
      } else {
        ++p;
        continue;
      }
      emit_text(std::string_view(src_).substr(pos_, p - pos_), sign, true);
      line_ += count_newlines(std::string_view(src_).substr(p, end - p));
      line_starting_ = src_[end - 1] == '\n';
      pos_ = end;
      return;
    }
  }

  // Tokens of an expression tag up to its end delimiter.
  void lex_tag(bool variable) {
    std::vector<char> balance;
    while (true) {
      const std::size_t ws = space_run(src_, pos_);
      if (ws) finish_at(pos_ + ws);
      if (pos_ >= src_.size()) return;  // the parser reports the missing end
      if (balance.empty() && try_tag_end(variable)) return;
      lex_expression_token(balance);
    }
  }

  bool try_tag_end(bool variable) {
    const std::string_view rest = std::string_view(src_).substr(pos_);
    const char* close = variable ? "}}" : "%}";
    std::size_t end = 0;
    if (rest.size() >= 3 && rest[0] == '-' && rest.substr(1, 2) == close) {
      end = pos_ + 3;
      end += space_run(src_, end);
    } else if (!variable && rest.size() >= 3 && rest[0] == '+' && rest.substr(1, 2) == close) {
      end = pos_ + 3;
    } else if (rest.size() >= 2 && rest.substr(0, 2) == close) {
      end = pos_ + 2;
      if (!variable && end < src_.size() && src_[end] == '\n') ++end;
    } else {
      return false;
    }
    push(variable ? Tok::var_end : Tok::block_end, close);
    finish_at(end);
    return true;
  }

  void lex_expression_token(std::vector<char>& balance) {
    const char c = src_[pos_];
    if (c >= '0' && c <= '9') return lex_number();
    if (is_name_start(c)) {
      std::size_t e = pos_;
      while (e < src_.size() && is_name_char(src_[e])) ++e;
      push(Tok::name, src_.substr(pos_, e - pos_));
      pos_ = e;
      return;
    }
    if (c == '\'' || c == '"') return lex_string(c);
    static const char* const kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
    for (const char* op : kTwo) {
      if (src_.compare(pos_, 2, op) == 0) {
        push(Tok::op, op);
        pos_ += 2;
        return;
      }
    }
    if (std::string_view("+-/*%~[](){}|.,:;=<>").find(c) == std::string_view::npos) {
      error(std::string("unexpected char '") + c + "'");
    }
    if (c == '(' || c == '[' || c == '{') {
      balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    } else if (c == ')' || c == ']' || c == '}') {
      if (balance.empty()) error(std::string("unexpected '") + c + "'");
      if (balance.back() != c) {
        error(std::string("unexpected '") + c + "', expected '" + balance.back() + "'");
      }
      balance.pop_back();
    }
    push(Tok::op, std::string(1, c));
    ++pos_;
  }

  void lex_number();
  void lex_string(char quote);

  std::string src_;
  std::size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

bool digit_in_base(char c, int base) {
  if (base == 16) return std::isxdigit(static_cast<unsigned char>(c)) != 0;
  return c >= '0' && c < static_cast<char>('0' + base);
}

// Digits with single underscores between them; returns the end.
std::size_t digit_run(std::string_view s, std::size_t p, int base) {
  std::size_t e = p;
  while (e < s.size()) {
    if (digit_in_base(s[e], base)) {
      ++e;
    } else if (s[e] == '_' && e > p && e + 1 < s.size() && digit_in_base(s[e + 1], base)) {
      ++e;
    } else {
      break;
    }
  }
  return e;
}

std::string without_underscores(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != '_') out += c;
  }
  return out;
}

void Lexer::lex_number() {
  const std::string_view s = src_;
  const std::size_t start = pos_;
  // Prefixed integers.
  if (s[start] == '0' && start + 2 < s.size()) {
    const char p = static_cast<char>(std::tolower(static_cast<unsigned char>(s[start + 1])));
    const int base = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
    if (base) {
      std::size_t b = start + 2;
      if (b < s.size() && s[b] == '_') ++b;
      const std::size_t e = digit_run(s, b, base);
      if (e > b) {
        const std::string digits = without_underscores(s.substr(b, e - b));
        Token t;
        t.type = Tok::integer;
        t.line = line_;
        t.text = std::string(s.substr(start, e - start));
        const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), t.int_value,
                                       base);
        if (r.ec != std::errc()) error("integer literal too large");
        tokens_.push_back(std::move(t));
        pos_ = e;
        return;
      }
    }
  }
  std::size_t e = digit_run(s, start, 10);
  bool is_float = false;
  const bool after_dot = start > 0 && s[start - 1] == '.';
  if (!after_dot && e + 1 < s.size() && s[e] == '.' && std::isdigit(static_cast<unsigned char>(s[e + 1]))) {
    e = digit_run(s, e + 1, 10);
    is_float = true;
  }
  if (!after_dot && e < s.size() && (s[e] == 'e' || s[e] == 'E')) {
    std::size_t x = e + 1;
    if (x < s.size() && (s[x] == '+' || s[x] == '-')) ++x;
    const std::size_t xe = digit_run(s, x, 10);
    if (xe > x) {
      e = xe;
      is_float = true;
    }
  }
  const std::string clean = without_underscores(s.substr(start, e - start));
  Token t;
  t.line = line_;
  t.text = clean;
  if (is_float) {
    t.type = Tok::floating;
    std::from_chars(clean.data(), clean.data() + clean.size(), t.float_value);
  } else {
    t.type = Tok::integer;
    const auto r = std::from_chars(clean.data(), clean.data() + clean.size(), t.int_value);
    if (r.ec != std::errc()) error("integer literal too large");
  }
  tokens_.push_back(std::move(t));
  pos_ = e;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Python's unicode-escape decoding of a literal's body (after backslashreplace).
std::string unescape(std::string_view body, int line) {
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 == body.size()) {
      out += body[i];
      continue;
    }
    const char c = body[++i];
    switch (c) {
      case '\n': break;
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'N': fail("TemplateSyntaxError", "\\N{name} escapes are not supported", line);
      case 'x': case 'u': case 'U': {
        const int n = c == 'x' ? 2 : c == 'u' ? 4 : 8;
        char32_t cp = 0;
        for (int k = 0; k < n; ++k) {
          const int h = i + 1 < body.size() ? hex_value(body[i + 1]) : -1;
          if (h < 0) {
            fail("TemplateSyntaxError",
                 std::string("truncated \\") + c + std::string(n == 2 ? "XX" : n == 4 ? "XXXX" : "XXXXXXXX") + " escape",
                 line);
          }
          cp = cp * 16 + static_cast<char32_t>(h);
          ++i;
        }
        if (cp > 0x10FFFF) fail("TemplateSyntaxError", "illegal Unicode character", line);
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
        text::append_utf8(out, cp);
        break;
      }
      default:
        if (c >= '0' && c <= '7') {
          int v = c - '0';
          for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7'; ++k) {
            v = v * 8 + (body[++i] - '0');
          }
          text::append_utf8(out, static_cast<char32_t>(v));
        } else if (static_cast<unsigned char>(c) >= 0x80) {
          // backslashreplace turned the character into an escape that is now literal text.
          std::size_t p = i;
          const char32_t cp = text::decode(body, p);
          char buf[16];
          std::snprintf(buf, sizeof buf, cp < 0x100 ? "\\\\x%02x" : cp < 0x10000 ? "\\\\u%04x" : "\\\\U%08x",
                        static_cast<unsigned>(cp));
          out += buf + 1;  // one literal backslash
          i = p - 1;
        } else {
          out += '\\';
          out += c;
        }
    }
  }
  return out;
}

void Lexer::lex_string(char quote) {
  std::size_t e = pos_ + 1;
  while (e < src_.size() && src_[e] != quote) {
    if (src_[e] == '\\') ++e;
    ++e;
  }
  if (e >= src_.size()) error(std::string("unexpected char '") + quote + "'");
  const std::string_view body = std::string_view(src_).substr(pos_ + 1, e - pos_ - 1);
  Token t;
  t.type = Tok::string;
  t.line = line_;
  t.text = unescape(body, line_);
  tokens_.push_back(std::move(t));
  line_ += count_newlines(body);
  pos_ = e + 1;
}

}  // namespace

std::vector<Token> lex(std::string_view source) { return Lexer(source).run(); }

}  // namespace llmux::engine::chat_template
