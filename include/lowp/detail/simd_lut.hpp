// lowp/detail/simd_lut.hpp — 16-entry table lookups over packed 4-bit codes (internal).
//
// Layer: bulk (internal).  Includes detail/simd.hpp.  Used by shift_cast.hpp: once the
// 16 results of a 4-bit -> 8/16-bit cast are known (computed by the scalar bit formula),
// expanding a packed stream is a byte-table lookup, which back-ends with has_lut16 do 16
// bytes at a time (SSSE3 pshufb).  The portable scalar loop is always present;
// LOWP_NO_SIMD forces it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "simd.hpp"

namespace lowp::detail::simd {

/// dst[i] = table[code i] for the n codes of a packed 4-bit stream starting at element
/// `first` (HighFirst: element 2j in the high nibble of byte j).  Out: 1- or 2-byte words.
/// B is a template argument of the callers (lut_backend by default), so differently
/// compiled translation units never share one definition.
template <bool HighFirst, class Out, class B = lut_backend>
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
  if constexpr (B::has_lut16) {
    // 32 codes (16 bytes) per step.
    // Out is a trivially copyable 1- or 2-byte value type: its object representation is
    // its code, so the table's low bytes and (2-byte Out) high bytes are the byte tables.
    using V = typename B::bytes16;
    std::uint8_t lo[16], hi[16] = {};
    if constexpr (sizeof(Out) == 1) {
      std::memcpy(lo, table, 16);
    } else {
      std::uint16_t w[16];
      std::memcpy(w, table, 32);
      for (int j = 0; j < 16; ++j) {
        lo[j] = static_cast<std::uint8_t>(w[j] & 0xFFu);
        hi[j] = static_cast<std::uint8_t>(w[j] >> 8);
      }
    }
    const V t0 = B::load_b16(lo), t1 = B::load_b16(hi);
    for (const std::size_t nv = i + (n - i) / 32 * 32; i < nv; i += 32) {
      const V b = B::load_b16(bytes + (first + i) / 2);
      const V l4 = B::lo_nibbles(b), h4 = B::hi_nibbles(b);
      const V c0 = HighFirst ? B::zip_lo_u8(h4, l4) : B::zip_lo_u8(l4, h4);  // codes i..i+15
      const V c1 = HighFirst ? B::zip_hi_u8(h4, l4) : B::zip_hi_u8(l4, h4);  // i+16..i+31
      if constexpr (sizeof(Out) == 1) {
        (void)t1;
        B::store_b16(dst + i, B::lut16_u8(t0, c0));
        B::store_b16(dst + i + 16, B::lut16_u8(t0, c1));
      } else {
        const V l0 = B::lut16_u8(t0, c0), h0 = B::lut16_u8(t1, c0);
        const V l1 = B::lut16_u8(t0, c1), h1 = B::lut16_u8(t1, c1);
        B::store_b16(dst + i, B::zip_lo_u8(l0, h0));
        B::store_b16(dst + i + 8, B::zip_hi_u8(l0, h0));
        B::store_b16(dst + i + 16, B::zip_lo_u8(l1, h1));
        B::store_b16(dst + i + 24, B::zip_hi_u8(l1, h1));
      }
    }
  }
  for (; i < n; ++i) dst[i] = table[code_at(first + i)];
}

}  // namespace lowp::detail::simd
