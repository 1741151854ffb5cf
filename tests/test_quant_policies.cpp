// tests/test_quant_policies.cpp — the scale policies against the independent
// reference of test_quant_ref.hpp, on fixed-seed Gaussian, Laplace, Student-t, uniform
// and outlier-channel matrices, plus their invariants.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "lowp/quantize.hpp"
#include "lowp/shift_cast.hpp"
#include "lowp_test.hpp"
#include "test_quant_ref.hpp"

namespace {

constexpr std::size_t R = 48, C = 320;  // 320: groups of 128 leave a short last group

struct dataset {
  std::string name;
  std::vector<float> w;
};

std::vector<dataset> datasets() {
  std::vector<dataset> d;
  std::uint64_t seed = 1234;
  for (auto k :
       {qref::dist::gaussian, qref::dist::laplace, qref::dist::student_t, qref::dist::uniform})
    d.push_back({qref::name(k), qref::matrix(k, R, C, seed++)});
  d.push_back({"outlier channels", qref::outlier_activations(R, C, 4, 99)});
  // Scaled far from 1, to exercise the exponents of the scales.
  std::vector<float> tiny = qref::matrix(qref::dist::gaussian, R, C, 7);
  for (float& v : tiny) v = std::ldexp(v, -60);
  d.push_back({"Gaussian * 2^-60", tiny});
  std::vector<float> big = qref::matrix(qref::dist::laplace, R, C, 8);
  for (float& v : big) v = std::ldexp(v, 50);
  d.push_back({"Laplace * 2^50", big});
  return d;
}

/// Checks every group's scale and every element of quantize(pol, W) against the
/// reference: ref_scale(x, n, row) -> the scale s (exactly the float the formula gives);
/// element = round_on_grid(x, s); value = fl(s * element).  Also checks that
/// fake_quantize agrees with dequantize(quantize()).
template <class Policy, class RefScale, class ImplScale>
void check_policy(const Policy& pol, const std::vector<float>& W, std::size_t rows,
                  std::size_t cols, std::size_t g, const qref::grid& grid, long double neg_max,
                  RefScale ref_scale, ImplScale impl_scale,
                  qref::mode md = qref::mode::nearest_even) {
  const auto q = lowp::quantize(pol, W.data(), rows, cols, lowp::granularity::per_group(g));
  std::vector<float> fq(W.size());
  lowp::fake_quantize(pol, W.data(), fq.data(), rows, cols, lowp::granularity::per_group(g));
  std::size_t bad = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t j = 0; j * g < cols; ++j) {
      const std::size_t c0 = j * g, n = std::min(g, cols - c0);
      const float* x = W.data() + r * cols + c0;
      const long double s = ref_scale(x, n, r);
      const long double got_s = impl_scale(q.group_params(r, j));
      if (s != got_s && bad++ < 5) {
        CAPTURE(r, j, static_cast<double>(s), static_cast<double>(got_s));
        CHECK(s == got_s);
      }
      for (std::size_t i = 0; i < n; ++i) {
        const long double e = qref::round_on_grid(x[i], s, grid, md, neg_max);
        const float want = static_cast<float>(s * e);
        const float got = q.value(r, c0 + i);
        if ((want != got || fq[r * cols + c0 + i] != got) && bad++ < 5) {
          CAPTURE(r, c0 + i, x[i], static_cast<double>(s), want, got, fq[r * cols + c0 + i]);
          CHECK(want == got);
          CHECK(fq[r * cols + c0 + i] == got);
        }
      }
    }
  }
  CHECK(bad == 0);
}

// The reference scales, transcribed from the formulas (not from the implementation).
auto absmax_scale(long double Q) {
  return [Q](const float* x, std::size_t n, std::size_t) -> long double {
    const float a = static_cast<float>(qref::amax(x, n));
    if (a == 0) return 1;
    return static_cast<long double>(a / static_cast<float>(Q));  // s = fl(amax / Q)
  };
}
template <class P>
long double scale_field(const P& p) {
  return static_cast<long double>(p.scale);
}

}  // namespace

TEST_CASE("absmax matches the reference for every element format", "[quant][absmax]") {
  for (const auto& d : datasets()) {
    INFO("data: " << d.name);
    for (std::size_t g : {std::size_t{32}, std::size_t{128}, C}) {
      INFO("group " << g);
      check_policy(lowp::absmax<lowp::float4_e2m1fn>{}, d.w, R, C, g, qref::e2m1(), -1,
                   absmax_scale(6), [](auto p) { return scale_field(p); });
      check_policy(lowp::absmax<lowp::float8_e4m3fn>{}, d.w, R, C, g, qref::e4m3(), -1,
                   absmax_scale(448), [](auto p) { return scale_field(p); });
      check_policy(lowp::absmax<lowp::float8_e5m2>{}, d.w, R, C, g, qref::e5m2(), -1,
                   absmax_scale(57344), [](auto p) { return scale_field(p); });
      check_policy(lowp::absmax<lowp::float6_e3m2fn>{}, d.w, R, C, g, qref::e3m2(), -1,
                   absmax_scale(28), [](auto p) { return scale_field(p); });
      check_policy(lowp::absmax<lowp::float6_e2m3fn>{}, d.w, R, C, g, qref::e2m3(), -1,
                   absmax_scale(7.5L), [](auto p) { return scale_field(p); });
      check_policy(lowp::absmax<lowp::int4>{}, d.w, R, C, g, qref::int_grid(7), 8, absmax_scale(7),
                   [](auto p) { return scale_field(p); });
      check_policy(lowp::absmax<lowp::int8>{}, d.w, R, C, g, qref::int_grid(127), 128,
                   absmax_scale(127), [](auto p) { return scale_field(p); });
    }
  }
}

TEST_CASE("absmax gptq_sym matches GPTQ quant.py sym=True", "[quant][absmax][gptq]") {
  // GPTQ find_params(sym=True): xmax = max(|xmin|, xmax), xmin = -xmax,
  // scale = (xmax - xmin) / maxq, zero = (maxq + 1) / 2;
  // q = clamp(round(x / scale) + zero, 0, maxq); value = scale * (q - zero).
  for (const auto& d : datasets()) {
    INFO("data: " << d.name);
    const std::size_t g = 64;
    for (int bits : {4, 8}) {
      const float maxq = static_cast<float>((1 << bits) - 1);
      const long double zero = (maxq + 1) / 2;
      auto run = [&](auto pol) {
        const auto q = lowp::quantize(pol, d.w.data(), R, C, lowp::granularity::per_group(g));
        std::size_t bad = 0;
        for (std::size_t r = 0; r < R; ++r)
          for (std::size_t c0 = 0; c0 < C; c0 += g) {
            const float* x = d.w.data() + r * C + c0;
            const float xmax = static_cast<float>(qref::amax(x, g));
            const float scale = xmax == 0 ? 1.0f : (xmax - (-xmax)) / maxq;
            for (std::size_t i = 0; i < g; ++i) {
              const long double qq =
                  std::clamp(std::nearbyint(static_cast<long double>(x[i]) / scale) + zero, 0.0L,
                             static_cast<long double>(maxq));
              const float want = static_cast<float>(scale * (qq - zero));
              if (want != q.value(r, c0 + i) && bad++ < 5) CHECK(want == q.value(r, c0 + i));
            }
          }
        CHECK(bad == 0);
      };
      if (bits == 4)
        run(lowp::absmax<lowp::int4>(lowp::element_rounding{}, lowp::int_range::gptq_sym));
      if (bits == 8)
        run(lowp::absmax<lowp::int8>(lowp::element_rounding{}, lowp::int_range::gptq_sym));
    }
  }
}

