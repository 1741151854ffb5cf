// tests/test_quant_bulk.cpp — the bulk paths of dequantize() and fake_quantize(), and the
// threaded group loop of quantize(), dequantize() and fake_quantize(), against the scalar
// reference path: policy.decode() / policy.fake() element by element, on one thread.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <typeinfo>
#include <vector>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "lowp/quantize.hpp"
#include "lowp_test.hpp"
#include "test_quant_ref.hpp"

namespace {

using lowp::granularity;

/// Bit patterns, so that -0 and +0 (and NaN payloads) count as different.
std::vector<std::uint32_t> bits_of(const std::vector<float>& v) {
  std::vector<std::uint32_t> b(v.size());
  if (!v.empty()) std::memcpy(b.data(), v.data(), v.size() * sizeof(float));
  return b;
}

/// Elements whose bits differ (reporting the first), instead of printing whole vectors.
std::size_t mismatches(const std::vector<float>& got, const std::vector<float>& want) {
  const auto g = bits_of(got), w = bits_of(want);
  std::size_t bad = g.size() == w.size() ? 0 : 1;
  for (std::size_t i = 0; i < std::min(g.size(), w.size()); ++i)
    if (g[i] != w[i] && bad++ == 0) {
      CAPTURE(i, got[i], want[i]);
      CHECK(g[i] == w[i]);
    }
  return bad;
}

/// The bfloat16 or float16 bits of lowp::cast<To>(v[i], nearest_even, o): the scalar
/// reference of dequantize(To*) and of detail::bulk::float_to_half_codes.
template <class To>
std::vector<std::uint16_t> half_bits(const std::vector<float>& v, lowp::overflow o) {
  std::vector<std::uint16_t> b(v.size());
  for (std::size_t i = 0; i < v.size(); ++i)
    b[i] = lowp::cast<To>(v[i], lowp::rounding::nearest_even, o).bits();
  return b;
}

/// Elements whose 16-bit codes differ (reporting the first).
std::size_t half_mismatches(const std::vector<std::uint16_t>& got,
                            const std::vector<std::uint16_t>& want, const std::vector<float>& x) {
  std::size_t bad = got.size() == want.size() ? 0 : 1;
  for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i)
    if (got[i] != want[i] && bad++ == 0) {
      CAPTURE(i, x[i], got[i], want[i]);
      CHECK(got[i] == want[i]);
    }
  return bad;
}

/// q.dequantize(bfloat16*), q.dequantize(float16*) and q.dequantize_bits<To>() against
/// lowp::cast of the float values `want` (themselves checked against decode()), under
/// both overflow policies.
template <class Tensor>
void check_half_outputs(const Tensor& q, const std::vector<float>& want) {
  for (const lowp::overflow o : {lowp::overflow::saturate, lowp::overflow::non_saturating}) {
    std::vector<lowp::bfloat16> bf(want.size());
    std::vector<lowp::float16> hf(want.size());
    std::vector<std::uint16_t> bf_bits(want.size()), hf_bits(want.size());
    q.dequantize(bf.data(), o);
    q.dequantize(hf.data(), o);
    q.template dequantize_bits<lowp::bfloat16>(bf_bits.data(), o);
    q.template dequantize_bits<lowp::float16>(hf_bits.data(), o);
    std::vector<std::uint16_t> bf_got(want.size()), hf_got(want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      bf_got[i] = bf[i].bits();
      hf_got[i] = hf[i].bits();
    }
    const auto bf_want = half_bits<lowp::bfloat16>(want, o);
    const auto hf_want = half_bits<lowp::float16>(want, o);
    CAPTURE(o == lowp::overflow::saturate);
    CHECK(half_mismatches(bf_got, bf_want, want) == 0);
    CHECK(half_mismatches(bf_bits, bf_want, want) == 0);
    CHECK(half_mismatches(hf_got, hf_want, want) == 0);
    CHECK(half_mismatches(hf_bits, hf_want, want) == 0);
  }
}

