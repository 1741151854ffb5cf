// tests/test_formats_oracle_self.cpp — checks of the oracle itself (no lowp involved):
// the value tables against numbers printed in the specifications, and rounding facts that
// follow from IEEE 754 by hand.  A wrong oracle would make test_formats_oracle.cpp agree
// with a wrong library; these tests pin the oracle to the standards instead.
#include <cmath>
#include <cstdint>
#include <vector>

#include "lowp_test.hpp"
#include "oracle/format_oracle.hpp"

namespace {

using namespace lowp_oracle;

double val(const float_spec& s, std::uint32_t c) {
  return decode(s, c).value;
}
bool is_nan(const float_spec& s, std::uint32_t c) {
  return decode(s, c).kind == code_value::nan;
}
bool is_inf(const float_spec& s, std::uint32_t c) {
  return decode(s, c).kind == code_value::inf;
}

int count_nans(const float_spec& s) {
  int n = 0;
  for (std::uint32_t c = 0; c < (1u << s.width); ++c) n += is_nan(s, c) ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("oracle self-check: value tables match the specifications", "[self]") {
  // OCP OFP8 v1.0, Table 1 (E4M3): max normal S.1111.110 = 448, min normal 2^-6,
  // max subnormal 0.875 * 2^-6, min subnormal 2^-9; NaN S.1111.111; no Inf.
  CHECK(val(spec_e4m3fn, 0x7E) == 448.0);
  CHECK(val(spec_e4m3fn, 0xFE) == -448.0);
  CHECK(val(spec_e4m3fn, 0x08) == std::ldexp(1.0, -6));
  CHECK(val(spec_e4m3fn, 0x07) == 0.875 * std::ldexp(1.0, -6));
  CHECK(val(spec_e4m3fn, 0x01) == std::ldexp(1.0, -9));
  CHECK(val(spec_e4m3fn, 0x38) == 1.0);
  CHECK(std::signbit(val(spec_e4m3fn, 0x80)));
  CHECK(is_nan(spec_e4m3fn, 0x7F));
  CHECK(is_nan(spec_e4m3fn, 0xFF));
  CHECK(count_nans(spec_e4m3fn) == 2);
  CHECK(float_oracle(spec_e4m3fn).max() == 448.0);
  // E5M2: max 0x7B = 57344, Inf S.11111.00, NaN S.11111.{01,10,11}, min subnormal 2^-16.
  CHECK(val(spec_e5m2, 0x7B) == 57344.0);
  CHECK(val(spec_e5m2, 0x04) == std::ldexp(1.0, -14));
  CHECK(val(spec_e5m2, 0x01) == std::ldexp(1.0, -16));
  CHECK(val(spec_e5m2, 0x3C) == 1.0);
  CHECK(is_inf(spec_e5m2, 0x7C));
  CHECK(is_inf(spec_e5m2, 0xFC));
  CHECK(count_nans(spec_e5m2) == 6);
  // FNUZ (LLVM APFloat Float8E4M3FNUZ / Float8E5M2FNUZ): max 240 / 57344, min subnormal
  // 2^-10 / 2^-17, 1.0 = 0x40, the only NaN 0x80.
  CHECK(val(spec_e4m3fnuz, 0x7F) == 240.0);
  CHECK(val(spec_e4m3fnuz, 0x01) == std::ldexp(1.0, -10));
  CHECK(val(spec_e4m3fnuz, 0x40) == 1.0);
  CHECK(count_nans(spec_e4m3fnuz) == 1);
  CHECK(is_nan(spec_e4m3fnuz, 0x80));
  CHECK(val(spec_e5m2fnuz, 0x7F) == 57344.0);
  CHECK(val(spec_e5m2fnuz, 0x01) == std::ldexp(1.0, -17));
  CHECK(val(spec_e5m2fnuz, 0x40) == 1.0);
  CHECK(count_nans(spec_e5m2fnuz) == 1);
  // OCP MX v1.0 section 5.3.2: FP6 E2M3 max 7.5, min normal 1, min subnormal 0.125;
  // E3M2 max 28, min normal 0.25, min subnormal 0.0625.  FP4 E2M1 (5.3.3): the values
  // 0, 0.5, 1, 1.5, 2, 3, 4, 6.
  CHECK(float_oracle(spec_e2m3fn).max() == 7.5);
  CHECK(val(spec_e2m3fn, 0x01) == 0.125);
  CHECK(val(spec_e2m3fn, 0x08) == 1.0);
  CHECK(val(spec_e2m3fn, 0x3F) == -7.5);
  CHECK(float_oracle(spec_e3m2fn).max() == 28.0);
  CHECK(val(spec_e3m2fn, 0x01) == 0.0625);
  CHECK(val(spec_e3m2fn, 0x04) == 0.25);
  CHECK(val(spec_e3m2fn, 0x3F) == -28.0);
  CHECK(float_oracle(spec_e2m1fn).magnitudes() == std::vector<double>{0, 0.5, 1, 1.5, 2, 3, 4, 6});
  CHECK(val(spec_e2m1fn, 0xF) == -6.0);
  CHECK(count_nans(spec_e2m3fn) + count_nans(spec_e3m2fn) + count_nans(spec_e2m1fn) == 0);
  // E8M0 (5.4.1): 2^(e-127), 0x7F = 1, 0x00 = 2^-127, 0xFE = 2^127, 0xFF NaN.
  CHECK(val(spec_e8m0fnu, 0x7F) == 1.0);
  CHECK(val(spec_e8m0fnu, 0x00) == std::ldexp(1.0, -127));
  CHECK(val(spec_e8m0fnu, 0xFE) == std::ldexp(1.0, 127));
  CHECK(count_nans(spec_e8m0fnu) == 1);
  // binary16: max 65504, min normal 2^-14, min subnormal 2^-24, Inf 0x7C00.
  CHECK(val(spec_binary16, 0x7BFF) == 65504.0);
  CHECK(val(spec_binary16, 0x0400) == std::ldexp(1.0, -14));
  CHECK(val(spec_binary16, 0x0001) == std::ldexp(1.0, -24));
  CHECK(val(spec_binary16, 0x3C00) == 1.0);
  CHECK(is_inf(spec_binary16, 0xFC00));
  // bfloat16: the top half of binary32: max (2 - 2^-7) 2^127, min subnormal 2^-133.
  CHECK(val(spec_bfloat16, 0x7F7F) == (2 - std::ldexp(1.0, -7)) * std::ldexp(1.0, 127));
  CHECK(val(spec_bfloat16, 0x0001) == std::ldexp(1.0, -133));
  CHECK(val(spec_bfloat16, 0x3F80) == 1.0);
  CHECK(is_inf(spec_bfloat16, 0x7F80));
  // Integers.
  CHECK(int_decode(spec_int4, 0x8) == -8);
  CHECK(int_decode(spec_int4, 0x7) == 7);
  CHECK(int_decode(spec_uint4, 0xF) == 15);
  CHECK(int_decode(spec_int8, 0x80) == -128);
  CHECK(int_decode(spec_uint8, 0xFF) == 255);
}

TEST_CASE("oracle self-check: rounding facts worked out by hand", "[self]") {
  const float_oracle e4m3(spec_e4m3fn), e5m2(spec_e5m2), fp4(spec_e2m1fn), fp16(spec_binary16),
      e8m0(spec_e8m0fnu), fnuz(spec_e4m3fnuz);
  const mode ne = mode::nearest_even;
  const ovf sat = ovf::saturate, nos = ovf::non_saturating;
  // FP4 ties to the even code: 2.5 between 2 (0x4) and 3 (0x5) -> 0x4; 5 between 4 (0x6)
  // and 6 (0x7) -> 0x6; 0.25 -> +0; 0.75 between 0.5 (0x1) and 1 (0x2) -> 0x2.  Away: up.
  CHECK(fp4.convert(2.5, ne, sat) == 0x4);
  CHECK(fp4.convert(5.0, ne, sat) == 0x6);
  CHECK(fp4.convert(0.25, ne, sat) == 0x0);
  CHECK(fp4.convert(-0.25, ne, sat) == 0x8);
  CHECK(fp4.convert(0.75, ne, sat) == 0x2);
  CHECK(fp4.convert(2.5, mode::nearest_away, sat) == 0x5);
  CHECK(fp4.convert(-2.5, mode::nearest_away, sat) == 0xD);
  CHECK(fp4.convert(2.9, mode::toward_zero, sat) == 0x4);
  CHECK(fp4.convert(-2.1, mode::up, sat) == 0xC);
  CHECK(fp4.convert(-2.1, mode::down, sat) == 0xD);
  // FP4 overflow: the grid continues with 8 = 2^3 (even), so 7 ties to overflow; no
  // Inf/NaN: max either way.  NaN -> +max (0x7).
  CHECK(fp4.convert(7.0, ne, nos) == 0x7);
  CHECK(fp4.convert(-100.0, ne, nos) == 0xF);
  CHECK(fp4.convert(std::nan(""), ne, nos) == 0x7);
  // binary16: 65519.99 -> 65504; 65520 (the tie with 2^16) -> Inf (IEEE 754), or 65504
  // saturated; toward zero never overflows to Inf (IEEE 754-2019 7.4).
  CHECK(fp16.convert(65519.99, ne, nos) == 0x7BFF);
  CHECK(fp16.convert(65520.0, ne, nos) == 0x7C00);
  CHECK(fp16.convert(-65520.0, ne, nos) == 0xFC00);
  CHECK(fp16.convert(65520.0, ne, sat) == 0x7BFF);
  CHECK(fp16.convert(1e30, mode::toward_zero, nos) == 0x7BFF);
  CHECK(fp16.convert(1e30, mode::down, nos) == 0x7BFF);
  CHECK(fp16.convert(-1e30, mode::down, nos) == 0xFC00);
  CHECK(fp16.convert(-1e30, mode::up, nos) == 0xFBFF);
  CHECK(fp16.convert(HUGE_VAL, mode::toward_zero, nos) == 0x7C00);
  CHECK(fp16.convert(std::ldexp(1.0, -25), ne, nos) == 0x0000);  // tie with 0 -> 0
  CHECK(fp16.convert(std::ldexp(1.5, -25), ne, nos) == 0x0001);
  CHECK(fp16.convert(-std::ldexp(1.0, -30), ne, nos) == 0x8000);
  CHECK(fp16.convert(std::ldexp(1.0, -30), mode::up, nos) == 0x0001);
  // A float quiet NaN keeps sign and payload top bits (F16C behaviour).
  CHECK(fp16.convert(bits_float(0x7FC00000u), ne, nos) == 0x7E00);
  CHECK(fp16.convert(bits_float(0xFFC00000u), ne, nos) == 0xFE00);
  CHECK(fp16.convert(bits_float(0x7F802000u), ne, nos) == 0x7E01);
  CHECK(e5m2.convert(bits_float(0x7FC00000u), ne, nos) == 0x7E);
  CHECK(e5m2.convert(bits_float(0x7FA00000u), ne, nos) == 0x7F);
  // E4M3: 464 is the midpoint of 448 (0x7E, even) and 480 (the NaN slot 0x7F, odd):
  // ties-to-even keeps 448; just above overflows (NaN when non-saturating).
  CHECK(e4m3.convert(464.0, ne, nos) == 0x7E);
  CHECK(e4m3.convert(464.0001, ne, nos) == 0x7F);
  CHECK(e4m3.convert(-464.0001, ne, nos) == 0xFF);
  CHECK(e4m3.convert(-464.0001, ne, sat) == 0xFE);
  CHECK(e4m3.convert(464.0, mode::nearest_away, nos) == 0x7F);
  // E5M2: 61440 ties 57344 (0x7B, odd) with 65536 (even): Inf.
  CHECK(e5m2.convert(61440.0, ne, nos) == 0x7C);
  CHECK(e5m2.convert(61439.0, ne, nos) == 0x7B);
  // fnuz: no -0, one NaN.
  CHECK(fnuz.convert(-1e-30, ne, sat) == 0x00);
  CHECK(fnuz.convert(-0.0, ne, sat) == 0x00);
  CHECK(fnuz.convert(-1e30, ne, nos) == 0x80);
  CHECK(fnuz.convert(-HUGE_VAL, ne, sat) == 0xFF);
  // E8M0: |x|; linear midpoint 1.5 * 2^k ties to the even code; below 2^-127 -> 0x00.
  CHECK(e8m0.convert(1.5, ne, sat) == 0x80);  // 1 (0x7F, odd) vs 2 (0x80, even)
  CHECK(e8m0.convert(3.0, ne, sat) == 0x80);  // 2 (0x80, even) vs 4 (0x81)
  CHECK(e8m0.convert(-3.0, ne, sat) == 0x80);
  CHECK(e8m0.convert(2.9, mode::up, sat) == 0x81);
  CHECK(e8m0.convert(2.9, mode::toward_zero, sat) == 0x80);
  CHECK(e8m0.convert(0.0, ne, sat) == 0x00);
  CHECK(e8m0.convert(1e-45, mode::up, sat) == 0x00);
  CHECK(e8m0.convert(HUGE_VAL, ne, nos) == 0xFF);
  CHECK(e8m0.convert(HUGE_VAL, ne, sat) == 0xFE);
  // Integers.
  CHECK(int_convert(spec_int4, from_double(2.5), ne) == 2);
  CHECK(int_convert(spec_int4, from_double(3.5), ne) == 4);
  CHECK(int_convert(spec_int4, from_double(-2.5), ne) == -2);
  CHECK(int_convert(spec_int4, from_double(-2.5), mode::nearest_away) == -3);
  CHECK(int_convert(spec_int4, from_double(-2.5), mode::up) == -2);
  CHECK(int_convert(spec_int4, from_double(-2.5), mode::toward_zero) == -2);
  CHECK(int_convert(spec_int4, from_double(-100), ne) == -8);
  CHECK(int_convert(spec_uint4, from_double(-0.7), ne) == 0);
  CHECK(int_convert(spec_uint8, from_double(HUGE_VAL), ne) == 255);
  CHECK(int_convert(spec_int8, from_double(std::nan("")), ne) == 0);
  // Stochastic: 2.25 in FP4 is a quarter of the way from 2 to 3: threshold 2^30.
  CHECK(float_oracle(spec_e2m1fn).stochastic_threshold(from_double(2.25)) == (1ull << 30));
  CHECK(float_oracle(spec_e2m1fn).convert_stochastic(from_double(2.25), (1u << 30) - 1, sat) ==
        0x5);
  CHECK(float_oracle(spec_e2m1fn).convert_stochastic(from_double(2.25), 1u << 30, sat) == 0x4);
  CHECK(int_convert_stochastic(spec_int8, from_double(-1.75), 0xBFFFFFFFu) == -2);
  CHECK(int_convert_stochastic(spec_int8, from_double(-1.75), 0xC0000000u) == -1);
}

#if defined(__FLT16_MAX__) && defined(__x86_64__)
// GCC's _Float16 conversions (libgcc soft-fp, one rounding, nearest-even, IEEE overflow)
// are a second, unrelated implementation of binary16: the oracle must agree with them.
TEST_CASE("oracle self-check: binary16 agrees with the compiler's _Float16", "[self]") {
  const float_oracle fp16(spec_binary16);
  std::uint64_t bad = 0, checked = 0;
  auto check = [&](float x) {
    const _Float16 h = static_cast<_Float16>(x);
    std::uint16_t hb;
    std::memcpy(&hb, &h, sizeof hb);
    if (std::isnan(x)) return;
    ++checked;
    if (fp16.convert(x, mode::nearest_even, ovf::non_saturating) != hb) ++bad;
    const double d = static_cast<double>(x) * (1 + 0x1p-30);
    const _Float16 hd = static_cast<_Float16>(d);
    std::memcpy(&hb, &hd, sizeof hb);
    if (fp16.convert(d, mode::nearest_even, ovf::non_saturating) != hb) ++bad;
  };
  for (std::uint64_t u = 0; u < (1ull << 32); u += 1031)
    check(bits_float(static_cast<std::uint32_t>(u)));
  for (double b : fp16.boundaries()) {
    const std::uint32_t u0 = float_bits(static_cast<float>(b));
    for (std::uint32_t u = u0 >= 2 ? u0 - 2 : 0u; u <= u0 + 2; ++u) {
      check(bits_float(u));
      check(bits_float(u | 0x80000000u));
    }
  }
  CAPTURE(checked);
  CHECK(bad == 0);
}
#endif
