// tests/test_quant_tensor.cpp — quantized_tensor, the bulk (SIMD) encode path, the
// weight/activation quantizers and the metrics.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "lowp/metrics.hpp"
#include "lowp/quantize.hpp"
#include "lowp_test.hpp"
#include "test_quant_ref.hpp"

namespace {

/// quantize() (bulk path where the policy allows) must give exactly the codes of
/// policy.encode() element by element, and the params of policy.fit().
template <class Policy>
void check_bulk_equals_scalar(Policy pol, const std::vector<float>& w, std::size_t rows,
                              std::size_t cols, lowp::granularity gran, std::size_t g) {
  const auto q = lowp::quantize(pol, w.data(), rows, cols, gran);
  Policy ref = pol;
  const bool per_tensor = gran.type() == lowp::granularity::kind::per_tensor;
  const std::size_t qr = per_tensor ? 1 : rows, qc = per_tensor ? rows * cols : cols,
                    qg = per_tensor ? qc : g;
  ref.prepare(w.data(), qr, qc, qg);
  std::size_t bad = 0;
  for (std::size_t r = 0; r < qr; ++r)
    for (std::size_t c0 = 0; c0 < qc; c0 += qg) {
      const std::size_t n = std::min(qg, qc - c0);
      const auto p = ref.fit(w.data() + r * qc + c0, n, 1, r);
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t flat = r * qc + c0 + i;
        const auto want = ref.encode(w[flat], p);
        const bool same_value = ref.decode(want, p) == q.value(per_tensor ? flat / cols : r,
                                                               per_tensor ? flat % cols : c0 + i);
        if ((want != q.code_flat(flat) || !same_value) && bad++ < 5) {
          CAPTURE(flat, w[flat], static_cast<int>(want), static_cast<int>(q.code_flat(flat)));
          CHECK(want == q.code_flat(flat));
        }
      }
    }
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("the bulk encode path gives the codes of encode()", "[quant][fastpath]") {
  for (auto d :
       {qref::dist::gaussian, qref::dist::laplace, qref::dist::student_t, qref::dist::uniform}) {
    INFO("data: " << qref::name(d));
    // Odd column counts put groups on odd flat offsets (the unaligned packed path).
    for (std::size_t cols : {std::size_t{256}, std::size_t{257}, std::size_t{4100}}) {
      INFO("cols " << cols);
      const std::size_t rows = 9;
      const auto w = qref::matrix(d, rows, cols, 77 + cols);
      const auto g = lowp::granularity::per_group(64);
      check_bulk_equals_scalar(lowp::absmax<lowp::float4_e2m1fn>{}, w, rows, cols, g, 64);
      check_bulk_equals_scalar(lowp::absmax<lowp::float8_e4m3fn>{}, w, rows, cols,
                               lowp::granularity::per_token(), cols);
      check_bulk_equals_scalar(lowp::absmax<lowp::float8_e5m2>{}, w, rows, cols,
                               lowp::granularity::per_token(), cols);
      check_bulk_equals_scalar(lowp::absmax<lowp::float6_e3m2fn>{}, w, rows, cols, g, 64);
      check_bulk_equals_scalar(lowp::absmax<lowp::int4>{}, w, rows, cols, g, 64);
      check_bulk_equals_scalar(lowp::absmax<lowp::int8>{}, w, rows, cols,
                               lowp::granularity::per_channel(), cols);
      check_bulk_equals_scalar(
          lowp::absmax<lowp::float8_e4m3fn>(lowp::element_rounding::with(lowp::rounding::up)), w,
          rows, cols, g, 64);
      check_bulk_equals_scalar(lowp::absmax<lowp::float4_e2m1fn>(
                                   lowp::element_rounding::with(lowp::rounding::toward_zero)),
                               w, rows, cols, g, 64);
      check_bulk_equals_scalar(lowp::pow2<lowp::float4_e2m1fn>{}, w, rows, cols, g, 64);
      check_bulk_equals_scalar(lowp::pow2_relative<lowp::float4_e2m1fn>{}, w, rows, cols, g, 64);
      // Compute groups of 4 rows (9 rows: a short last block) and the whole matrix:
      // quantize() prepares in row blocks, the reference prepares everything first.
      check_bulk_equals_scalar(
          lowp::pow2_relative<lowp::float4_e2m1fn>(lowp::element_rounding{}, 4), w, rows, cols, g,
          64);
      check_bulk_equals_scalar(
          lowp::pow2_relative<lowp::float8_e4m3fn>(lowp::element_rounding{}, 0), w, rows, cols, g,
          64);
      check_bulk_equals_scalar(lowp::mx<lowp::float4_e2m1fn>{}, w, rows, cols,
                               lowp::granularity::per_block(), 32);
      check_bulk_equals_scalar(lowp::mx<lowp::float6_e2m3fn>{}, w, rows, cols,
                               lowp::granularity::per_block(), 32);
      check_bulk_equals_scalar(lowp::mx<lowp::float8_e5m2>{}, w, rows, cols,
                               lowp::granularity::per_block(), 32);
      check_bulk_equals_scalar(lowp::nvfp4{}, w, rows, cols, lowp::granularity::per_block(), 16);
      check_bulk_equals_scalar(lowp::absmax<lowp::float4_e2m1fn>{}, w, rows, cols,
                               lowp::granularity::per_tensor(), 0);
      // One group larger than the bulk path's buffer: encoded in pieces.
      check_bulk_equals_scalar(lowp::absmax<lowp::float8_e4m3fn>{}, w, rows, cols,
                               lowp::granularity::per_tensor(), 0);
      check_bulk_equals_scalar(lowp::pow2<lowp::int8>{}, w, rows, cols,
                               lowp::granularity::per_tensor(), 0);
    }
  }
}

TEST_CASE("exact quotients: no false ties where fl(x / s) lands on a midpoint",
          "[quant][fastpath]") {
  using fp4 = lowp::float4_e2m1fn;
  // s = 1 - 2^-24, x = 3.5 - 2^-22: x / s = 3.5 - 2^-25 + ..., whose float rounding is the
  // FP4 midpoint 3.5 (a tie, which goes to the even code 4), but the real quotient is
  // below it and rounds to 3.
  const float s = std::nextafter(1.0f, 0.0f);
  const float x = 3.5f - std::ldexp(1.0f, -22);
  REQUIRE(x / s == 3.5f);                                       // the false tie
  REQUIRE(static_cast<float>(lowp::cast<fp4>(x / s)) == 4.0f);  // what plain division gives
  float q = 0;
  lowp::detail::exact_quotients<fp4>(&x, 1, s, &q);
  CHECK(static_cast<float>(lowp::cast<fp4>(q)) == 3.0f);
  lowp::absmax<fp4> pol;  // fake() is not const
  CHECK(pol.fake(x, {s}) == 3.0f * s);
  CHECK(pol.fake(-x, {s}) == -3.0f * s);

  // Random x near s * midpoint for random s, every midpoint of E2M1 and E4M3, against
  // the exact reference.
  std::mt19937_64 rng(2024);
  std::uniform_real_distribution<float> us(0.5f, 1.0f);
  std::uniform_int_distribution<int> ulps(-3, 3);
  const qref::grid g4 = qref::e2m1(), g8 = qref::e4m3();
  std::size_t bad = 0, false_ties = 0;
  for (int it = 0; it < 20000; ++it) {
    const float sc = std::ldexp(us(rng), static_cast<int>(rng() % 40) - 20);
    for (const qref::grid* g : {&g4, &g8}) {
      const std::size_t k = rng() % (g->mags.size() - 1);
      const long double mid = (g->mags[k] + g->mags[k + 1]) / 2;
      float xv = static_cast<float>(mid * sc);
      for (int u = ulps(rng); u != 0; u += u > 0 ? -1 : 1)
        xv = std::nextafter(xv, u > 0 ? 1e30f : 0.0f);
      if (rng() & 1) xv = -xv;
      float qv = 0;
      long double want = qref::round_on_grid(xv, sc, *g);
      long double got;
      if (g == &g4) {
        lowp::detail::exact_quotients<fp4>(&xv, 1, sc, &qv);
        got = static_cast<float>(lowp::cast<fp4>(qv));
        false_ties +=
            static_cast<long double>(static_cast<float>(lowp::cast<fp4>(xv / sc))) != want;
      } else {
        lowp::detail::exact_quotients<lowp::float8_e4m3fn>(&xv, 1, sc, &qv);
        got = static_cast<float>(lowp::cast<lowp::float8_e4m3fn>(qv));
        false_ties += static_cast<long double>(
                          static_cast<float>(lowp::cast<lowp::float8_e4m3fn>(xv / sc))) != want;
      }
      if (got != want && bad++ < 5) {
        CAPTURE(xv, sc, static_cast<double>(want), static_cast<double>(got));
        CHECK(got == want);
      }
    }
  }
  CHECK(bad == 0);
  CHECK(false_ties > 0);  // the test data does reach the case plain division gets wrong
}

namespace {
/// scaled_grid_values<F> on every rounding bin of F's grid: each grid value, each midpoint
/// between neighbours (the ties), one and two float ulps either side of both, above the
/// largest value, both signs; s = 1 and a scale far from 1.  Against the exact reference.
template <class F>
void check_grid_values(const qref::grid& g, long double neg_max) {
  std::vector<float> q;
  const auto around = [&](long double v) {
    float f = static_cast<float>(v);
    q.push_back(f);
    float up = f, down = f;
    for (int i = 0; i < 2; ++i) {
      up = std::nextafter(up, 1e30f);
      down = std::nextafter(down, 0.0f);
      q.push_back(up);
      q.push_back(down);
    }
  };
  for (std::size_t k = 0; k < g.mags.size(); ++k) {
    around(g.mags[k]);
    if (k + 1 < g.mags.size()) around((g.mags[k] + g.mags[k + 1]) / 2);
  }
  around(g.max() * 1.0625L);
  around(g.max() * 4);
  const std::size_t positives = q.size();
  for (std::size_t i = 0; i < positives; ++i) q.push_back(-q[i]);
  for (const float s : {1.0f, 0.3f, std::ldexp(0.75f, -40)}) {
    std::vector<float> got(q.size());
    lowp::detail::scaled_grid_values<F>(q.data(), q.size(), s, got.data());
    std::size_t bad = 0;
    for (std::size_t i = 0; i < q.size(); ++i) {
      const long double e = qref::round_on_grid(q[i], 1.0L, g, qref::mode::nearest_even, neg_max);
      // An integer format has no -0: its zero code is +0.
      const long double v = lowp::is_lowp_int_v<F> && e == 0 ? 0.0L : e;
      const float want = static_cast<float>(static_cast<long double>(s) * v);
      const bool same = want == got[i] && std::signbit(want) == std::signbit(got[i]);
      if (!same && bad++ < 5) {
        CAPTURE(q[i], s, static_cast<double>(e), want, got[i]);
        CHECK(same);
      }
    }
    CHECK(bad == 0);
  }
}
}  // namespace

TEST_CASE("fake_quantize's grid rounding: every rounding bin of FP8, FP6, FP4, INT8 and INT4",
          "[quant][fastpath]") {
  check_grid_values<lowp::float8_e4m3fn>(qref::e4m3(), -1);
  check_grid_values<lowp::float8_e5m2>(qref::e5m2(), -1);
  check_grid_values<lowp::float6_e2m3fn>(qref::e2m3(), -1);
  check_grid_values<lowp::float6_e3m2fn>(qref::e3m2(), -1);
  check_grid_values<lowp::float4_e2m1fn>(qref::e2m1(), -1);
  check_grid_values<lowp::int8>(qref::int_grid(127), 128);
  check_grid_values<lowp::int4>(qref::int_grid(7), 8);
}

TEST_CASE("quantized_tensor: layout, raw access, assembling from codes", "[quant][tensor]") {
  const std::size_t rows = 3, cols = 10;
  const auto w = qref::matrix(qref::dist::gaussian, rows, cols, 5);
  using P = lowp::pow2_relative<lowp::float4_e2m1fn>;
  const auto q = lowp::quantize(P{}, w.data(), rows, cols, lowp::granularity::per_group(4));
  CHECK(q.rows() == rows);
  CHECK(q.cols() == cols);
  CHECK(q.group_size() == 4);
  CHECK(q.groups_per_row() == 3);  // 4 + 4 + 2
  CHECK(q.params().size() == 9);
  STATIC_REQUIRE(decltype(q)::is_packed);
  CHECK(q.code_size_in_bytes() == 15);         // 30 nibbles
  CHECK(q.storage_bytes() == 15 + 3 * 4 + 9);  // codes, s_max per row, a shift per group
  // Packed layout: element 2j in the low nibble of byte j.
  const std::uint8_t* bytes = q.code_bytes();
  for (std::size_t i = 0; i < rows * cols; ++i) {
    const unsigned nib = (i % 2 == 0) ? (bytes[i / 2] & 0xFu) : (bytes[i / 2] >> 4);
    REQUIRE(nib == q.code_flat(i));
  }
  // element_params() picks the group of a column; value() decodes with it.
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      const auto& p = q.element_params(r, c);
      REQUIRE(&p == &q.group_params(r, c / 4));
      REQUIRE(q.value(r, c) == q.policy().decode(q.code(r, c), p));
    }

