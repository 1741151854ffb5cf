// lowp/detail/w4a8_avx2.hpp — the AVX2 + FMA kernels of w4a8.hpp: 64 packed 4-bit codes
// to floats, the decode (GEMV) row loops of the FP and INT paths, and the prefill (GEMM)
// micro-kernel.
//
// Layer: quantize (internal).  Includes config.hpp.
//
// The kernels carry __attribute__((target("avx2,fma"))): they are compiled whatever -m
// flags the program uses, and w4a8.hpp calls them only after CPUID said yes
// (available()).  Everything here works on raw pointers; w4a8.hpp owns the layouts.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "../config.hpp"

#if !defined(LOWP_NO_SIMD) && (defined(__x86_64__) || defined(_M_X64)) && \
    (defined(__GNUC__) || defined(__clang__))
#define LOWP_W4A8_AVX2 1
#include <immintrin.h>
#define LOWP_W4A8_TARGET __attribute__((target("avx2,fma")))
// Small constant loops fully unrolled, so that GCC keeps their vectors in registers (at
// -O2 it leaves them as loops over arrays on the stack).
#define LOWP_W4A8_PRAGMA(x) _Pragma(#x)
#define LOWP_W4A8_UNROLL(n) LOWP_W4A8_PRAGMA(GCC unroll n)
#endif

