// lowp/shift_cast.hpp — FP4 (E2M1) -> FP8 / FP16 / BF16 casts by bit operations, with a
// power-of-two scale folded into the exponent (ZeroQuant-FP's W4A8 trick).
//
// Layer: bulk.  Includes cast.hpp, packed.hpp, detail/simd_lut.hpp.
//
// Why it works (Wu et al., "ZeroQuant-FP: A Leap Forward in LLMs Post-Training W4A8
// Quantization Using Floating-Point Formats", 2023, section 4): an E2M1 code is
// s e1 e0 m with bias 1.  Copying its exponent and mantissa bits into the top of a wider
// format's fields, `(s << (E+M)) | ((code & 7) << (M - 1))`, keeps the field values, so
// the result reads them with the wider format's bias: value * 2^(1 - bias).  For E4M3
// (bias 7) that is `(s << 7) | ((code & 7) << 2)` = value * 2^-6, subnormal 0.5 included
// (it lands on E4M3's subnormal 0x04 = 2^-7).  A scale 2^k is then folded in by adding
// j = k + bias - 1 to the exponent field of every nonzero normal code; the one E2M1
// subnormal (0.5) becomes the normal 2^(k-1) = field j, mantissa 0.
//
// Contract (total, never throws): shift_cast<To>(x, k) == lowp::cast<To>(value(x) * 2^k)
// (nearest-even, saturate) for EVERY int k and all 16 codes.  For k in
// [shift_cast_min_k<To>, shift_cast_max_k<To>] every result is exact and computed by the
// bit formula; outside it some results round or saturate, and the function falls back to
// the generic converter (still integer-only and constexpr).
//   To             bit-formula k range     exactly representable k range
//   float8_e4m3fn  [-6, 6]                 [-8, 6]
//   float8_e5m2    [-14, 13]               [-15, 13]
//   float16        [-14, 13]               [-23, 13]
//   bfloat16       [-126, 125]             [-132, 125]
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "cast.hpp"
#include "detail/simd_lut.hpp"
#include "packed.hpp"

namespace lowp {

/// The targets of shift_cast: float8_e4m3fn, float8_e5m2, float16, bfloat16.
template <class To>
inline constexpr bool is_shift_cast_target_v =
    std::is_same_v<To, float8_e4m3fn> || std::is_same_v<To, float8_e5m2> ||
    std::is_same_v<To, float16> || std::is_same_v<To, bfloat16>;

/// Smallest k for which shift_cast<To> uses the exponent-add formula: k = 1 - bias
/// (below it the wider format's subnormals would be needed).
template <class To>
inline constexpr int shift_cast_min_k = 1 - To::traits_type::bias;
/// Largest k for which value * 2^k is representable for every E2M1 value (6 * 2^k <= max).
template <class To>
inline constexpr int shift_cast_max_k = float_layout<typename To::traits_type>::emax - 2;

/// value(x) * 2^k in To: see the file comment for the contract (total, exact inside
/// [shift_cast_min_k<To>, shift_cast_max_k<To>], equal to the rounded, saturated
/// lowp::cast<To>(value * 2^k) everywhere).
template <class To>
LOWP_HOST_DEVICE constexpr To shift_cast(float4_e2m1fn x, int k) noexcept {
  static_assert(is_shift_cast_target_v<To>,
                "shift_cast<To>: To must be float8_e4m3fn, float8_e5m2, float16 or bfloat16");
  using Tr = typename To::traits_type;
  using L = float_layout<Tr>;
  using S = typename To::storage_type;
  constexpr int M = L::M;
  const unsigned c = x.bits();
  const unsigned mag3 = c & 7u;
  const std::uint32_t sign = (c & 8u) != 0 ? static_cast<std::uint32_t>(L::sign_mask) : 0u;
  if (k >= shift_cast_min_k<To> && k <= shift_cast_max_k<To>) {
    const std::uint32_t j = static_cast<std::uint32_t>(k - shift_cast_min_k<To>);
    std::uint32_t code = static_cast<std::uint32_t>(mag3) << (M - 1);  // value * 2^(1 - bias)
    if (mag3 != 0) code += j << M;                                     // * 2^j
    if (mag3 == 1 && j != 0) code -= 1u << (M - 1);                    // 0.5: subnormal -> normal
    return To::from_bits(static_cast<S>(sign | code));
  }
  // Outside the exact exponent-add range: the generic converter on the exact value.
  // |k| beyond 1000 changes nothing (every nonzero result already saturates or rounds to
  // zero), and clamping keeps u.exp + k from overflowing.
  detail::unpacked u = detail::decode<typename float4_e2m1fn::traits_type>(c);
  if (u.kind == detail::unpacked::finite) u.exp += k > 1000 ? 1000 : k < -1000 ? -1000 : k;
  return To::from_bits(
      static_cast<S>(detail::encode<Tr>(u, detail::round_mode::nearest_even, overflow::saturate)));
}

namespace detail {
template <class To>
inline void shift_cast_table(int k, To (&table)[16]) noexcept {
  for (unsigned c = 0; c < 16; ++c)
    table[c] = shift_cast<To>(float4_e2m1fn::from_bits(static_cast<std::uint8_t>(c)), k);
}
}  // namespace detail

/// Bulk: dst[i] = shift_cast<To>(src[i], k) for the src.size() elements of a packed FP4
/// stream (either nibble order).  dst must hold src.size() elements; throws
/// std::invalid_argument when it is null and src is not empty.  The 16 results are
/// computed once by the bit formula, then the stream is expanded with a byte-table lookup
/// (SSSE3 pshufb where the compiler targets it; portable loop otherwise).
template <class To, class From, packed_layout L,
          std::enable_if_t<std::is_same_v<std::remove_const_t<From>, float4_e2m1fn>, int> = 0,
          class B = detail::simd::lut_backend>
void shift_cast(packed_span<From, L> src, To* dst, int k) {
  if (!src.empty() && (dst == nullptr || src.data() == nullptr))
    throw std::invalid_argument("lowp::shift_cast: null pointer with n = " +
                                std::to_string(src.size()));
  To table[16];
  detail::shift_cast_table<To>(k, table);
  detail::simd::lut16_nibbles<L == packed_layout::high_nibble_first, To, B>(src.data(), 0, dst,
                                                                            src.size(), table);
}

/// Bulk over unpacked codes (one float4_e2m1fn per byte): dst[i] = shift_cast<To>(src[i], k).
/// Throws std::invalid_argument when n > 0 and a pointer is null.
template <class To>
void shift_cast(const float4_e2m1fn* src, To* dst, std::size_t n, int k) {
  if (n != 0 && (dst == nullptr || src == nullptr))
    throw std::invalid_argument("lowp::shift_cast: null pointer with n = " + std::to_string(n));
  To table[16];
  detail::shift_cast_table<To>(k, table);
  for (std::size_t i = 0; i < n; ++i) dst[i] = table[src[i].bits() & 0xFu];
}

}  // namespace lowp