  SECTION("from_codes rebuilds the same tensor") {
    std::vector<std::uint8_t> codes(rows * cols);
    for (std::size_t i = 0; i < codes.size(); ++i) codes[i] = q.code_flat(i);
    const auto t = lowp::quantized_tensor<P>::from_codes(
        q.policy(), rows, cols, lowp::granularity::per_group(4), codes.data(), q.params());
    CHECK(t.dequantize() == q.dequantize());
    CHECK(t.codes() == q.codes());
    CHECK_THROWS_AS(lowp::quantized_tensor<P>::from_codes(q.policy(), rows, cols,
                                                          lowp::granularity::per_group(4),
                                                          codes.data(), std::vector<P::params>(8)),
                    std::invalid_argument);
  }
  SECTION("filling an empty tensor with set_code and group_params") {
    lowp::quantized_tensor<lowp::absmax<lowp::int8>> t(lowp::absmax<lowp::int8>{}, 2, 3,
                                                       lowp::granularity::per_channel());
    STATIC_REQUIRE(!decltype(t)::is_packed);
    t.group_params(0, 0).scale = 0.5f;
    t.group_params(1, 0).scale = 2.0f;
    t.set_code(0, 1, 0xFE);  // -2
    t.set_code(1, 2, 100);
    const std::vector<float> want = {0, -1.0f, 0, 0, 0, 200.0f};
    CHECK(t.dequantize() == want);
    CHECK(t.code_size_in_bytes() == 6);
  }
  SECTION("per-tensor granularity has one params for everything") {
    const auto qt = lowp::quantize(lowp::absmax<lowp::float8_e4m3fn>{}, w.data(), rows, cols,
                                   lowp::granularity::per_tensor());
    CHECK(qt.params().size() == 1);
    CHECK(qt.params()[0].scale == static_cast<float>(qref::amax(w.data(), w.size())) / 448.0f);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < cols; ++c) REQUIRE(&qt.element_params(r, c) == &qt.params()[0]);
  }
  SECTION("FP6 codes are packed four per three bytes") {
    const auto q6 = lowp::quantize(lowp::mx<lowp::float6_e2m3fn>{}, w.data(), 1, 8,
                                   lowp::granularity::per_channel());
    CHECK(q6.code_size_in_bytes() == 6);
  }
}

