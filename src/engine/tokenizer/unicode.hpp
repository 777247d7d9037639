// UTF-8 and Unicode helpers for the tokenizers.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmux::engine::tokenizer {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if the bytes there are not a valid,
// complete, shortest-form scalar value (surrogates and values above U+10FFFF are invalid).
std::size_t valid_utf8_length(std::string_view s, std::size_t i) noexcept;

// Whether all of `s` is valid UTF-8.
bool is_valid_utf8(std::string_view s) noexcept;

// `s` with every maximal invalid subpart replaced by U+FFFD — the W3C/Unicode "substitution of
// maximal subparts" practice that Python's decode(errors="replace") follows.
std::string sanitize_utf8(std::string_view s);

// The number of bytes at the end of `s` that form an incomplete (but so far valid) UTF-8 prefix, 0..3. Used by the streaming
// detokenizer to hold back half a character.
std::size_t incomplete_utf8_tail(std::string_view s) noexcept;

// Decodes the valid UTF-8 character at s[i] (precondition: valid_utf8_length(s, i) > 0).
char32_t decode_utf8(std::string_view s, std::size_t i) noexcept;
void append_utf8(std::string& out, char32_t cp);

// NFC normalization of valid UTF-8 (utf8proc).
std::string nfc(std::string_view s);

// The byte of a SentencePiece byte token "<0xAB>", or nullopt.
std::optional<int> parse_byte_token(std::string_view text) noexcept;

// GPT-2's reversible byte <-> printable character mapping used by byte-level BPE.
class ByteLevelMap {
 public:
  ByteLevelMap();
  // The UTF-8 text of the character that stands for byte b.
  std::string_view encode(std::uint8_t b) const noexcept { return encoded_[b]; }
  // Appends the byte-level encoding of raw bytes.
  void encode_append(std::string& out, std::string_view bytes) const;
  // Decodes byte-level text back to raw bytes; nullopt if a character is not in the map.
  std::optional<std::string> decode(std::string_view text) const;

 private:
  std::array<std::string, 256> encoded_;
  std::array<std::int16_t, 324> decode_;  // code point (< 324) -> byte, or -1
};

}  // namespace llmux::engine::tokenizer
