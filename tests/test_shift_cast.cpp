// FP4 -> FP8/FP16/BF16 bit-shift casts (lowp/shift_cast.hpp).
//
// Oracle: the E2M1 value times 2^k computed in double with std::ldexp (exact for these
// k), rounded once by the generic lowp::cast; and the literal ZeroQuant-FP bit formula.
#include <cmath>
#include <cstdint>
#include <lowp/lowp.hpp>
#include <lowp/shift_cast.hpp>
#include <random>
#include <vector>

#include "lowp_test.hpp"

namespace {

using namespace lowp;

// The eight E2M1 magnitudes, from OCP MX v1.0 section 5.3.3 (written out, not decoded).
constexpr double e2m1_magnitude[8] = {0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0};
double e2m1_value(unsigned code) {
  const double m = e2m1_magnitude[code & 7u];
  return (code & 8u) != 0 ? -m : m;
}

template <class To>
void check_all_codes_all_k(int exact_lo, int exact_hi) {
  std::size_t bad = 0;
  for (int k = -400; k <= 400; ++k)
    for (unsigned c = 0; c < 16; ++c) {
      const float4_e2m1fn x = float4_e2m1fn::from_bits(static_cast<std::uint8_t>(c));
      const double v = std::ldexp(e2m1_value(c), k);
      const To got = shift_cast<To>(x, k);
      if (got.bits() != cast<To>(v).bits()) {
        ++bad;
        INFO(To::traits_type::name << " code " << c << " k " << k);
        CHECK(got.bits() == cast<To>(v).bits());
      }
      // inside the documented exact range the result IS value * 2^k (zero's sign too)
      if (k >= exact_lo && k <= exact_hi) {
        INFO(To::traits_type::name << " code " << c << " k " << k << " should be exact");
        CHECK(static_cast<double>(got) == v);
        CHECK(std::signbit(static_cast<double>(got)) == ((c & 8u) != 0));
      }
    }
  CHECK(bad == 0);
}

TEST_CASE("shift_cast: all 16 codes x every k equal cast(value * 2^k)", "[shift_cast]") {
  check_all_codes_all_k<float8_e4m3fn>(-8, 6);
  check_all_codes_all_k<float8_e5m2>(-15, 13);
  check_all_codes_all_k<float16>(-23, 13);
  check_all_codes_all_k<bfloat16>(-132, 125);
  STATIC_REQUIRE(shift_cast_min_k<float8_e4m3fn> == -6);
  STATIC_REQUIRE(shift_cast_max_k<float8_e4m3fn> == 6);
  STATIC_REQUIRE(shift_cast_min_k<float16> == -14);
  STATIC_REQUIRE(shift_cast_max_k<bfloat16> == 125);
}

TEST_CASE("shift_cast: k = -6 is the literal ZeroQuant-FP formula (s<<7)|((code&7)<<2)",
          "[shift_cast]") {
  for (unsigned c = 0; c < 16; ++c) {
    const unsigned want = ((c >> 3) << 7) | ((c & 7u) << 2);
    CHECK(shift_cast<float8_e4m3fn>(float4_e2m1fn::from_bits(static_cast<std::uint8_t>(c)), -6)
              .bits() == want);
  }
  // and it is constexpr
  STATIC_REQUIRE(shift_cast<float8_e4m3fn>(float4_e2m1fn::from_bits(0x7), 0).bits() ==
                 0x4C);  // 6.0
}

template <class To, packed_layout L>
void check_bulk(int k) {
  std::mt19937 rng(static_cast<std::uint32_t>(k + 1000));
  std::vector<std::uint8_t> bytes(80);
  for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
  for (std::size_t byte_off = 0; byte_off < 3; ++byte_off)
    for (std::size_t n = 0; n < 128; ++n) {
      packed_span<const float4_e2m1fn, L> src(bytes.data() + byte_off, n);
      std::vector<To> dst(n + 8, To::from_bits(0x5A));
      shift_cast(src, dst.data() + 1, k);
      std::size_t bad = 0;
      for (std::size_t i = 0; i < n; ++i)
        bad += dst[i + 1].bits() != shift_cast<To>(src.get(i), k).bits();
      bad += dst[0].bits() != 0x5A;
      for (std::size_t i = n + 1; i < dst.size(); ++i) bad += dst[i].bits() != 0x5A;
      INFO(To::traits_type::name << " n " << n << " k " << k << " offset " << byte_off);
      REQUIRE(bad == 0);
    }
  // unpacked codes
  std::vector<float4_e2m1fn> codes(200);
  for (auto& c : codes) c = float4_e2m1fn::from_bits(static_cast<std::uint8_t>(rng() & 15u));
  std::vector<To> out(codes.size());
  shift_cast(codes.data(), out.data(), codes.size(), k);
  for (std::size_t i = 0; i < codes.size(); ++i)
    CHECK(out[i].bits() == shift_cast<To>(codes[i], k).bits());
}

TEST_CASE("shift_cast bulk: packed FP4 in, both nibble orders, every length 0..127",
          "[shift_cast][bulk]") {
  for (int k : {-9, -6, 0, 3, 6, 7}) {
    check_bulk<float8_e4m3fn, packed_layout::low_nibble_first>(k);
    check_bulk<float8_e4m3fn, packed_layout::high_nibble_first>(k);
    check_bulk<float8_e5m2, packed_layout::low_nibble_first>(k);
    check_bulk<float16, packed_layout::low_nibble_first>(k);
    check_bulk<bfloat16, packed_layout::high_nibble_first>(k);
  }
  std::vector<float8_e4m3fn> d(4);
  REQUIRE_THROWS_AS(shift_cast(static_cast<const float4_e2m1fn*>(nullptr), d.data(), 4, 0),
                    std::invalid_argument);
}

}  // namespace
