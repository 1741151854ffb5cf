// lowp/detail/simd_lut.hpp — 16-entry table lookups over packed 4-bit codes (internal).
//
// Layer: bulk (internal).  Used by shift_cast.hpp: once the 16 results of a 4-bit ->
// 8/16-bit cast are known (computed by the scalar bit formula), expanding a packed
// stream is a byte shuffle: SSSE3 pshufb is exactly a 16-entry byte table.  Portable
// scalar loop always present; LOWP_NO_SIMD forces it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "simd.hpp"

#if !defined(LOWP_NO_SIMD) && defined(__SSSE3__)
#define LOWP_SIMD_SSSE3 1
#if !defined(LOWP_SIMD_AVX2) && !defined(LOWP_SIMD_AVX512)
#include <immintrin.h>
#endif
#endif

namespace lowp::detail::simd {

/// Whether this translation unit's flags enable the SSSE3 path (a template argument of
/// the callers, so differently compiled translation units never share one definition).
#if defined(LOWP_SIMD_SSSE3)
inline constexpr bool lut_simd_enabled = true;
#else
inline constexpr bool lut_simd_enabled = false;
#endif

/// dst[i] = table[code i] for the n codes of a packed 4-bit stream starting at element
/// `first` (HighFirst: element 2j in the high nibble of byte j).  Out: 1- or 2-byte words.
template <bool HighFirst, class Out, bool Simd = lut_simd_enabled>
inline void lut16_nibbles(const std::uint8_t* bytes, std::size_t first, Out* dst, std::size_t n,
                          const Out (&table)[16]) noexcept {
  static_assert((sizeof(Out) == 1 || sizeof(Out) == 2) && std::is_trivially_copyable_v<Out>);
  auto code_at = [bytes](std::size_t i) noexcept -> unsigned {
    const unsigned b = bytes[i / 2];
    const bool high = ((i & 1u) != 0) != HighFirst;
    return (high ? b >> 4 : b) & 0xFu;
  };
  std::size_t i = 0;
  if ((first & 1u) != 0 && n != 0) {
    dst[0] = table[code_at(first)];
    i = 1;
  }
#if defined(LOWP_SIMD_SSSE3)
  if constexpr (Simd) {
    // 32 codes (16 bytes) per step.
    // Out is a trivially copyable 1- or 2-byte value type: its object representation is
    // its code, so the table's bytes are the shuffle tables.
    __m128i t0, t1 = _mm_setzero_si128();
    if constexpr (sizeof(Out) == 1) {
      std::uint8_t b8[16];
      std::memcpy(b8, table, 16);
      t0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b8));
    } else {
      std::uint16_t w[16];
      std::memcpy(w, table, 32);
      std::uint8_t lo[16], hi[16];
      for (int j = 0; j < 16; ++j) {
        lo[j] = static_cast<std::uint8_t>(w[j] & 0xFFu);
        hi[j] = static_cast<std::uint8_t>(w[j] >> 8);
      }
      t0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(lo));
      t1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(hi));
    }
    const __m128i low4 = _mm_set1_epi8(0x0F);
    for (const std::size_t nv = i + (n - i) / 32 * 32; i < nv; i += 32) {
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + (first + i) / 2));
      const __m128i lo = _mm_and_si128(b, low4);
      const __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), low4);
      const __m128i c0 = HighFirst ? _mm_unpacklo_epi8(hi, lo) : _mm_unpacklo_epi8(lo, hi);
      const __m128i c1 = HighFirst ? _mm_unpackhi_epi8(hi, lo) : _mm_unpackhi_epi8(lo, hi);
      if constexpr (sizeof(Out) == 1) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm_shuffle_epi8(t0, c0));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 16), _mm_shuffle_epi8(t0, c1));
      } else {
        const __m128i l0 = _mm_shuffle_epi8(t0, c0), h0 = _mm_shuffle_epi8(t1, c0);
        const __m128i l1 = _mm_shuffle_epi8(t0, c1), h1 = _mm_shuffle_epi8(t1, c1);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm_unpacklo_epi8(l0, h0));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 8), _mm_unpackhi_epi8(l0, h0));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 16), _mm_unpacklo_epi8(l1, h1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 24), _mm_unpackhi_epi8(l1, h1));
      }
    }
  }
#endif
  for (; i < n; ++i) dst[i] = table[code_at(first + i)];
}

}  // namespace lowp::detail::simd