TEST_CASE("minmax matches GPTQ quant.py sym=False", "[quant][minmax][gptq]") {
  for (const auto& d : datasets()) {
    INFO("data: " << d.name);
    auto run = [&](auto pol, int bits, std::size_t g) {
      const float maxq = static_cast<float>((1 << bits) - 1);
      const auto q = lowp::quantize(pol, d.w.data(), R, C, lowp::granularity::per_group(g));
      std::size_t bad = 0;
      for (std::size_t r = 0; r < R; ++r)
        for (std::size_t c0 = 0; c0 < C; c0 += g) {
          const std::size_t n = std::min(g, C - c0);
          const float* x = d.w.data() + r * C + c0;
          // find_params: xmin = min(x.min, 0); xmax = max(x.max, 0); both 0 -> [-1, 1].
          float xmin = 0, xmax = 0;
          for (std::size_t i = 0; i < n; ++i) {
            xmin = std::min(xmin, x[i]);
            xmax = std::max(xmax, x[i]);
          }
          if (xmin == 0 && xmax == 0) {
            xmin = -1;
            xmax = 1;
          }
          const float scale = (xmax - xmin) / maxq;
          const long double zero = std::nearbyint(-static_cast<long double>(xmin) / scale);
          const auto& p = q.group_params(r, c0 / g);
          CHECK(p.scale == scale);
          CHECK(static_cast<long double>(p.zero) == zero);
          for (std::size_t i = 0; i < n; ++i) {
            const long double qq =
                std::clamp(std::nearbyint(static_cast<long double>(x[i]) / scale) + zero, 0.0L,
                           static_cast<long double>(maxq));
            const float want = static_cast<float>(scale * (qq - zero));
            if (want != q.value(r, c0 + i) && bad++ < 5) {
              CAPTURE(r, c0 + i, x[i], want, q.value(r, c0 + i));
              CHECK(want == q.value(r, c0 + i));
            }
          }
        }
      CHECK(bad == 0);
    };
    run(lowp::minmax<lowp::uint4>{}, 4, 128);
    run(lowp::minmax<lowp::uint4>{}, 4, 32);
    run(lowp::minmax<lowp::uint8>{}, 8, C);
  }
}

template <class F>
void check_elements_against_cast() {
  // absmax's element half with scale 1 is encode_quotient(x) and scale * element_value:
  // it must be lowp::cast element by element, for every rounding, also for values the
  // policies' fit never produces (beyond the range, Inf, NaN).
  std::vector<float> xs = {0.0f,
                           -0.0f,
                           std::numeric_limits<float>::infinity(),
                           -std::numeric_limits<float>::infinity(),
                           std::numeric_limits<float>::quiet_NaN(),
                           -std::numeric_limits<float>::quiet_NaN(),
                           1e30f,
                           -1e30f,
                           1e-30f,
                           -1e-30f,
                           std::numeric_limits<float>::denorm_min(),
                           3e9f,
                           -3e9f};
  for (int k = -4 * 300; k <= 4 * 300; ++k) {  // quarters: every tie, both signs, past the range
    const float x = static_cast<float>(k) * 0.25f;
    xs.insert(xs.end(), {x, std::nextafter(x, 1e9f), std::nextafter(x, -1e9f)});
  }
  const lowp::rounding modes[] = {lowp::rounding::nearest_even, lowp::rounding::nearest_away,
                                  lowp::rounding::toward_zero, lowp::rounding::up,
                                  lowp::rounding::down};
  for (const lowp::rounding r : modes) {
    lowp::absmax<F> pol(lowp::element_rounding::with(r));  // encode() is not const
    const typename lowp::absmax<F>::params one{1.0f};
    std::size_t bad = 0;
    for (const float x : xs) bad += pol.encode(x, one) != lowp::cast<F>(x, r).bits();
    INFO(typeid(F).name() << " mode " << static_cast<int>(r));
    CHECK(bad == 0);
  }
  const lowp::absmax<F> pol;
  for (unsigned c = 0; c < 256; ++c) {
    const auto code = static_cast<typename F::storage_type>(c);
    const float want =
        static_cast<float>(F::from_bits(code)) * 0.375f;  // exact: a short significand
    const float got = pol.decode(code, typename lowp::absmax<F>::params{0.375f});
    INFO(typeid(F).name() << " code " << c);
    CHECK((std::isnan(want) ? std::isnan(got) : got == want));
  }
}

TEST_CASE("encode/decode equal lowp::cast for every rounding, also out of range",
          "[quant][rounding]") {
  check_elements_against_cast<lowp::int4>();
  check_elements_against_cast<lowp::int8>();
  check_elements_against_cast<lowp::float4_e2m1fn>();
  check_elements_against_cast<lowp::float8_e4m3fn>();
}

TEST_CASE("every deterministic rounding mode matches the reference", "[quant][rounding]") {
  const std::pair<lowp::rounding, qref::mode> modes[] = {
      {lowp::rounding::nearest_even, qref::mode::nearest_even},
      {lowp::rounding::nearest_away, qref::mode::nearest_away},
      {lowp::rounding::toward_zero, qref::mode::toward_zero},
      {lowp::rounding::up, qref::mode::up},
      {lowp::rounding::down, qref::mode::down}};
  // Data with many exact ties: multiples of 1/4 under a power-of-two scale.
  std::vector<float> ties(R * C);
  for (std::size_t i = 0; i < ties.size(); ++i)
    ties[i] = static_cast<float>(static_cast<int>(i * 7919 % 49) - 24) * 0.25f;
  const std::vector<float> gauss = datasets()[0].w;
  for (const auto& [lr, qm] : modes) {
    INFO("mode " << static_cast<int>(lr));
    const lowp::element_rounding er = lowp::element_rounding::with(lr);
    const std::vector<float>* inputs[] = {&ties, &gauss};
    for (const std::vector<float>* w : inputs) {
      check_policy(
          lowp::pow2<lowp::float4_e2m1fn>(er), *w, R, C, 64, qref::e2m1(), -1,
          [](const float* x, std::size_t n, std::size_t) {
            const long double a = qref::amax(x, n);
            return a == 0 ? 1.0L : std::exp2(std::ceil(std::log2(a / 6.0L)));
          },
          [](auto p) { return scale_field(p); }, qm);
      check_policy(
          lowp::absmax<lowp::float8_e4m3fn>(er), *w, R, C, 64, qref::e4m3(), -1, absmax_scale(448),
          [](auto p) { return scale_field(p); }, qm);
      check_policy(
          lowp::absmax<lowp::int4>(er), *w, R, C, 64, qref::int_grid(7), 8, absmax_scale(7),
          [](auto p) { return scale_field(p); }, qm);
    }
  }
}

