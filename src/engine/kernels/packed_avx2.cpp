// The packed kernels (dot.hpp: pack_rows, packed_tile_function): weights rearranged at load
// in groups of kPackRows rows, one AVX2 instruction working on the same columns of all of
// them. The layouts are written by pack_rows (dot_scalar.cpp); every kernel here is
// bit-identical to the scalar reference dot of its type.
#include "engine/kernels/dot.hpp"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#include <cstring>

#include "engine/kernels/avx2_common.hpp"

namespace llmux::engine::kernels {
namespace {

using namespace avx2;

// Token j's activation block b (Act = ActQ8 or ActQ8K) of a packed kernel's input.
template <class Act>
inline const Act& act_block(const std::byte* act, std::size_t act_stride, int j, std::int64_t b) {
  return reinterpret_cast<const Act*>(act + static_cast<std::size_t>(j) * act_stride)[b];
}

// The packed kernels' float step per token, the scalar reference's: acc + (d_w * d_a) * sum.
template <class Act, int T>
LLMUX_AVX2 inline void add_scaled_sums(__m256 (&acc)[T], __m256 dw, const __m256i (&sum)[T],
                                       const std::byte* act, std::size_t act_stride,
                                       std::int64_t b) {
#pragma GCC unroll 4
  for (int j = 0; j < T; ++j) {
    const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(act_block<Act>(act, act_stride, j, b).d));
    acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(scale, _mm256_cvtepi32_ps(sum[j])));
  }
}

template <int T>
LLMUX_AVX2 inline void zero(__m256 (&acc)[T]) {
#pragma GCC unroll 4
  for (int j = 0; j < T; ++j) acc[j] = _mm256_setzero_ps();
}

template <int T>
LLMUX_AVX2 inline void zero(__m256i (&sum)[T]) {
#pragma GCC unroll 4
  for (int j = 0; j < T; ++j) sum[j] = _mm256_setzero_si256();
}

// The 32-value block types, packed in Q8_0's slice layout or compact: Q8_0 (signed bytes), Q4_0
// and Q5_0 (stored 0..15 and 0..31, offset 8 and 16), Q4_1 and Q5_1 (stored 0..15 and 0..31
// with a per-block minimum m: value = d * q + m).
template <WeightType W>
struct Block32 {
  static constexpr int kBits = W == WeightType::q8_0                              ? 8
                               : W == WeightType::q5_0 || W == WeightType::q5_1 ? 5
                                                                                  : 4;
  static constexpr bool kMin = W == WeightType::q4_1 || W == WeightType::q5_1;
  static constexpr int kOffset = kBits == 8 || kMin ? 0 : 1 << (kBits - 1);
  // The 8 rows' half scales d, then for Q4_1 and Q5_1 their half minimums m.
  static constexpr std::size_t kHeader = kMin ? 32 : 16;
  static constexpr std::size_t kBytes = kHeader + 256;  // 8 slices of bytes
  static constexpr std::size_t kCompact = kHeader + 128 + (kBits == 5 ? 32 : 0);
  // Slices whose maddubs lanes (two products of at most 2 * 15 * 127 = 3810 or 2 * 31 * 127 =
  // 7874 for unsigned values, 2 * 128 * 127 for Q8_0's) add up in int16 before the madd that
  // widens them: at most 30480 and 31496, exact.
  static constexpr int kSlicesPerMadd = kBits == 4 ? 8 : kBits == 5 ? 4 : 1;
};

// The offset term of unsigned stored values (Q4_0/Q5_0: Offset 8/16; otherwise none): the
// exact sum(q * a) less Offset * sum(a), which gives the scalar dot's sum((q - Offset) * a).
template <int T, int Offset>
LLMUX_AVX2 inline void subtract_offset(__m256i (&sum)[T], const std::byte* act, std::size_t act_stride,
                                       std::int64_t b) {
  if constexpr (Offset != 0) {
#pragma GCC unroll 4
    for (int j = 0; j < T; ++j) {
      sum[j] = _mm256_sub_epi32(sum[j], _mm256_set1_epi32(Offset * act_block<ActQ8>(act, act_stride, j, b).qsum));
    }
  }
}