/// Test data with what the fast paths must get right besides Gaussian values: an all-zero
/// group, a group of tiny values (scales near FLT_MIN, products in the subnormals), a
/// group of huge ones, exact midpoints of E2M1's grid, a row of subnormals and negative
/// zeros.
std::vector<float> data(std::size_t rows, std::size_t cols, unsigned seed) {
  std::vector<float> w = qref::matrix(qref::dist::student_t, rows, cols, seed);
  const std::size_t n = w.size();
  for (std::size_t i = 0; i < std::min<std::size_t>(64, n); ++i) w[i] = 0.0f;
  for (std::size_t i = 64; i < std::min<std::size_t>(128, n); ++i) w[i] *= 1e-37f;
  for (std::size_t i = 128; i < std::min<std::size_t>(192, n); ++i) w[i] *= 1e36f;
  for (std::size_t i = 192; i < std::min<std::size_t>(256, n); ++i)
    w[i] = (i % 2 ? -1.0f : 1.0f) * 0.25f * static_cast<float>(i % 25);  // k/4: ties at s = 1
  // Row 1 tiny as a whole: M2's s_max and the group scales below it leave the normal
  // floats, where s_max * 2^-k is no longer a float.
  if (rows > 1)
    for (std::size_t i = cols; i < 2 * cols; ++i) w[i] *= (i % 3 == 0 ? 1e-39f : 1e-44f);
  for (std::size_t i = 300; i < n; i += 97) w[i] = -0.0f;
  return w;
}

/// The reference: the policy prepared on the whole matrix, every group fitted, every
/// element through decode() (via quantized_tensor::value's definition) and fake().
template <class Policy>
void check_policy(const char* name, Policy pol, std::size_t rows, std::size_t cols,
                  granularity gran, std::size_t g) {
  INFO(name << ", " << rows << " x " << cols);
  const std::vector<float> w = data(rows, cols, 5 + static_cast<unsigned>(cols));
  const bool per_tensor = gran.type() == granularity::kind::per_tensor;
  const std::size_t qr = per_tensor ? 1 : rows, qc = per_tensor ? rows * cols : cols,
                    qg = per_tensor ? qc : g;
  // Each element of a freshly prepared copy of the policy through f(policy, x, params)
  // (a fresh copy for each: a stochastic policy's fake() draws from its stream too).
  const auto element_by_element = [&](auto f) {
    Policy ref = pol;
    ref.prepare(w.data(), qr, qc, qg);
    std::vector<float> out(w.size());
    for (std::size_t r = 0; r < qr; ++r)
      for (std::size_t c0 = 0; c0 < qc; c0 += qg) {
        const std::size_t n = std::min(qg, qc - c0);
        const auto p = ref.fit(w.data() + r * qc + c0, n, 1, r);
        for (std::size_t i = 0; i < n; ++i) out[r * qc + c0 + i] = f(ref, w[r * qc + c0 + i], p);
      }
    return out;
  };
  const std::vector<float> want_deq = element_by_element(
      [](Policy& ref, float x, const auto& p) { return ref.decode(ref.encode(x, p), p); });
  const std::vector<float> want_fake =
      element_by_element([](Policy& ref, float x, const auto& p) { return ref.fake(x, p); });

  const auto q = lowp::quantize(pol, w.data(), rows, cols, gran);
  std::vector<float> deq(w.size());
  q.dequantize(deq.data());
  std::vector<float> by_value(w.size());
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) by_value[r * cols + c] = q.value(r, c);
  CHECK(mismatches(by_value, want_deq) == 0);
  CHECK(mismatches(deq, want_deq) == 0);
  check_half_outputs(q, want_deq);

  std::vector<float> fake(w.size());
  lowp::fake_quantize(pol, w.data(), fake.data(), rows, cols, gran);
  CHECK(mismatches(fake, want_fake) == 0);
  std::vector<float> in_place = w;
  lowp::fake_quantize(pol, in_place.data(), in_place.data(), rows, cols, gran);
  CHECK(mismatches(in_place, want_fake) == 0);
}