namespace lowp::detail {

/// Inside a block of 64 columns, the storage position (element s of the packed bytes:
/// byte s / 2, low nibble for even s) of reference position f, the order in which
/// w4a8_avx2::decode64 produces its eight vectors of floats:
///
///   vector v = 4·N + 2·U + H (v = f / 8), lane d = f % 8:
///     N: 0 low nibbles (even elements), 1 high nibbles (odd elements);
///     U: 0 unpacklo_epi8 (bytes 0..7 of each 128-bit lane), 1 unpackhi (bytes 8..15);
///     H: 0 the low bfloat16 of each dword (shifted up), 1 the high one (masked);
///     d: 128-bit lane d / 4, dword d % 4.
///   byte = 16·(d / 4) + 8·U + 2·(d % 4) + H,  element = 2·byte + N.
constexpr std::size_t w4a8_block_position(std::size_t f) noexcept {
  const std::size_t v = f / 8, d = f % 8;
  const std::size_t N = v / 4, U = (v / 2) % 2, H = v % 2;
  const std::size_t byte = 16 * (d / 4) + 8 * U + 2 * (d % 4) + H;
  return 2 * byte + N;
}

namespace w4a8_avx2 {

/// 16 bfloat16 bit patterns, one per 4-bit code.
using bf16_table = std::array<std::uint16_t, 16>;

/// A bf16_table split into its low and high bytes: the two pshufb tables.
struct split_table {
  std::uint8_t lo[16];
  std::uint8_t hi[16];
};

inline split_table split(const bf16_table& t) noexcept {
  split_table s{};
  for (int c = 0; c < 16; ++c) {
    s.lo[c] = static_cast<std::uint8_t>(t[static_cast<std::size_t>(c)] & 0xFFu);
    s.hi[c] = static_cast<std::uint8_t>(t[static_cast<std::size_t>(c)] >> 8);
  }
  return s;
}

#if defined(LOWP_W4A8_AVX2)

/// True when this CPU has AVX2 and FMA.
inline bool available() noexcept {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}
inline const char* unavailable_reason() noexcept {
  return "this CPU lacks AVX2 or FMA";
}

// Both lanes hold the 16-byte table (pshufb looks up within each 128-bit lane).
LOWP_W4A8_TARGET inline __m256i broadcast16(const std::uint8_t* p) noexcept {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

/// Subtracts k from the exponent field of every bfloat16 lane that is not ±0: value ·
/// 2^-k, exact while the result stays normal (the k = 0 table's smallest magnitude is
/// 0.5, exponent field 126, so k ≤ 125).
///
///   bfloat16:  s eeeeeeee mmmmmmm      k << 7 lines up with the exponent field
LOWP_W4A8_TARGET inline __m256i shift_exponents(__m256i u, __m256i k_field) noexcept {
  const __m256i magnitude = _mm256_and_si256(u, _mm256_set1_epi16(0x7FFF));
  const __m256i zero = _mm256_cmpeq_epi16(magnitude, _mm256_setzero_si256());
  return _mm256_sub_epi16(u, _mm256_andnot_si256(zero, k_field));
}

/// 64 packed 4-bit codes (32 bytes, low nibble first) to 64 floats, through the two
/// byte tables of a bf16_table, in the order of w4a8_block_position.
///
///   byte b:  hi nibble = element 2b+1 | lo nibble = element 2b
///   pshufb(tlo, nibble), pshufb(thi, nibble): the bfloat16's low and high bytes;
///   unpack{lo,hi}_epi8(L, H): 16-bit lanes hhhhhhhh llllllll (a bfloat16 each);
///   a float is a bfloat16 followed by 16 zero bits: the dword's low half shifted
///   up by 16, or its high half with the low 16 bits masked off.
template <bool Shift>
LOWP_W4A8_TARGET inline void decode64(const std::uint8_t* p, __m256i tlo, __m256i thi,
                                      __m256i k_field, __m256* f) noexcept {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i high16 = _mm256_set1_epi32(static_cast<int>(0xFFFF0000u));
  const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i nib[2] = {_mm256_and_si256(bytes, low4),
                          _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4)};
  LOWP_W4A8_UNROLL(2)
  for (int n = 0; n < 2; ++n) {
    const __m256i L = _mm256_shuffle_epi8(tlo, nib[n]);
    const __m256i H = _mm256_shuffle_epi8(thi, nib[n]);
    __m256i u0 = _mm256_unpacklo_epi8(L, H), u1 = _mm256_unpackhi_epi8(L, H);
    if constexpr (Shift) {
      u0 = shift_exponents(u0, k_field);
      u1 = shift_exponents(u1, k_field);
    }
    f[4 * n + 0] = _mm256_castsi256_ps(_mm256_slli_epi32(u0, 16));
    f[4 * n + 1] = _mm256_castsi256_ps(_mm256_and_si256(u0, high16));
    f[4 * n + 2] = _mm256_castsi256_ps(_mm256_slli_epi32(u1, 16));
    f[4 * n + 3] = _mm256_castsi256_ps(_mm256_and_si256(u1, high16));
  }
}

LOWP_W4A8_TARGET inline float hsum(__m256 v) noexcept {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

LOWP_W4A8_TARGET inline std::int32_t hsum(__m256i v) noexcept {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

/// One output of the FP decode path, before its scales: w is a row of codes (storage
/// order), x the token's activation values in the reference order, seg the G + 1 group
/// starts.  shifts: the row's k per group (M1/M2; null: k = 0); gscale: the row's group
/// scales (absmax: each group's sum is multiplied by its scale, y = fma(S_g, s_g, y);
/// null: one sum over the row).  tables[k]: the split bf16 tables of E2M1 · 2^-k.
/// Shift: decode with tables[0], then subtract k from the exponents (k ≤ 125; a group
/// with k = 126 takes its table).
template <bool Shift>
LOWP_W4A8_TARGET inline float fp_row(const std::uint8_t* w, const float* x, const std::size_t* seg,
                                     std::size_t G, const std::uint8_t* shifts, const float* gscale,
                                     const split_table* tables) noexcept {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  float y = 0.0f;
  for (std::size_t j = 0; j < G; ++j) {
    const unsigned k = shifts != nullptr ? shifts[j] : 0u;
    const bool shift = Shift && k <= 125;
    const split_table& t = tables[shift ? 0 : k];
    const __m256i tlo = broadcast16(t.lo), thi = broadcast16(t.hi);
    const __m256i k_field = _mm256_set1_epi16(static_cast<short>(k << 7));
    for (std::size_t q = seg[j]; q < seg[j + 1]; q += 64) {
      __m256 f[8];
      if (shift && k != 0) {
        decode64<true>(w + q / 2, tlo, thi, k_field, f);
      } else {
        decode64<false>(w + q / 2, tlo, thi, k_field, f);
      }
      LOWP_W4A8_UNROLL(8)
      for (int v = 0; v < 8; ++v)
        acc[v & 3] = _mm256_fmadd_ps(f[v], _mm256_loadu_ps(x + q + 8 * v), acc[v & 3]);
    }
    if (gscale != nullptr) {
      const float s =
          hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
      y = std::fma(s, gscale[j], y);
      acc[0] = acc[1] = acc[2] = acc[3] = _mm256_setzero_ps();
    }
  }
  if (gscale == nullptr)
    y = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  return y;
}

/// One output of the INT decode path, before the token's scale: w a row of INT4 codes
/// (storage order), xi the token's INT8 codes per block of 64 as [the 32 even storage
/// positions, the 32 odd ones], asum[j] the sum of group j's activation codes.  Each
/// group's sum is exact in int32, then y = fma(float(acc_g), s_g, y).
///
/// vpmaddubsw multiplies unsigned by signed bytes, so the INT4 code c (two's complement
/// value c ^ 8 - 8) enters as u = c ^ 8 in [0, 15], and 8 · Σ a is subtracted per group
/// (llama.cpp's q4_0 trick): each pair sum is at most 2 · 15 · 128 = 3840 in magnitude,
/// far from int16 saturation, and a = -128 needs no special case.
LOWP_W4A8_TARGET inline float int_row(const std::uint8_t* w, const std::int8_t* xi,
                                      const std::int32_t* asum, const std::size_t* seg,
                                      std::size_t G, const float* gscale) noexcept {
  const __m256i low4 = _mm256_set1_epi8(0x0F), eight = _mm256_set1_epi8(8);
  const __m256i ones = _mm256_set1_epi16(1);
  float y = 0.0f;
  for (std::size_t j = 0; j < G; ++j) {
    __m256i acc = _mm256_setzero_si256();
    for (std::size_t q = seg[j]; q < seg[j + 1]; q += 64) {
      const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + q / 2));
      const __m256i lo = _mm256_xor_si256(_mm256_and_si256(bytes, low4), eight);
      const __m256i hi =
          _mm256_xor_si256(_mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4), eight);
      const __m256i ae = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xi + q));
      const __m256i ao = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xi + q + 32));
      const __m256i p =
          _mm256_add_epi16(_mm256_maddubs_epi16(lo, ae), _mm256_maddubs_epi16(hi, ao));
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
    }
    const std::int32_t s = hsum(acc) - 8 * asum[j];
    y = std::fma(static_cast<float>(s), gscale[j], y);
  }
  return y;
}