// The minimum's term of Q4_1/Q5_1 after the scaled sums, the scalar reference's
// acc + m * (d_a * sum(a)) in that order.
template <int T, bool Min>
LLMUX_AVX2 inline void add_min_term(__m256 (&acc)[T], const std::byte* block, const std::byte* act,
                                    std::size_t act_stride, std::int64_t b) {
  if constexpr (Min) {
    const __m256 m = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16)));
#pragma GCC unroll 4
    for (int j = 0; j < T; ++j) {
      acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(m, _mm256_set1_ps(act_block<ActQ8>(act, act_stride, j, b).sum)));
    }
  }
}

// y[j * y_stride + k] = lane k of acc[j].
template <int T>
LLMUX_AVX2 inline void store_rows(float* y, std::int64_t y_stride, const __m256 (&acc)[T]) {
#pragma GCC unroll 4
  for (int j = 0; j < T; ++j) _mm256_storeu_ps(y + j * y_stride, acc[j]);
}

// Packed Q8_0 (pack_rows, dot.hpp; the other 32-value types expanded by expand_packed share the
// layout, with their values stored as unsigned bytes): per 32-column block the 8 rows' half
// scales (and minimums), then 8 slices of 32 bytes, slice g holding columns 4g..4g+3 of rows
// 0..7. One maddubs/madd on a slice and 4 activation bytes broadcast to every lane yields 4
// columns of all 8 rows at once, lane k for row k, so the block's exact integer sums of 8 rows
// take 8 such steps and then one conversion, with no horizontal sums; |w| and the slice are
// shared by T tokens. The float operations per (row, token) are the scalar reference's,
// acc + (d_w * d_a) * sum in that order without FMA, so the results are bit-identical to
// dot_function_scalar of the type.
//
// The unsigned stored values go to maddubs directly and only Q8_0 needs the sign steps; Q4_0's
// and Q5_0's offset term, Offset * sum(a), is taken from the exact integer sum once per block
// and token, which gives the scalar dot's sum((q - Offset) * a).
template <int T, WeightType W>
LLMUX_AVX2 void packed_tile_bytes(const std::byte* g, const std::byte* act, std::size_t act_stride,
                                  std::int64_t n, float* y, std::int64_t y_stride) noexcept {
  using B = Block32<W>;
  __m256 acc[T];
  zero(acc);
  const __m256i ones = _mm256_set1_epi16(1);
  for (std::int64_t b = 0; b < n / 32; ++b, g += B::kBytes) {
    prefetch_ahead<B::kBytes>(g);
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g)));
    __m256i sum[T];
    zero(sum);
    __m256i pairs[T];
#pragma GCC unroll 8
    for (int s = 0; s < 8; ++s) {
      const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g + B::kHeader + 32 * s));
      const __m256i u = B::kBits == 8 ? _mm256_sign_epi8(w, w) : w;  // |w| for signed weights
#pragma GCC unroll 4
      for (int j = 0; j < T; ++j) {
        std::int32_t four;
        std::memcpy(&four, act_block<ActQ8>(act, act_stride, j, b).q + 4 * s, 4);
        __m256i v = _mm256_set1_epi32(four);
        if constexpr (B::kBits == 8) v = _mm256_sign_epi8(v, w);
        const __m256i p = _mm256_maddubs_epi16(u, v);
        pairs[j] = s % B::kSlicesPerMadd ? _mm256_add_epi16(pairs[j], p) : p;
        if (s % B::kSlicesPerMadd == B::kSlicesPerMadd - 1) {
          sum[j] = _mm256_add_epi32(sum[j], _mm256_madd_epi16(pairs[j], ones));
        }
      }
    }
    subtract_offset<T, B::kOffset>(sum, act, act_stride, b);
    add_scaled_sums<ActQ8>(acc, dw, sum, act, act_stride, b);
    add_min_term<T, B::kMin>(acc, g, act, act_stride, b);
  }
  store_rows(y, y_stride, acc);
}