TEST_CASE("quantize and fake_quantize of a std::vector or std::span", "[quant][tensor]") {
  const std::vector<float> w = qref::matrix(qref::dist::laplace, 6, 64, 17);
  const auto gran = lowp::granularity::per_group(32);
  const lowp::absmax<lowp::float4_e2m1fn> pol;
  const auto from_pointer = lowp::quantize(pol, w.data(), 6, 64, gran);
  const auto from_vector = lowp::quantize(pol, w, 6, 64, gran);
  CHECK(from_vector.dequantize() == from_pointer.dequantize());
  REQUIRE(from_vector.code_size_in_bytes() == from_pointer.code_size_in_bytes());
  CHECK(std::memcmp(from_vector.code_bytes(), from_pointer.code_bytes(),
                    from_pointer.code_size_in_bytes()) == 0);
  CHECK_THROWS_WITH(lowp::quantize(pol, w, 6, 65, gran),
                    "lowp::quantize: 384 values for a 6 x 65 matrix");
  CHECK(lowp::fake_quantize(pol, w, 6, 64, gran) == from_pointer.dequantize());
#if defined(__cpp_lib_span) && __cpp_lib_span >= 202002L
  const auto from_span = lowp::quantize(pol, std::span<const float>(w), 6, 64, gran);
  CHECK(from_span.dequantize() == from_pointer.dequantize());
  std::vector<float> out(w.size());
  lowp::fake_quantize(pol, std::span<const float>(w), std::span<float>(out), 6, 64, gran);
  CHECK(out == from_pointer.dequantize());
  CHECK_THROWS_AS(lowp::fake_quantize(pol, std::span<const float>(w),
                                      std::span<float>(out).first(10), 6, 64, gran),
                  std::invalid_argument);
#endif
}