template <class F>
void check_format(const char* name, std::size_t rows, std::size_t cols) {
  const auto g64 = granularity::per_group(64);
  check_policy((std::string("absmax ") + name).c_str(), lowp::absmax<F>{}, rows, cols, g64, 64);
  check_policy((std::string("M1 ") + name).c_str(), lowp::pow2<F>{}, rows, cols, g64, 64);
  check_policy((std::string("M2 ") + name).c_str(), lowp::pow2_relative<F>{}, rows, cols, g64, 64);
  check_policy((std::string("M2 compute groups of 4 rows ") + name).c_str(),
               lowp::pow2_relative<F>(lowp::element_rounding{}, 4), rows, cols, g64, 64);
  check_policy((std::string("M2 whole matrix ") + name).c_str(),
               lowp::pow2_relative<F>(lowp::element_rounding{}, 0), rows, cols, g64, 64);
  check_policy((std::string("absmax per channel ") + name).c_str(), lowp::absmax<F>{}, rows, cols,
               granularity::per_channel(), cols);
  check_policy((std::string("absmax per tensor ") + name).c_str(), lowp::absmax<F>{}, rows, cols,
               granularity::per_tensor(), 0);
  check_policy((std::string("absmax rounding up ") + name).c_str(),
               lowp::absmax<F>(lowp::element_rounding::with(lowp::rounding::up)), rows, cols, g64,
               64);
  check_policy((std::string("absmax stochastic ") + name).c_str(),
               lowp::absmax<F>(lowp::element_rounding::stochastic_with_seed(9)), rows, cols, g64,
               64);
}

}  // namespace

TEST_CASE("dequantize and fake_quantize: the bulk paths give decode() and fake() bit for bit",
          "[quant][fastpath]") {
  // 9 x 257: odd rows, groups on odd flat offsets (packed codes sharing a byte across
  // groups and rows); 300 x 1000: above the threaded loops' threshold.
  for (const auto& [rows, cols] :
       {std::pair<std::size_t, std::size_t>{9, 256}, {9, 257}, {3, 4100}, {300, 1000}}) {
    check_format<lowp::float4_e2m1fn>("E2M1", rows, cols);
    check_format<lowp::int4>("INT4", rows, cols);
    check_format<lowp::float6_e3m2fn>("E3M2", rows, cols);
    check_format<lowp::float6_e2m3fn>("E2M3", rows, cols);
    check_format<lowp::float8_e4m3fn>("E4M3", rows, cols);
    check_format<lowp::float8_e5m2>("E5M2", rows, cols);
    check_format<lowp::int8>("INT8", rows, cols);
    check_policy("absmax E4M3FNUZ", lowp::absmax<lowp::float8_e4m3fnuz>{}, rows, cols,
                 granularity::per_group(64), 64);
    check_policy("minmax uint4", lowp::minmax<lowp::uint4>{}, rows, cols,
                 granularity::per_group(64), 64);
    check_policy("minmax uint8", lowp::minmax<lowp::uint8>{}, rows, cols,
                 granularity::per_group(64), 64);
    check_policy("MXFP4", lowp::mx<lowp::float4_e2m1fn>{}, rows, cols, granularity::per_block(),
                 32);
    check_policy("MXFP6", lowp::mx<lowp::float6_e2m3fn>{}, rows, cols, granularity::per_block(),
                 32);
    check_policy("MXFP8", lowp::mx<lowp::float8_e4m3fn>{}, rows, cols, granularity::per_block(),
                 32);
    check_policy("MXINT8", lowp::mx<lowp::int8>{}, rows, cols, granularity::per_block(), 32);
    check_policy("MXINT4", lowp::mx<lowp::int4>{}, rows, cols, granularity::per_block(), 32);
    check_policy("NVFP4", lowp::nvfp4{}, rows, cols, granularity::per_block(), 16);
  }
}