// Packed 4- and 5-bit 32-value types, compact (pack_rows, dot_scalar.cpp): per 32-column block,
// the 8 rows' half scales (and minimums), then 4 vectors of 32 bytes, vector v holding slices
// v (low) and v + 4 (high) of Q8_0's layout: Q4_0 and Q4_1 in the low and high nibbles; Q5_0
// and Q5_1 the low slice's 5-bit values in bits 0..4 and the high slice's top 3 bits in bits
// 5..7, then the high slices' low 2 bits, one 64-bit word per vector, laid out so that
// shifting a word broadcast to the 4 lanes by (0, 2, 4, 6) bits right puts every byte's two
// at its bits 0 and 1. Then as packed_tile_bytes: bit-identical to the scalar reference.

// The two slices of a packed 5-bit vector x (Q5_0, Q5_1, Q5_K; pack_5bit_pair, dot_scalar.cpp)
// as bytes 0..31: lo from bits 0..4; hi from bits 5..7 (to bits 2..4) and the 64-bit word at
// word_at broadcast to the 4 lanes and shifted right by (0, 2, 4, 6) (to bits 0 and 1).
LLMUX_AVX2 inline void unpack_5bit(__m256i x, const std::byte* word_at, __m256i& lo, __m256i& hi) {
  std::int64_t word;
  std::memcpy(&word, word_at, 8);
  const __m256i low2 = _mm256_and_si256(_mm256_srlv_epi64(_mm256_set1_epi64x(word), _mm256_setr_epi64x(0, 2, 4, 6)),
                                        _mm256_set1_epi8(0x03));
  lo = _mm256_and_si256(x, _mm256_set1_epi8(0x1F));
  hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x, 3), _mm256_set1_epi8(0x1C)), low2);
}

// Vector v of a compact block as the byte slices v (lo) and v + 4 (hi) of Q8_0's layout.
template <WeightType W>
LLMUX_AVX2 inline void unpack_slices(const std::byte* block, int v, __m256i& lo, __m256i& hi) {
  using B = Block32<W>;
  const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + B::kHeader + 32 * v));
  if constexpr (B::kBits == 5) {
    unpack_5bit(x, block + B::kHeader + 128 + 8 * v, lo, hi);
  } else {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    lo = _mm256_and_si256(x, low4);
    hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low4);
  }
}

template <int T, WeightType W>
LLMUX_AVX2 void packed_tile_nibbles(const std::byte* g, const std::byte* act, std::size_t act_stride,
                                    std::int64_t n, float* y, std::int64_t y_stride) noexcept {
  using B = Block32<W>;
  __m256 acc[T];
  zero(acc);
  const __m256i ones = _mm256_set1_epi16(1);
  for (std::int64_t b = 0; b < n / 32; ++b, g += B::kCompact) {
    prefetch_ahead<B::kCompact>(g);
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g)));
    __m256i sum[T];
    zero(sum);
    constexpr int kVectorsPerMadd = B::kSlicesPerMadd / 2;  // 2 slices per vector
    __m256i pairs[T];
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) {
      __m256i lo, hi;
      unpack_slices<W>(g, v, lo, hi);
#pragma GCC unroll 4
      for (int j = 0; j < T; ++j) {
        const ActQ8& a = act_block<ActQ8>(act, act_stride, j, b);
        std::int32_t four_lo, four_hi;
        std::memcpy(&four_lo, a.q + 4 * v, 4);
        std::memcpy(&four_hi, a.q + 16 + 4 * v, 4);
        const __m256i p_lo = _mm256_maddubs_epi16(lo, _mm256_set1_epi32(four_lo));
        const __m256i p_hi = _mm256_maddubs_epi16(hi, _mm256_set1_epi32(four_hi));
        const __m256i p = _mm256_add_epi16(p_lo, p_hi);
        pairs[j] = v % kVectorsPerMadd ? _mm256_add_epi16(pairs[j], p) : p;
        if (v % kVectorsPerMadd == kVectorsPerMadd - 1) {
          sum[j] = _mm256_add_epi32(sum[j], _mm256_madd_epi16(pairs[j], ones));
        }
      }
    }
    subtract_offset<T, B::kOffset>(sum, act, act_stride, b);
    add_scaled_sums<ActQ8>(acc, dw, sum, act, act_stride, b);
    add_min_term<T, B::kMin>(acc, g, act, act_stride, b);
  }
  store_rows(y, y_stride, acc);
}