TEST_CASE("pow2 (M1): power-of-two scales, never clipping, against the reference",
          "[quant][pow2]") {
  for (const auto& d : datasets()) {
    INFO("data: " << d.name);
    for (std::size_t g : {std::size_t{32}, std::size_t{128}}) {
      // ceil: 2^ceil(log2(amax / Q)); log2 in long double is exact enough away from
      // exact powers of two, and exact at them.
      auto ref = [](long double Q, int how) {
        return [Q, how](const float* x, std::size_t n, std::size_t) -> long double {
          const long double a = qref::amax(x, n);
          if (a == 0) return 1;
          const long double l = std::log2(a / Q);
          return std::exp2(how == 0 ? std::ceil(l) : how == 1 ? std::nearbyint(l) : std::floor(l));
        };
      };
      check_policy(lowp::pow2<lowp::float4_e2m1fn>{}, d.w, R, C, g, qref::e2m1(), -1, ref(6, 0),
                   [](auto p) { return scale_field(p); });
      check_policy(lowp::pow2<lowp::float8_e4m3fn>{}, d.w, R, C, g, qref::e4m3(), -1, ref(448, 0),
                   [](auto p) { return scale_field(p); });
      check_policy(lowp::pow2<lowp::int4>{}, d.w, R, C, g, qref::int_grid(7), 8, ref(7, 0),
                   [](auto p) { return scale_field(p); });
      check_policy(
          lowp::pow2<lowp::float4_e2m1fn>(lowp::element_rounding{}, lowp::pow2_rounding::nearest),
          d.w, R, C, g, qref::e2m1(), -1, ref(6, 1), [](auto p) { return scale_field(p); });
      check_policy(
          lowp::pow2<lowp::float4_e2m1fn>(lowp::element_rounding{}, lowp::pow2_rounding::floor),
          d.w, R, C, g, qref::e2m1(), -1, ref(6, 2), [](auto p) { return scale_field(p); });

      // Invariants of the default (ceil): every scale a power of two, no element clips
      // (|x| <= s * Q), so the error is at most half a step of the grid at the top.
      const auto q = lowp::quantize(lowp::pow2<lowp::float4_e2m1fn>{}, d.w.data(), R, C,
                                    lowp::granularity::per_group(g));
      for (std::size_t r = 0; r < R; ++r)
        for (std::size_t j = 0; j < q.groups_per_row(); ++j) {
          const float s = q.group_params(r, j).scale;
          REQUIRE(qref::is_pow2(s));
          const std::size_t c0 = j * g, n = std::min(g, C - c0);
          REQUIRE(qref::amax(d.w.data() + r * C + c0, n) <= 6.0L * s);
          REQUIRE(2.0L * qref::amax(d.w.data() + r * C + c0, n) >
                  6.0L * s);  // the smallest such power
        }
    }
  }
  SECTION("exact powers of two: amax = 6 * 2^k gives s = 2^k exactly") {
    for (int k : {-100, -3, 0, 5, 90}) {
      std::vector<float> x = {std::ldexp(6.0f, k), std::ldexp(-1.0f, k)};
      const auto q = lowp::quantize(lowp::pow2<lowp::float4_e2m1fn>{}, x.data(), 1, 2,
                                    lowp::granularity::per_channel());
      CHECK(q.group_params(0, 0).scale == std::ldexp(1.0f, k));
      CHECK(q.value(0, 0) == x[0]);
      CHECK(q.value(0, 1) == x[1]);
    }
  }
}

TEST_CASE("pow2_relative (M2): the reference, and its invariants", "[quant][pow2_relative]") {
  using fp4 = lowp::float4_e2m1fn;
  for (const auto& d : datasets()) {
    INFO("data: " << d.name);
    for (std::size_t rows_per_cg : {std::size_t{1}, std::size_t{4}, std::size_t{0}}) {
      for (std::size_t g : {std::size_t{32}, std::size_t{128}}) {
        for (auto sr : {lowp::pow2_rounding::floor, lowp::pow2_rounding::nearest}) {
          INFO("rows per compute group " << rows_per_cg << ", group " << g << ", nearest "
                                         << (sr == lowp::pow2_rounding::nearest));
          const std::size_t rpg = rows_per_cg == 0 ? R : rows_per_cg;
          // Reference: s_g = fl(amax_g / 6); s_max over the compute group; k = the largest
          // integer with s_max 2^-k >= s_g (floor of log2(s_max / s_g)) or the nearest
          // integer to log2(s_max / s_g); clamped to [0, 8].
          std::vector<float> smax(R / rpg + 1, 0.0f);
          for (std::size_t r = 0; r < R; ++r)
            for (std::size_t c0 = 0; c0 < C; c0 += g) {
              const float sg =
                  static_cast<float>(qref::amax(d.w.data() + r * C + c0, std::min(g, C - c0))) /
                  6.0f;
              smax[r / rpg] = std::max(smax[r / rpg], sg);
            }
          auto ref = [&](const float* x, std::size_t n, std::size_t row) -> long double {
            const long double sm = smax[row / rpg];
            const long double sg = static_cast<float>(qref::amax(x, n)) / 6.0f;
            int k = 0;
            if (sr == lowp::pow2_rounding::floor) {
              while (std::ldexp(sm, -(k + 1)) >= sg) ++k;
            } else {
              k = static_cast<int>(std::nearbyint(std::log2(sm / sg)));
            }
            k = std::clamp(k, 0, 8);
            return std::ldexp(sm, -k);
          };
          const lowp::pow2_relative<fp4> pol(lowp::element_rounding{}, rows_per_cg, sr);
          check_policy(pol, d.w, R, C, g, qref::e2m1(), -1, ref, [](auto p) {
            return std::ldexp(static_cast<long double>(p.scale_max), -p.shift);
          });

          // Invariants.
          const auto q = lowp::quantize(pol, d.w.data(), R, C, lowp::granularity::per_group(g));
          for (std::size_t r = 0; r < R; ++r)
            for (std::size_t j = 0; j < q.groups_per_row(); ++j) {
              const auto p = q.group_params(r, j);
              const std::size_t c0 = j * g, n = std::min(g, C - c0);
              const float sg = static_cast<float>(qref::amax(d.w.data() + r * C + c0, n)) / 6.0f;
              REQUIRE(p.scale_max == smax[r / rpg]);
              REQUIRE(static_cast<int>(p.shift) <= 8);
              const long double ratio =
                  std::ldexp(static_cast<long double>(p.scale_max), -p.shift) / p.scale_max;
              REQUIRE(qref::is_pow2(ratio));
              if (sr == lowp::pow2_rounding::floor) {
                REQUIRE(std::ldexp(static_cast<long double>(p.scale_max), -p.shift) >=
                        sg);  // never clips
              }
              // The FP4 -> E4M3 shift cast: code * 2^-k is an E4M3 value, and s_max times it
              // is the dequantized value, exactly -- by lowp::cast of the product and by the
              // bit-level lowp::shift_cast (shift_cast.hpp) the W4A8 kernel would use.
              for (std::size_t i = 0; i < n; ++i) {
                const auto code = fp4::from_bits(q.code(r, c0 + i));
                const float shifted = std::ldexp(static_cast<float>(code), -p.shift);
                const auto e = lowp::cast<lowp::float8_e4m3fn>(shifted);
                REQUIRE(static_cast<float>(e) == shifted);
                REQUIRE(p.scale_max * static_cast<float>(e) == q.value(r, c0 + i));
                const auto sc =
                    lowp::shift_cast<lowp::float8_e4m3fn>(code, -static_cast<int>(p.shift));
                REQUIRE(sc.bits() == e.bits());
              }
            }
        }
      }
    }
  }
}