/// A run of one or two blocks of 64 (`blocks` from `block`) inside group `group`: the unit
/// over which fp_row_integer sums in int16 before it folds into the row's float sum.
struct integer_piece {
  std::uint32_t block, blocks, group;
};

/// How one token's activations enter one piece: `planes` balanced base-256 digit planes
/// (2 or 3) of X = A · 2^-t, and lift = 2^t (1 with three planes).  Two planes hold
/// |X| ≤ 32639 = 127 + 256 · 127; they serve a piece whose A values are all multiples of
/// 2^t with max |A| ≤ 32639 · 2^t, which saves a third of the multiplies.
struct integer_split {
  float lift;
  std::uint32_t planes;
};

/// One block of 64 codes (w + 32 · b) biased, u = 12 + 2 · E2M1(c): lo the even storage
/// positions (low nibbles), hi the odd ones.
LOWP_W4A8_TARGET inline void integer_weights(const std::uint8_t* w, std::size_t b, __m256i& lo,
                                             __m256i& hi) noexcept {
  // Codes 0..7 are +0, 0.5, 1, 1.5, 2, 3, 4, 6; 8..15 their negatives.
  const __m256i biased =
      _mm256_setr_epi8(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0, 12, 13, 14, 15,
                       16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 32 * b));
  lo = _mm256_shuffle_epi8(biased, _mm256_and_si256(bytes, low4));
  hi = _mm256_shuffle_epi8(biased, _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4));
}