template <WeightType W>
LLMUX_AVX2 void expand_nibbles(const std::byte* g, std::int64_t n, std::byte* out) noexcept {
  using B = Block32<W>;
  for (std::int64_t b = 0; b < n / 32; ++b, g += B::kCompact, out += B::kBytes) {
    std::memcpy(out, g, B::kHeader);
#pragma GCC unroll 4
    for (int v = 0; v < 4; ++v) {
      __m256i lo, hi;
      unpack_slices<W>(g, v, lo, hi);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + B::kHeader + 32 * v), lo);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + B::kHeader + 32 * (v + 4)), hi);
    }
  }
}

// Expanded Q6_K (expand_packed from the compact form below): per 256-column super-block, the
// 8 rows' half scales d; then per 16-column
// sub-block the rows' 8-bit scales, each twice (16 bytes: one int16 pair per row once
// widened); then 64 slices of 32 bytes as above, holding the stored 6-bit values (0..63,
// unsigned, so maddubs takes them directly: pair sums stay below 2 * 63 * 127). Each slice's
// pair sums are multiplied by their sub-block scale in the same madd that widens them; the
// offset term 32 * sum(sc * sum(a over the sub-block)) is one madd per pair of sub-blocks with
// the activations' 16-value sums. That is the scalar reference's exact integer
// sum(sc * (sum(u * a) - 32 * bsums)); then acc + (d * d_a) * sum in its order: bit-identical.
// The kernel (packed_tile_q6_k) follows the compact form below.
constexpr std::size_t kPackedQ6KBlock = 16 + 16 * 16 + 64 * 32;

// Packed Q6_K, compact (pack_rows_q6_k, dot_scalar.cpp): d, the sub-block scales as above, then
// per pair p of sub-blocks 4 vectors whose low nibbles are slice 8p + c of the byte layout and
// whose high nibbles slice 8p + 4 + c, then 16 bytes of top bits per vector. The same integer
// sums and float steps as packed_tile_q6_k: bit-identical to the scalar reference.
constexpr std::size_t kCompactQ6KBlock = 16 + 16 * 16 + 32 * 32 + 32 * 16;

// Vector v of a compact Q6_K block as its low and high byte slices (values 0..63).
LLMUX_AVX2 inline void unpack_q6_k_vector(const std::byte* block, int v, __m256i& lo, __m256i& hi) {
  const std::byte* nibbles = block + 16 + 16 * 16;
  const std::byte* top = nibbles + 32 * 32;
  const __m256i low4 = _mm256_set1_epi8(0x0F), bits45 = _mm256_set1_epi8(0x30);
  const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(nibbles + 32 * v));
  const __m256i h = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(top + 16 * v)));
  lo = _mm256_or_si256(_mm256_and_si256(x, low4),
                       _mm256_and_si256(_mm256_srlv_epi32(h, _mm256_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2)), bits45));
  hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(x, 4), low4),
                       _mm256_and_si256(_mm256_sllv_epi32(h, _mm256_setr_epi32(4, 4, 4, 4, 2, 2, 2, 2)), bits45));
}