TEST_CASE("pow2_relative beyond the E4M3 shift range and beyond s_max", "[quant][pow2_relative]") {
  using fp4 = lowp::float4_e2m1fn;
  // Row: one group with amax 6 (s_g = 1 = s_max), one with amax 6 * 2^-11 (needs k = 11).
  std::vector<float> w(64, 0.0f);
  w[0] = 6.0f;
  w[32] = std::ldexp(6.0f, -11);
  w[33] = std::ldexp(0.5f, -11);
  SECTION(
      "default max_shift 8: the shift clamps, the group does not clip, the shift cast stays "
      "exact") {
    const auto q = lowp::quantize(lowp::pow2_relative<fp4>{}, w.data(), 1, 64,
                                  lowp::granularity::per_group(32));
    CHECK(q.group_params(0, 0).shift == 0);
    CHECK(q.group_params(0, 1).shift == 8);
    CHECK(q.group_params(0, 1).scale() ==
          std::ldexp(1.0f, -8));  // > s_g = 2^-11: coarser, no clipping
    // 6 * 2^-11 / 2^-8 = 0.75: the tie between 0.5 and 1 goes to the even code (1.0);
    // 0.5 * 2^-11 / 2^-8 = 0.0625 -> 0.
    CHECK(q.value(0, 32) == std::ldexp(1.0f, -8));
    CHECK(q.value(0, 33) == 0.0f);
    for (std::size_t c = 0; c < 64; ++c) {
      const float v = static_cast<float>(fp4::from_bits(q.code(0, c)));
      const float shifted = std::ldexp(v, -q.group_params(0, c / 32).shift);
      CHECK(static_cast<float>(lowp::cast<lowp::float8_e4m3fn>(shifted)) == shifted);
    }
  }
  SECTION("max_shift 12: exact group scale, but the shift cast to E4M3 is no longer exact") {
    const lowp::pow2_relative<fp4> pol(lowp::element_rounding{}, 1, lowp::pow2_rounding::floor, 12);
    const auto q = lowp::quantize(pol, w.data(), 1, 64, lowp::granularity::per_group(32));
    CHECK(q.group_params(0, 1).shift == 11);
    CHECK(q.value(0, 32) == w[32]);
    CHECK(q.value(0, 33) == w[33]);
    const float shifted = std::ldexp(0.5f, -11);  // code 0.5 at shift 11: 2^-12 < E4M3's 2^-9
    CHECK(static_cast<float>(lowp::cast<lowp::float8_e4m3fn>(shifted)) != shifted);
    CHECK(static_cast<float>(lowp::shift_cast<lowp::float8_e4m3fn>(fp4::from_bits(1), -11)) !=
          shifted);
    CHECK(q.code(0, 33) == 1);  // the element that the shift cast would lose
  }
  SECTION("fit() on a group above s_max (GPTQ's updated weights): shift 0, the group saturates") {
    lowp::pow2_relative<fp4> pol;
    pol.prepare(w.data(), 1, 64, 32);
    const std::vector<float> grown = {12.0f, -9.0f, 3.0f};
    const auto p = pol.fit(grown.data(), grown.size(), 1, 0);
    CHECK(p.shift == 0);
    CHECK(p.scale_max == 1.0f);
    CHECK(pol.fake(12.0f, p) == 6.0f);
    CHECK(pol.fake(-9.0f, p) == -6.0f);
    CHECK(pol.fake(3.0f, p) == 3.0f);
  }
  SECTION("fit() before prepare() is a logic error; bad options are rejected") {
    const lowp::pow2_relative<fp4> pol;
    CHECK_THROWS_AS(pol.fit(w.data(), 4, 1, 0), std::logic_error);
    CHECK_THROWS_AS(
        lowp::pow2_relative<fp4>(lowp::element_rounding{}, 1, lowp::pow2_rounding::ceil),
        std::invalid_argument);
    CHECK_THROWS_AS(
        lowp::pow2_relative<fp4>(lowp::element_rounding{}, 1, lowp::pow2_rounding::floor, 127),
        std::invalid_argument);
  }
}

TEST_CASE("mx: OCP MX v1.0 scales, a worked example, and the reference", "[quant][mx]") {
  SECTION("worked examples") {
    // MXFP4, block amax 5: X = 2^(floor(log2 5) - 2) = 2^0; 5 is the tie between 4 and 6
    // -> even code (4); 3.2 -> 3; 0.2 -> 0 (below 0.25); -7 -> -6 (saturates).
    std::vector<float> b(32, 0.0f);
    b[0] = 5.0f;
    b[1] = 3.2f;
    b[2] = 0.2f;
    b[3] = -4.9f;
    b[4] = 0.75f;
    auto q = lowp::quantize(lowp::mx<lowp::float4_e2m1fn>{}, b.data(), 1, 32,
                            lowp::granularity::per_block());
    CHECK(q.group_params(0, 0).scale.bits() == 127);
    CHECK(q.value(0, 0) == 4.0f);
    CHECK(q.value(0, 1) == 3.0f);
    CHECK(q.value(0, 2) == 0.0f);
    CHECK(q.value(0, 3) == -4.0f);
    CHECK(q.value(0, 4) == 1.0f);  // 0.75: tie between 0.5 (code 1) and 1.0 (code 2) -> even
    // MXFP8 E4M3, amax 1000: X = 2^(9 - 8) = 2; 1000 / 2 = 500 > 448 clips to 448 -> 896.
    b.assign(32, 1.0f);
    b[7] = 1000.0f;
    auto q8 = lowp::quantize(lowp::mx<lowp::float8_e4m3fn>{}, b.data(), 1, 32,
                             lowp::granularity::per_block());
    CHECK(q8.group_params(0, 0).scale.bits() == 128);
    CHECK(q8.value(0, 7) == 896.0f);
    CHECK(q8.value(0, 0) == 1.0f);
    // RCEIL: X = 2^ceil(log2(1000 / 448)) = 4; 250 -> 256 (E4M3 step 16 in [128, 256)).
    const lowp::mx<lowp::float8_e4m3fn> rceil(lowp::element_rounding{},
                                              lowp::mx_scale_rounding::ceil);
    auto qc = lowp::quantize(rceil, b.data(), 1, 32, lowp::granularity::per_block());
    CHECK(qc.group_params(0, 0).scale.bits() == 129);
    CHECK(qc.value(0, 7) == 1024.0f);
    // MXINT8, amax 1.5: X = 2^0; elements are code / 64: 1.5 -> 96/64; 0.01 -> 1/64.
    b.assign(32, 0.0f);
    b[0] = 1.5f;
    b[1] = 0.01f;
    b[2] = -1.99f;
    auto qi =
        lowp::quantize(lowp::mx<lowp::int8>{}, b.data(), 1, 32, lowp::granularity::per_block());
    CHECK(qi.group_params(0, 0).scale.bits() == 127);
    CHECK(qi.code(0, 0) == 96);
    CHECK(qi.value(0, 1) == 1.0f / 64);
    CHECK(qi.value(0, 2) == -127.0f / 64);
  }
  SECTION("against the reference on every data set and element format") {
    // OCP MX v1.0 Table: emax_elem E4M3 8, E5M2 15, E3M2 4, E2M3 2, E2M1 2, INT8 0.
    auto ref = [](int emax_elem, int unit_exp) {
      return [emax_elem, unit_exp](const float* x, std::size_t n, std::size_t) -> long double {
        const long double a = qref::amax(x, n);
        int e = a == 0 ? -127 : static_cast<int>(std::floor(std::log2(a))) - emax_elem;
        e = std::clamp(e, -127, 127);
        return std::ldexp(1.0L, e + unit_exp);  // the step of one element unit
      };
    };
    auto impl = [](int unit_exp) {
      return [unit_exp](auto p) {
        return std::ldexp(1.0L, static_cast<int>(p.scale.bits()) - 127 + unit_exp);
      };
    };
    for (const auto& d : datasets()) {
      INFO("data: " << d.name);
      check_policy(lowp::mx<lowp::float4_e2m1fn>{}, d.w, R, C, 32, qref::e2m1(), -1, ref(2, 0),
                   impl(0));
      check_policy(lowp::mx<lowp::float6_e2m3fn>{}, d.w, R, C, 32, qref::e2m3(), -1, ref(2, 0),
                   impl(0));
      check_policy(lowp::mx<lowp::float6_e3m2fn>{}, d.w, R, C, 32, qref::e3m2(), -1, ref(4, 0),
                   impl(0));
      check_policy(lowp::mx<lowp::float8_e4m3fn>{}, d.w, R, C, 32, qref::e4m3(), -1, ref(8, 0),
                   impl(0));
      check_policy(lowp::mx<lowp::float8_e5m2>{}, d.w, R, C, 32, qref::e5m2(), -1, ref(15, 0),
                   impl(0));
      // MXINT8 is used symmetrically: [-127, 127] (microxcaling clamps to +-max_norm).
      check_policy(lowp::mx<lowp::int8>{}, d.w, R, C, 32, qref::int_grid(127), -1, ref(0, -6),
                   impl(-6));
      // RCEIL: X = 2^ceil(log2(amax / max_elem)).
      check_policy(
          lowp::mx<lowp::float4_e2m1fn>(lowp::element_rounding{}, lowp::mx_scale_rounding::ceil),
          d.w, R, C, 32, qref::e2m1(), -1,
          [](const float* x, std::size_t n, std::size_t) -> long double {
            const long double a = qref::amax(x, n);
            if (a == 0) return std::ldexp(1.0L, -127);
            return std::ldexp(1.0L,
                              std::clamp(static_cast<int>(std::ceil(std::log2(a / 6))), -127, 127));
          },
          impl(0));
    }
  }
}