// Every element rebuilt from its code and the kernel-form scales, by the formula each
// policy's hardware form documents (quantize.hpp, kernel_scales), equals dequantize().
template <class Policy, class Value>
void check_kernel_scales(const Policy& pol, lowp::granularity gran, Value value_of,
                         std::size_t want_bytes) {
  const std::size_t rows = 6, cols = 128;
  const std::vector<float> w = qref::matrix(qref::dist::student_t, rows, cols, 23);
  const auto q = lowp::quantize(pol, w.data(), rows, cols, gran);
  const lowp::kernel_scales k = lowp::scales_for_kernel(q);
  const std::vector<float> want = q.dequantize();
  std::size_t bad = 0;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      const std::size_t group = r * q.groups_per_row() + c / q.group_size();
      const double element = static_cast<double>(Policy::format::from_bits(q.code(r, c)));
      bad += value_of(k, r, group, element) != want[r * cols + c];
    }
  INFO(Policy::name);
  CHECK(bad == 0);
  CHECK(k.size_in_bytes() == want_bytes);
  CHECK(q.storage_bytes() == q.code_size_in_bytes() + want_bytes);
}

TEST_CASE("scales in a kernel's form: separate arrays, the true storage size",
          "[quant][tensor][kernel]") {
  const auto g32 = lowp::granularity::per_group(32);
  const std::size_t groups = 6 * 4;  // 6 rows x 128 / 32
  const auto times = [](double s, double e) { return static_cast<float>(s * e); };
  check_kernel_scales(
      lowp::absmax<lowp::int4>{}, g32,
      [&](const lowp::kernel_scales& k, std::size_t, std::size_t g, double e) {
        return times(k.group_scale[g], e);
      },
      groups * 4);
  check_kernel_scales(
      lowp::m1<lowp::float4_e2m1fn>{}, g32,
      [&](const lowp::kernel_scales& k, std::size_t, std::size_t g, double e) {
        return times(k.group_scale[g], e);
      },
      groups * 4);
  check_kernel_scales(
      lowp::minmax<lowp::uint4>{}, g32,
      [&](const lowp::kernel_scales& k, std::size_t, std::size_t g, double e) {
        return times(k.group_scale[g], e - k.zero_point[g]);
      },
      groups * 8);
  check_kernel_scales(
      lowp::mx<lowp::float4_e2m1fn>{}, lowp::granularity::per_block(),
      [&](const lowp::kernel_scales& k, std::size_t, std::size_t g, double e) {
        return times(std::ldexp(1.0, static_cast<int>(k.group_code[g]) - 127), e);
      },
      groups);
  // NVFP4: the block scale is an E4M3 byte (decoded by the CUDA-tested table of the
  // formats layer), times the tensor scale in float.
  check_kernel_scales(
      lowp::nvfp4{}, lowp::granularity::per_block(),
      [&](const lowp::kernel_scales& k, std::size_t, std::size_t g, double e) {
        const float b = static_cast<float>(lowp::float8_e4m3fn::from_bits(k.group_code[g]));
        return times(k.tensor_scale * b, e);
      },
      6 * 8 + 4);
  // M2: one float per row and one shift byte per group: 6 * 4 + 24 bytes, where params()
  // holds 24 structs of 8 bytes.
  check_kernel_scales(
      lowp::m2<lowp::float4_e2m1fn>{}, g32,
      [&](const lowp::kernel_scales& k, std::size_t r, std::size_t g, double e) {
        return times(std::ldexp(static_cast<double>(k.row_scale[r]), -k.group_shift[g]), e);
      },
      6 * 4 + groups);
  const auto m2 = lowp::quantize(lowp::m2<lowp::float4_e2m1fn>{},
                                 qref::matrix(qref::dist::gaussian, 6, 128, 3), 6, 128, g32);
  CHECK(lowp::scales_for_kernel(m2).size_in_bytes() < m2.params().size() * sizeof(m2.params()[0]));
}