// One kernel for both Q6_K forms (Compact: the compact one, else the expanded byte layout),
// sub-blocks taken in pairs p: slices 8p + c (scale of sub-block 2p) and 8p + 4 + c (2p + 1).
template <int T, bool Compact>
LLMUX_AVX2 void packed_tile_q6_k(const std::byte* g, const std::byte* act, std::size_t act_stride,
                                 std::int64_t n, float* y, std::int64_t y_stride) noexcept {
  constexpr std::size_t kBlock = Compact ? kCompactQ6KBlock : kPackedQ6KBlock;
  __m256 acc[T];
  zero(acc);
  for (std::int64_t b = 0; b < n / 256; ++b, g += kBlock) {
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g)));
    __m256i sum[T], offset[T];
    zero(sum);
    zero(offset);
    for (int p = 0; p < 8; ++p) {
      prefetch_ahead<(kBlock / 8 + 63) / 64 * 64>(g + kBlock * p / 8);
      const __m256i sc0 = _mm256_cvtepi8_epi16(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(g + 16 + 16 * (2 * p))));
      const __m256i sc1 = _mm256_cvtepi8_epi16(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(g + 16 + 16 * (2 * p + 1))));
      // Per row (sc of sub-block 2p, sc of 2p + 1) against the pair of activation sums.
      const __m256i pair = _mm256_blend_epi16(sc0, sc1, 0xAA);
#pragma GCC unroll 4
      for (int j = 0; j < T; ++j) {
        std::int32_t bsums;
        std::memcpy(&bsums, act_block<ActQ8K>(act, act_stride, j, b).bsums + 2 * p, 4);
        offset[j] = _mm256_add_epi32(offset[j], _mm256_madd_epi16(pair, _mm256_set1_epi32(bsums)));
      }
      // Two slices' maddubs lanes (two products of at most 63 * 127 each) add up in int16
      // (at most 32004: exact) before the madd by their sub-block's scale.
      __m256i pair_lo[T], pair_hi[T];
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) {
        __m256i lo, hi;
        if constexpr (Compact) {
          unpack_q6_k_vector(g, 4 * p + c, lo, hi);
        } else {
          const std::byte* slices = g + 16 + 16 * 16;
          lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(slices + 32 * (8 * p + c)));
          hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(slices + 32 * (8 * p + 4 + c)));
        }
#pragma GCC unroll 4
        for (int j = 0; j < T; ++j) {
          const ActQ8K& a = act_block<ActQ8K>(act, act_stride, j, b);
          std::int32_t four_lo, four_hi;
          std::memcpy(&four_lo, a.q + 4 * (8 * p + c), 4);
          std::memcpy(&four_hi, a.q + 4 * (8 * p + 4 + c), 4);
          const __m256i p_lo = _mm256_maddubs_epi16(lo, _mm256_set1_epi32(four_lo));
          const __m256i p_hi = _mm256_maddubs_epi16(hi, _mm256_set1_epi32(four_hi));
          if (c % 2 == 0) {
            pair_lo[j] = p_lo;
            pair_hi[j] = p_hi;
            continue;
          }
          sum[j] = _mm256_add_epi32(
              sum[j], _mm256_add_epi32(_mm256_madd_epi16(_mm256_add_epi16(pair_lo[j], p_lo), sc0),
                                       _mm256_madd_epi16(_mm256_add_epi16(pair_hi[j], p_hi), sc1)));
        }
      }
    }
#pragma GCC unroll 4
    for (int j = 0; j < T; ++j) sum[j] = _mm256_sub_epi32(sum[j], _mm256_slli_epi32(offset[j], 5));
    add_scaled_sums<ActQ8K>(acc, dw, sum, act, act_stride, b);
  }
  store_rows(y, y_stride, acc);
}