TEST_CASE("nvfp4: the two-level formula against the reference", "[quant][nvfp4]") {
  const qref::grid e4m3 = qref::e4m3();
  for (const auto& d : datasets()) {
    INFO("data: " << d.name);
    // g = fl(amax_tensor / (448 * 6)); b = E4M3(fl(fl(amax_b / 6) / g)) (RNE, saturating);
    // s = fl(g * b).
    const float g = static_cast<float>(qref::amax(d.w.data(), d.w.size())) / 2688.0f;
    auto ref = [&](const float* x, std::size_t n, std::size_t) -> long double {
      const float bs = (static_cast<float>(qref::amax(x, n)) / 6.0f) / g;
      const long double b = qref::round_on_grid(bs, 1.0L, e4m3);
      return static_cast<float>(g * static_cast<float>(b));
    };
    check_policy(lowp::nvfp4{}, d.w, R, C, 16, qref::e2m1(), -1, ref,
                 [](auto p) { return static_cast<long double>(p.scale()); });
    const auto q = lowp::quantize(lowp::nvfp4{}, d.w.data(), R, C, lowp::granularity::per_block());
    CHECK(q.policy().tensor_scale() == g);
    CHECK(q.group_size() == 16);
  }
  SECTION("a block whose E4M3 scale underflows gets zero codes") {
    std::vector<float> w(32, 0.0f);
    w[0] = 1e6f;
    w[16] = 1e-3f;  // b = 1e-3 / 6 / (1e6 / 2688) ~ 4.5e-7 < 2^-10: rounds to 0
    const auto q = lowp::quantize(lowp::nvfp4{}, w.data(), 1, 32, lowp::granularity::per_block());
    CHECK(q.group_params(0, 1).block_scale.bits() == 0);
    CHECK(q.value(0, 16) == 0.0f);
    CHECK(std::isfinite(q.value(0, 0)));
  }
}

TEST_CASE("dequantize(quantize(x)) is idempotent", "[quant][idempotent]") {
  // y = dequantize(quantize(x)); quantizing y again must give y back.
  enum expect { values_exact, codes_exact_values_1ulp, codes_exact };
  auto check = [](auto pol, lowp::granularity gran, const std::vector<float>& w, expect e) {
    INFO("policy " << typeid(pol).name());
    const auto q1 = lowp::quantize(pol, w.data(), R, C, gran);
    const std::vector<float> y1 = q1.dequantize();
    const auto q2 = lowp::quantize(pol, y1.data(), R, C, gran);
    const std::vector<float> y2 = q2.dequantize();
    std::size_t code_diff = 0, value_diff = 0, ulp_diff = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
      code_diff += q1.code_flat(i) != q2.code_flat(i);
      value_diff += y1[i] != y2[i];
      ulp_diff += y1[i] != y2[i] && std::nextafter(y1[i], y2[i]) != y2[i];
    }
    if (e == values_exact) {
      CHECK(value_diff == 0);
    } else {
      CHECK(code_diff == 0);
      if (e == codes_exact_values_1ulp) CHECK(ulp_diff == 0);
    }
  };
  for (const auto& d : datasets()) {
    INFO("data: " << d.name);
    const auto g128 = lowp::granularity::per_group(128);
    // Power-of-two scales: the values come back exactly.  (The codes need not: when the
    // top element rounds down to 3 * 2^k, y's scale is half of x's and every code doubles,
    // which names the same values.)
    check(lowp::pow2<lowp::float4_e2m1fn>{}, g128, d.w, values_exact);
    check(lowp::pow2<lowp::int4>{}, g128, d.w, values_exact);
    check(lowp::pow2_relative<lowp::float4_e2m1fn>{}, g128, d.w, values_exact);
    check(lowp::mx<lowp::float4_e2m1fn>{}, lowp::granularity::per_block(), d.w, values_exact);
    check(lowp::mx<lowp::float8_e4m3fn>{}, lowp::granularity::per_block(), d.w, values_exact);
    check(lowp::mx<lowp::int8>{}, lowp::granularity::per_block(), d.w, values_exact);
    // Real scales: amax' = fl(s * Q) may differ from amax by an ulp, so s' may differ from
    // s by an ulp: the codes come back exactly, the values within one ulp.
    check(lowp::absmax<lowp::float4_e2m1fn>{}, g128, d.w, codes_exact_values_1ulp);
    check(lowp::absmax<lowp::int4>{}, g128, d.w, codes_exact_values_1ulp);
    check(lowp::absmax<lowp::float8_e4m3fn>{}, lowp::granularity::per_token(), d.w,
          codes_exact_values_1ulp);
    // minmax: y's range is [fl(-s z), fl(s (maxq - z))], so s' = fl((xmax' - xmin') / maxq)
    // is s to within 4 roundings (4 ulps); the zero points and codes come back exactly.
    check(lowp::minmax<lowp::uint4>{}, g128, d.w, codes_exact);
    {
      const lowp::minmax<lowp::uint4> pol;
      const auto q1 = lowp::quantize(pol, d.w.data(), R, C, g128);
      const auto y = q1.dequantize();
      const auto q2 = lowp::quantize(pol, y.data(), R, C, g128);
      for (std::size_t i = 0; i < q1.params().size(); ++i) {
        const float s1 = q1.params()[i].scale, s2 = q2.params()[i].scale;
        REQUIRE(q1.params()[i].zero == q2.params()[i].zero);
        REQUIRE(std::fabs(static_cast<double>(s2) - static_cast<double>(s1)) <=
                4 * static_cast<double>(std::nextafter(s1, 2 * s1) - s1));
      }
    }
  }
}

TEST_CASE("stochastic rounding: reproducible, between the neighbours, unbiased",
          "[quant][stochastic]") {
  const auto w = qref::matrix(qref::dist::gaussian, R, C, 555);
  using P = lowp::absmax<lowp::float4_e2m1fn>;
  const auto g = lowp::granularity::per_group(64);
  const auto a =
      lowp::quantize(P(lowp::element_rounding::stochastic_with_seed(42)), w.data(), R, C, g);
  const auto b =
      lowp::quantize(P(lowp::element_rounding::stochastic_with_seed(42)), w.data(), R, C, g);
  const auto c =
      lowp::quantize(P(lowp::element_rounding::stochastic_with_seed(43)), w.data(), R, C, g);
  const auto det = lowp::quantize(P{}, w.data(), R, C, g);
  std::size_t same = 0, differs_from_nearest = 0;
  for (std::size_t r = 0; r < R; ++r)
    for (std::size_t col = 0; col < C; ++col) {
      REQUIRE(a.code(r, col) == b.code(r, col));
      same += a.code(r, col) == c.code(r, col);
      differs_from_nearest += a.code(r, col) != det.code(r, col);
      const long double s = a.group_params(r, col / 64).scale;
      const auto nb = qref::neighbours(w[r * C + col], s, qref::e2m1());
      const float v = a.value(r, col);
      REQUIRE((v == static_cast<float>(s * nb.first) || v == static_cast<float>(s * nb.second)));
    }
  CHECK(same < R * C);                       // another seed, another stream
  CHECK(differs_from_nearest > R * C / 20);  // it is not nearest rounding

  SECTION("exact values never move; the mean converges to x") {
    P pol(lowp::element_rounding::stochastic_with_seed(7));
    const P::params p{1.0f};
    for (int i = 0; i < 1000; ++i) REQUIRE(pol.fake(1.5f, p) == 1.5f);
    // x = 2.3 between 2 and 3: P(3) = 0.3; 200000 draws, sigma of the mean = 0.001.
    double sum = 0;
    const int n = 200000;
    for (int i = 0; i < n; ++i) sum += static_cast<double>(pol.fake(2.3f, p));
    CHECK(std::fabs(sum / n - 2.3) < 0.006);
    // Integer format too: 0.25 between 0 and 1.
    lowp::absmax<lowp::int8> ipol(lowp::element_rounding::stochastic_with_seed(9));
    sum = 0;
    for (int i = 0; i < n; ++i) sum += static_cast<double>(ipol.fake(0.25f, {1.0f}));
    CHECK(std::fabs(sum / n - 0.25) < 0.006);
    lowp::minmax<lowp::uint4> mpol(lowp::element_rounding::stochastic_with_seed(10));
    sum = 0;
    for (int i = 0; i < n; ++i) sum += static_cast<double>(mpol.fake(0.75f, {1.0f, 8}));
    CHECK(std::fabs(sum / n - 0.75) < 0.006);
  }
}