/// One block's biased weights times one digit plane (64 bytes: even positions, then odd):
/// 16 int16 lanes, each the sum of four products.
LOWP_W4A8_TARGET inline __m256i integer_plane(__m256i lo, __m256i hi,
                                              const std::int8_t* plane) noexcept {
  const __m256i ae = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(plane));
  const __m256i ao = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(plane + 32));
  return _mm256_add_epi16(_mm256_maddubs_epi16(lo, ae), _mm256_maddubs_epi16(hi, ao));
}

/// One output of the FP decode path without a float per weight, before its scales
/// (GroupScales: absmax, gscale[j] per group; else M1/M2, shifts[j] per group):
///
///   weight  w = (c' / 2) · 2^-k, with c' = 2 · E2M1 value, an integer in [-12, 12];
///   activation a = A · 2^-9, A an integer (E4M3's last bit is 2^-9 at least; INT8 too);
///   w · a = c' · A · 2^-(10+k): every group's Σ c'·A is an exact integer.
///
/// vpmaddubsw multiplies unsigned by signed bytes, so the weight enters biased,
/// u = c' + 12 in [0, 24] (a pshufb table of the 16 codes).  Per piece, A enters as
/// X · 2^t (splits[i]), X as balanced base-256 digits: three, d0 + 256·d1 + 65536·d2
/// with t = 0 (|A| ≤ 448 · 2^9 = 229376, so d0, d1 in [-128, 127] and d2 in [-4, 4]), or
/// two where the piece's values allow (integer_split).  digits: per block of 64, three
/// digit planes of 64 bytes each, each as [the 32 even storage positions, the 32 odd ones]
/// (int_row's layout).  bias: per piece, the eight lanes' 12 · Σ X, which undoes the
/// weights' bias (int32 lane l holds storage positions 8l..8l+7 of each of the piece's
/// blocks).
///
/// Exactness (each step is an integer identity until the one conversion to float):
///   a pmaddubsw lane adds two products, |u · d| ≤ 24 · 128, so ≤ 6144 (no saturation);
///   the two nibble halves and the piece's two blocks give ≤ 4 · 6144 = 24576 < 2^15;
///   an int32 lane then holds 16 products: |Σ u·X| ≤ 16 · 24 · 229376 < 2^27.
/// So each lane's S = Σ c'·X is exact; it converts to float once (rounded only above
/// 2^24), is multiplied by 2^t (exact), and enters the lane's running sum by one fma with
/// 2^-(10+k) (M1/M2: unit[k], exact even where subnormal, k ≤ 126) or, absmax, by one fma
/// with the group's scale after a multiplication by 2^(t-10) (exact).  float(S) · 2^t =
/// float(S · 2^t): rounding commutes with a power of two, so a two-plane piece gives the
/// bits the three planes would.  Lanes are summed at the end.  This is a tree of merges, each
/// rounded once, and a merge with one nonzero input is exact, so no product meets more than K - 1
/// roundings: within the contract's bound (docs/w4a8.md).
///
/// Pairs: every piece i is blocks 2i and 2i + 1 of group i (groups of 128, the common
/// case), so `pieces` is not read.
template <bool GroupScales, bool Pairs>
LOWP_W4A8_TARGET inline float fp_row_integer(const std::uint8_t* w, const std::int8_t* digits,
                                             const std::int32_t* bias, const integer_piece* pieces,
                                             const integer_split* splits, std::size_t P,
                                             const std::uint8_t* shifts, const float* gscale,
                                             const float* unit) noexcept {
  const __m256i ones = _mm256_set1_epi16(1), x256 = _mm256_set1_epi16(256);
  __m256 y = _mm256_setzero_ps();
  for (std::size_t i = 0; i < P; ++i) {
    const integer_piece pc =
        Pairs ? integer_piece{2 * static_cast<std::uint32_t>(i), 2, static_cast<std::uint32_t>(i)}
              : pieces[i];
    const integer_split sp = splits[i];
    const std::int8_t* dig = digits + 192 * static_cast<std::size_t>(pc.block);
    // Planes 0 and 1 of the piece's blocks, in int16 (d0, d1).
    __m256i lo0, hi0, lo1 = _mm256_setzero_si256(), hi1 = _mm256_setzero_si256();
    integer_weights(w, pc.block, lo0, hi0);
    __m256i d0 = integer_plane(lo0, hi0, dig), d1 = integer_plane(lo0, hi0, dig + 64);
    if (pc.blocks == 2) {
      integer_weights(w, pc.block + 1, lo1, hi1);
      d0 = _mm256_add_epi16(d0, integer_plane(lo1, hi1, dig + 192));
      d1 = _mm256_add_epi16(d1, integer_plane(lo1, hi1, dig + 256));
    }
    // Σ u·X per int32 lane: d0 + 256 · d1 (+ 65536 · d2 for a three-plane piece), then the
    // bias removed.
    __m256i s = _mm256_add_epi32(_mm256_madd_epi16(d0, ones), _mm256_madd_epi16(d1, x256));
    if (sp.planes == 3) {
      __m256i d2 = integer_plane(lo0, hi0, dig + 128);
      if (pc.blocks == 2) d2 = _mm256_add_epi16(d2, integer_plane(lo1, hi1, dig + 320));
      s = _mm256_add_epi32(s, _mm256_slli_epi32(_mm256_madd_epi16(d2, x256), 8));
    }
    s = _mm256_sub_epi32(s, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias + 8 * i)));
    const __m256 f = _mm256_cvtepi32_ps(s);
    if constexpr (GroupScales) {
      y = _mm256_fmadd_ps(_mm256_mul_ps(f, _mm256_set1_ps(sp.lift * 0x1p-10f)),
                          _mm256_set1_ps(gscale[pc.group]), y);
    } else {
      // f · 2^t first (exact, f being 0 or at least 1), not unit[k] · 2^t: under FTZ
      // that product would flush where unit[k] · 2^t is subnormal, while the fma takes
      // a subnormal operand as it is.
      y = _mm256_fmadd_ps(_mm256_mul_ps(f, _mm256_set1_ps(sp.lift)),
                          _mm256_set1_ps(unit[shifts[pc.group]]), y);
    }
  }
  return hsum(y);
}