LLMUX_AVX2 void expand_q6_k(const std::byte* g, std::int64_t n, std::byte* out) noexcept {
  for (std::int64_t b = 0; b < n / 256; ++b, g += kCompactQ6KBlock, out += kPackedQ6KBlock) {
    std::memcpy(out, g, 16 + 16 * 16);
    std::byte* slices = out + 16 + 16 * 16;
    for (int v = 0; v < 32; ++v) {
      __m256i lo, hi;
      unpack_q6_k_vector(g, v, lo, hi);
      const int slice = 8 * (v / 4) + v % 4;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(slices + 32 * slice), lo);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(slices + 32 * (slice + 4)), hi);
    }
  }
}

// Packed Q4_K and Q5_K (pack_rows_q_k, dot_scalar.cpp): per 256-column super-block, the 8
// rows' d, then dmin (halves); per pair of sub-blocks the rows' scales and minimums, one byte
// each (32 bytes); then per pair of sub-blocks 8 vectors of 32 bytes whose low nibbles are a
// slice of the first (columns 4c..4c+3 of rows 0..7) and whose high nibbles the same slice of
// the second (Q5_K: 5-bit vectors and words as Q5_0's, unpack_5bit). A byte shuffle
// widens the scales to int16 pairs (one per row, both halves of a slice's pair sums) and the
// minimums to (first, second) int16 pairs per row. The values are unsigned, so maddubs takes
// them directly, and a sub-block's pair sums add up in int16 before one madd by its scale; the
// minimums' term sum(m * sum(a)) is one madd per pair of sub-blocks with the activations'
// 32-value sums. Float operations as the scalar reference's: bit-identical to it.
template <int Bits>
constexpr std::size_t kPackedQKBlock = 32 + 4 * 32 + 4 * 8 * 32 + (Bits == 5 ? 4 * 8 * 8 : 0);

// pshufb masks on 16 bytes broadcast to both halves: int16 lanes 2k and 2k + 1 = byte k (+ 8
// for the second sub-block's scales), and int16 lanes (2k, 2k + 1) = bytes (k, 8 + k).
struct Q4KMasks {
  alignas(32) std::int8_t scale[2][32];
  alignas(32) std::int8_t min_pairs[32];
};
constexpr Q4KMasks make_q4_k_masks() {
  Q4KMasks m{};
  for (int lane = 0; lane < 32; ++lane) {
    const bool high = lane % 2;  // the zero high byte of every int16
    m.scale[0][lane] = high ? -128 : static_cast<std::int8_t>(lane / 4);
    m.scale[1][lane] = high ? -128 : static_cast<std::int8_t>(8 + lane / 4);
    m.min_pairs[lane] = high ? -128 : static_cast<std::int8_t>(lane / 4 + (lane / 2 % 2 ? 8 : 0));
  }
  return m;
}
constexpr Q4KMasks kQ4KMasks = make_q4_k_masks();

template <int T, int Bits>
LLMUX_AVX2 void packed_tile_q_k(const std::byte* g, const std::byte* act, std::size_t act_stride,
                                std::int64_t n, float* y, std::int64_t y_stride) noexcept {
  __m256 acc[T];
  zero(acc);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i scale0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(kQ4KMasks.scale[0]));
  const __m256i scale1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(kQ4KMasks.scale[1]));
  const __m256i min_pairs = _mm256_load_si256(reinterpret_cast<const __m256i*>(kQ4KMasks.min_pairs));
  for (std::int64_t b = 0; b < n / 256; ++b, g += kPackedQKBlock<Bits>) {
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g)));
    const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g + 16)));
    const std::byte* scales_mins = g + 32;
    const std::byte* quants = scales_mins + 4 * 32;
    __m256i sum[T];
    zero(sum);
    for (int i = 0; i < 4; ++i) {
      prefetch_ahead<256>(quants + 256 * i);
      const __m256i sc = _mm256_broadcastsi128_si256(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(scales_mins + 32 * i)));
      const __m256i sc0 = _mm256_shuffle_epi8(sc, scale0), sc1 = _mm256_shuffle_epi8(sc, scale1);
      // Slices add up in int16 before their scale's madd: each maddubs lane is two products of
      // at most 15 * 127 (Q4_K: 8 slices, up to 30480) or 31 * 127 (Q5_K: 4, up to 31496).
      constexpr int kSlicesPerMadd = Bits == 4 ? 8 : 4;
      __m256i s0[T], s1[T];
