// lowp/detail/converter.hpp — the one generic, integer-only converter.
//
// Layer: formats.  Includes format_traits.hpp only.
//
// Every conversion in lowp goes through one exact intermediate:
//
//     value = (-1)^negative * sig * 2^exp          sig: 64-bit integer, exp: int
//
// decode<Tr>(code)      code of any traits table  -> unpacked   (exact, never rounds)
// encode<Tr>(u, ...)    unpacked -> code of any traits table    (rounds exactly once)
//
// float and double are traits tables too (traits::binary32/binary64), so "float to
// E4M3" is encode<e4m3>(decode<binary32>(bits)) and "E4M3 to float" is
// encode<binary32>(decode<e4m3>(code)), which is exact because binary32 holds every
// lowp value.  Format-to-format casts round once, from the exact decoded value.
// No floating-point arithmetic is used anywhere here, so results do not depend on the
// FPU's rounding mode, FTZ/DAZ flags or x87 excess precision, and everything is constexpr.
#pragma once

#include <cstdint>

#include "../format_traits.hpp"

namespace lowp::detail {

/// The exact intermediate value.  For NaN, `sig` holds the payload (the mantissa bits
/// below the quiet bit), left-justified in 64 bits, so that IEEE-style formats can pass
/// it on as IEEE 754-2019 section 6.2.3 recommends (and as F16C and AVX512-BF16 do).
struct unpacked {
  enum kind_t : std::uint8_t { zero, finite, inf, nan };
  kind_t kind = zero;
  bool negative = false;
  std::uint64_t sig = 0;
  int exp = 0;
};

/// Rounding modes of the converter: the public ones plus stochastic rounding.
enum class round_mode : std::uint8_t {
  nearest_even = static_cast<std::uint8_t>(rounding::nearest_even),
  nearest_away = static_cast<std::uint8_t>(rounding::nearest_away),
  toward_zero = static_cast<std::uint8_t>(rounding::toward_zero),
  up = static_cast<std::uint8_t>(rounding::up),
  down = static_cast<std::uint8_t>(rounding::down),
  stochastic,
};

LOWP_HOST_DEVICE constexpr round_mode to_mode(rounding r) noexcept {
  return static_cast<round_mode>(static_cast<std::uint8_t>(r));
}

/// Index of the highest set bit of x (x != 0): floor(log2(x)).
LOWP_HOST_DEVICE constexpr int highest_bit(std::uint64_t x) noexcept {
#if LOWP_HAS_BUILTIN(__builtin_clzll)
  return 63 - __builtin_clzll(x);
#else
  int n = 0;
  while (x >>= 1) ++n;
  return n;
#endif
}

/// sig * 2^(-shift) rounded to an integer under `mode`, for a value of sign `negative`.
///
/// shift <= 0 is an exact left shift (the caller guarantees it does not overflow).
/// For shift > 0 the discarded bits are split, as in every hardware rounder, into
///
///   sig = [ kept bits: r | round bit | sticky bits ]      (round + sticky = rem)
///                          <------ shift bits ------>
///
/// Ties to even look at the parity of the *code* (`base_parity` xor r), which for a
/// format with no mantissa bits (E8M0) is the parity of the exponent field.
/// Stochastic rounding moves r away from zero iff random_bits < the first 32 bits of the
/// discarded fraction rem / 2^shift: probability equal to that fraction to 2^-32.
LOWP_HOST_DEVICE constexpr std::uint64_t round_right_shift(std::uint64_t sig, int shift,
                                                           round_mode mode, bool negative,
                                                           std::uint32_t random_bits,
                                                           unsigned base_parity) noexcept {
  if (shift <= 0) return sig << -shift;
  std::uint64_t r = 0;
  bool above_half = false, at_half = false;
  const bool inexact_any = shift < 64 ? (sig & ((std::uint64_t{1} << shift) - 1)) != 0 : sig != 0;
  std::uint32_t fraction32 = 0;
  if (shift < 64) {
    r = sig >> shift;
    const std::uint64_t rem = sig & ((std::uint64_t{1} << shift) - 1);
    const std::uint64_t half = std::uint64_t{1} << (shift - 1);
    above_half = rem > half;
    at_half = rem == half;
    fraction32 = shift <= 32 ? static_cast<std::uint32_t>(rem << (32 - shift))
                             : static_cast<std::uint32_t>(rem >> (shift - 32));
  } else if (shift == 64) {  // r = 0 and the whole of sig is the remainder
    above_half = sig > (std::uint64_t{1} << 63);
    at_half = sig == (std::uint64_t{1} << 63);
    fraction32 = static_cast<std::uint32_t>(sig >> 32);
  } else if (shift < 96) {  // below half an ulp: only directed/stochastic rounding moves it
    fraction32 = static_cast<std::uint32_t>(sig >> (shift - 32));
  }
  bool away = false;
  switch (mode) {
    case round_mode::nearest_even:
      away = above_half || (at_half && ((r ^ base_parity) & 1u));
      break;
    case round_mode::nearest_away:
      away = above_half || at_half;
      break;
    case round_mode::toward_zero:
      away = false;
      break;
    case round_mode::up:
      away = inexact_any && !negative;
      break;
    case round_mode::down:
      away = inexact_any && negative;
      break;
    case round_mode::stochastic:
      away = random_bits < fraction32;
      break;
  }
  return r + (away ? 1u : 0u);
}

/// Decodes a code of traits table Tr into the exact intermediate.  Bits above the
/// format's width are ignored.
template <class Tr>
LOWP_HOST_DEVICE constexpr unpacked decode(std::uint64_t code) noexcept {
  using L = float_layout<Tr>;
  constexpr int M = L::M;
  unpacked u;
  code &= L::sign_mask | L::magnitude_mask;
  const std::uint64_t mag = code & L::magnitude_mask;
  u.negative = (code & L::sign_mask) != 0;
  const std::uint64_t field = mag >> M;
  const std::uint64_t mantissa = mag & L::mantissa_mask;
  if constexpr (Tr::nan == nan_encoding::negative_zero) {
    if (code == L::sign_mask) {
      u.kind = unpacked::nan;
      u.negative = false;
      return u;
    }
  } else if constexpr (Tr::nan == nan_encoding::all_ones) {
    if (mag == L::magnitude_mask) {
      u.kind = unpacked::nan;
      return u;
    }
  } else if constexpr (Tr::nan == nan_encoding::ieee) {
    if (field == L::field_all_ones) {
      if (mantissa == 0) {
        u.kind = unpacked::inf;
        return u;
      }
      u.kind = unpacked::nan;
      // payload: the bits below the quiet bit, left-justified.
      if constexpr (M >= 2) u.sig = (mantissa & (L::mantissa_mask >> 1)) << (64 - (M - 1));
      return u;
    }
  }
  if constexpr (Tr::has_subnormals) {
    if (field == 0) {  // subnormal or zero
      if (mantissa == 0) {
        u.kind = unpacked::zero;
        return u;
      }
      u.kind = unpacked::finite;
      u.sig = mantissa;
      u.exp = L::emin - M;
      return u;
    }
  }
  u.kind = unpacked::finite;
  u.sig = mantissa | (std::uint64_t{1} << M);
  u.exp = static_cast<int>(field) - Tr::bias - M;
  return u;
}

/// The code for NaN in format Tr, carrying the sign where the format's NaN is signed
/// and the payload where the format is IEEE-style.  Formats without NaN give +max, as
/// CUDA's FP4/FP6 conversions do.
template <class Tr>
LOWP_HOST_DEVICE constexpr std::uint64_t nan_code(bool negative, std::uint64_t payload) noexcept {
  using L = float_layout<Tr>;
  constexpr int M = L::M;
  const std::uint64_t sign = negative ? L::sign_mask : 0;
  if constexpr (Tr::nan == nan_encoding::ieee) {
    std::uint64_t m = std::uint64_t{1} << (M - 1);  // quiet bit
    if constexpr (M >= 2) m |= payload >> (64 - (M - 1));
    return sign | (L::field_all_ones << M) | m;
  } else if constexpr (Tr::nan == nan_encoding::all_ones) {
    return sign | L::magnitude_mask;
  } else if constexpr (Tr::nan == nan_encoding::negative_zero) {
    return L::sign_mask;
  } else {
    (void)payload;
    (void)sign;
    return L::max_magnitude;
  }
}

/// The code for a result beyond max (rounded magnitude > max, or an infinite input).
template <class Tr>
LOWP_HOST_DEVICE constexpr std::uint64_t overflow_code(bool negative, round_mode mode,
                                                       overflow policy) noexcept {
  using L = float_layout<Tr>;
  const std::uint64_t sign = negative ? L::sign_mask : 0;
  const bool toward_zero_for_sign = mode == round_mode::toward_zero ||
                                    (mode == round_mode::up && negative) ||
                                    (mode == round_mode::down && !negative);
  if (policy == overflow::saturate || toward_zero_for_sign) return sign | L::max_magnitude;
  if constexpr (Tr::has_inf) {
    return sign | (L::field_all_ones << L::M);
  } else if constexpr (Tr::nan != nan_encoding::none) {
    return nan_code<Tr>(negative, 0);
  } else {
    return sign | L::max_magnitude;
  }
}

/// Encodes the exact value u into format Tr with one rounding.
template <class Tr>
LOWP_HOST_DEVICE constexpr std::uint64_t encode(const unpacked& u, round_mode mode, overflow policy,
                                                std::uint32_t random_bits = 0) noexcept {
  using L = float_layout<Tr>;
  constexpr int M = L::M;
  static_assert(Tr::has_subnormals || M == 0,
                "a format without subnormals is supported only without mantissa bits (E8M0)");
  // 1. Sign.  Unsigned floating formats (E8M0) convert |x|, as CUDA's scale casts do.
  const bool negative = Tr::has_sign && u.negative;
  const std::uint64_t sign = negative ? L::sign_mask : 0;

  // 2. Specials.
  switch (u.kind) {
    case unpacked::nan:
      return nan_code<Tr>(negative, u.sig);
    case unpacked::inf:
      if (policy == overflow::saturate) return sign | L::max_magnitude;
      return overflow_code<Tr>(negative, round_mode::nearest_even, policy);
    case unpacked::zero:
      if constexpr (!L::has_zero) return 0;  // no zero: the smallest code (E8M0 2^-127)
      return L::has_negative_zero ? sign : 0;
    case unpacked::finite:
      break;
  }

  // 3. Exponent of the result: floor(log2 |x|), but not below the subnormal range.
  const int e_value = u.exp + highest_bit(u.sig);
  if (e_value > L::emax + 1) return overflow_code<Tr>(negative, mode, policy);  // |x| >= 2*2^emax
  const int e_result = e_value > L::emin ? e_value : L::emin;

  // 4. Round sig * 2^exp to an integer multiple of the result's ulp, 2^(e_result - M).
  //    The code is then (exponent field - 1) * 2^M + r: for a subnormal r < 2^M and the
  //    field term is 0; a carry out of the mantissa (r == 2^(M+1)) lands in the
  //    exponent field by itself.
  const std::int64_t field_base = e_result - L::emin + L::min_normal_field - 1;
  const int shift = (e_result - M) - u.exp;
  // The code's parity is r's, except without mantissa bits, where r is the implicit 1
  // and the parity is the exponent field's.
  const unsigned base_parity = M == 0 ? static_cast<unsigned>(field_base) & 1u : 0u;
  const std::uint64_t r = round_right_shift(u.sig, shift, mode, negative, random_bits, base_parity);
  const std::int64_t code = field_base * (std::int64_t{1} << M) + static_cast<std::int64_t>(r);

  // 5. Range.
  if (code < 0) return 0;  // below the smallest value of a format without zero (E8M0)
  if (static_cast<std::uint64_t>(code) > L::max_magnitude)
    return overflow_code<Tr>(negative, mode, policy);
  if (code == 0) return L::has_negative_zero ? sign : 0;  // rounded to zero
  return sign | static_cast<std::uint64_t>(code);
}

// ---------------------------------------------------------------------------------
// Integers (two's complement when signed).  Conversions to integers saturate; NaN -> 0.
// ---------------------------------------------------------------------------------

template <class Tr>
LOWP_HOST_DEVICE constexpr unpacked decode_int(std::uint64_t code) noexcept {
  constexpr std::uint64_t mask = (std::uint64_t{1} << Tr::bits) - 1;
  code &= mask;
  std::int64_t v = static_cast<std::int64_t>(code);
  if (Tr::is_signed && (code >> (Tr::bits - 1)) != 0) v -= std::int64_t{1} << Tr::bits;
  unpacked u;
  if (v == 0) return u;
  u.kind = unpacked::finite;
  u.negative = v < 0;
  u.sig = static_cast<std::uint64_t>(v < 0 ? -v : v);
  u.exp = 0;
  return u;
}

template <class Tr>
LOWP_HOST_DEVICE constexpr std::uint64_t encode_int(const unpacked& u, round_mode mode,
                                                    std::uint32_t random_bits = 0) noexcept {
  constexpr std::uint64_t mask = (std::uint64_t{1} << Tr::bits) - 1;
  std::int64_t v = 0;
  switch (u.kind) {
    case unpacked::nan:
    case unpacked::zero:
      return 0;
    case unpacked::inf:
      v = u.negative ? Tr::min : Tr::max;
      break;
    case unpacked::finite: {
      const int e_value = u.exp + highest_bit(u.sig);
      if (e_value > Tr::bits + 1) {  // far beyond the range: saturate
        v = u.negative ? Tr::min : Tr::max;
        break;
      }
      const std::uint64_t r = round_right_shift(u.sig, -u.exp, mode, u.negative, random_bits, 0);
      v = u.negative ? -static_cast<std::int64_t>(r) : static_cast<std::int64_t>(r);
      v = v < Tr::min ? Tr::min : v > Tr::max ? Tr::max : v;
      break;
    }
  }
  return static_cast<std::uint64_t>(v) & mask;
}

/// An integer of the host's (any width up to 64 bits) as the exact intermediate.
template <class I>
LOWP_HOST_DEVICE constexpr unpacked unpack_integral(I value) noexcept {
  unpacked u;
  if (value == 0) return u;
  u.kind = unpacked::finite;
  if constexpr (std::is_signed_v<I>) {
    u.negative = value < 0;
    // |value| without signed overflow for the most negative value.
    u.sig = u.negative
                ? std::uint64_t{0} - static_cast<std::uint64_t>(static_cast<std::int64_t>(value))
                : static_cast<std::uint64_t>(value);
  } else {
    u.sig = static_cast<std::uint64_t>(value);
  }
  return u;
}

}  // namespace lowp::detail
