// tests/test_types.cpp — the value types' API: compile-time conversions,
// size and triviality, std::numeric_limits, comparisons, arithmetic, unary minus,
// printing, the integer types, from_bits masking and the format cards.
//
// Every expected number here is derived from the format specifications (OCP OFP8 v1.0,
// OCP MX v1.0 section 5.3, IEEE 754-2019 section 3.6, the fnuz layouts of Graphcore /
// AMD) by hand, or computed in the test by an independent formula; none comes from lowp.
// The conversions themselves are swept elsewhere (test_formats_*); the arithmetic
// operators are checked against the exact result rounded once (double holds every sum,
// difference and product of two values of a format exactly).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <limits>
#include <lowp/lowp.hpp>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "lowp_test.hpp"

namespace {

using lowp::overflow;
using lowp::rounding;

constexpr double pow2(int e) {
  double v = 1.0;
  for (int i = 0; i < e; ++i) v *= 2.0;
  for (int i = 0; i > e; --i) v *= 0.5;
  return v;
}

// ---------------------------------------------------------------------------------------
// The spec table: one row per floating-point format, derived by hand from the specs.
// ---------------------------------------------------------------------------------------
struct spec {
  const char* name;
  int bits, E, M, bias;  // code width, exponent and mantissa field widths, exponent bias
  bool is_signed, has_inf, has_nan, has_subnormals, has_negative_zero, has_snan;
  double max, min_normal, min_subnormal;
  std::uint32_t max_code, inf_code, nan_code, one_code;  // inf/nan_code: 0 where absent
  int digits, digits10, max_digits10;                    // std::numeric_limits' members
  int min_exponent, max_exponent, min_exponent10, max_exponent10;
  double epsilon;
};

// Each row fills its fields by name, a line per group: layout; sign, Inf, NaN,
// subnormals, -0, signaling NaN; max, smallest normal and subnormal values; codes;
// numeric_limits' digits and exponents; epsilon.
//
// digits = M + 1; digits10 = floor((digits - 1) log10 2); max_digits10 = ceil(1 + digits
// log10 2); min_exponent = emin + 1 and max_exponent = emax + 1 (C's convention: the
// normal range is [2^(min_exponent-1), 2^max_exponent)); min_exponent10 = ceil(log10 of
// the smallest normal); max_exponent10 = floor(log10 max).
constexpr spec e4m3fn = [] {
  spec s{};
  s.name = "float8_e4m3fn";
  s.bits = 8, s.E = 4, s.M = 3, s.bias = 7;
  s.is_signed = true, s.has_inf = false, s.has_nan = true, s.has_subnormals = true;
  s.has_negative_zero = true, s.has_snan = false;
  s.max = 448, s.min_normal = pow2(-6), s.min_subnormal = pow2(-9);
  s.max_code = 0x7E, s.inf_code = 0, s.nan_code = 0x7F, s.one_code = 0x38;
  s.digits = 4, s.digits10 = 0, s.max_digits10 = 3;
  s.min_exponent = -5, s.max_exponent = 9, s.min_exponent10 = -1, s.max_exponent10 = 2;
  s.epsilon = 0.125;
  return s;
}();

constexpr spec e5m2 = [] {
  spec s{};
  s.name = "float8_e5m2";
  s.bits = 8, s.E = 5, s.M = 2, s.bias = 15;
  s.is_signed = true, s.has_inf = true, s.has_nan = true, s.has_subnormals = true;
  s.has_negative_zero = true, s.has_snan = true;
  s.max = 57344, s.min_normal = pow2(-14), s.min_subnormal = pow2(-16);
  s.max_code = 0x7B, s.inf_code = 0x7C, s.nan_code = 0x7E, s.one_code = 0x3C;
  s.digits = 3, s.digits10 = 0, s.max_digits10 = 2;
  s.min_exponent = -13, s.max_exponent = 16, s.min_exponent10 = -4, s.max_exponent10 = 4;
  s.epsilon = 0.25;
  return s;
}();

constexpr spec e4m3fnuz = [] {
  spec s{};
  s.name = "float8_e4m3fnuz";
  s.bits = 8, s.E = 4, s.M = 3, s.bias = 8;
  s.is_signed = true, s.has_inf = false, s.has_nan = true, s.has_subnormals = true;
  s.has_negative_zero = false, s.has_snan = false;
  s.max = 240, s.min_normal = pow2(-7), s.min_subnormal = pow2(-10);
  s.max_code = 0x7F, s.inf_code = 0, s.nan_code = 0x80, s.one_code = 0x40;
  s.digits = 4, s.digits10 = 0, s.max_digits10 = 3;
  s.min_exponent = -6, s.max_exponent = 8, s.min_exponent10 = -2, s.max_exponent10 = 2;
  s.epsilon = 0.125;
  return s;
}();

constexpr spec e5m2fnuz = [] {
  spec s{};
  s.name = "float8_e5m2fnuz";
  s.bits = 8, s.E = 5, s.M = 2, s.bias = 16;
  s.is_signed = true, s.has_inf = false, s.has_nan = true, s.has_subnormals = true;
  s.has_negative_zero = false, s.has_snan = false;
  s.max = 57344, s.min_normal = pow2(-15), s.min_subnormal = pow2(-17);
  s.max_code = 0x7F, s.inf_code = 0, s.nan_code = 0x80, s.one_code = 0x40;
  s.digits = 3, s.digits10 = 0, s.max_digits10 = 2;
  s.min_exponent = -14, s.max_exponent = 16, s.min_exponent10 = -4, s.max_exponent10 = 4;
  s.epsilon = 0.25;
  return s;
}();

constexpr spec e2m3 = [] {
  spec s{};
  s.name = "float6_e2m3fn";
  s.bits = 6, s.E = 2, s.M = 3, s.bias = 1;
  s.is_signed = true, s.has_inf = false, s.has_nan = false, s.has_subnormals = true;
  s.has_negative_zero = true, s.has_snan = false;
  s.max = 7.5, s.min_normal = 1.0, s.min_subnormal = 0.125;
  s.max_code = 0x1F, s.inf_code = 0, s.nan_code = 0, s.one_code = 0x08;
  s.digits = 4, s.digits10 = 0, s.max_digits10 = 3;
  s.min_exponent = 1, s.max_exponent = 3, s.min_exponent10 = 0, s.max_exponent10 = 0;
  s.epsilon = 0.125;
  return s;
}();

constexpr spec e3m2 = [] {
  spec s{};
  s.name = "float6_e3m2fn";
  s.bits = 6, s.E = 3, s.M = 2, s.bias = 3;
  s.is_signed = true, s.has_inf = false, s.has_nan = false, s.has_subnormals = true;
  s.has_negative_zero = true, s.has_snan = false;
  s.max = 28, s.min_normal = 0.25, s.min_subnormal = 0.0625;
  s.max_code = 0x1F, s.inf_code = 0, s.nan_code = 0, s.one_code = 0x0C;
  s.digits = 3, s.digits10 = 0, s.max_digits10 = 2;
  s.min_exponent = -1, s.max_exponent = 5, s.min_exponent10 = 0, s.max_exponent10 = 1;
  s.epsilon = 0.25;
  return s;
}();

constexpr spec e2m1 = [] {
  spec s{};
  s.name = "float4_e2m1fn";
  s.bits = 4, s.E = 2, s.M = 1, s.bias = 1;
  s.is_signed = true, s.has_inf = false, s.has_nan = false, s.has_subnormals = true;
  s.has_negative_zero = true, s.has_snan = false;
  s.max = 6, s.min_normal = 1.0, s.min_subnormal = 0.5;
  s.max_code = 0x7, s.inf_code = 0, s.nan_code = 0, s.one_code = 0x2;
  s.digits = 2, s.digits10 = 0, s.max_digits10 = 2;
  s.min_exponent = 1, s.max_exponent = 3, s.min_exponent10 = 0, s.max_exponent10 = 0;
  s.epsilon = 0.5;
  return s;
}();

// E8M0: no sign, no zero, no subnormals: 0x00 is 2^-127 (the smallest value, so also
// lowest() and denorm_min()), 0xFE is 2^127, 0xFF NaN; the gap after 1 is 1.
constexpr spec e8m0 = [] {
  spec s{};
  s.name = "float8_e8m0fnu";
  s.bits = 8, s.E = 8, s.M = 0, s.bias = 127;
  s.is_signed = false, s.has_inf = false, s.has_nan = true, s.has_subnormals = false;
  s.has_negative_zero = false, s.has_snan = false;
  s.max = pow2(127), s.min_normal = pow2(-127), s.min_subnormal = pow2(-127);
  s.max_code = 0xFE, s.inf_code = 0, s.nan_code = 0xFF, s.one_code = 0x7F;
  s.digits = 1, s.digits10 = 0, s.max_digits10 = 2;
  s.min_exponent = -126, s.max_exponent = 128, s.min_exponent10 = -38, s.max_exponent10 = 38;
  s.epsilon = 1.0;
  return s;
}();

constexpr spec f16 = [] {
  spec s{};
  s.name = "float16";
  s.bits = 16, s.E = 5, s.M = 10, s.bias = 15;
  s.is_signed = true, s.has_inf = true, s.has_nan = true, s.has_subnormals = true;
  s.has_negative_zero = true, s.has_snan = true;
  s.max = 65504, s.min_normal = pow2(-14), s.min_subnormal = pow2(-24);
  s.max_code = 0x7BFF, s.inf_code = 0x7C00, s.nan_code = 0x7E00, s.one_code = 0x3C00;
  s.digits = 11, s.digits10 = 3, s.max_digits10 = 5;
  s.min_exponent = -13, s.max_exponent = 16, s.min_exponent10 = -4, s.max_exponent10 = 4;
  s.epsilon = pow2(-10);
  return s;
}();

constexpr spec bf16 = [] {
  spec s{};
  s.name = "bfloat16";
  s.bits = 16, s.E = 8, s.M = 7, s.bias = 127;
  s.is_signed = true, s.has_inf = true, s.has_nan = true, s.has_subnormals = true;
  s.has_negative_zero = true, s.has_snan = true;
  s.max = (2 - pow2(-7)) * pow2(127), s.min_normal = pow2(-126), s.min_subnormal = pow2(-133);
  s.max_code = 0x7F7F, s.inf_code = 0x7F80, s.nan_code = 0x7FC0, s.one_code = 0x3F80;
  s.digits = 8, s.digits10 = 2, s.max_digits10 = 4;
  s.min_exponent = -125, s.max_exponent = 128, s.min_exponent10 = -37, s.max_exponent10 = 38;
  s.epsilon = pow2(-7);
  return s;
}();

// The value of `code` in format s, from the spec's formula (IEEE 754 section 3.4 and the
// OCP variants), written for this test.  NaN for NaN codes, +-Inf for Inf codes.
double spec_value(const spec& s, std::uint32_t code) {
  const std::uint32_t mag_bits = static_cast<std::uint32_t>(s.E + s.M);
  const bool neg = s.is_signed && ((code >> mag_bits) & 1u);
  const std::uint32_t mag = code & ((1u << mag_bits) - 1u);
  const std::uint32_t field = mag >> s.M, mant = mag & ((1u << s.M) - 1u);
  const std::uint32_t all_ones = (1u << s.E) - 1u;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (!s.has_negative_zero && s.has_nan && s.is_signed && neg && mag == 0) return nan;  // fnuz
  if (s.has_inf && field == all_ones) return mant == 0 ? (neg ? -HUGE_VAL : HUGE_VAL) : nan;
  if (s.has_nan && !s.has_inf && s.has_negative_zero && mag == (1u << mag_bits) - 1u) return nan;
  if (!s.is_signed && code == 0xFFu) return nan;  // E8M0
  double v;
  if (field == 0 && s.has_subnormals)
    v = std::ldexp(mant, 1 - s.bias - s.M);
  else
    v = std::ldexp(mant + (1u << s.M), static_cast<int>(field) - s.bias - s.M);
  return neg ? -v : v;
}

bool same_value(double a, double b) {  // bit-level equality of values: NaN == NaN, -0 != +0
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

template <class T>
T code(std::uint32_t c) {
  return T::from_bits(static_cast<typename T::storage_type>(c));
}

// ---------------------------------------------------------------------------------------
// Compile time.
// ---------------------------------------------------------------------------------------

TEST_CASE("conversions work at compile time", "[quick][types][constexpr]") {
  // from_bits / bits and conversions from integers need no bit cast: always constexpr.
  STATIC_REQUIRE(lowp::float8_e4m3fn::from_bits(0x7E).bits() == 0x7E);
  STATIC_REQUIRE(lowp::float4_e2m1fn::from_bits(0xF7).bits() == 0x7);
  STATIC_REQUIRE(lowp::cast<lowp::float8_e4m3fn>(1).bits() == e4m3fn.one_code);
  STATIC_REQUIRE(lowp::cast<lowp::float8_e5m2>(-3).bits() == 0xC2);  // -1.5 * 2^1: 1.10000.10
  STATIC_REQUIRE(lowp::cast<lowp::float4_e2m1fn>(5).bits() == 0x6);  // tie 4|6 -> even code 0x6 (4)
  STATIC_REQUIRE(lowp::cast<lowp::float4_e2m1fn>(7).bits() == 0x7);  // saturates to 6
  STATIC_REQUIRE(lowp::cast<lowp::int4>(100).value() == 7);
  STATIC_REQUIRE(lowp::int8(lowp::float8_e4m3fn::from_bits(0x38)).value() == 1);
  STATIC_REQUIRE(lowp::float8_e4m3fn(lowp::float16::from_bits(0x3C00)).bits() == 0x38);
#if LOWP_CONSTEXPR_BIT_CAST
  // float and double need a constexpr bit cast (C++20 or __builtin_bit_cast).
  STATIC_REQUIRE(lowp::float8_e4m3fn(1.0f).bits() == e4m3fn.one_code);
  STATIC_REQUIRE(lowp::float8_e5m2(1.0).bits() == e5m2.one_code);
  STATIC_REQUIRE(lowp::float8_e4m3fnuz(1.0f).bits() == e4m3fnuz.one_code);
  STATIC_REQUIRE(lowp::float8_e5m2fnuz(1.0f).bits() == e5m2fnuz.one_code);
  STATIC_REQUIRE(lowp::float6_e2m3fn(1.0f).bits() == e2m3.one_code);
  STATIC_REQUIRE(lowp::float6_e3m2fn(1.0f).bits() == e3m2.one_code);
  STATIC_REQUIRE(lowp::float4_e2m1fn(1.0f).bits() == e2m1.one_code);
  STATIC_REQUIRE(lowp::float8_e8m0fnu(1.0f).bits() == e8m0.one_code);
  STATIC_REQUIRE(lowp::float16(1.0f).bits() == f16.one_code);
  STATIC_REQUIRE(lowp::bfloat16(1.0).bits() == bf16.one_code);
  STATIC_REQUIRE(static_cast<float>(lowp::float8_e4m3fn::from_bits(0x7E)) == 448.0f);
  STATIC_REQUIRE(static_cast<double>(lowp::float8_e5m2::from_bits(0x7B)) == 57344.0);
  STATIC_REQUIRE(static_cast<float>(lowp::float16::from_bits(0x0001)) == 0x1p-24f);
  STATIC_REQUIRE(lowp::float8_e4m3fn(1000.0f).bits() == 0x7E);  // saturates
  STATIC_REQUIRE(
      lowp::cast<lowp::float8_e4m3fn>(1000.0f, rounding::nearest_even, overflow::non_saturating)
          .bits() == 0x7F);
  STATIC_REQUIRE(
      lowp::cast<lowp::float8_e5m2>(1e6, rounding::nearest_even, overflow::non_saturating).bits() ==
      0x7C);
  // 0.3 lies between 0.28125 (0x29) and 0.3125 (0x2A) in E4M3.
  STATIC_REQUIRE(lowp::cast<lowp::float8_e4m3fn>(0.3f, rounding::toward_zero).bits() == 0x29);
  STATIC_REQUIRE(lowp::cast<lowp::float8_e4m3fn>(0.3f, rounding::up).bits() == 0x2A);
  STATIC_REQUIRE(lowp::cast<lowp::float8_e4m3fn>(-0.3f, rounding::up).bits() == 0xA9);
  STATIC_REQUIRE(lowp::cast<lowp::float8_e4m3fn>(-0.3f, rounding::down).bits() == 0xAA);
  STATIC_REQUIRE(lowp::cast_stochastic<lowp::float4_e2m1fn>(1.25f, 0u).bits() == 0x3);
  STATIC_REQUIRE(lowp::cast_stochastic<lowp::float4_e2m1fn>(1.25f, 0xFFFFFFFFu).bits() == 0x2);
  STATIC_REQUIRE(lowp::float16(2.0f) + lowp::float16(3.0f) == lowp::float16(5.0f));
  STATIC_REQUIRE(lowp::float8_e4m3fn(0.0f) == lowp::float8_e4m3fn(-0.0f));
  STATIC_REQUIRE(std::numeric_limits<lowp::float8_e4m3fn>::max().bits() == 0x7E);
#else
  WARN("no constexpr bit cast in this compiler: float/double conversions are not constexpr");
#endif
}

// Size and triviality, for every type.
template <class T, std::size_t Size>
constexpr bool layout_ok() {
  return sizeof(T) == Size && alignof(T) == alignof(typename T::storage_type) &&
         std::is_trivially_copyable_v<T> && std::is_standard_layout_v<T> &&
         std::is_nothrow_default_constructible_v<T> && std::is_trivially_destructible_v<T>;
}
static_assert(layout_ok<lowp::float8_e4m3fn, 1>(), "float8_e4m3fn");
static_assert(layout_ok<lowp::float8_e5m2, 1>(), "float8_e5m2");
static_assert(layout_ok<lowp::float8_e4m3fnuz, 1>(), "float8_e4m3fnuz");
static_assert(layout_ok<lowp::float8_e5m2fnuz, 1>(), "float8_e5m2fnuz");
static_assert(layout_ok<lowp::float6_e2m3fn, 1>(), "float6_e2m3fn");
static_assert(layout_ok<lowp::float6_e3m2fn, 1>(), "float6_e3m2fn");
static_assert(layout_ok<lowp::float4_e2m1fn, 1>(), "float4_e2m1fn");
static_assert(layout_ok<lowp::float8_e8m0fnu, 1>(), "float8_e8m0fnu");
static_assert(layout_ok<lowp::float16, 2>(), "float16");
static_assert(layout_ok<lowp::bfloat16, 2>(), "bfloat16");
static_assert(layout_ok<lowp::int4, 1>(), "int4");
static_assert(layout_ok<lowp::uint4, 1>(), "uint4");
static_assert(layout_ok<lowp::int8, 1>(), "int8");
static_assert(layout_ok<lowp::uint8, 1>(), "uint8");
// Conversions are explicit: no silent narrowing from float, no implicit decay to float.
static_assert(!std::is_convertible_v<float, lowp::float8_e4m3fn>, "explicit from float");
static_assert(!std::is_convertible_v<lowp::float8_e4m3fn, float>, "explicit to float");
static_assert(!std::is_convertible_v<lowp::float16, lowp::bfloat16>, "explicit between formats");
static_assert(std::is_constructible_v<lowp::bfloat16, lowp::float16>, "format to format");
static_assert(lowp::is_lowp_float_v<lowp::float8_e8m0fnu> &&
                  !lowp::is_lowp_int_v<lowp::float8_e8m0fnu>,
              "");
static_assert(lowp::is_lowp_int_v<lowp::uint4> && !lowp::is_lowp_float_v<lowp::uint4>, "");
static_assert(!lowp::is_lowp_float_v<float> && !lowp::is_lowp_int_v<int>, "");
static_assert(noexcept(lowp::cast<lowp::float8_e4m3fn>(1.0f)) && noexcept(
                  static_cast<float>(lowp::bfloat16{})),
              "conversions are noexcept");
static_assert(noexcept(lowp::float16{} + lowp::float16{}) && noexcept(lowp::float16{} <
                                                                      lowp::float16{}),
              "");
// Arithmetic returns the format itself (not float), compound assignment a reference.
template <class T>
constexpr bool arithmetic_types_ok() {
  T a{}, b{};
  return std::is_same_v<decltype(a + b), T> && std::is_same_v<decltype(a - b), T> &&
         std::is_same_v<decltype(a * b), T> && std::is_same_v<decltype(a / b), T> &&
         std::is_same_v<decltype(-a), T> && std::is_same_v<decltype(+a), T> &&
         std::is_same_v<decltype(a += b), T&> && std::is_same_v<decltype(a /= b), T&> &&
         std::is_same_v<decltype(a < b), bool> && std::is_same_v<decltype(a == b), bool>;
}
static_assert(arithmetic_types_ok<lowp::float8_e4m3fn>(), "");
static_assert(arithmetic_types_ok<lowp::float8_e5m2fnuz>(), "");
static_assert(arithmetic_types_ok<lowp::float4_e2m1fn>(), "");
static_assert(arithmetic_types_ok<lowp::float8_e8m0fnu>(), "");
static_assert(arithmetic_types_ok<lowp::bfloat16>(), "");

// ---------------------------------------------------------------------------------------
// numeric_limits
// ---------------------------------------------------------------------------------------

template <class T>
void check_limits(const spec& s) {
  using lim = std::numeric_limits<T>;
  INFO(s.name);
  STATIC_REQUIRE(lim::is_specialized);
  CHECK(lim::is_signed == s.is_signed);
  CHECK_FALSE(lim::is_integer);
  CHECK_FALSE(lim::is_exact);
  CHECK(lim::radix == 2);
  CHECK(lim::is_bounded);
  CHECK_FALSE(lim::is_modulo);
  CHECK_FALSE(lim::traps);
  CHECK(lim::round_style == std::round_to_nearest);
  CHECK(lim::has_infinity == s.has_inf);
  CHECK(lim::has_quiet_NaN == s.has_nan);
  CHECK(lim::has_signaling_NaN == s.has_snan);
  CHECK(lim::has_denorm == (s.has_subnormals ? std::denorm_present : std::denorm_absent));
  if (s.bits == 8 || s.bits < 8) CHECK_FALSE(lim::is_iec559);  // not IEEE 754 interchange formats
  CHECK(lim::digits == s.digits);
  CHECK(lim::digits10 == s.digits10);
  CHECK(lim::max_digits10 == s.max_digits10);
  CHECK(lim::min_exponent == s.min_exponent);
  CHECK(lim::max_exponent == s.max_exponent);
  CHECK(lim::min_exponent10 == s.min_exponent10);
  CHECK(lim::max_exponent10 == s.max_exponent10);
  // The same facts from their definitions, by a second route (<cmath>).
  CHECK(lim::digits10 == static_cast<int>(std::floor((s.digits - 1) * std::log10(2.0))));
  CHECK(lim::max_digits10 == static_cast<int>(std::ceil(1 + s.digits * std::log10(2.0))));
  CHECK(lim::min_exponent10 == static_cast<int>(std::ceil(std::log10(s.min_normal))));
  CHECK(lim::max_exponent10 == static_cast<int>(std::floor(std::log10(s.max))));
  CHECK(std::ldexp(1.0, lim::min_exponent - 1) == s.min_normal);
  CHECK(std::ldexp(1.0, lim::max_exponent) > s.max);
  CHECK(std::ldexp(1.0, lim::max_exponent - 1) <= s.max);

  CHECK(static_cast<double>(lim::max()) == s.max);
  CHECK(lim::max().bits() == s.max_code);
  CHECK(static_cast<double>(lim::lowest()) == (s.is_signed ? -s.max : s.min_subnormal));
  CHECK(static_cast<double>(lim::min()) == s.min_normal);
  CHECK(static_cast<double>(lim::denorm_min()) == s.min_subnormal);
  CHECK(static_cast<double>(lim::epsilon()) == s.epsilon);
  CHECK(static_cast<double>(lim::round_error()) == 0.5);
  // epsilon is the gap after 1: 1 + epsilon is the next code after 1.
  CHECK(static_cast<double>(code<T>(s.one_code + 1)) == 1.0 + s.epsilon);
  // max + one ulp is not a finite code: nothing finite above max (checked over all codes).
  for (std::uint32_t c = 0; c < (1u << s.bits); ++c) {
    const double v = spec_value(s, c);
    if (std::isfinite(v)) {
      CHECK(v <= s.max);
      if (v > 0) CHECK(v >= s.min_subnormal);
      if (v >= s.min_normal || v <= -s.min_normal || v == 0) continue;
      CHECK(s.has_subnormals);
    }
  }
  if (s.has_inf) {
    CHECK(lim::infinity().bits() == s.inf_code);
    CHECK(std::isinf(static_cast<double>(lim::infinity())));
    CHECK(static_cast<double>(lim::infinity()) > 0);
  }
  if (s.has_nan) {
    CHECK(std::isnan(static_cast<double>(lim::quiet_NaN())));
    CHECK(lim::quiet_NaN().bits() == s.nan_code);
    CHECK(lim::quiet_NaN().is_nan());
    CHECK(std::isnan(static_cast<double>(lim::signaling_NaN())));
  }
  if (s.has_snan) {
    // IEEE 754 section 6.2.1: signalling NaNs have the mantissa's top bit clear.
    const auto sn = lim::signaling_NaN().bits();
    CHECK((sn >> (s.M - 1) & 1u) == 0);
    CHECK(((sn >> s.M) & ((1u << s.E) - 1u)) == (1u << s.E) - 1u);
  }
}

TEST_CASE("numeric_limits of the floating-point types", "[quick][types][limits]") {
  check_limits<lowp::float8_e4m3fn>(e4m3fn);
  check_limits<lowp::float8_e5m2>(e5m2);
  check_limits<lowp::float8_e4m3fnuz>(e4m3fnuz);
  check_limits<lowp::float8_e5m2fnuz>(e5m2fnuz);
  check_limits<lowp::float6_e2m3fn>(e2m3);
  check_limits<lowp::float6_e3m2fn>(e3m2);
  check_limits<lowp::float4_e2m1fn>(e2m1);
  check_limits<lowp::float8_e8m0fnu>(e8m0);
  check_limits<lowp::float16>(f16);
  check_limits<lowp::bfloat16>(bf16);
}

TEST_CASE("numeric_limits: float16 and bfloat16 against the host's own types",
          "[quick][types][limits]") {
  // bfloat16 shares float's exponent range: the same exponent facts.
  using bl = std::numeric_limits<lowp::bfloat16>;
  using fl = std::numeric_limits<float>;
  CHECK(bl::min_exponent == fl::min_exponent);
  CHECK(bl::max_exponent == fl::max_exponent);
  CHECK(bl::min_exponent10 == fl::min_exponent10);
  CHECK(bl::max_exponent10 == fl::max_exponent10);
  CHECK(static_cast<float>(bl::min()) == fl::min());
  CHECK(static_cast<float>(bl::infinity()) == fl::infinity());
}

template <class T, class Ref>
void check_int_limits(int lo, int hi, int digits) {
  using lim = std::numeric_limits<T>;
  STATIC_REQUIRE(lim::is_specialized);
  CHECK(lim::is_integer);
  CHECK(lim::is_exact);
  CHECK(lim::is_bounded);
  CHECK(lim::radix == 2);
  CHECK(lim::is_signed == (lo < 0));
  CHECK_FALSE(lim::is_modulo);  // conversions saturate
  CHECK_FALSE(lim::has_infinity);
  CHECK_FALSE(lim::has_quiet_NaN);
  CHECK(lim::min().value() == lo);
  CHECK(lim::lowest().value() == lo);
  CHECK(lim::max().value() == hi);
  CHECK(lim::digits == digits);
  CHECK(lim::digits10 == static_cast<int>(std::floor(digits * std::log10(2.0))));
  // The 8-bit types have the host's 8-bit integers as a reference.
  if constexpr (!std::is_void_v<Ref>) {
    using rl = std::numeric_limits<Ref>;
    CHECK(lim::digits == rl::digits);
    CHECK(lim::digits10 == rl::digits10);
    CHECK(lim::min().value() == rl::min());
    CHECK(lim::max().value() == rl::max());
    CHECK(lim::is_signed == rl::is_signed);
    CHECK(lim::round_style == rl::round_style);
  }
}

TEST_CASE("numeric_limits of the integer types", "[quick][types][limits]") {
  check_int_limits<lowp::int4, void>(-8, 7, 3);
  check_int_limits<lowp::uint4, void>(0, 15, 4);
  check_int_limits<lowp::int8, std::int8_t>(-128, 127, 7);
  check_int_limits<lowp::uint8, std::uint8_t>(0, 255, 8);
}

// ---------------------------------------------------------------------------------------
// Decoding every code (the value the spec gives), comparisons, unary minus.
// ---------------------------------------------------------------------------------------

template <class T>
void check_codes(const spec& s) {
  INFO(s.name);
  int bad = 0;
  for (std::uint32_t c = 0; c < (1u << s.bits); ++c) {
    const T v = code<T>(c);
    const double want = spec_value(s, c);
    if (!same_value(static_cast<double>(v), want) ||
        !same_value(static_cast<double>(static_cast<float>(v)), want)) {
      ++bad;
      INFO("code " << c << ": lowp " << static_cast<double>(v) << ", spec " << want);
      CHECK(false);
    }
    CHECK(v.bits() == c);
    CHECK(v.is_nan() == std::isnan(want));
    CHECK(v.is_inf() == std::isinf(want));
    CHECK(v.is_zero() == (want == 0));
  }
  CHECK(bad == 0);
}

TEST_CASE("every code decodes to the spec's value", "[quick][types]") {
  check_codes<lowp::float8_e4m3fn>(e4m3fn);
  check_codes<lowp::float8_e5m2>(e5m2);
  check_codes<lowp::float8_e4m3fnuz>(e4m3fnuz);
  check_codes<lowp::float8_e5m2fnuz>(e5m2fnuz);
  check_codes<lowp::float6_e2m3fn>(e2m3);
  check_codes<lowp::float6_e3m2fn>(e3m2);
  check_codes<lowp::float4_e2m1fn>(e2m1);
  check_codes<lowp::float8_e8m0fnu>(e8m0);
  check_codes<lowp::float16>(f16);
  check_codes<lowp::bfloat16>(bf16);
}

// All pairs of codes (16-bit formats: a fixed-seed sample): every comparison operator
// must agree with the same comparison of the spec values (IEEE 754 section 5.11:
// +0 == -0, NaN unordered, != is the negation of ==).
template <class T>
void check_comparisons(const spec& s) {
  INFO(s.name);
  std::vector<std::uint32_t> codes;
  if (s.bits <= 8) {
    for (std::uint32_t c = 0; c < (1u << s.bits); ++c) codes.push_back(c);
  } else {
    std::uint32_t x = 12345;
    for (int i = 0; i < 700; ++i) codes.push_back((x = x * 1103515245u + 12345u) >> 16);
    for (std::uint32_t c :
         {0u, 0x8000u, s.inf_code, s.inf_code | 0x8000u, s.nan_code, s.max_code, 1u, 0x8001u})
      codes.push_back(c);
  }
  std::vector<double> values;
  for (std::uint32_t c : codes) values.push_back(spec_value(s, c));
  long bad = 0;
  for (std::size_t i = 0; i < codes.size(); ++i)
    for (std::size_t j = 0; j < codes.size(); ++j) {
      const std::uint32_t a = codes[i], b = codes[j];
      const T x = code<T>(a), y = code<T>(b);
      const double u = values[i], v = values[j];
      const bool ok = (x == y) == (u == v) && (x != y) == (u != v) && (x < y) == (u < v) &&
                      (x <= y) == (u <= v) && (x > y) == (u > v) && (x >= y) == (u >= v);
      if (!ok) {
        ++bad;
        if (bad < 5) {
          INFO("codes " << a << ", " << b);
          CHECK(ok);
        }
      }
    }
  CHECK(bad == 0);
}

TEST_CASE("comparisons: by value, +0 == -0, NaN unordered", "[quick][types]") {
  check_comparisons<lowp::float8_e4m3fn>(e4m3fn);
  check_comparisons<lowp::float8_e5m2>(e5m2);
  check_comparisons<lowp::float8_e4m3fnuz>(e4m3fnuz);
  check_comparisons<lowp::float8_e5m2fnuz>(e5m2fnuz);
  check_comparisons<lowp::float6_e2m3fn>(e2m3);
  check_comparisons<lowp::float6_e3m2fn>(e3m2);
  check_comparisons<lowp::float4_e2m1fn>(e2m1);
  check_comparisons<lowp::float8_e8m0fnu>(e8m0);
  check_comparisons<lowp::float16>(f16);
  check_comparisons<lowp::bfloat16>(bf16);

  // The cases by name.
  CHECK(lowp::float8_e4m3fn::from_bits(0x00) == lowp::float8_e4m3fn::from_bits(0x80));
  CHECK_FALSE(lowp::float8_e4m3fn::from_bits(0x00) != lowp::float8_e4m3fn::from_bits(0x80));
  CHECK(lowp::float4_e2m1fn::from_bits(0x0) == lowp::float4_e2m1fn::from_bits(0x8));
  const auto nan = lowp::float8_e4m3fn::from_bits(0x7F);
  CHECK_FALSE(nan == nan);
  CHECK(nan != nan);
  CHECK_FALSE(nan < nan);
  CHECK_FALSE(nan >= nan);
  const auto fnuz_nan = lowp::float8_e4m3fnuz::from_bits(0x80),
             fnuz_zero = lowp::float8_e4m3fnuz::from_bits(0x00);
  CHECK_FALSE(fnuz_nan == fnuz_zero);  // 0x80 is NaN, not -0
  CHECK(fnuz_nan != fnuz_zero);
  CHECK_FALSE(fnuz_nan <= fnuz_zero);
}

// The operators compare codes; the oracle here converts both operands to float (exact)
// and compares the floats.  Every pair of codes for the formats of at most 8 bits; for
// the 16-bit formats every code against a fixed set that holds each kind of code (zeros,
// subnormals, normals, max, Inf, NaN, both signs).
template <class T>
void check_comparisons_against_float() {
  using S = typename T::storage_type;
  constexpr std::uint32_t n_codes = 1u << std::numeric_limits<S>::digits;
  constexpr std::uint32_t mask =
      static_cast<std::uint32_t>(T::layout::sign_mask | T::layout::magnitude_mask);
  std::vector<std::uint32_t> rhs;
  if (n_codes <= 256) {
    for (std::uint32_t c = 0; c <= mask; ++c) rhs.push_back(c);
  } else {
    for (std::uint32_t c : {0x0000u, 0x8000u, 0x0001u, 0x8001u, 0x03FFu, 0x83FFu, 0x0400u, 0x8400u,
                            0x3C00u, 0xBC00u, 0x3F80u, 0xBF80u, 0x7BFFu, 0xFBFFu, 0x7C00u, 0xFC00u,
                            0x7C01u, 0xFE00u, 0x7F7Fu, 0xFF7Fu, 0x7F80u, 0xFF80u, 0x7FC0u, 0xFFFFu})
      rhs.push_back(c);
  }
  INFO(T::traits_type::name);
  long pairs = 0, bad = 0;
  for (std::uint32_t a = 0; a <= mask; ++a)
    for (std::uint32_t b : rhs) {
      const T x = T::from_bits(static_cast<S>(a)), y = T::from_bits(static_cast<S>(b));
      const float u = static_cast<float>(x), v = static_cast<float>(y);
      const bool ok = (x == y) == (u == v) && (x != y) == (u != v) && (x < y) == (u < v) &&
                      (x <= y) == (u <= v) && (x > y) == (u > v) && (x >= y) == (u >= v) &&
                      (y == x) == (v == u) && (y < x) == (v < u);
      ++pairs;
      if (!ok && ++bad < 5) {
        INFO("codes " << a << ", " << b << ": " << u << ", " << v);
        CHECK(ok);
      }
    }
  CHECK(pairs == static_cast<long>(mask + 1) * static_cast<long>(rhs.size()));
  CHECK(bad == 0);
}

TEST_CASE("comparisons on codes agree with comparing the decoded floats", "[quick][types]") {
  check_comparisons_against_float<lowp::float8_e4m3fn>();
  check_comparisons_against_float<lowp::float8_e5m2>();
  check_comparisons_against_float<lowp::float8_e4m3fnuz>();
  check_comparisons_against_float<lowp::float8_e5m2fnuz>();
  check_comparisons_against_float<lowp::float8_e8m0fnu>();
  check_comparisons_against_float<lowp::float6_e2m3fn>();
  check_comparisons_against_float<lowp::float6_e3m2fn>();
  check_comparisons_against_float<lowp::float4_e2m1fn>();
  check_comparisons_against_float<lowp::float16>();
  check_comparisons_against_float<lowp::bfloat16>();
}

template <class T>
void check_negation(const spec& s) {
  INFO(s.name);
  for (std::uint32_t c = 0; c < (1u << s.bits); ++c) {
    const T v = code<T>(c);
    const T n = -v;
    const double want = spec_value(s, c);
    INFO("code " << c);
    CHECK((+v).bits() == c);
    if (!s.is_signed) {
      CHECK(n.bits() == c);  // E8M0 converts |x|: negation is the identity
    } else if (!s.has_negative_zero && (c & ((1u << (s.E + s.M)) - 1u)) == 0) {
      CHECK(n.bits() == c);  // fnuz: 0 and NaN (0x80) are unchanged
    } else {
      CHECK(n.bits() == (c ^ (1u << (s.E + s.M))));  // the sign bit flips
      CHECK(same_value(static_cast<double>(n), std::isnan(want) ? want : -want));
    }
  }
}

TEST_CASE("unary minus flips the sign (fnuz zero and NaN, and E8M0, unchanged)", "[quick][types]") {
  check_negation<lowp::float8_e4m3fn>(e4m3fn);
  check_negation<lowp::float8_e5m2>(e5m2);
  check_negation<lowp::float8_e4m3fnuz>(e4m3fnuz);
  check_negation<lowp::float8_e5m2fnuz>(e5m2fnuz);
  check_negation<lowp::float6_e2m3fn>(e2m3);
  check_negation<lowp::float6_e3m2fn>(e3m2);
  check_negation<lowp::float4_e2m1fn>(e2m1);
  check_negation<lowp::float8_e8m0fnu>(e8m0);
  check_negation<lowp::float16>(f16);
  check_negation<lowp::bfloat16>(bf16);
  CHECK((-lowp::float8_e4m3fnuz::from_bits(0x00)).bits() == 0x00);
  CHECK((-lowp::float8_e4m3fnuz::from_bits(0x80)).bits() == 0x80);
  CHECK((-lowp::float8_e4m3fn::from_bits(0x7F)).bits() == 0xFF);
  CHECK((-lowp::float4_e2m1fn::from_bits(0x0)).bits() == 0x8);
}

// ---------------------------------------------------------------------------------------
// Arithmetic: the exact result, rounded once (nearest even, saturating: T(x)).
// ---------------------------------------------------------------------------------------

// The reference: the operation in double (exact for +, -, * of two values of a format
// with at most 11 significant bits and an exponent range inside double's; for / double's
// 53 bits are more than 2p + 2, so rounding the double quotient once more is innocuous),
// then lowp's cast from double, whose one rounding is swept against independent oracles
// in test_formats_*.  Returns the code.
template <class T>
std::uint32_t reference(double a, double b, char op) {
  double r = 0;
  switch (op) {
    case '+':
      r = a + b;
      break;
    case '-':
      r = a - b;
      break;
    case '*':
      r = a * b;
      break;
    case '/':
      r = a / b;
      break;
  }
  return lowp::cast<T>(r).bits();
}

template <class T>
T apply(T a, T b, char op) {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    default:
      return a / b;
  }
}

template <class T>
void check_arithmetic(const spec& s, const std::vector<std::uint32_t>& as,
                      const std::vector<std::uint32_t>& bs) {
  INFO(s.name);
  long bad = 0, checked = 0;
  std::vector<double> xs, ys;
  for (std::uint32_t a : as) xs.push_back(spec_value(s, a));
  for (std::uint32_t b : bs) ys.push_back(spec_value(s, b));
  for (char op : {'+', '-', '*', '/'})
    for (std::size_t i = 0; i < as.size(); ++i)
      for (std::size_t j = 0; j < bs.size(); ++j) {
        const std::uint32_t a = as[i], b = bs[j];
        const double x = xs[i], y = ys[j];
        const std::uint32_t got = apply(code<T>(a), code<T>(b), op).bits();
        const std::uint32_t want = reference<T>(x, y, op);
        ++checked;
        // NaN results: any NaN code (lowp passes float NaN payloads through).
        const bool want_nan = std::isnan(static_cast<double>(code<T>(want)));
        const bool ok = want_nan ? std::isnan(static_cast<double>(code<T>(got))) : got == want;
        if (!ok && ++bad <= 4) {
          INFO(x << ' ' << op << ' ' << y << ": got code " << got << ", want " << want);
          CHECK(ok);
        }
      }
  INFO(bad << " of " << checked << " results differ");
  CHECK(bad == 0);
}

std::vector<std::uint32_t> all_codes(const spec& s) {
  std::vector<std::uint32_t> v;
  for (std::uint32_t c = 0; c < (1u << s.bits); ++c) v.push_back(c);
  return v;
}
std::vector<std::uint32_t> sample_codes(std::uint32_t seed, int n) {
  std::vector<std::uint32_t> v;
  std::uint64_t x = seed;
  for (int i = 0; i < n; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    v.push_back(static_cast<std::uint32_t>(x >> 48));
  }
  return v;
}

TEST_CASE("arithmetic goes through float and rounds once", "[quick][types][arithmetic]") {
  // All pairs for the formats of at most 8 bits.
  check_arithmetic<lowp::float8_e4m3fn>(e4m3fn, all_codes(e4m3fn), all_codes(e4m3fn));
  check_arithmetic<lowp::float8_e5m2>(e5m2, all_codes(e5m2), all_codes(e5m2));
  check_arithmetic<lowp::float8_e4m3fnuz>(e4m3fnuz, all_codes(e4m3fnuz), all_codes(e4m3fnuz));
  check_arithmetic<lowp::float8_e5m2fnuz>(e5m2fnuz, all_codes(e5m2fnuz), all_codes(e5m2fnuz));
  check_arithmetic<lowp::float6_e2m3fn>(e2m3, all_codes(e2m3), all_codes(e2m3));
  check_arithmetic<lowp::float6_e3m2fn>(e3m2, all_codes(e3m2), all_codes(e3m2));
  check_arithmetic<lowp::float4_e2m1fn>(e2m1, all_codes(e2m1), all_codes(e2m1));
  check_arithmetic<lowp::float8_e8m0fnu>(e8m0, all_codes(e8m0), all_codes(e8m0));
  // 16-bit formats: every code against a sample, and the sample against every code.
  check_arithmetic<lowp::float16>(f16, all_codes(f16), sample_codes(1, 24));
  check_arithmetic<lowp::float16>(f16, sample_codes(2, 24), all_codes(f16));
  check_arithmetic<lowp::bfloat16>(bf16, all_codes(bf16), sample_codes(3, 24));
  check_arithmetic<lowp::bfloat16>(bf16, sample_codes(4, 24), all_codes(bf16));
}

TEST_CASE("arithmetic: cases by hand", "[quick][types][arithmetic]") {
  using e4 = lowp::float8_e4m3fn;
  CHECK(static_cast<float>(e4(1.0f) + e4(0.0625f)) == 1.0f);  // 1 + 1/16: tie -> even (1.0)
  CHECK(static_cast<float>(e4(1.0f) + e4(0.1875f)) ==
        1.25f);  // 1.1875: tie 1.125|1.25 -> even (1.25)
  CHECK(static_cast<float>(e4(448.0f) + e4(448.0f)) == 448.0f);  // saturates
  CHECK(static_cast<float>(e4(3.0f) / e4(0.0f)) == 448.0f);      // Inf saturates to max
  CHECK((e4(0.0f) / e4(0.0f)).is_nan());
  CHECK((-e4(2.0f) * e4(0.0f)).bits() == 0x80);  // -0
  using h = lowp::float16;
  CHECK(static_cast<float>(h(65504.0f) + h(16.0f)) == 65504.0f);  // 65520: rounds to Inf, saturates
  CHECK((h(65504.0f) * h(2.0f)).bits() == 0x7BFF);                // T(x) saturates
  CHECK(static_cast<float>(h(1.0f) / h(3.0f)) ==
        0x1.554p-2f);  // 1/3 = 0x1.5555...p-2 -> 0x1.554p-2
  using b = lowp::bfloat16;
  CHECK(static_cast<float>(b(1.0f) + b(0x1p-8f)) == 1.0f);  // tie -> even
  CHECK(static_cast<float>(b(1.0f) + b(0x1.8p-8f)) == 1.0078125f);
  lowp::float4_e2m1fn q(2.0f);
  q += lowp::float4_e2m1fn(3.0f);  // 5: tie between 4 and 6 -> even code (4)
  CHECK(static_cast<float>(q) == 4.0f);
  q *= lowp::float4_e2m1fn(2.0f);  // 8 saturates to 6
  CHECK(static_cast<float>(q) == 6.0f);
  q -= lowp::float4_e2m1fn(0.5f);  // 5.5 -> 6
  CHECK(static_cast<float>(q) == 6.0f);
  q /= lowp::float4_e2m1fn(4.0f);  // 1.5
  CHECK(static_cast<float>(q) == 1.5f);
  // E8M0 is unsigned: a negative result converts as its magnitude.
  CHECK(static_cast<float>(lowp::float8_e8m0fnu(2.0f) - lowp::float8_e8m0fnu(4.0f)) == 2.0f);
}

// ---------------------------------------------------------------------------------------
// Printing.
// ---------------------------------------------------------------------------------------

template <class T>
std::string printed(T v) {
  std::ostringstream s;
  s << v;
  return s.str();
}
std::string printed_float(float f) {
  std::ostringstream s;
  s << f;
  return s.str();
}

TEST_CASE("operator<< prints the value", "[quick][types][print]") {
  CHECK(printed(lowp::float8_e4m3fn(1.5f)) == "1.5");
  CHECK(printed(lowp::float8_e4m3fn::from_bits(0x7E)) == "448");
  CHECK(printed(lowp::float8_e4m3fn::from_bits(0xFE)) == "-448");
  CHECK(printed(lowp::float8_e4m3fn::from_bits(0x80)) == "-0");
  CHECK(printed(lowp::float8_e5m2::from_bits(0x7B)) == "57344");
  CHECK(printed(lowp::float4_e2m1fn::from_bits(0x1)) == "0.5");
  CHECK(printed(lowp::float16::from_bits(0x7BFF)) == "65504");
  CHECK(printed(lowp::float8_e8m0fnu::from_bits(0x7F)) == "1");
  CHECK(printed(lowp::float8_e8m0fnu::from_bits(0x80)) == "2");
  CHECK(printed(lowp::float8_e5m2::from_bits(0x7C)) ==
        printed_float(std::numeric_limits<float>::infinity()));
  CHECK(printed(lowp::float8_e4m3fn::from_bits(0x7F)) ==
        printed_float(std::numeric_limits<float>::quiet_NaN()));
  CHECK(printed(lowp::int4::from_bits(0x8)) == "-8");
  CHECK(printed(lowp::uint4::from_bits(0xF)) == "15");
  CHECK(printed(lowp::int8::from_bits(0x80)) == "-128");  // a number, not a char
  CHECK(printed(lowp::uint8::from_bits(0x41)) == "65");   // not 'A'
  std::ostringstream s;
  s << std::setprecision(3) << lowp::float16(3.14159f);  // stream flags apply
  CHECK(s.str() == "3.14");
}

// ---------------------------------------------------------------------------------------
// Integer types.
// ---------------------------------------------------------------------------------------

TEST_CASE("integer types: value, rounding, saturation, masking", "[quick][types][int]") {
  const float inf = std::numeric_limits<float>::infinity(),
              nan = std::numeric_limits<float>::quiet_NaN();
  CHECK(lowp::int4(100.0f).value() == 7);
  CHECK(lowp::int4(-100.0f).value() == -8);
  CHECK(lowp::int4(2.5f).value() == 2);  // ties to even
  CHECK(lowp::int4(3.5f).value() == 4);
  CHECK(lowp::int4(-2.5f).value() == -2);
  CHECK(lowp::int4(-7.5f).value() == -8);
  CHECK(lowp::int4(7.5f).value() == 7);  // 8 saturates to 7
  CHECK(lowp::uint4(-1.0f).value() == 0);
  CHECK(lowp::uint4(-0.4f).value() == 0);
  CHECK(lowp::uint4(15.4f).value() == 15);
  CHECK(lowp::uint4(15.6f).value() == 15);
  CHECK(lowp::int8(nan).value() == 0);
  CHECK(lowp::uint8(nan).value() == 0);
  CHECK(lowp::int8(inf).value() == 127);
  CHECK(lowp::int8(-inf).value() == -128);
  CHECK(lowp::uint8(-inf).value() == 0);
  CHECK(lowp::uint8(255.49f).value() == 255);
  CHECK(lowp::uint8(1e30).value() == 255);
  CHECK(lowp::cast<lowp::int8>(2.5f, rounding::nearest_away).value() == 3);
  CHECK(lowp::cast<lowp::int8>(-2.5f, rounding::nearest_away).value() == -3);
  CHECK(lowp::cast<lowp::int8>(-2.7f, rounding::toward_zero).value() == -2);
  CHECK(lowp::cast<lowp::int8>(-2.7f, rounding::up).value() == -2);
  CHECK(lowp::cast<lowp::int8>(-2.2f, rounding::down).value() == -3);
  CHECK(lowp::cast<lowp::int8>(2.2f, rounding::up).value() == 3);
  CHECK(lowp::cast<lowp::int8>(1000).value() == 127);
  CHECK(lowp::cast<lowp::uint8>(-5).value() == 0);
  CHECK(lowp::cast<lowp::int4>(std::numeric_limits<std::int64_t>::min()).value() == -8);
  CHECK(lowp::cast<lowp::uint8>(std::numeric_limits<std::uint64_t>::max()).value() == 255);
  CHECK(lowp::int4(lowp::float8_e4m3fn(3.5f)).value() == 4);
  CHECK(lowp::int8(lowp::uint8::from_bits(200)).value() == 127);
  CHECK(lowp::uint4(lowp::int4::from_bits(0x8)).value() == 0);
  // from_bits keeps the low bits only; value() is two's complement.
  CHECK(lowp::int4::from_bits(0xF8).bits() == 0x8);
  CHECK(lowp::int4::from_bits(0xF8).value() == -8);
  CHECK(lowp::int4::from_bits(0x7).value() == 7);
  CHECK(lowp::int4::from_bits(0xF).value() == -1);
  CHECK(lowp::uint4::from_bits(0xFF).value() == 15);
  CHECK(lowp::int8::from_bits(0xFF).value() == -1);
  CHECK(lowp::uint8::from_bits(0xFF).value() == 255);
  for (int v = -8; v <= 7; ++v) {
    const lowp::int4 q(v);
    CHECK(q.value() == v);
    CHECK(static_cast<int>(q) == v);
    CHECK(static_cast<float>(q) == static_cast<float>(v));
    CHECK(static_cast<double>(q) == static_cast<double>(v));
    CHECK(q.bits() == (static_cast<unsigned>(v) & 0xFu));
  }
  for (int v = -128; v <= 127; ++v) CHECK(lowp::int8(v).value() == v);
  for (int v = 0; v <= 255; ++v) CHECK(lowp::uint8(v).value() == v);
  CHECK(lowp::int4(-3) < lowp::int4(2));
  CHECK(lowp::int4(-3) != lowp::int4(2));
  CHECK(lowp::int4(5) == lowp::int4(5.2f));
  CHECK(lowp::uint4(15) > lowp::uint4(14));
  CHECK(lowp::int8(-1) <= lowp::int8(-1));
  CHECK(lowp::int8(0) >= lowp::int8(-128));
  // Integers into the float formats round once.
  CHECK(lowp::float8_e4m3fn(1000).bits() == 0x7E);                          // saturates to 448
  CHECK(static_cast<float>(lowp::cast<lowp::float16>(65519)) == 65504.0f);  // below the threshold
  CHECK(lowp::cast<lowp::float16>(65520, rounding::nearest_even, overflow::non_saturating).bits() ==
        0x7C00);
  CHECK(static_cast<float>(lowp::float4_e2m1fn(lowp::int4(-5))) == -4.0f);  // tie -> even
}

TEST_CASE("integer formats are named by signedness and width", "[quick][types][int]") {
  using std::string;
  CHECK(string(lowp::int4::traits_type::name) == "int4");
  CHECK(string(lowp::uint4::traits_type::name) == "uint4");
  CHECK(string(lowp::int8::traits_type::name) == "int8");
  CHECK(string(lowp::uint8::traits_type::name) == "uint8");
  // Other widths get their own names, not those of the 4- or 8-bit formats.
  CHECK(string(lowp::traits::integer<2, true, std::uint8_t>::name) == "int2");
  CHECK(string(lowp::traits::integer<3, false, std::uint8_t>::name) == "uint3");
  CHECK(string(lowp::traits::integer<6, true, std::uint8_t>::name) == "int6");
  CHECK(string(lowp::traits::integer<12, false, std::uint16_t>::name) == "uint12");
  CHECK(string(lowp::traits::integer<16, true, std::uint16_t>::name) == "int16");
  CHECK(string(lowp::traits::integer<31, false, std::uint32_t>::name) == "uint31");
  STATIC_REQUIRE(lowp::traits::integer<6, true, std::uint8_t>::name[3] == '6');
}

TEST_CASE("from_bits keeps only the format's bits", "[quick][types]") {
  for (unsigned b = 0; b < 256; ++b) {
    const auto c = static_cast<std::uint8_t>(b);
    CHECK(lowp::float4_e2m1fn::from_bits(c).bits() == (b & 0xFu));
    CHECK(lowp::float6_e2m3fn::from_bits(c).bits() == (b & 0x3Fu));
    CHECK(lowp::float6_e3m2fn::from_bits(c).bits() == (b & 0x3Fu));
    CHECK(lowp::int4::from_bits(c).bits() == (b & 0xFu));
    CHECK(lowp::uint4::from_bits(c).bits() == (b & 0xFu));
    CHECK(lowp::float8_e4m3fn::from_bits(c).bits() == b);
    CHECK(lowp::float8_e8m0fnu::from_bits(c).bits() == b);
    CHECK(lowp::int8::from_bits(c).bits() == b);
  }
  CHECK(lowp::float16::from_bits(0xFFFF).bits() == 0xFFFF);
}

// ---------------------------------------------------------------------------------------
// Format cards.
// ---------------------------------------------------------------------------------------

template <class T>
void check_describe(const spec& s) {
  INFO(s.name);
  const lowp::format_info f = lowp::describe<T>();
  CHECK(std::string(f.name) == s.name);
  CHECK(f.total_bits == s.bits);
  CHECK(f.exponent_bits == s.E);
  CHECK(f.mantissa_bits == s.M);
  CHECK(f.bias == s.bias);
  CHECK(f.has_sign == s.is_signed);
  CHECK(f.has_inf == s.has_inf);
  CHECK(f.has_nan == s.has_nan);
  CHECK(f.has_subnormals == s.has_subnormals);
  CHECK(f.has_negative_zero == s.has_negative_zero);
  CHECK(f.max == s.max);
  CHECK(f.min_normal == s.min_normal);
  CHECK(f.min_subnormal == s.min_subnormal);
  CHECK(f.max_code == s.max_code);
  if (s.has_inf) CHECK(f.inf_code == s.inf_code);
  if (s.has_nan) CHECK(f.nan_code == s.nan_code);
}

TEST_CASE("describe<T>() states the spec", "[quick][types][card]") {
  check_describe<lowp::float8_e4m3fn>(e4m3fn);
  check_describe<lowp::float8_e5m2>(e5m2);
  check_describe<lowp::float8_e4m3fnuz>(e4m3fnuz);
  check_describe<lowp::float8_e5m2fnuz>(e5m2fnuz);
  check_describe<lowp::float6_e2m3fn>(e2m3);
  check_describe<lowp::float6_e3m2fn>(e3m2);
  check_describe<lowp::float4_e2m1fn>(e2m1);
  check_describe<lowp::float8_e8m0fnu>(e8m0);
  check_describe<lowp::float16>(f16);
  check_describe<lowp::bfloat16>(bf16);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string hex_upper(std::uint32_t v, int width) {
  std::ostringstream s;
  s << "0x" << std::hex << std::uppercase << std::setw(width) << std::setfill('0') << v;
  return s.str();
}

// The card of a format of at most 6 bits: the header facts and one line per code whose
// bit string and value are the spec's.
template <class T>
void check_small_card(const spec& s) {
  INFO(s.name);
  std::ostringstream os;
  lowp::print_format_card<T>(os);
  const auto lines = lines_of(os.str());
  const std::string text = os.str();
  INFO(text);
  REQUIRE(lines.size() >= 4 + (1u << s.bits));
  CHECK(lines[0].find(s.name) == 0);
  CHECK(lines[0].find(std::to_string(s.bits) + " bits") != std::string::npos);
  CHECK(lines[0].find("bias " + std::to_string(s.bias)) != std::string::npos);
  CHECK(text.find("max " + printed_float(static_cast<float>(s.max)) + " (" +
                  hex_upper(s.max_code, 1 + (s.bits - 1) / 4) + ")") != std::string::npos);
  CHECK(text.find("Inf: none") != std::string::npos);
  CHECK(text.find("NaN: none") != std::string::npos);
  // The code lines: "  0xC  bits  value".
  std::size_t first = 0;
  while (first < lines.size() && lines[first].find("code") == std::string::npos) ++first;
  REQUIRE(first + (1u << s.bits) < lines.size() + 1);
  for (std::uint32_t c = 0; c < (1u << s.bits); ++c) {
    std::istringstream row(lines[first + 1 + c]);
    std::string hex_s, bits_s;
    double value = 0;
    row >> hex_s >> bits_s >> value;
    INFO("line: " << lines[first + 1 + c]);
    CHECK(std::stoul(hex_s, nullptr, 16) == c);
    // S.EE.M: sign, exponent field, mantissa field.
    std::string want_bits;
    for (int i = s.bits - 1; i >= 0; --i) {
      want_bits += ((c >> i) & 1u) ? '1' : '0';
      if (i == s.bits - 1 || (i == s.M && s.M > 0)) want_bits += '.';
    }
    CHECK(bits_s == want_bits);
    CHECK(same_value(value, spec_value(s, c)));
  }
}

TEST_CASE("format cards list every value of the 4- and 6-bit formats", "[quick][types][card]") {
  check_small_card<lowp::float4_e2m1fn>(e2m1);
  check_small_card<lowp::float6_e2m3fn>(e2m3);
  check_small_card<lowp::float6_e3m2fn>(e3m2);
  // FP4 by name: OCP MX v1.0 Table 4 lists +-{0, 0.5, 1, 1.5, 2, 3, 4, 6}.
  std::ostringstream os;
  lowp::print_format_card<lowp::float4_e2m1fn>(os);
  const double fp4[16] = {0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6};
  const auto lines = lines_of(os.str());
  std::size_t first = 0;
  while (first < lines.size() && lines[first].find("code") == std::string::npos) ++first;
  REQUIRE(first + 16 < lines.size());
  for (int c = 0; c < 16; ++c) {
    std::istringstream row(lines[first + 1 + static_cast<std::size_t>(c)]);
    std::string h, b;
    double v = 1;
    row >> h >> b >> v;
    CHECK(same_value(v, fp4[c]));
  }
}

TEST_CASE("format cards of the 8- and 16-bit formats", "[quick][types][card]") {
  auto card = [](auto tag) {
    std::ostringstream os;
    lowp::print_format_card<decltype(tag)>(os);
    return os.str();
  };
  const std::string e4 = card(lowp::float8_e4m3fn{});
  CHECK(e4.find("float8_e4m3fn: 8 bits = 1 sign + 4 exponent + 3 mantissa, bias 7") == 0);
  CHECK(e4.find("max 448 (0x7E)") != std::string::npos);
  CHECK(e4.find("NaN: 0x7F") != std::string::npos);
  CHECK(e4.find("Inf: none") != std::string::npos);
  CHECK(e4.find("code") == std::string::npos);  // no value list for 8 bits
  const std::string e5 = card(lowp::float8_e5m2{});
  CHECK(e5.find("max 57344 (0x7B)") != std::string::npos);
  CHECK(e5.find("Inf: 0x7C") != std::string::npos);
  CHECK(e5.find("NaN: 0x7E") != std::string::npos);
  const std::string nuz = card(lowp::float8_e4m3fnuz{});
  CHECK(nuz.find("max 240 (0x7F)") != std::string::npos);
  CHECK(nuz.find("NaN: 0x80") != std::string::npos);
  CHECK(nuz.find("-0: no") != std::string::npos);
  const std::string sc = card(lowp::float8_e8m0fnu{});
  CHECK(sc.find("no sign") != std::string::npos);
  CHECK(sc.find("no subnormals, no zero") != std::string::npos);
  CHECK(sc.find("NaN: 0xFF") != std::string::npos);
  CHECK(sc.find("(0xFE)") != std::string::npos);
  const std::string h = card(lowp::float16{});
  CHECK(h.find("max 65504 (0x7BFF)") != std::string::npos);
  CHECK(h.find("Inf: 0x7C00") != std::string::npos);
  CHECK(h.find("NaN: 0x7E00") != std::string::npos);
  const std::string bf = card(lowp::bfloat16{});
  CHECK(bf.find("(0x7F7F)") != std::string::npos);
  CHECK(bf.find("Inf: 0x7F80") != std::string::npos);
}

TEST_CASE("the format table has one row per format, as describe<T>() says",
          "[quick][types][card]") {
  std::ostringstream os;
  lowp::print_format_table(os);
  const auto lines = lines_of(os.str());
  REQUIRE(lines.size() == 11);
  const spec* specs[] = {&e4m3fn, &e5m2, &e4m3fnuz, &e5m2fnuz, &e2m3,
                         &e3m2,   &e2m1, &e8m0,     &f16,      &bf16};
  for (std::size_t i = 0; i < 10; ++i) {
    const spec& s = *specs[i];
    INFO(lines[i + 1]);
    std::istringstream row(lines[i + 1]);
    std::string name, inf, nan;
    int bits = 0, E = 0, M = 0, bias = 0;
    double max = 0, min_normal = 0, min_sub = 0;
    row >> name >> bits >> E >> M >> bias >> max >> min_normal >> min_sub >> inf >> nan;
    CHECK(name == s.name);
    CHECK(bits == s.bits);
    CHECK(E == s.E);
    CHECK(M == s.M);
    CHECK(bias == s.bias);
    // The table prints 6 significant digits.
    CHECK(max == Approx(s.max).epsilon(1e-5));
    CHECK(min_normal == Approx(s.min_normal).epsilon(1e-5));
    CHECK(min_sub == Approx(s.min_subnormal).epsilon(1e-5));
    CHECK(inf == (s.has_inf ? hex_upper(s.inf_code, s.bits / 4) : std::string("-")));
    CHECK(nan == (s.has_nan ? hex_upper(s.nan_code, s.bits / 4) : std::string("-")));
  }
}

}  // namespace