#pragma GCC unroll 8
      for (int c = 0; c < 8; ++c) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(quants + 256 * i + 32 * c));
        __m256i lo, hi;
        if constexpr (Bits == 5) {
          unpack_5bit(v, quants + 4 * 8 * 32 + 64 * i + 8 * c, lo, hi);
        } else {
          lo = _mm256_and_si256(v, low4);
          hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
        }
#pragma GCC unroll 4
        for (int j = 0; j < T; ++j) {
          const ActQ8K& a = act_block<ActQ8K>(act, act_stride, j, b);
          std::int32_t four0, four1;
          std::memcpy(&four0, a.q + 64 * i + 4 * c, 4);
          std::memcpy(&four1, a.q + 64 * i + 32 + 4 * c, 4);
          const __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_set1_epi32(four0));
          const __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_set1_epi32(four1));
          s0[j] = c % kSlicesPerMadd ? _mm256_add_epi16(s0[j], p0) : p0;
          s1[j] = c % kSlicesPerMadd ? _mm256_add_epi16(s1[j], p1) : p1;
          if (c % kSlicesPerMadd == kSlicesPerMadd - 1) {
            sum[j] = _mm256_add_epi32(sum[j], _mm256_add_epi32(_mm256_madd_epi16(s0[j], sc0),
                                                               _mm256_madd_epi16(s1[j], sc1)));
          }
        }
      }
    }
    // The minimums' term: the activations' sums over each 32 values (int16, |s| <= 32 * 127)
    // paired by sub-block pairs, times the minimums' pairs.
    __m256i mins[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      mins[i] = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128(
                                        reinterpret_cast<const __m128i*>(scales_mins + 32 * i + 16))),
                                    min_pairs);
    }
    __m256i summ[T];
#pragma GCC unroll 4
    for (int j = 0; j < T; ++j) {
      const ActQ8K& a = act_block<ActQ8K>(act, act_stride, j, b);
      std::int32_t pairs[4];
      _mm_storeu_si128(reinterpret_cast<__m128i*>(pairs),
                       _mm_hadd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.bsums)),
                                      _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.bsums + 8))));
      summ[j] = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        summ[j] = _mm256_add_epi32(summ[j], _mm256_madd_epi16(mins[i], _mm256_set1_epi32(pairs[i])));
      }
    }
#pragma GCC unroll 4
    for (int j = 0; j < T; ++j) {
      const ActQ8K& a = act_block<ActQ8K>(act, act_stride, j, b);
      const __m256 ad = _mm256_set1_ps(a.d);
      const __m256 x = _mm256_mul_ps(_mm256_mul_ps(d, ad), _mm256_cvtepi32_ps(sum[j]));
      const __m256 z = _mm256_mul_ps(_mm256_mul_ps(dmin, ad), _mm256_cvtepi32_ps(summ[j]));
      acc[j] = _mm256_add_ps(acc[j], _mm256_sub_ps(x, z));
    }
  }
  store_rows(y, y_stride, acc);
}

}  // namespace