TEST_CASE("bad input: NaN/Inf, all-zero groups, empty input, bad group sizes",
          "[quant][contract]") {
  std::vector<float> w = qref::matrix(qref::dist::gaussian, 4, 64, 3);
  const auto g32 = lowp::granularity::per_group(32);
  SECTION("NaN / Inf: std::domain_error (bad values), naming the first bad element") {
    w[2 * 64 + 17] = std::numeric_limits<float>::quiet_NaN();
    w[3 * 64 + 1] = std::numeric_limits<float>::infinity();
    CHECK_THROWS_WITH(lowp::quantize(lowp::absmax<lowp::int4>{}, w.data(), 4, 64, g32),
                      Catch::Contains("index 145") && Catch::Contains("row 2, column 17") &&
                          Catch::Contains("NaN"));
    std::vector<float> out(w.size());
    CHECK_THROWS_AS(lowp::fake_quantize(lowp::pow2_relative<lowp::float4_e2m1fn>{}, w.data(),
                                        out.data(), 4, 64, g32),
                    std::domain_error);
    CHECK_THROWS_AS(lowp::quantize(lowp::absmax<lowp::int4>{}, w.data(), 4, 64, g32),
                    std::domain_error);
    w[2 * 64 + 17] = 0.0f;
    CHECK_THROWS_WITH(
        lowp::quantize(lowp::nvfp4{}, w.data(), 4, 64, lowp::granularity::per_block()),
        Catch::Contains("row 3, column 1") && Catch::Contains("+Inf"));
    // The policies' own fit() (the GPTQ entry point) checks too.
    const lowp::mx<lowp::float8_e4m3fn> pol;
    CHECK_THROWS_WITH(pol.fit(w.data() + 3 * 64, 32, 1, 3),
                      Catch::Contains("row 3") && Catch::Contains("index 1"));
    const float neg_inf[] = {1.0f, -std::numeric_limits<float>::infinity()};
    CHECK_THROWS_AS(lowp::absmax<lowp::int8>{}.fit(neg_inf, 2, 1, 0), std::domain_error);
    CHECK_THROWS_AS(lowp::minmax<lowp::uint4>{}.fit(neg_inf, 2, 1, 0), std::domain_error);
    CHECK_THROWS_AS(lowp::pow2<lowp::int4>{}.fit(neg_inf, 2, 1, 0), std::domain_error);
  }
  SECTION("all-zero groups: finite scales and zero codes, for every policy") {
    std::fill(w.begin() + 32, w.begin() + 64, 0.0f);  // row 0, group 1
    auto check = [&](auto pol, lowp::granularity gran, std::size_t zero_from, std::size_t zero_to) {
      const auto q = lowp::quantize(pol, w.data(), 4, 64, gran);
      for (std::size_t c = zero_from; c < zero_to; ++c) {
        REQUIRE(q.value(0, c) == 0.0f);
        REQUIRE(std::isfinite(q.value(0, c)));
      }
      for (float v : q.dequantize()) REQUIRE(std::isfinite(v));
      // An all-zero matrix too.
      const std::vector<float> z(4 * 64, 0.0f);
      const auto qz = lowp::quantize(pol, z.data(), 4, 64, gran);
      for (float v : qz.dequantize()) REQUIRE(v == 0.0f);
    };
    check(lowp::absmax<lowp::float4_e2m1fn>{}, g32, 32, 64);
    check(lowp::absmax<lowp::int4>{}, g32, 32, 64);
    check(lowp::minmax<lowp::uint4>{}, g32, 32, 64);
    check(lowp::pow2<lowp::float8_e5m2>{}, g32, 32, 64);
    check(lowp::pow2_relative<lowp::float4_e2m1fn>{}, g32, 32, 64);
    check(lowp::mx<lowp::float4_e2m1fn>{}, lowp::granularity::per_block(), 32, 64);
    check(lowp::mx<lowp::int8>{}, lowp::granularity::per_block(), 32, 64);
    check(lowp::nvfp4{}, lowp::granularity::per_block(), 32, 64);
    // Subnormal-only data: the scale must not underflow to 0.
    std::vector<float> sub(64, std::numeric_limits<float>::denorm_min());
    const auto q = lowp::quantize(lowp::absmax<lowp::float8_e4m3fn>{}, sub.data(), 1, 64,
                                  lowp::granularity::per_channel());
    CHECK(q.group_params(0, 0).scale > 0.0f);
    for (float v : q.dequantize()) CHECK(v == std::numeric_limits<float>::denorm_min());
  }
  SECTION("zero-size input gives an empty result") {
    const auto q = lowp::quantize(lowp::absmax<lowp::int4>{}, nullptr, 0, 64, g32);
    CHECK(q.empty());
    CHECK(q.rows() == 0);
    CHECK(q.dequantize().empty());
    CHECK(lowp::quantize(lowp::nvfp4{}, nullptr, 5, 0, lowp::granularity::per_block()).empty());
    CHECK(lowp::quantize(lowp::pow2_relative<lowp::int4>{}, nullptr, 0, 0,
                         lowp::granularity::per_tensor())
              .empty());
    CHECK(lowp::fake_quantize(lowp::mx<lowp::float8_e4m3fn>{}, std::vector<float>{}, 0, 0,
                              lowp::granularity::per_block())
              .empty());
  }
  SECTION("group size 0 or larger than the row") {
    CHECK_THROWS_WITH(lowp::quantize(lowp::absmax<lowp::int4>{}, w.data(), 4, 64,
                                     lowp::granularity::per_group(0)),
                      Catch::Contains("group size 0"));
    CHECK_THROWS_WITH(lowp::quantize(lowp::absmax<lowp::int4>{}, w.data(), 4, 64,
                                     lowp::granularity::per_group(65)),
                      Catch::Contains("larger than the row"));
    CHECK_THROWS_AS(
        lowp::quantize(lowp::mx<lowp::int8>{}, w.data(), 2, 16, lowp::granularity::per_block()),
        std::invalid_argument);
    CHECK_THROWS_WITH(
        lowp::quantize(lowp::absmax<lowp::int4>{}, w.data(), 4, 64, lowp::granularity::per_block()),
        Catch::Contains("block policy"));
    CHECK_THROWS_AS(
        lowp::quantize(lowp::absmax<lowp::int4>{}, nullptr, 0, 0, lowp::granularity::per_group(0)),
        std::invalid_argument);
    CHECK_THROWS_AS(lowp::fake_quantize(lowp::absmax<lowp::int4>{}, w, 4, 65, g32),
                    std::invalid_argument);
    CHECK_THROWS_AS(
        lowp::mx<lowp::int8>(lowp::element_rounding{}, lowp::mx_scale_rounding::floor, 0),
        std::invalid_argument);
  }
  SECTION("nvfp4 needs a tensor scale") {
    const lowp::nvfp4 pol;
    CHECK_THROWS_AS(pol.fit(w.data(), 16, 1, 0), std::logic_error);
    lowp::nvfp4 p2;
    CHECK_THROWS_AS(p2.set_tensor_scale(0.0f), std::invalid_argument);
    CHECK_THROWS_AS(p2.set_tensor_scale(std::numeric_limits<float>::quiet_NaN()),
                    std::invalid_argument);
  }
}