TEST_CASE("dequantize with a group index: each column takes its named group's params",
          "[quant][fastpath]") {
  const std::size_t rows = 7, cols = 200, g = 32;  // 7 groups per row, the last of 8 columns
  const std::vector<float> w = data(rows, cols, 77);
  std::vector<std::uint32_t> idx(cols);
  for (std::size_t c = 0; c < cols; ++c) idx[c] = static_cast<std::uint32_t>((c * 5 + 3) % 7);
  const auto check = [&](auto pol) {
    auto q = lowp::quantize(pol, w.data(), rows, cols, granularity::per_group(g));
    q.set_group_index(idx);
    std::vector<float> want(w.size());
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < cols; ++c)
        want[r * cols + c] = q.policy().decode(q.code(r, c), q.group_params(r, idx[c]));
    CHECK(mismatches(q.dequantize(), want) == 0);
    check_half_outputs(q, want);
    std::vector<float> by_value(w.size());
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < cols; ++c) by_value[r * cols + c] = q.value(r, c);
    CHECK(mismatches(by_value, want) == 0);
    // Bad indexes are refused and change nothing.
    CHECK_THROWS_AS(q.set_group_index(std::vector<std::uint32_t>(cols - 1, 0)),
                    std::invalid_argument);
    std::vector<std::uint32_t> past = idx;
    past[17] = 7;
    CHECK_THROWS_WITH(q.set_group_index(past), Catch::Contains("column 17"));
    CHECK(q.group_index() == idx);
    q.set_group_index({});
    CHECK(q.group_index().empty());
  };
  check(lowp::pow2_relative<lowp::float4_e2m1fn>{});
  check(lowp::absmax<lowp::int4>{});
  check(lowp::minmax<lowp::uint4>{});
  check(lowp::absmax<lowp::float8_e4m3fn>{});
  auto t =
      lowp::quantize(lowp::absmax<lowp::int4>{}, w.data(), rows, cols, granularity::per_tensor());
  CHECK_THROWS_AS(t.set_group_index(idx), std::invalid_argument);
}

TEST_CASE("quantize, dequantize and fake_quantize: the same bits on one and two threads",
          "[threads]") {
#if !defined(_OPENMP)
  LOWP_SKIP("built without OpenMP: the bulk loops run on one thread");
#else
  const std::size_t rows = 512, cols = 1000;  // 2^19 elements: many blocks of rows
  const std::vector<float> w = data(rows, cols, 31);
  const auto run = [&](int threads, auto pol, granularity gran) {
    omp_set_num_threads(threads);
    const auto q = lowp::quantize(pol, w.data(), rows, cols, gran);
    std::vector<float> deq(w.size()), fake(w.size());
    q.dequantize(deq.data());
    lowp::fake_quantize(pol, w.data(), fake.data(), rows, cols, gran);
    std::vector<std::uint8_t> codes(q.code_bytes(), q.code_bytes() + q.code_size_in_bytes());
    return std::make_tuple(codes, bits_of(deq), bits_of(fake));
  };
  const auto same = [&](auto pol, granularity gran) {
    const auto one = run(1, pol, gran), two = run(2, pol, gran);
    CHECK((std::get<0>(one) == std::get<0>(two)));  // no printing of whole vectors
    CHECK((std::get<1>(one) == std::get<1>(two)));
    CHECK((std::get<2>(one) == std::get<2>(two)));
  };
  same(lowp::pow2_relative<lowp::float4_e2m1fn>{}, granularity::per_group(128));
  same(lowp::pow2_relative<lowp::float4_e2m1fn>(lowp::element_rounding{}, 4),
       granularity::per_group(128));
  same(lowp::absmax<lowp::int4>{}, granularity::per_group(128));
  same(lowp::nvfp4{}, granularity::per_block());
  same(lowp::absmax<lowp::float8_e4m3fn>{}, granularity::per_token());
  same(lowp::minmax<lowp::uint4>{}, granularity::per_group(128));
  omp_set_num_threads(2);
  // A NaN in a late block: the error names it, not whatever a thread met first.
  std::vector<float> bad = w;
  bad[400 * cols + 7] = std::numeric_limits<float>::quiet_NaN();
  bad[100 * cols + 3] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH(lowp::quantize(lowp::absmax<lowp::int4>{}, bad.data(), rows, cols,
                                   granularity::per_group(128)),
                    Catch::Contains("row 100, column 3"));
  std::vector<float> out(w.size());
  CHECK_THROWS_WITH(lowp::fake_quantize(lowp::pow2_relative<lowp::float4_e2m1fn>{}, bad.data(),
                                        out.data(), rows, cols, granularity::per_group(128)),
                    Catch::Contains("row 100, column 3"));
#endif
}