TEST_CASE("weight and activation quantizers", "[quant][quantizers]") {
  const auto x = qref::outlier_activations(16, 256, 3, 11);
  SECTION("activation quantizer: per token, dynamic") {
    const lowp::activation_quantizer<lowp::absmax<lowp::float8_e4m3fn>> aq;
    const auto q = aq.quantize(x.data(), 16, 256);
    CHECK(q.params().size() == 16);
    for (std::size_t t = 0; t < 16; ++t)
      CHECK(q.group_params(t, 0).scale ==
            static_cast<float>(qref::amax(x.data() + t * 256, 256)) / 448.0f);
    std::vector<float> out(x.size());
    aq.fake_quantize(x.data(), out.data(), 16, 256);
    CHECK(out == q.dequantize());
    // Another call sees other data: other scales (dynamic).
    std::vector<float> x2 = x;
    for (float& v : x2) v *= 3.0f;
    CHECK(aq.quantize(x2.data(), 16, 256).group_params(0, 0).scale != q.group_params(0, 0).scale);
    // Grouped tokens.
    const lowp::activation_quantizer<lowp::mx<lowp::float8_e4m3fn>> mq(
        lowp::mx<lowp::float8_e4m3fn>{}, 32);
    CHECK(mq.quantize(x.data(), 16, 256).params().size() == 16 * 8);
  }
  SECTION("weight quantizer: static policy and granularity") {
    const lowp::weight_quantizer<lowp::absmax<lowp::int4>> wq(lowp::absmax<lowp::int4>{},
                                                              lowp::granularity::per_group(128));
    const auto q = wq.quantize(x.data(), 16, 256);
    CHECK(q.groups_per_row() == 2);
    std::vector<float> out(x.size());
    wq.fake_quantize(x.data(), out.data(), 16, 256);
    CHECK(out == q.dequantize());
    // In place.
    std::vector<float> inplace = x;
    wq.fake_quantize(inplace.data(), inplace.data(), 16, 256);
    CHECK(inplace == out);
  }
}