// The ends of the float range, where a scale computed in float can overflow the
// dequantized values or round away part of the group's range.  Oracles: exact products in
// double, and the brute-force smallest float that does not clip.
TEST_CASE("the ends of the float range: no Inf from finite data, no clipping from rounding",
          "[quant][contract][range]") {
  constexpr float flt_max = std::numeric_limits<float>::max();
  constexpr float tiny = std::numeric_limits<float>::denorm_min();  // 2^-149

  SECTION("M1 near FLT_MAX: every dequantized value is finite") {
    // ceil(log2(amax / 6)) = 126 for amax >= about 2.98e38, and the code 4 * 2^126 = Inf.
    const auto check = [](auto pol, float q_max, int k_max) {
      using P = decltype(pol);
      CHECK(P::max_exponent() == k_max);
      CHECK(std::ldexp(static_cast<double>(q_max), k_max) <= static_cast<double>(flt_max));
      CHECK(std::ldexp(static_cast<double>(q_max), k_max + 1) > static_cast<double>(flt_max));
      for (const float amax : {2.9e38f, 2.98e38f, 3.0e38f, 3.2e38f, flt_max}) {
        std::vector<float> w = {amax, -amax, amax / 3.0f, amax * 0.7f, 1.0f, -2.5e38f, 0.0f, 1e37f};
        const auto q = lowp::quantize(pol, w.data(), 1, w.size(), lowp::granularity::per_channel());
        CAPTURE(amax);
        CHECK(q.group_params(0, 0).scale <= std::ldexp(1.0f, k_max));
        for (const float v : q.dequantize()) CHECK(std::isfinite(v));
        for (const float v :
             lowp::fake_quantize(pol, w, 1, w.size(), lowp::granularity::per_channel()))
          CHECK(std::isfinite(v));
      }
    };
    // k_max = floor(log2(FLT_MAX / Q)), Q the largest element magnitude: 6 = 1.5 * 2^2 and
    // FLT_MAX = (2 - 2^-23) * 2^127 give 125; 448 = 1.75 * 2^8: 119; INT8's -128 = 2^7: 120.
    check(lowp::m1<lowp::float4_e2m1fn>{}, 6.0f, 125);
    check(lowp::m1<lowp::float8_e4m3fn>{}, 448.0f, 119);
    check(lowp::m1<lowp::int8>{}, 128.0f, 120);
    check(lowp::m1<lowp::float4_e2m1fn>(lowp::element_rounding{}, lowp::pow2_rounding::nearest),
          6.0f, 125);
  }

  SECTION("M2 and M1 keep the smallest subnormal") {
    // amax = 2^-149: amax / 6 underflows to 0 in float; the scale must not (the contract
    // of docs/quantization.md: the smallest positive float, never 0).
    std::vector<float> w = {tiny, 0.0f, -tiny, 0.0f};
    const auto m2 = lowp::quantize(lowp::m2<lowp::float4_e2m1fn>{}, w.data(), 1, 4,
                                   lowp::granularity::per_group(2));
    CHECK(m2.dequantize() == w);
    const auto m1 = lowp::quantize(lowp::m1<lowp::float4_e2m1fn>{}, w.data(), 1, 4,
                                   lowp::granularity::per_channel());
    CHECK(m1.dequantize() == w);
  }

  SECTION("absmax in the subnormal range: the scale never clips the group") {
    // s = fl(amax / Q) rounds to a multiple of 2^-149 there: 7 * 2^-149 / 6 gave 2^-149, so
    // the largest element saturated to 6 * 2^-149.  Every scale below FLT_MIN must be the
    // smallest float s with s * Q >= amax (found here by stepping down from s).
    const auto check = [](auto pol) {
      const double q = pol.max_code_value();
      std::size_t bad = 0;
      for (int k = 1; k <= 4096; ++k) {
        const float amax = static_cast<float>(k) * tiny;  // exact: k * 2^-149
        const float s = pol.scale_of(amax);
        const bool covers = static_cast<double>(s) * q >= static_cast<double>(amax);
        const float below = std::nextafter(s, 0.0f);
        const bool smallest = s >= std::numeric_limits<float>::min() || below == 0.0f ||
                              static_cast<double>(below) * q < static_cast<double>(amax);
        bad += !(covers && smallest);
      }
      CHECK(bad == 0);
    };
    check(lowp::absmax<lowp::float4_e2m1fn>{});
    check(lowp::absmax<lowp::float8_e4m3fn>{});
    check(lowp::absmax<lowp::int4>{});
    check(lowp::absmax<lowp::int4>(lowp::element_rounding{}, lowp::int_range::gptq_sym));
    // The example: 7 * 2^-149 with E2M1 no longer dequantizes to 6 * 2^-149.
    std::vector<float> w = {7.0f * tiny, 0.0f};
    const auto q = lowp::quantize(lowp::absmax<lowp::float4_e2m1fn>{}, w.data(), 1, 2,
                                  lowp::granularity::per_channel());
    CHECK(q.group_params(0, 0).scale * 6.0f >= 7.0f * tiny);
    CHECK(q.dequantize()[0] != 6.0f * tiny);
  }

  SECTION("an empty tensor is empty whatever the group size (except 0)") {
    const auto q = lowp::quantize(lowp::absmax<lowp::int4>{}, nullptr, 0, 5,
                                  lowp::granularity::per_group(128));
    CHECK(q.empty());
    CHECK(q.rows() == 0);
    CHECK(q.cols() == 5);
    CHECK(lowp::fake_quantize(lowp::m2<lowp::float4_e2m1fn>{}, std::vector<float>{}, 0, 5,
                              lowp::granularity::per_group(128))
              .empty());
    CHECK_THROWS_AS(
        lowp::quantize(lowp::absmax<lowp::int4>{}, nullptr, 0, 5, lowp::granularity::per_group(0)),
        std::invalid_argument);
  }

  SECTION("m1 and m2 are the paper's names of pow2 and pow2_relative") {
    STATIC_REQUIRE(std::is_same_v<lowp::m1<lowp::float4_e2m1fn>, lowp::pow2<lowp::float4_e2m1fn>>);
    STATIC_REQUIRE(std::is_same_v<lowp::m2<lowp::int4>, lowp::pow2_relative<lowp::int4>>);
  }
}

// ---------------------------------------------------------------------------------------
// quantize_batch(): the batch form GPTQ's column loop calls (one column of a tile of rows,
// each element with its own params) against encode() and decode() element by element.
// ---------------------------------------------------------------------------------------