PackedTileFn packed_tile_function(WeightType type, int tokens) noexcept {
  if (!cpu_has_avx2() || tokens < 1 || tokens > kPackedTokens) return nullptr;
  using W = WeightType;
  static constexpr PackedTileFn q8[kPackedTokens] = {packed_tile_bytes<1, W::q8_0>, packed_tile_bytes<2, W::q8_0>};
  static constexpr PackedTileFn q4[kPackedTokens] = {packed_tile_nibbles<1, W::q4_0>, packed_tile_nibbles<2, W::q4_0>};
  static constexpr PackedTileFn q5[kPackedTokens] = {packed_tile_nibbles<1, W::q5_0>, packed_tile_nibbles<2, W::q5_0>};
  static constexpr PackedTileFn q41[kPackedTokens] = {packed_tile_nibbles<1, W::q4_1>, packed_tile_nibbles<2, W::q4_1>};
  static constexpr PackedTileFn q51[kPackedTokens] = {packed_tile_nibbles<1, W::q5_1>, packed_tile_nibbles<2, W::q5_1>};
  static constexpr PackedTileFn q6k[kPackedTokens] = {packed_tile_q6_k<1, true>,
                                                      packed_tile_q6_k<2, true>};
  static constexpr PackedTileFn q4k[kPackedTokens] = {packed_tile_q_k<1, 4>, packed_tile_q_k<2, 4>};
  static constexpr PackedTileFn q5k[kPackedTokens] = {packed_tile_q_k<1, 5>, packed_tile_q_k<2, 5>};
  switch (type) {
    case W::q8_0: return q8[tokens - 1];
    case W::q4_0: return q4[tokens - 1];
    case W::q5_0: return q5[tokens - 1];
    case W::q4_1: return q41[tokens - 1];
    case W::q5_1: return q51[tokens - 1];
    case W::q6_k: return q6k[tokens - 1];
    case W::q4_k: return q4k[tokens - 1];
    case W::q5_k: return q5k[tokens - 1];
    default: return nullptr;
  }
}

void expand_packed(WeightType type, const std::byte* group, std::int64_t n, std::byte* out) noexcept {
  if (!cpu_has_avx2()) return;
  using W = WeightType;
  switch (type) {
    case W::q4_0: expand_nibbles<W::q4_0>(group, n, out); break;
    case W::q5_0: expand_nibbles<W::q5_0>(group, n, out); break;
    case W::q4_1: expand_nibbles<W::q4_1>(group, n, out); break;
    case W::q5_1: expand_nibbles<W::q5_1>(group, n, out); break;
    case W::q6_k: expand_q6_k(group, n, out); break;
    default: break;
  }
}

PackedTileFn expanded_tile_function(WeightType type, int tokens) noexcept {
  if (!cpu_has_avx2() || tokens < 1 || tokens > kPackedTokens) return nullptr;
  using W = WeightType;
  // Q8_0's layout with unsigned values (and the offsets or minimums) of packed_tile_bytes.
  static constexpr PackedTileFn q4[kPackedTokens] = {packed_tile_bytes<1, W::q4_0>, packed_tile_bytes<2, W::q4_0>};
  static constexpr PackedTileFn q5[kPackedTokens] = {packed_tile_bytes<1, W::q5_0>, packed_tile_bytes<2, W::q5_0>};
  static constexpr PackedTileFn q41[kPackedTokens] = {packed_tile_bytes<1, W::q4_1>, packed_tile_bytes<2, W::q4_1>};
  static constexpr PackedTileFn q51[kPackedTokens] = {packed_tile_bytes<1, W::q5_1>, packed_tile_bytes<2, W::q5_1>};
  static constexpr PackedTileFn q6k[kPackedTokens] = {packed_tile_q6_k<1, false>,
                                                      packed_tile_q6_k<2, false>};
  switch (type) {
    case W::q4_0: return q4[tokens - 1];
    case W::q5_0: return q5[tokens - 1];
    case W::q4_1: return q41[tokens - 1];
    case W::q5_1: return q51[tokens - 1];
    case W::q6_k: return q6k[tokens - 1];
    default: return nullptr;
  }
}

}  // namespace llmux::engine::kernels

#else

namespace llmux::engine::kernels {
PackedTileFn packed_tile_function(WeightType, int) noexcept { return nullptr; }
void expand_packed(WeightType, const std::byte*, std::int64_t, std::byte*) noexcept {}
PackedTileFn expanded_tile_function(WeightType, int) noexcept { return nullptr; }
}  // namespace llmux::engine::kernels

#endif