TEST_CASE("float to bfloat16/float16 codes in bulk: lowp::cast's bits in every rounding bin",
          "[quant][fastpath][half]") {
  // For every finite code h of To: its value v, the midpoint to the next code up (exact
  // in float: 12 significant bits at most) and the floats either side of both, in both
  // signs; the midpoint past max (where overflow starts); every exponent's subnormal and
  // normal float around 2^-25, 2^-24, 2^-15, 2^-14 (float16's subnormal edges); Inf, NaN
  // with payloads (signalling and quiet), float subnormals, and random floats.
  const auto run = [](auto tag) {
    using To = decltype(tag);
    std::vector<float> x;
    const auto push_around = [&](float v) {
      for (const float s : {1.0f, -1.0f}) {
        x.push_back(s * v);
        x.push_back(s * std::nextafter(v, 0.0f));
        x.push_back(s * std::nextafter(v, std::numeric_limits<float>::infinity()));
      }
    };
    for (std::uint32_t h = 0; h < 0x8000u; ++h) {
      const To a = To::from_bits(static_cast<std::uint16_t>(h));
      const float v = static_cast<float>(a);
      if (!std::isfinite(v)) continue;
      push_around(v);
      const To b = To::from_bits(static_cast<std::uint16_t>(h + 1));
      const float w = static_cast<float>(b);
      // Past max, the next "code" is Inf: the midpoint is max + half an ulp.
      const double next = std::isfinite(w)
                              ? static_cast<double>(w)
                              : 2.0 * static_cast<double>(v) -
                                    static_cast<double>(static_cast<float>(
                                        To::from_bits(static_cast<std::uint16_t>(h - 1))));
      push_around(static_cast<float>((static_cast<double>(v) + next) / 2.0));
    }
    for (int e = -150; e <= 128; ++e) push_around(std::ldexp(1.0f, e));
    const float inf = std::numeric_limits<float>::infinity();
    for (const std::uint32_t b :
         {0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00000u, 0x7F800001u, 0x7FA00000u, 0xFF812345u,
          0x7FFFFFFFu, 0x00000001u, 0x807FFFFFu, 0x7F7FFFFFu, 0xFF7FFFFFu}) {
      float f;
      std::memcpy(&f, &b, sizeof f);
      x.push_back(f);
    }
    x.push_back(inf);
    std::mt19937 gen(11);
    for (int i = 0; i < 200000; ++i) {
      const std::uint32_t b = static_cast<std::uint32_t>(gen());
      float f;
      std::memcpy(&f, &b, sizeof f);
      x.push_back(f);
    }
    for (const lowp::overflow o : {lowp::overflow::saturate, lowp::overflow::non_saturating}) {
      std::vector<std::uint16_t> got(x.size());
      lowp::detail::bulk::float_to_half_codes<To>(x.data(), got.data(), x.size(), o);
      CAPTURE(typeid(To).name(), o == lowp::overflow::saturate);
      CHECK(half_mismatches(got, half_bits<To>(x, o), x) == 0);
    }
  };
  run(lowp::bfloat16{});
  run(lowp::float16{});
}