namespace {

/// Bits of a float (compares -0 with +0 and NaN payloads exactly).
std::uint32_t float_bits(float v) {
  std::uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

/// A policy's quantize_batch() (and lowp::quantize_batch) against encode()/decode() on the
/// same inputs, bit for bit: n elements (not a multiple of the batch's chunk of 64), each
/// with params of a random group of a matrix the policy was prepared and fitted on (also
/// groups scaled to subnormal and huge scales), laid out with a stride; the values are
/// the group's values scaled, exact midpoints between neighbouring element values and one
/// float either side (ties), values far beyond the largest element (saturation), ±0,
/// subnormal floats, huge values whose quotient overflows float, and a few NaN and ±Inf.
/// Both policy copies start from the same state, so a stochastic policy must draw in the
/// elements' order to agree.
template <class Policy>
void check_batch(const Policy& policy, std::size_t group, std::uint64_t seed) {
  using params = typename Policy::params;
  using storage = typename Policy::format::storage_type;
  const std::size_t rows = 24, cols = 4 * group;
  std::vector<float> W = qref::matrix(qref::dist::student_t, rows, cols, seed);
  for (std::size_t r = 0; r < rows; ++r) {  // rows at the ends of the float range
    const int e = r % 6 == 1 ? -135 : r % 6 == 2 ? -120 : r % 6 == 3 ? 100 : 0;
    for (std::size_t c = 0; c < cols; ++c) W[r * cols + c] = std::ldexp(W[r * cols + c], e);
  }
  Policy pol = policy;
  pol.prepare(W.data(), rows, cols, group);
  std::vector<params> pool;
  std::vector<std::pair<std::size_t, std::size_t>> where;  // (row, first column) of each
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c0 = 0; c0 < cols; c0 += group) {
      pool.push_back(pol.fit(W.data() + r * cols + c0, group, 1, r));
      where.emplace_back(r, c0);
    }
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<std::size_t> pick(0, pool.size() - 1);
  std::uniform_int_distribution<unsigned> kind(0, 99), code_of(0, 255);
  std::uniform_real_distribution<float> scale(0.25f, 1.75f);
  const float inf = std::numeric_limits<float>::infinity();
  for (const std::size_t n : {std::size_t{1}, std::size_t{31}, std::size_t{200}}) {
    for (const std::ptrdiff_t stride : {std::ptrdiff_t{1}, std::ptrdiff_t{3}}) {
      std::vector<params> p(n * static_cast<std::size_t>(stride));
      std::vector<float> x(n);
      Policy ref = pol;
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t k = pick(gen);
        const params& pk = pool[k];
        p[i * static_cast<std::size_t>(stride)] = pk;
        const unsigned u = kind(gen);
        const float w = W[where[k].first * cols + where[k].second + i % group];
        float v = w * scale(gen);
        if (u < 40) {  // a midpoint between the values of two codes, or a float either side
          const auto c = static_cast<storage>(code_of(gen) % (1u << (8 * sizeof(storage) - 1)));
          const double a = ref.decode(c, pk), b = ref.decode(static_cast<storage>(c + 1), pk);
          v = static_cast<float>((a + b) / 2);
          if (u % 3 == 1) v = std::nextafter(v, inf);
          if (u % 3 == 2) v = std::nextafter(v, -inf);
          if (u % 2 == 0) v = -v;
        } else if (u < 50) {
          v = w * 1e3f;  // saturates
        } else if (u < 54) {
          v = u % 2 == 0 ? 0.0f : -0.0f;
        } else if (u < 58) {
          v = std::ldexp(w, -140);  // subnormal, or 0
        } else if (u < 61) {
          v = std::ldexp(w == 0.0f ? 1.0f : w, 120);  // x / s can overflow float
        } else if (u == 61) {
          v = std::numeric_limits<float>::quiet_NaN();
        } else if (u == 62) {
          v = i % 2 == 0 ? inf : -inf;
        }
        x[i] = std::isfinite(v) || u >= 61 ? v : w;
      }
      Policy a = pol, b = pol, c = pol;
      std::vector<storage> ca(n), cb(n), cc(n);
      std::vector<float> qa(n), qb(n), qc(n);
      a.quantize_batch(x.data(), n, p.data(), stride, ca.data(), qa.data());
      lowp::quantize_batch(c, x.data(), n, p.data(), stride, cc.data(), qc.data());
      for (std::size_t i = 0; i < n; ++i) {
        const params& pi = p[i * static_cast<std::size_t>(stride)];
        cb[i] = b.encode(x[i], pi);
        qb[i] = b.decode(cb[i], pi);
      }
      std::size_t bad = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const bool same = ca[i] == cb[i] && float_bits(qa[i]) == float_bits(qb[i]) &&
                          cc[i] == cb[i] && float_bits(qc[i]) == float_bits(qb[i]);
        if (!same && bad++ < 4) {
          CAPTURE(typeid(Policy).name(), n, stride, i, x[i], static_cast<double>(x[i]));
          CAPTURE(static_cast<int>(ca[i]), static_cast<int>(cb[i]), qa[i], qb[i]);
          CHECK(same);
        }
      }
      CAPTURE(typeid(Policy).name(), n, stride);
      CHECK(bad == 0);
      if (policy.rounding_config().stochastic) {  // and the streams are where they should be
        const float y = 0.3f;
        CHECK(a.encode(y, pool[0]) == b.encode(y, pool[0]));
      }
    }
  }
}

}  // namespace

TEST_CASE("quantize_batch equals encode/decode element by element, bit for bit",
          "[quant][batch][gptq]") {
  using namespace lowp;
  const element_rounding nearest = element_rounding::nearest();
  SECTION("absmax: INT4, INT8, GPTQ's symmetric INT4, FP4, FP8, FP6") {
    check_batch(absmax<int4>{}, 32, 1);
    check_batch(absmax<int8>{}, 48, 2);
    check_batch(absmax<int4>(nearest, int_range::gptq_sym), 32, 3);
    check_batch(absmax<float4_e2m1fn>{}, 32, 4);
    check_batch(absmax<float8_e4m3fn>{}, 32, 5);
    check_batch(absmax<float8_e5m2>{}, 32, 6);
    check_batch(absmax<float6_e3m2fn>{}, 32, 7);
    check_batch(absmax<float6_e2m3fn>{}, 32, 8);
  }
  SECTION("M1 and M2 (FP4, FP8, INT8)") {
    check_batch(m1<float4_e2m1fn>{}, 32, 11);
    check_batch(m1<float8_e4m3fn>{}, 32, 12);
    check_batch(m1<int8>{}, 32, 13);
    check_batch(m2<float4_e2m1fn>{}, 32, 14);
    check_batch(m2<float8_e4m3fn>{}, 32, 15);
    check_batch(m2<float4_e2m1fn>(nearest, 1, pow2_rounding::floor, 126), 16, 16);
  }
  SECTION("minmax (uint4, uint8), MX (FP4, FP8, MXINT8), NVFP4") {
    check_batch(minmax<uint4>{}, 32, 21);
    check_batch(minmax<uint8>{}, 32, 22);
    check_batch(mx<float4_e2m1fn>{}, 32, 23);
    check_batch(mx<float8_e4m3fn>(nearest, mx_scale_rounding::ceil), 32, 24);
    check_batch(mx<int8>{}, 32, 25);
    check_batch(nvfp4{}, 16, 26);
  }
  SECTION("the element-by-element paths: directed and stochastic rounding, other formats") {
    check_batch(absmax<float4_e2m1fn>(element_rounding::with(rounding::toward_zero)), 32, 31);
    check_batch(absmax<int4>(element_rounding::with(rounding::up)), 32, 32);
    check_batch(minmax<uint4>(element_rounding::with(rounding::nearest_away)), 32, 33);
    check_batch(absmax<float4_e2m1fn>(element_rounding::stochastic_with_seed(5)), 32, 34);
    check_batch(m2<float8_e4m3fn>(element_rounding::stochastic_with_seed(6)), 32, 35);
    check_batch(minmax<uint8>(element_rounding::stochastic_with_seed(7)), 32, 36);
    check_batch(absmax<float8_e4m3fnuz>{}, 32, 37);
    check_batch(absmax<bfloat16>{}, 32, 38);
  }
}