TEST_CASE("metrics against their definitions", "[quant][metrics]") {
  const std::vector<float> x = {1, -2, 3, 0};
  const std::vector<float> y = {1, -1, 1, 1};
  // errors 0, -1, 2, -1: sum e^2 = 6; sum x^2 = 14; <x,y> = 1 + 2 + 3 = 6; |y|^2 = 4.
  CHECK(lowp::mse(x, y) == Approx(6.0 / 4));
  CHECK(lowp::sqnr_db(x, y) == Approx(10 * std::log10(14.0 / 6)));
  CHECK(lowp::max_abs_error(x, y) == 2.0);
  CHECK(lowp::relative_frobenius_error(x, y) == Approx(std::sqrt(6.0 / 14)));
  CHECK(lowp::cosine_similarity(x, y) == Approx(6.0 / (std::sqrt(14.0) * 2)));
  CHECK(lowp::sqnr_db(x, x) == std::numeric_limits<double>::infinity());
  CHECK(lowp::cosine_similarity(x, x) == Approx(1.0));
  const std::vector<float> z(4, 0.0f);
  CHECK(lowp::cosine_similarity(z, z) == 1.0);
  CHECK(lowp::cosine_similarity(x, z) == 0.0);
  CHECK(lowp::relative_frobenius_error(z, z) == 0.0);
  CHECK(std::isinf(lowp::relative_frobenius_error(z, x)));
  CHECK(std::isnan(lowp::sqnr_db(z, z)));
  // NaN propagates, it is not an error.
  std::vector<float> xn = x;
  xn[1] = std::numeric_limits<float>::quiet_NaN();
  CHECK(std::isnan(lowp::mse(xn, y)));
  CHECK(std::isnan(lowp::max_abs_error(xn, y)));
  // Bad input.
  CHECK_THROWS_AS(lowp::mse(std::vector<float>{}, std::vector<float>{}), std::invalid_argument);
  CHECK_THROWS_WITH(lowp::mse(x, std::vector<float>{1, 2}), Catch::Contains("sizes differ"));
  CHECK_THROWS_AS(lowp::cosine_similarity(x.data(), y.data(), 0), std::invalid_argument);

  SECTION("layer output error ||WX - W^X||^2 / ||WX||^2") {
    // W = [1 2; 3 4], W^ = [1 2; 3 5], X = I (2 x 2): WX = W, diff = [0 0; 0 -1].
    const std::vector<float> W = {1, 2, 3, 4}, Wh = {1, 2, 3, 5}, I = {1, 0, 0, 1};
    CHECK(lowp::layer_output_error(W, Wh, I, 2, 2, 2) == Approx(1.0 / 30));
    // X = [1 1] (one token, tokens x features): W x = [3; 7], diff = [0; -1].
    const std::vector<float> ones = {1, 1};
    CHECK(lowp::layer_output_error(W, Wh, ones, 2, 2, 1) == Approx(1.0 / 58));
    CHECK(lowp::layer_output_error(W, W, ones, 2, 2, 1) == 0.0);
    CHECK_THROWS_AS(lowp::layer_output_error(W, Wh, ones, 2, 2, 2), std::invalid_argument);
    // A non-square case tells the layouts apart: 3 tokens x 2 features, X = [1 0; 0 1; 1 1];
    // W x_t = [1; 3], [2; 4], [3; 7]; diffs [0; 0], [0; -1], [0; -1]: 2 / (10 + 20 + 58).
    const std::vector<float> X3 = {1, 0, 0, 1, 1, 1};
    CHECK(lowp::layer_output_error(W, Wh, X3, 2, 2, 3) == Approx(2.0 / 88));
    CHECK_THROWS_AS(lowp::layer_output_error(W, Wh, X3, 2, 3, 2), std::invalid_argument);
    CHECK_THROWS_AS(lowp::layer_output_error(W.data(), Wh.data(), ones.data(), 0, 2, 1),
                    std::invalid_argument);
    // Against a naive double computation on random data.
    const auto Wr = qref::matrix(qref::dist::gaussian, 8, 16, 1),
               Xr = qref::matrix(qref::dist::gaussian, 5, 16, 2);  // 5 tokens x 16 features
    const auto Wq = lowp::fake_quantize(lowp::absmax<lowp::int4>{}, Wr, 8, 16,
                                        lowp::granularity::per_channel());
    double num = 0, den = 0;
    for (std::size_t r = 0; r < 8; ++r)
      for (std::size_t t = 0; t < 5; ++t) {
        double a = 0, b = 0;
        for (std::size_t k = 0; k < 16; ++k) {
          a += static_cast<double>(Wr[r * 16 + k]) * Xr[t * 16 + k];
          b += static_cast<double>(Wq[r * 16 + k]) * Xr[t * 16 + k];
        }
        num += (a - b) * (a - b);
        den += a * a;
      }
    CHECK(lowp::layer_output_error(Wr, Wq, Xr, 8, 16, 5) == Approx(num / den).epsilon(1e-12));
  }
}
