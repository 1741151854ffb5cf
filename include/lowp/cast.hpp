// lowp/cast.hpp — lowp::cast and lowp::cast_stochastic: every conversion, one rounding.
//
// Layer: formats.  Includes types.hpp.
#pragma once

#include <cstdint>
#include <type_traits>

#include "types.hpp"

namespace lowp {

/// Converts x to To with exactly one rounding.
///
/// From: float, double, any integer type, or any lowp type.  To: any lowp type, float
/// or double.  A double converts directly (never through float), and a lowp value is
/// decoded exactly before it is rounded, so there is no double rounding anywhere.
///
/// Contract (total: every input has a defined result, nothing throws):
/// - `r` rounds values between two codes (see lowp::rounding).
/// - `o` decides results whose rounded magnitude exceeds the format's max, and infinite
///   inputs (see lowp::overflow).  Integer targets always saturate to [min, max].
///   Decoding a lowp value into float or double is exact and ignores `o` (Inf stays
///   Inf), exactly like static_cast<float>(v).
/// - NaN gives the format's NaN, signed where the format's NaN is signed (E4M3FN
///   0x7F/0xFF, E5M2 0x7E/0xFE for a quiet NaN without payload); IEEE-style formats
///   (E5M2, FP16, BF16) keep the payload's top bits, as F16C does.  The fnuz formats give
///   0x80; FP4/FP6 (no NaN) give +max, as CUDA does; integers give 0.
/// - Unsigned E8M0 converts |x|; zero and values below 2^-127 give 0x00 (2^-127: the
///   format has no zero), as CUDA's __nv_cvt_float_to_e8m0 does.
/// - The fnuz formats have no -0: negative values that round to zero give +0.
template <class To, class From>
LOWP_HOST_DEVICE LOWP_CONSTEXPR To cast(From x, rounding r = rounding::nearest_even,
                                        overflow o = overflow::saturate) noexcept {
  static_assert(detail::is_cast_source_v<From> || is_lowp_type_v<From>,
                "cast<To>(x): x must be float, double, an integer or a lowp type");
  // Decoding a lowp value into float or double is exact for every code, so there is
  // nothing to saturate: Inf stays Inf, whatever `o` says.
  constexpr bool exact_decode =
      is_lowp_type_v<From> && (std::is_same_v<To, float> || std::is_same_v<To, double>);
  return detail::from_unpacked<To>(detail::to_unpacked(x), detail::to_mode(r),
                                   exact_decode ? overflow::non_saturating : o);
}

/// Stochastic rounding: rounds x to one of its two neighbouring codes, away from the
/// truncated (toward-zero) one with probability equal to the discarded fraction of an
/// ulp, resolved to 2^-32: it rounds away iff random_bits < floor(fraction * 2^32).
/// Deterministic for given bits; exactly representable inputs never move.  Feed
/// uniformly distributed random_bits (one draw per element).  Overflow, NaN and
/// specials follow cast<To>; a value that rounds away past max counts as overflowing.
template <class To, class From,
          std::enable_if_t<std::is_same_v<From, float> || std::is_same_v<From, double>, int> = 0>
LOWP_HOST_DEVICE LOWP_CONSTEXPR To cast_stochastic(From x, std::uint32_t random_bits,
                                                   overflow o = overflow::saturate) noexcept {
  return detail::from_unpacked<To>(detail::to_unpacked(x), detail::round_mode::stochastic, o,
                                   random_bits);
}

}  // namespace lowp