/// Rows of codes to floats for the prefill path: n rows (stride `stride` bytes) of the
/// reference positions [q0, q1) (multiples of 64) into out (row i at out + i·ld), each
/// row through its own table (tables[k_row[i]]).
LOWP_W4A8_TARGET inline void decode_rows(const std::uint8_t* codes, std::size_t stride,
                                         std::size_t n, std::size_t q0, std::size_t q1,
                                         const split_table* tables, const std::uint8_t* k_row,
                                         float* out, std::size_t ld) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const split_table& t = tables[k_row != nullptr ? k_row[i] : 0];
    const __m256i tlo = broadcast16(t.lo), thi = broadcast16(t.hi);
    const std::uint8_t* row = codes + i * stride;
    float* o = out + i * ld;
    for (std::size_t q = q0; q < q1; q += 64) {
      __m256 f[8];
      decode64<false>(row + q / 2, tlo, thi, _mm256_setzero_si256(), f);
      LOWP_W4A8_UNROLL(8)
      for (int v = 0; v < 8; ++v) _mm256_storeu_ps(o + (q - q0) + 8 * v, f[v]);
    }
  }
}

/// The prefill micro-kernel: an MR x 16 tile (MR weight rows, 16 tokens) over kc
/// reference positions.  Wp: MR rows of decoded weights (stride ldw); Ap: kc steps of 16
/// activation values (the tokens of the tile).  Each lane is one output, summed in order
/// with fused multiply-adds: the reference order.  The tile starts from Cin (null: zero);
/// without scales it is stored to Cout, with them (one per row) Cout = fma(tile, s, Cout).
template <int MR>
LOWP_W4A8_TARGET inline void micro_kernel(const float* Wp, std::size_t ldw, const float* Ap,
                                          std::size_t kc, const float* Cin, std::size_t ldc,
                                          float* Cout, const float* scales) noexcept {
  __m256 c[MR][2];
  LOWP_W4A8_UNROLL(6)
  for (int r = 0; r < MR; ++r) {
    if (Cin != nullptr) {
      c[r][0] = _mm256_loadu_ps(Cin + static_cast<std::size_t>(r) * ldc);
      c[r][1] = _mm256_loadu_ps(Cin + static_cast<std::size_t>(r) * ldc + 8);
    } else {
      c[r][0] = _mm256_setzero_ps();
      c[r][1] = _mm256_setzero_ps();
    }
  }
  for (std::size_t k = 0; k < kc; ++k) {
    const __m256 a0 = _mm256_loadu_ps(Ap + 16 * k), a1 = _mm256_loadu_ps(Ap + 16 * k + 8);
    LOWP_W4A8_UNROLL(6)
    for (int r = 0; r < MR; ++r) {
      const __m256 w = _mm256_broadcast_ss(Wp + static_cast<std::size_t>(r) * ldw + k);
      c[r][0] = _mm256_fmadd_ps(w, a0, c[r][0]);
      c[r][1] = _mm256_fmadd_ps(w, a1, c[r][1]);
    }
  }
  LOWP_W4A8_UNROLL(6)
  for (int r = 0; r < MR; ++r) {
    float* o = Cout + static_cast<std::size_t>(r) * ldc;
    if (scales != nullptr) {
      const __m256 s = _mm256_set1_ps(scales[r]);
      _mm256_storeu_ps(o, _mm256_fmadd_ps(c[r][0], s, _mm256_loadu_ps(o)));
      _mm256_storeu_ps(o + 8, _mm256_fmadd_ps(c[r][1], s, _mm256_loadu_ps(o + 8)));
    } else {
      _mm256_storeu_ps(o, c[r][0]);
      _mm256_storeu_ps(o + 8, c[r][1]);
    }
  }
}

/// micro_kernel for a run-time MR in [1, 6] (a table of the 6 instantiations).
LOWP_W4A8_TARGET inline void micro_kernel_n(int mr, const float* Wp, std::size_t ldw,
                                            const float* Ap, std::size_t kc, const float* Cin,
                                            std::size_t ldc, float* Cout,
                                            const float* scales) noexcept {
  using kernel = void (*)(const float*, std::size_t, const float*, std::size_t, const float*,
                          std::size_t, float*, const float*) noexcept;
  static constexpr kernel by_rows[] = {micro_kernel<1>, micro_kernel<2>, micro_kernel<3>,
                                       micro_kernel<4>, micro_kernel<5>, micro_kernel<6>};
  by_rows[mr - 1](Wp, ldw, Ap, kc, Cin, ldc, Cout, scales);
}

#else  // no AVX2 kernels in this build

inline bool available() noexcept {
  return false;
}
inline const char* unavailable_reason() noexcept {
#if defined(LOWP_NO_SIMD)
  return "this program is compiled with LOWP_NO_SIMD";
#else
  return "the AVX2 kernels need x86-64 and GCC or Clang";
#endif
}

#endif

}  // namespace w4a8_avx2
}  // namespace lowp::detail
