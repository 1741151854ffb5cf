// lowp/format_traits.hpp — every number format as data: the traits tables.
//
// Layer: formats.  Includes config.hpp only.
//
// A floating-point format is fully described by a handful of numbers, laid out as
//
//   [ sign | exponent field (E bits) | mantissa field (M bits) ]      value, normal:
//                                                (-1)^s * 2^(field - bias) * (1 + m / 2^M)
//
// plus the answer to three questions the standards answer differently: where (if
// anywhere) Inf and NaN live, whether the all-zero exponent field holds subnormals,
// and whether there is a sign bit.  The single generic converter in
// detail/converter.hpp reads nothing but these tables, so adding a format is adding a
// table, never a converter.
#pragma once

#include <cstdint>

#include "config.hpp"

namespace lowp {

/// How a conversion rounds a value that falls between two representable neighbours.
enum class rounding : std::uint8_t {
  nearest_even,  ///< to nearest, ties to the even code (IEEE 754 default, CUDA RN)
  nearest_away,  ///< to nearest, ties away from zero (qtorch, DeepSpeed)
  toward_zero,   ///< truncate (CUDA RZ)
  up,            ///< toward +Inf (CUDA RP)
  down,          ///< toward -Inf (CUDA RM)
};

/// What a conversion does with a value whose rounded magnitude exceeds the format's max.
enum class overflow : std::uint8_t {
  /// Finite values beyond max and +-Inf become +-max (CUDA __NV_SATFINITE).
  saturate,
  /// OCP OFP8 "non-saturating" mode: overflow becomes +-Inf where the format has Inf,
  /// else NaN where it has NaN, else +-max.  As IEEE 754 section 7.4 prescribes, a
  /// directed rounding that rounds toward zero for the value's sign (toward_zero; up for
  /// negatives; down for positives) still gives +-max.
  non_saturating,
};

/// Where a format keeps its NaN (and whether it has one at all).
enum class nan_encoding : std::uint8_t {
  none,           ///< no NaN code (FP6, FP4)
  ieee,           ///< exponent all ones, mantissa != 0 (E5M2, FP16, BF16, FP32, FP64)
  all_ones,       ///< only the all-ones magnitude: S.1111.111 (E4M3FN), 0xFF (E8M0)
  negative_zero,  ///< the code 1000...0, which would otherwise be -0 (the fnuz formats)
};

namespace traits {

// Each table names: storage type, sign bit, exponent/mantissa widths, bias, Inf and NaN
// placement, whether the zero exponent field holds subnormals.  The comments give the
// bit patterns of max, as OCP OFP8 v1.0 Table 1 / OCP MX v1.0 section 5.3 list them.

struct float8_e4m3fn {
  static constexpr const char* name = "float8_e4m3fn";
  using storage = std::uint8_t;
  static constexpr bool has_sign = true;
  static constexpr int exponent_bits = 4, mantissa_bits = 3, bias = 7;
  static constexpr bool has_inf = false, has_subnormals = true;
  static constexpr nan_encoding nan = nan_encoding::all_ones;  // S.1111.111
  // max = 0b0'1111'110 // (1 + 6/8) * 2^(15-7) = 448
};

struct float8_e5m2 {
  static constexpr const char* name = "float8_e5m2";
  using storage = std::uint8_t;
  static constexpr bool has_sign = true;
  static constexpr int exponent_bits = 5, mantissa_bits = 2, bias = 15;
  static constexpr bool has_inf = true, has_subnormals = true;  // Inf = S.11111.00
  static constexpr nan_encoding nan = nan_encoding::ieee;       // S.11111.{01,10,11}
  // max = 0b0'11110'11 // (1 + 3/4) * 2^(30-15) = 57344
};

struct float8_e4m3fnuz {
  static constexpr const char* name = "float8_e4m3fnuz";
  using storage = std::uint8_t;
  static constexpr bool has_sign = true;
  static constexpr int exponent_bits = 4, mantissa_bits = 3, bias = 8;
  static constexpr bool has_inf = false, has_subnormals = true;
  static constexpr nan_encoding nan = nan_encoding::negative_zero;  // 0b1'0000'000
  // max = 0b0'1111'111 // (1 + 7/8) * 2^(15-8) = 240
};

struct float8_e5m2fnuz {
  static constexpr const char* name = "float8_e5m2fnuz";
  using storage = std::uint8_t;
  static constexpr bool has_sign = true;
  static constexpr int exponent_bits = 5, mantissa_bits = 2, bias = 16;
  static constexpr bool has_inf = false, has_subnormals = true;
  static constexpr nan_encoding nan = nan_encoding::negative_zero;  // 0b1'00000'00
  // max = 0b0'11111'11 // (1 + 3/4) * 2^(31-16) = 57344
};

struct float6_e2m3fn {
  static constexpr const char* name = "float6_e2m3fn";
  using storage = std::uint8_t;  // low 6 bits
  static constexpr bool has_sign = true;
  static constexpr int exponent_bits = 2, mantissa_bits = 3, bias = 1;
  static constexpr bool has_inf = false, has_subnormals = true;
  static constexpr nan_encoding nan = nan_encoding::none;
  // max = 0b0'11'111 // (1 + 7/8) * 2^(3-1) = 7.5
};

struct float6_e3m2fn {
  static constexpr const char* name = "float6_e3m2fn";
  using storage = std::uint8_t;  // low 6 bits
  static constexpr bool has_sign = true;
  static constexpr int exponent_bits = 3, mantissa_bits = 2, bias = 3;
  static constexpr bool has_inf = false, has_subnormals = true;
  static constexpr nan_encoding nan = nan_encoding::none;
  // max = 0b0'111'11 // (1 + 3/4) * 2^(7-3) = 28
};

struct float4_e2m1fn {
  static constexpr const char* name = "float4_e2m1fn";
  using storage = std::uint8_t;  // low 4 bits
  static constexpr bool has_sign = true;
  static constexpr int exponent_bits = 2, mantissa_bits = 1, bias = 1;
  static constexpr bool has_inf = false, has_subnormals = true;
  static constexpr nan_encoding nan = nan_encoding::none;
  // max = 0b0'11'1 // (1 + 1/2) * 2^(3-1) = 6
};

struct float8_e8m0fnu {
  static constexpr const char* name = "float8_e8m0fnu";
  using storage = std::uint8_t;
  static constexpr bool has_sign = false;  // a scale: the converter takes |x|, as CUDA does
  static constexpr int exponent_bits = 8, mantissa_bits = 0, bias = 127;
  // No subnormals and no zero: the field 0x00 is the normal number 2^(0-127).
  static constexpr bool has_inf = false, has_subnormals = false;
  static constexpr nan_encoding nan = nan_encoding::all_ones;  // 0xFF
  // max = 0b1111'1110 // 2^(254-127) = 2^127
};

struct float16 {
  static constexpr const char* name = "float16";
  using storage = std::uint16_t;
  static constexpr bool has_sign = true;
  static constexpr int exponent_bits = 5, mantissa_bits = 10, bias = 15;
  static constexpr bool has_inf = true, has_subnormals = true;
  static constexpr nan_encoding nan = nan_encoding::ieee;
  // max = 0b0'11110'1111111111 // (2 - 2^-10) * 2^15 = 65504
};

struct bfloat16 {
  static constexpr const char* name = "bfloat16";
  using storage = std::uint16_t;
  static constexpr bool has_sign = true;
  static constexpr int exponent_bits = 8, mantissa_bits = 7, bias = 127;
  static constexpr bool has_inf = true, has_subnormals = true;
  static constexpr nan_encoding nan = nan_encoding::ieee;
  // max = 0b0'11111110'1111111 // (2 - 2^-7) * 2^127
};

// The host formats are tables too: the converter decodes a float through the same
// code path as any lowp format, and encodes a lowp value into float the same way.
struct binary32 {
  static constexpr const char* name = "binary32";
  using storage = std::uint32_t;
  static constexpr bool has_sign = true;
  static constexpr int exponent_bits = 8, mantissa_bits = 23, bias = 127;
  static constexpr bool has_inf = true, has_subnormals = true;
  static constexpr nan_encoding nan = nan_encoding::ieee;
};

struct binary64 {
  static constexpr const char* name = "binary64";
  using storage = std::uint64_t;
  static constexpr bool has_sign = true;
  static constexpr int exponent_bits = 11, mantissa_bits = 52, bias = 1023;
  static constexpr bool has_inf = true, has_subnormals = true;
  static constexpr nan_encoding nan = nan_encoding::ieee;
};

/// "int<Bits>" or "uint<Bits>", built at compile time.
template <int Bits, bool Signed>
struct integer_name {
  static_assert(Bits >= 2 && Bits <= 31, "an integer format has 2 to 31 bits");
  static constexpr auto make() noexcept {
    struct chars {
      char s[8];
    } r{};
    int n = 0;
    if (!Signed) r.s[n++] = 'u';
    r.s[n++] = 'i';
    r.s[n++] = 'n';
    r.s[n++] = 't';
    if (Bits >= 10) r.s[n++] = static_cast<char>('0' + Bits / 10);
    r.s[n] = static_cast<char>('0' + Bits % 10);
    return r;
  }
  static constexpr auto value = make();
};

// Integer formats: two's complement when signed.  Conversions to them saturate.
template <int Bits, bool Signed, class Storage>
struct integer {
  using storage = Storage;
  static constexpr const char* name = integer_name<Bits, Signed>::value.s;
  static constexpr int bits = Bits;
  static constexpr bool is_signed = Signed;
  static constexpr std::int32_t max = Signed ? (1 << (Bits - 1)) - 1 : (1 << Bits) - 1;
  static constexpr std::int32_t min = Signed ? -(1 << (Bits - 1)) : 0;
};
using int4 = integer<4, true, std::uint8_t>;
using uint4 = integer<4, false, std::uint8_t>;
using int8 = integer<8, true, std::uint8_t>;
using uint8 = integer<8, false, std::uint8_t>;

}  // namespace traits

/// Derived constants of a floating-point traits table, all computed at compile time.
template <class Tr>
struct float_layout {
  static constexpr int E = Tr::exponent_bits;
  static constexpr int M = Tr::mantissa_bits;
  static constexpr int total_bits = (Tr::has_sign ? 1 : 0) + E + M;
  static constexpr std::uint64_t magnitude_mask = (std::uint64_t{1} << (E + M)) - 1;
  static constexpr std::uint64_t mantissa_mask = (std::uint64_t{1} << M) - 1;
  static constexpr std::uint64_t sign_mask = Tr::has_sign ? std::uint64_t{1} << (E + M) : 0;
  static constexpr std::uint64_t field_all_ones = (std::uint64_t{1} << E) - 1;
  /// Magnitude code of the largest finite value.
  static constexpr std::uint64_t max_magnitude =
      Tr::has_inf ? ((field_all_ones << M) - 1)  // exponent field all ones is Inf/NaN
      : Tr::nan == nan_encoding::all_ones ? magnitude_mask - 1  // only 1...1 is NaN
                                          : magnitude_mask;     // every magnitude is finite
  /// The smallest exponent field that holds normal numbers, and its unbiased exponent.
  static constexpr int min_normal_field = Tr::has_subnormals ? 1 : 0;
  static constexpr int emin = min_normal_field - Tr::bias;
  static constexpr int emax = static_cast<int>(max_magnitude >> M) - Tr::bias;
  static constexpr bool has_zero = Tr::has_subnormals;
  static constexpr bool has_negative_zero =
      Tr::has_sign && Tr::has_subnormals && Tr::nan != nan_encoding::negative_zero;
};

}  // namespace lowp
