// tests/test_w4a8.cpp — lowp::w4a8_linear against an oracle that shares no code with lowp:
// the element values come from the spec tables written out here (E2M1, E4M3, two's
// complement INT4/INT8), the scales from the tensors' params, and the sum is taken in
// double.  Checked:
//   - every path (portable, AVX2 decode with the table, shift and integer casts, AVX2 prefill,
//     AVX-512 decode with the table and the shift cast, AVX-512 prefill) stays within the
//     contract's bound γ_{K+1} · s_a · Σ|p_i s_i| of the exact product, on random,
//     cancelling, max-magnitude and subnormal-product data;
//   - the portable path and the AVX2 prefill path give the same bits (the reference
//     order), and so do all INT paths;
//   - on data whose sums are exact in float, every path equals a float GEMM on the
//     dequantized operands bit for bit;
//   - the AVX2 integer decode's two-plane pieces at their limits, with the bits of three
//     planes (the same layer one row short of the search), with and without FTZ;
//   - the group index (g_idx), the bad-input contract, one thread against two.
// Built a second time with LOWP_W4A8_AVX512_EMULATE (test_w4a8_avx512_emulated), where the
// AVX-512 kernels run on SIMDe's portable intrinsics, so that they are checked on any CPU.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include <lowp/w4a8.hpp>

#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>  // _mm_getcsr / _mm_setcsr: FTZ
#endif

#include "lowp_test.hpp"

namespace {

using lowp::granularity;
using lowp::w4a8_activation;
using lowp::w4a8_activations;
using lowp::w4a8_options;
using lowp::w4a8_path;
using lowp::w4a8_row_range;
using lowp::w4a8_weight_cast;
using lowp::w4a8_weights;

// The weight policies of the four schemes.
using M2 = lowp::m2<lowp::float4_e2m1fn>;
using M1 = lowp::m1<lowp::float4_e2m1fn>;
using AF = lowp::absmax<lowp::float4_e2m1fn>;
using AI = lowp::absmax<lowp::int4>;

// ---- The oracle: element values from the specs ----------------------------------------

// OCP MX v1.0, table 5: E2M1 magnitudes of codes 0..7; bit 3 is the sign.
double e2m1_value(unsigned c) {
  static const double mag[8] = {0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0};
  return (c & 8u) != 0 ? -mag[c & 7u] : mag[c & 7u];
}

// OCP FP8 E4M3 (bias 7, no infinities; 0x7F/0xFF NaN, never produced here).
double e4m3_value(unsigned c) {
  const unsigned e = (c >> 3) & 15u, m = c & 7u;
  const double v = e == 0 ? std::ldexp(m, -9) : std::ldexp(8.0 + m, static_cast<int>(e) - 10);
  return (c & 0x80u) != 0 ? -v : v;
}

double int4_value(unsigned c) {
  return c < 8 ? c : static_cast<double>(c) - 16.0;
}
double int8_value(unsigned c) {
  return c < 128 ? c : static_cast<double>(c) - 256.0;
}

// The exact product of the quantized operands (in double: each term's operands are exact
// there, and the error of the double sum is far below the float bound), and the bound.
struct oracle {
  std::vector<double> exact, bound;
};

template <class Policy>
double weight_scale(const lowp::quantized_tensor<Policy>& W, std::size_t r, std::size_t c) {
  const auto& p = W.element_params(r, c);
  if constexpr (std::is_same_v<Policy, lowp::pow2_relative<lowp::float4_e2m1fn>>) {
    return std::ldexp(static_cast<double>(p.scale_max), -static_cast<int>(p.shift));
  } else {
    return p.scale;
  }
}

template <class Policy>
oracle exact_product(const w4a8_activations& A, const lowp::quantized_tensor<Policy>& W) {
  constexpr bool int4 = std::is_same_v<Policy, lowp::absmax<lowp::int4>>;
  const std::size_t T = A.tokens(), out = W.rows(), in = W.cols();
  const double u = std::ldexp(1.0, -24), n = static_cast<double>(in + 1);
  const double gamma = n * u / (1.0 - n * u);
  oracle o{std::vector<double>(T * out), std::vector<double>(T * out)};
  for (std::size_t t = 0; t < T; ++t) {
    for (std::size_t r = 0; r < out; ++r) {
      double sum = 0, mag = 0;
      for (std::size_t c = 0; c < in; ++c) {
        const double a = int4 ? int8_value(A.code(t, c)) : e4m3_value(A.code(t, c));
        const unsigned wc = static_cast<unsigned>(W.code(r, c)) & 15u;
        const double w = int4 ? int4_value(wc) : e2m1_value(wc);
        const double term = a * w * weight_scale(W, r, c);
        sum += term;
        mag += std::abs(term);
      }
      const double sa = A.scale(t);
      o.exact[t * out + r] = sum * sa;
      o.bound[t * out + r] = gamma * mag * std::abs(sa);
    }
  }
  return o;
}

// ---- Data -----------------------------------------------------------------------------

// Student-t-like weights (a few large ones per row), as LLM weights are.
std::vector<float> weights(std::size_t rows, std::size_t cols, std::uint32_t seed) {
  std::mt19937 g(seed);
  std::student_t_distribution<float> t(4.0f);
  std::vector<float> w(rows * cols);
  for (float& v : w) v = 0.02f * t(g);
  return w;
}

// Activations with a few outlier channels (ZeroQuant-FP's setting).
std::vector<float> activations(std::size_t tokens, std::size_t cols, std::uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> nd;
  std::vector<float> x(tokens * cols);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = nd(g) * ((i % cols) % 37 == 5 ? 30.0f : 1.0f);
  return x;
}

std::vector<std::uint32_t> bits_of(const std::vector<float>& v) {
  std::vector<std::uint32_t> b(v.size());
  std::memcpy(b.data(), v.data(), v.size() * sizeof(float));
  return b;
}

struct path_case {
  const char* name;
  w4a8_options opt;
  bool reference_order;  // the contract's reference order: the portable path's bits
};

// Every path this machine can run for scheme s: the portable one always; the AVX2 decode
// (each weight cast: table, shift, integer) and prefill paths where the CPU has AVX2 and
// FMA; the AVX-512 decode (each cast) and prefill where it has AVX512-BF16 (FP4) or
// AVX512-VNNI (INT4).
std::vector<path_case> paths(lowp::w4a8_scheme s) {
  std::vector<path_case> p;
  w4a8_options o;
  o.path = w4a8_path::portable;
  p.push_back({"portable", o, true});
  if (lowp::w4a8_path_available(w4a8_path::avx2, s)) {
    o.path = w4a8_path::avx2;
    o.gemm_min_tokens = std::numeric_limits<std::size_t>::max();
    o.weight_cast = w4a8_weight_cast::table;
    p.push_back({"avx2 decode, table", o, false});
    o.weight_cast = w4a8_weight_cast::shift;
    p.push_back({"avx2 decode, shift", o, false});
    o.weight_cast = w4a8_weight_cast::integer;
    p.push_back({"avx2 decode, integer", o, false});
    // On the calling thread only: from w4a8_two_plane_min_rows rows on, the integer
    // decode then looks for two-plane pieces whatever the thread count.
    o.threaded = false;
    p.push_back({"avx2 decode, integer, one thread", o, false});
    o.threaded = true;
    o.gemm_min_tokens = 1;
    o.weight_cast = w4a8_weight_cast::table;
    p.push_back({"avx2 prefill", o, true});
  }
  if (lowp::w4a8_path_available(w4a8_path::avx512, s)) {
    o.path = w4a8_path::avx512;
    o.gemm_min_tokens = std::numeric_limits<std::size_t>::max();
    o.weight_cast = w4a8_weight_cast::table;
    p.push_back({"avx512 decode, table", o, false});
    o.weight_cast = w4a8_weight_cast::shift;
    p.push_back({"avx512 decode, shift", o, false});
    o.weight_cast = w4a8_weight_cast::integer;  // the AVX2 integer rows for FP4
    p.push_back({"avx512 decode, integer", o, false});
    o.gemm_min_tokens = 1;  // vdpbf16ps tiles for FP4, vpdpbusd tiles for INT4
    o.weight_cast = w4a8_weight_cast::table;
    p.push_back({"avx512 prefill", o, s == lowp::w4a8_scheme::int4_absmax});
  }
  return p;
}

struct path_results {
  std::vector<path_case> paths;
  std::vector<std::vector<float>> y;  // per path
};

// Runs every path on (A, W) and checks each output against the oracle's bound; returns
// the results per path.
template <class Policy>
path_results check_bound(const w4a8_activations& A, const lowp::quantized_tensor<Policy>& Wq,
                         const char* what) {
  const w4a8_weights W(Wq);
  const oracle o = exact_product(A, Wq);
  path_results all{paths(W.scheme()), {}};
  for (const path_case& p : all.paths) {
    const std::vector<float> Y = lowp::w4a8_linear(A, W, p.opt);
    std::size_t bad = 0, first = 0;
    for (std::size_t i = 0; i < Y.size(); ++i) {
      if (!(std::abs(static_cast<double>(Y[i]) - o.exact[i]) <= o.bound[i])) {
        if (bad++ == 0) first = i;
      }
    }
    INFO(what << ", " << lowp::w4a8_scheme_name(W.scheme()) << ", path " << p.name << ": " << bad
              << " outputs outside the bound; the first, " << first << ": "
              << (Y.empty() ? 0.0f : Y[first]) << " vs exact " << o.exact[first] << " ± "
              << o.bound[first]);
    CHECK(bad == 0);
    all.y.push_back(Y);
  }
  return all;
}

// The portable and the prefill path share the reference order: the same bits.  So do
// all paths of the INT scheme (integer sums).
void check_same_bits(const path_results& all, bool int_scheme) {
  for (std::size_t i = 1; i < all.paths.size(); ++i) {
    if (!all.paths[i].reference_order && !int_scheme) continue;
    INFO("path " << all.paths[i].name << " against the portable path");
    CHECK((bits_of(all.y[0]) == bits_of(all.y[i])));
  }
}

template <class Policy>
void check_scheme(Policy policy, w4a8_activation act, granularity gran, std::size_t T,
                  std::size_t out, std::size_t in, std::uint32_t seed) {
  const std::vector<float> w = weights(out, in, seed), x = activations(T, in, seed + 1);
  const auto Wq = lowp::quantize(policy, w.data(), out, in, gran);
  const w4a8_activations A = w4a8_activations::quantize(act, x.data(), T, in);
  const auto all = check_bound(A, Wq, "random data");
  check_same_bits(all, act == w4a8_activation::int8);
}

}  // namespace

TEST_CASE("w4a8_linear: every scheme and path within the bound of the exact product") {
  using F4 = lowp::float4_e2m1fn;
  const auto fp8 = w4a8_activation::fp8_e4m3;
  for (const granularity g :
       {granularity::per_group(128), granularity::per_group(64), granularity::per_group(96),
        granularity::per_channel(), granularity::per_tensor()}) {
    INFO("granularity kind " << static_cast<int>(g.type()) << ", group "
                             << g.requested_group_size());
    // Shapes: rows not a multiple of the tiles (6, 16, 96), columns not of 64, tokens 1..
    check_scheme(lowp::m2<F4>{}, fp8, g, 1, 37, 320, 1);
    check_scheme(lowp::m2<F4>{}, fp8, g, 21, 101, 384, 2);
    check_scheme(lowp::m1<F4>{}, fp8, g, 3, 50, 448, 3);
    check_scheme(lowp::m1<F4>{}, fp8, g, 19, 200, 256, 4);
    check_scheme(lowp::absmax<F4>{}, fp8, g, 2, 64, 384, 5);
    check_scheme(lowp::absmax<F4>{}, fp8, g, 33, 97, 320, 6);
    check_scheme(lowp::absmax<lowp::int4>{}, w4a8_activation::int8, g, 1, 70, 384, 7);
    check_scheme(lowp::absmax<lowp::int4>{}, w4a8_activation::int8, g, 17, 103, 448, 8);
  }
  // Columns that are not a multiple of the group or of 64 (the padding).
  check_scheme(lowp::m2<F4>{}, fp8, granularity::per_group(128), 5, 40, 300, 9);
  check_scheme(lowp::absmax<lowp::int4>{}, w4a8_activation::int8, granularity::per_group(32), 9, 40,
               172, 10);
  check_scheme(lowp::absmax<F4>{}, fp8, granularity::per_channel(), 9, 40, 172, 11);
}

TEST_CASE("w4a8_linear: cancellation, max-magnitude codes and subnormal products") {
  const std::size_t T = 8, out = 24, in = 256, G = 2;
  std::mt19937 g(42);
  // Activations: every code 448 or -448 (E4M3 0x7E / 0xFE) on half the tokens, random
  // codes on the others; scales powers of two and plain floats.
  std::vector<std::uint8_t> ac(T * in);
  std::vector<float> as(T);
  for (std::size_t t = 0; t < T; ++t) {
    as[t] = t % 2 == 0 ? std::ldexp(1.0f, -static_cast<int>(t)) : 0.37f + static_cast<float>(t);
    for (std::size_t c = 0; c < in; ++c) {
      std::uint8_t code = t < T / 2 ? static_cast<std::uint8_t>(c % 2 == 0 ? 0x7E : 0xFE)
                                    : static_cast<std::uint8_t>(g() & 0xFFu);
      if ((code & 0x7Fu) == 0x7Fu) code = 0x01;  // no NaN
      ac[t * in + c] = code;
    }
  }
  const w4a8_activations A =
      w4a8_activations::from_codes(w4a8_activation::fp8_e4m3, T, in, ac.data(), as.data());
  // Weights: rows of ±6 (code 7 / 15) that cancel against the alternating activations,
  // rows of 6 that add up, random rows; M2 shifts up to 126 (subnormal products: 0.5 ·
  // 2^-126 times 2^-9), absmax scales large and tiny.
  std::vector<std::uint8_t> wc(out * in);
  for (std::size_t r = 0; r < out; ++r) {
    for (std::size_t c = 0; c < in; ++c) {
      wc[r * in + c] = r % 3 == 0   ? std::uint8_t{7}
                       : r % 3 == 1 ? static_cast<std::uint8_t>(c < in / 2 ? 7 : 15)
                                    : static_cast<std::uint8_t>(g() & 15u);
    }
  }
  std::vector<M2::params> mp(out * G);
  for (std::size_t i = 0; i < mp.size(); ++i) {
    mp[i].scale_max = i % 4 == 0 ? 3.0e30f : 0.7f;
    mp[i].shift = static_cast<std::uint8_t>(i % 3 == 0 ? 126 : (i % 3 == 1 ? 125 : g() % 9));
  }
  for (std::size_t r = 0; r < out; ++r) mp[r * G + 1].scale_max = mp[r * G].scale_max;
  const auto Wm2 = lowp::quantized_tensor<M2>::from_codes(
      M2(), out, in, granularity::per_group(in / G), wc.data(), mp);
  check_same_bits(check_bound(A, Wm2, "adversarial, M2"), false);
  // Shifts up to the AVX-512 BF16 kernel's limit (116: products down to 2^-126, the
  // smallest normal float), with some rows above it (those run the AVX2 row there).
  for (std::size_t i = 0; i < mp.size(); ++i)
    mp[i].shift = static_cast<std::uint8_t>(i % 5 == 0   ? 126
                                            : i % 3 == 0 ? 116
                                            : i % 3 == 1 ? 115
                                                         : g() % 9);
  const auto Wm2b = lowp::quantized_tensor<M2>::from_codes(
      M2(), out, in, granularity::per_group(in / G), wc.data(), mp);
  check_same_bits(check_bound(A, Wm2b, "adversarial, M2 shifts to 116"), false);

  std::vector<AF::params> ap(out * G);
  for (std::size_t i = 0; i < ap.size(); ++i) ap[i].scale = i % 2 == 0 ? 1.0e-30f : 12345.678f;
  const auto Waf = lowp::quantized_tensor<AF>::from_codes(
      AF(), out, in, granularity::per_group(in / G), wc.data(), ap);
  check_same_bits(check_bound(A, Waf, "adversarial, absmax"), false);

  // INT: codes -128 and 127 (from_codes), weights -8 and 7.
  std::vector<std::uint8_t> ic(T * in);
  for (std::size_t i = 0; i < ic.size(); ++i)
    ic[i] = static_cast<std::uint8_t>(i % 3 == 0 ? 0x80 : (i % 3 == 1 ? 0x7F : g() & 0xFFu));
  const w4a8_activations Ai =
      w4a8_activations::from_codes(w4a8_activation::int8, T, in, ic.data(), as.data());
  std::vector<std::uint8_t> iw(out * in);
  for (std::size_t i = 0; i < iw.size(); ++i)
    iw[i] = static_cast<std::uint8_t>(i % 2 == 0 ? 8 : (g() & 15u));
  std::vector<AI::params> ip(out * G);
  for (std::size_t i = 0; i < ip.size(); ++i) ip[i].scale = ap[i].scale;
  const auto Wai = lowp::quantized_tensor<AI>::from_codes(
      AI(), out, in, granularity::per_group(in / G), iw.data(), ip);
  check_same_bits(check_bound(Ai, Wai, "adversarial, INT"), true);
}

TEST_CASE(
    "w4a8_linear: bit-exact with a float GEMM on the dequantized operands when sums are exact") {
  // Activations E4M3 in [1, 15] (multiples of 1/8) with power-of-two scales; weights with
  // power-of-two scales: every product is a multiple of 2^-7 below 2^7, every sum of 256
  // of them below 2^15: exact in float, in any order.  512 rows: the AVX2 integer decode
  // on one thread then takes these activations (a · 2^9, multiples of 2^6) as two digit
  // planes of a · 2^3.
  const std::size_t T = 9, out = lowp::detail::w4a8_two_plane_min_rows, in = 256;
  std::mt19937 g(7);
  std::vector<std::uint8_t> ac(T * in), ic(T * in);
  std::vector<float> as(T);
  for (std::size_t t = 0; t < T; ++t) as[t] = std::ldexp(1.0f, static_cast<int>(t) - 4);
  for (std::size_t i = 0; i < ac.size(); ++i) {
    const unsigned e = 7 + g() % 4, m = g() % 8;  // 2^0 .. 2^3, times 1 + m/8
    ac[i] = static_cast<std::uint8_t>(((g() & 1u) << 7) | (e << 3) | m);
    ic[i] = static_cast<std::uint8_t>(g() & 0xFFu);
  }
  std::vector<std::uint8_t> wc(out * in);
  for (auto& c : wc) c = static_cast<std::uint8_t>(g() & 15u);
  const std::size_t G = 2;
  std::vector<M2::params> p2(out * G);
  std::vector<M1::params> p1(out * G);
  std::vector<AF::params> pa(out * G);
  std::vector<AI::params> pi(out * G);
  for (std::size_t i = 0; i < out * G; ++i) {
    p2[i].scale_max = std::ldexp(1.0f, -3 - static_cast<int>((i / G) % 3));
    p2[i].shift = static_cast<std::uint8_t>(g() % 4);
    p1[i].scale = std::ldexp(1.0f, -static_cast<int>(g() % 5));
    pa[i].scale = p1[i].scale;
    pi[i].scale = std::ldexp(1.0f, -static_cast<int>(g() % 7));
  }
  const auto fp8 =
      w4a8_activations::from_codes(w4a8_activation::fp8_e4m3, T, in, ac.data(), as.data());
  const auto i8 = w4a8_activations::from_codes(w4a8_activation::int8, T, in, ic.data(), as.data());
  const granularity gran = granularity::per_group(in / G);
  const auto check = [&](const w4a8_activations& A, const auto& Wq, const char* what) {
    std::vector<float> a(T * in), w(out * in), ref(T * out, 0.0f);
    A.dequantize(a.data());
    Wq.dequantize(w.data());
    for (std::size_t t = 0; t < T; ++t)
      for (std::size_t r = 0; r < out; ++r)
        for (std::size_t c = 0; c < in; ++c) ref[t * out + r] += a[t * in + c] * w[r * in + c];
    const w4a8_weights W(Wq);
    for (const path_case& p : paths(W.scheme())) {
      INFO(what << ", path " << p.name);
      CHECK((bits_of(lowp::w4a8_linear(A, W, p.opt)) == bits_of(ref)));
    }
  };
  check(fp8, lowp::quantized_tensor<M2>::from_codes(M2(), out, in, gran, wc.data(), p2), "M2");
  check(fp8, lowp::quantized_tensor<M1>::from_codes(M1(), out, in, gran, wc.data(), p1), "M1");
  check(fp8, lowp::quantized_tensor<AF>::from_codes(AF(), out, in, gran, wc.data(), pa), "absmax");
  check(i8, lowp::quantized_tensor<AI>::from_codes(AI(), out, in, gran, wc.data(), pi), "INT");
}

TEST_CASE("w4a8_linear: the integer decode's two-plane pieces, at their limits") {
  // From 512 rows on (per thread), the AVX2 integer decode looks in each piece of 128
  // columns for activations that fit two digit planes: every A = a · 2^9 a multiple of
  // 2^t, and max |A| / 2^t ≤ 32639 = 127 + 256 · 127.  E4M3 code (e, m), e ≥ 1, has
  // A = (8 + m) · 2^(e-1).  The pieces of each token, in turn:
  //   all zero;
  //   A = 9 (0x09) and 30720 = 15 · 2^11 (0x67): two planes, t = 0, the largest |X|;
  //   A = 9 and 32768 = 2^15 (0x68): three planes, the smallest top that needs them;
  //   A = 32768 and 229376 = 7 · 2^15 (0x7E, 448): two planes, t = 15;
  //   A = 8 (0x08) and 122880 = 15 · 2^13 (0x77): two planes, t = 3, |X| ≤ 15360;
  //   A = 1 (0x01, subnormal) and 30720: two planes, t = 0;
  //   one 448 in the last column, the rest zero: two planes, t = 15;
  //   A = 9, and one 32768 in the last column: three planes (the largest |A| found
  //   wherever it is);
  //   random codes.
  // Signs alternate, and the pattern rotates by token.  Weights: random codes, M2 shifts
  // 0..8 and the adversarial 125/126, absmax and M1 scales.  Every path stays within the
  // bound of the double oracle; the reference-order paths keep their bits; and the integer
  // decode keeps the bits of three planes (the layer one row short, which does not
  // search), also under FTZ (where 2^-(10+k) is subnormal).
  // out: the fewest rows (per thread; the integer path below runs on one) that search.
  const std::size_t T = 9, out = lowp::detail::w4a8_two_plane_min_rows, P = 9, in = 128 * P, G = P;
  // The integer path's threaded = false counts as one thread, whatever OpenMP has.
  REQUIRE(lowp::detail::chunk_threads(false) == 1);
  std::mt19937 g(77);
  const std::uint8_t kinds[6][2] = {{0x00, 0x00}, {0x09, 0x67}, {0x09, 0x68},
                                    {0x68, 0x7E}, {0x08, 0x77}, {0x01, 0x67}};
  std::vector<std::uint8_t> ac(T * in);
  std::vector<float> as(T);
  for (std::size_t t = 0; t < T; ++t) {
    as[t] = t % 2 == 0 ? std::ldexp(1.0f, -static_cast<int>(t)) : 0.61f + static_cast<float>(t);
    for (std::size_t p = 0; p < P; ++p) {
      const std::size_t kind = (p + t) % P;
      for (std::size_t c = 0; c < 128; ++c) {
        std::uint8_t code = 0;
        if (kind < 6) {
          code = kinds[kind][(c + t) % 3 == 0 ? 1 : 0];  // the large code on a third
        } else if (kind == 6) {
          code = c == 127 ? std::uint8_t{0x7E} : std::uint8_t{0};
        } else if (kind == 7) {
          code = c == 127 ? std::uint8_t{0x68} : std::uint8_t{0x09};
        } else {
          code = static_cast<std::uint8_t>(g() & 0xFFu);
          if ((code & 0x7Fu) == 0x7Fu) code = 0x02;  // no NaN
        }
        if (code != 0 && (c / 2 + t) % 2 == 1) code = static_cast<std::uint8_t>(code | 0x80u);
        ac[t * in + 128 * p + c] = code;
      }
    }
  }
  const w4a8_activations A =
      w4a8_activations::from_codes(w4a8_activation::fp8_e4m3, T, in, ac.data(), as.data());
  std::vector<std::uint8_t> wc(out * in);
  for (auto& c : wc) c = static_cast<std::uint8_t>(g() & 15u);
  std::vector<M2::params> p2(out * G);
  std::vector<M1::params> p1(out * G);
  std::vector<AF::params> pa(out * G);
  for (std::size_t i = 0; i < out * G; ++i) {
    p2[i].scale_max = i / G % 5 == 0 ? 3.0e30f : 0.7f;
    p2[i].shift = static_cast<std::uint8_t>(i % 11 == 0 ? 126 : (i % 11 == 1 ? 125 : g() % 9));
    // Every 7th row all subnormal units 2^-(10+k): its output is made of them alone.
    if (i / G % 7 == 3) p2[i].shift = static_cast<std::uint8_t>(117 + g() % 10);
    p1[i].scale = std::ldexp(1.0f, static_cast<int>(g() % 9) - 4);
    pa[i].scale = i % 2 == 0 ? 1.0e-30f : 12345.678f;
  }
  for (std::size_t r = 0; r < out; ++r)
    for (std::size_t j = 1; j < G; ++j) p2[r * G + j].scale_max = p2[r * G].scale_max;
  // Each layer within the bound on every path; and, on the AVX2 integer decode on one
  // thread, the same layer without its last row (which does not look for two-plane
  // pieces) gives the same bits for the rows the two share.
  const auto check_layer = [&](auto policy, const auto& params, granularity gr, const char* what) {
    using Policy = decltype(policy);
    const auto Wq =
        lowp::quantized_tensor<Policy>::from_codes(policy, out, in, gr, wc.data(), params);
    check_same_bits(check_bound(A, Wq, what), false);
    if (!lowp::w4a8_path_available(w4a8_path::avx2, lowp::w4a8_scheme::fp4_m2)) return;
    const std::size_t per_row = params.size() / out;
    const std::vector<typename Policy::params> fewer(
        params.begin(), params.end() - static_cast<std::ptrdiff_t>(per_row));
    const auto Wf =
        lowp::quantized_tensor<Policy>::from_codes(policy, out - 1, in, gr, wc.data(), fewer);
    w4a8_options o;
    o.path = w4a8_path::avx2;
    o.weight_cast = w4a8_weight_cast::integer;
    o.gemm_min_tokens = std::numeric_limits<std::size_t>::max();
    o.threaded = false;
    const w4a8_weights W(Wq), Wshort(Wf);
    const auto differing = [&]() {
      const std::vector<std::uint32_t> y = bits_of(lowp::w4a8_linear(A, W, o));
      const std::vector<std::uint32_t> ys = bits_of(lowp::w4a8_linear(A, Wshort, o));
      std::size_t n = 0;
      for (std::size_t t = 0; t < T; ++t)
        for (std::size_t r = 0; r + 1 < out; ++r) n += y[t * out + r] != ys[t * (out - 1) + r];
      return n;
    };
    INFO(what << ": outputs whose bits differ between " << out << " and " << out - 1 << " rows");
    CHECK(differing() == 0);
#if defined(__x86_64__) || defined(_M_X64)
    const unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8000u);  // FTZ
    const std::size_t differ_ftz = differing();
    _mm_setcsr(csr);
    INFO("under FTZ");
    CHECK(differ_ftz == 0);
#endif
  };
  const granularity gran = granularity::per_group(128);
  check_layer(M2(), p2, gran, "two-plane limits, M2");
  check_layer(M1(), p1, gran, "two-plane limits, M1");
  check_layer(AF(), pa, gran, "two-plane limits, absmax");
  // Groups of 64 (pieces of one block, not pairs) and of 192 (a piece of two blocks and
  // one of one), on the same activations.
  for (const std::size_t gs : {std::size_t{64}, std::size_t{192}}) {
    const std::size_t Gs = (in + gs - 1) / gs;
    std::vector<M2::params> q(out * Gs);
    for (std::size_t i = 0; i < q.size(); ++i) q[i] = p2[i % p2.size()];
    for (std::size_t r = 0; r < out; ++r)
      for (std::size_t j = 1; j < Gs; ++j) q[r * Gs + j].scale_max = q[r * Gs].scale_max;
    INFO("groups of " << gs);
    check_layer(M2(), q, granularity::per_group(gs), "two-plane limits, M2");
  }
}

TEST_CASE("w4a8_linear: a group index (act_order's g_idx) is honoured") {
  const std::size_t T = 5, out = 33, in = 320, gsize = 64, groups = in / gsize;
  const std::vector<float> w = weights(out, in, 11), x = activations(T, in, 12);
  std::vector<std::uint32_t> idx(in);
  std::mt19937 g(3);
  for (std::size_t c = 0; c < in; ++c) idx[c] = static_cast<std::uint32_t>(g() % groups);
  auto check = [&](auto policy, w4a8_activation act) {
    auto Wq = lowp::quantize(policy, w.data(), out, in, granularity::per_group(gsize));
    auto codes = std::vector<typename decltype(Wq)::storage_type>(out * in);
    for (std::size_t i = 0; i < out * in; ++i) codes[i] = Wq.code_flat(i);
    const auto Wg = decltype(Wq)::from_codes(Wq.policy(), out, in, granularity::per_group(gsize),
                                             codes.data(), Wq.params(), idx);
    const w4a8_activations A = w4a8_activations::quantize(act, x.data(), T, in);
    check_same_bits(check_bound(A, Wg, "group index"), act == w4a8_activation::int8);
  };
  check(lowp::m2<lowp::float4_e2m1fn>{}, w4a8_activation::fp8_e4m3);
  check(lowp::absmax<lowp::float4_e2m1fn>{}, w4a8_activation::fp8_e4m3);
  check(lowp::absmax<lowp::int4>{}, w4a8_activation::int8);
}

TEST_CASE("w4a8_activations: quantize() is fake_quantize() per token, from_codes() checks") {
  const std::size_t T = 6, in = 200;
  const std::vector<float> x = activations(T, in, 5);
  const auto check = [&](auto policy, w4a8_activation f) {
    const w4a8_activations A = w4a8_activations::quantize(f, x.data(), T, in);
    std::vector<float> deq(T * in), fake(T * in);
    A.dequantize(deq.data());
    lowp::fake_quantize(policy, x.data(), fake.data(), T, in, granularity::per_token());
    CHECK((bits_of(deq) == bits_of(fake)));
    CHECK(A.tokens() == T);
    CHECK(A.in() == in);
    CHECK(A.format() == f);
  };
  check(lowp::absmax<lowp::float8_e4m3fn>{}, w4a8_activation::fp8_e4m3);
  check(lowp::absmax<lowp::int8>{}, w4a8_activation::int8);

  std::vector<float> bad = x;
  bad[3 * in + 7] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(w4a8_activations::quantize(w4a8_activation::fp8_e4m3, bad.data(), T, in),
                  std::domain_error);
  CHECK_THROWS_AS(w4a8_activations::quantize(w4a8_activation::int8, x.data(), T, 0),
                  std::invalid_argument);
  CHECK_THROWS_AS(w4a8_activations::quantize(w4a8_activation::int8, nullptr, T, in),
                  std::invalid_argument);
  CHECK(w4a8_activations::quantize(w4a8_activation::int8, nullptr, 0, in).tokens() == 0);

  std::vector<std::uint8_t> codes(T * in, 0x38);
  std::vector<float> scales(T, 1.0f);
  scales[4] = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH(
      w4a8_activations::from_codes(w4a8_activation::fp8_e4m3, T, in, codes.data(), scales.data()),
      Catch::Contains("token 4") && Catch::Contains("not finite"));
  scales[4] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(
      w4a8_activations::from_codes(w4a8_activation::int8, T, in, codes.data(), scales.data()),
      std::domain_error);
  scales[4] = 1.0f;
  codes[2 * in + 9] = 0xFF;
  CHECK_THROWS_WITH(
      w4a8_activations::from_codes(w4a8_activation::fp8_e4m3, T, in, codes.data(), scales.data()),
      Catch::Contains("NaN") && Catch::Contains("token 2, column 9"));
  // An INT8 0xFF is -1, not NaN.
  CHECK_NOTHROW(
      w4a8_activations::from_codes(w4a8_activation::int8, T, in, codes.data(), scales.data()));
}

TEST_CASE("w4a8_linear: bad input gets a clear error and writes nothing") {
  const std::size_t T = 3, out = 8, in = 128;
  const std::vector<float> w = weights(out, in, 1), x = activations(T, in, 2);
  const auto m2 = lowp::quantize(lowp::m2<lowp::float4_e2m1fn>{}, w.data(), out, in,
                                 granularity::per_group(64));
  const w4a8_weights W(m2);
  const auto A = w4a8_activations::quantize(w4a8_activation::fp8_e4m3, x.data(), T, in);
  const auto Ai = w4a8_activations::quantize(w4a8_activation::int8, x.data(), T, in);
  std::vector<float> Y(T * out, 123.0f);
  const std::vector<float> untouched = Y;

  // Shapes that do not match.
  const auto A2 = w4a8_activations::quantize(w4a8_activation::fp8_e4m3, x.data(), 1, in - 64);
  CHECK_THROWS_WITH(lowp::w4a8_linear(A2, W, Y.data()),
                    Catch::Contains("64 columns") && Catch::Contains("128"));
  // A pair the kernel does not take: the message names the supported ones.
  CHECK_THROWS_WITH(lowp::w4a8_linear(Ai, W, Y.data()),
                    Catch::Contains("fp4_m2 weights with int8") && Catch::Contains("supported"));
  CHECK_THROWS_AS(lowp::w4a8_linear(A, W, nullptr), std::invalid_argument);
  CHECK_THROWS_AS(lowp::w4a8_linear(A, w4a8_weights{}, Y.data()), std::invalid_argument);
  CHECK((bits_of(Y) == bits_of(untouched)));
  // A path this CPU or build lacks, forced.
  w4a8_options forced;
  forced.path = w4a8_path::avx2;
  if (!lowp::w4a8_path_available(w4a8_path::avx2)) {
    CHECK_THROWS_WITH(lowp::w4a8_linear(A, W, Y.data(), forced),
                      Catch::Contains("avx2") && Catch::Contains("forced"));
  } else {
    CHECK_NOTHROW(lowp::w4a8_linear(A, W, Y.data(), forced));
  }
  forced.path = w4a8_path::avx512;
  // With AVX2 present, the message names what the weights' scheme needs, and only that.
  const w4a8_weights Wi(
      lowp::quantize(lowp::absmax<lowp::int4>{}, w.data(), out, in, granularity::per_group(64)));
  for (const auto& [weights, acts, needs, not_needed] :
       {std::tuple{&W, &A, "AVX512-BF16, which FP4 weights need", "VNNI"},
        std::tuple{&Wi, &Ai, "AVX512-VNNI, which INT4 weights need", "BF16"}}) {
    if (lowp::w4a8_path_available(w4a8_path::avx512, weights->scheme())) {
      CHECK_NOTHROW(lowp::w4a8_linear(*acts, *weights, Y.data(), forced));
      continue;
    }
    std::string what;
    try {
      lowp::w4a8_linear(*acts, *weights, Y.data(), forced);
    } catch (const std::invalid_argument& e) {
      what = e.what();
    }
    CHECK_THAT(what, Catch::Contains("avx512") && Catch::Contains("forced"));
    if (lowp::w4a8_path_available(w4a8_path::avx2)) {
      CHECK_THAT(what, Catch::Contains(needs) && !Catch::Contains(not_needed));
    }
  }
  // The weight casts: automatic by default, and their names.
  CHECK(w4a8_options{}.weight_cast == w4a8_weight_cast::automatic);
  CHECK(std::string(lowp::w4a8_weight_cast_name(w4a8_weight_cast::automatic)) == "automatic");
  CHECK(std::string(lowp::w4a8_weight_cast_name(w4a8_weight_cast::table)) == "table");
  CHECK(std::string(lowp::w4a8_weight_cast_name(w4a8_weight_cast::shift)) == "shift");
  CHECK(std::string(lowp::w4a8_weight_cast_name(w4a8_weight_cast::integer)) == "integer");
  CHECK(lowp::w4a8_path_available(w4a8_path::portable));
  CHECK(lowp::w4a8_path_available(w4a8_path::automatic));
  CHECK(lowp::w4a8_path_available(lowp::w4a8_best_path(W.scheme()), W.scheme()));

  // Weights the kernel cannot take.
  const auto mx = lowp::quantize(lowp::absmax<lowp::float4_e2m1fn>{}, w.data(), out, in,
                                 granularity::per_group(64));
  std::vector<std::uint8_t> codes(out * in, 3);
  std::vector<M1::params> p(out * 2);
  p[5].scale = 0.3f;  // not a power of two
  CHECK_THROWS_WITH(w4a8_weights(lowp::quantized_tensor<M1>::from_codes(
                        M1(), out, in, granularity::per_group(64), codes.data(), p)),
                    Catch::Contains("power of two") && Catch::Contains("row 2, group 1"));
  p[5].scale = std::ldexp(1.0f, -127);  // a span of 2^127 within row 2
  p[4].scale = 1.0f;
  CHECK_THROWS_AS(w4a8_weights(lowp::quantized_tensor<M1>::from_codes(
                      M1(), out, in, granularity::per_group(64), codes.data(), p)),
                  std::invalid_argument);
  std::vector<AF::params> pa(out * 2);
  pa[3].scale = std::numeric_limits<float>::infinity();
  CHECK_THROWS_AS(w4a8_weights(lowp::quantized_tensor<AF>::from_codes(
                      AF(), out, in, granularity::per_group(64), codes.data(), pa)),
                  std::domain_error);
  CHECK_THROWS_AS(w4a8_weights(lowp::quantized_tensor<AF>(AF(), 0, in, granularity::per_group(64))),
                  std::invalid_argument);
  const std::size_t long_row = 16384 + 64;
  CHECK_THROWS_WITH(
      w4a8_weights(lowp::quantized_tensor<AI>(AI(), 1, long_row, granularity::per_channel())),
      Catch::Contains("16384"));
  (void)mx;
}

TEST_CASE("w4a8_linear: the same bits on one and two threads", "[threads]") {
#if !defined(_OPENMP)
  LOWP_SKIP("built without OpenMP: the kernel runs on one thread");
#else
  const std::size_t out = 512, in = 1024;
  const std::vector<float> w = weights(out, in, 21);
  const auto run = [&](int threads, const auto& Wq, w4a8_activation act, std::size_t T) {
    omp_set_num_threads(threads);
    // What the kernel counts when it decides whether to search for two-plane pieces.
    CHECK(lowp::detail::chunk_threads() == static_cast<std::size_t>(threads));
    CHECK(lowp::detail::chunk_threads(false) == 1);
    const std::vector<float> x = activations(T, in, 22);
    const auto A = w4a8_activations::quantize(act, x.data(), T, in);
    std::vector<std::vector<std::uint32_t>> out_bits;
    const w4a8_weights W(Wq);
    for (const path_case& p : paths(W.scheme()))
      out_bits.push_back(bits_of(lowp::w4a8_linear(A, W, p.opt)));
    return out_bits;
  };
  const auto m2 = lowp::quantize(lowp::m2<lowp::float4_e2m1fn>{}, w.data(), out, in,
                                 granularity::per_group(128));
  const auto i4 =
      lowp::quantize(lowp::absmax<lowp::int4>{}, w.data(), out, in, granularity::per_group(128));
  for (const std::size_t T : {std::size_t{1}, std::size_t{40}}) {
    CHECK((run(1, m2, w4a8_activation::fp8_e4m3, T) == run(2, m2, w4a8_activation::fp8_e4m3, T)));
    CHECK((run(1, i4, w4a8_activation::int8, T) == run(2, i4, w4a8_activation::int8, T)));
  }
  omp_set_num_threads(2);
#endif
}

TEST_CASE(
    "w4a8_linear and w4a8_plan: row ranges write their rows only, with the whole call's bits") {
  // An engine's threads each take a range of output rows.  Rows 1100 in three ranges:
  // 7 (inside one chunk of every path), 594 (from 512 rows the one-thread integer decode
  // looks for two-plane pieces; the others do not) and the rest, given as count = all.
  // The second and third start inside a micro-tile (6 rows on AVX2, 8 on AVX-512) and a
  // row chunk (16 rows in the decode, 96 in the prefill).
  const std::size_t out = 1100, in = 256;
  const std::vector<float> w = weights(out, in, 31);
  const auto gran = granularity::per_group(128);
  const std::vector<w4a8_weights> layers = {
      w4a8_weights(lowp::quantize(M2(), w.data(), out, in, gran)),
      w4a8_weights(lowp::quantize(M1(), w.data(), out, in, gran)),
      w4a8_weights(lowp::quantize(AF(), w.data(), out, in, gran)),
      w4a8_weights(lowp::quantize(AI(), w.data(), out, in, gran))};
  const w4a8_row_range ranges[3] = {{0, 7}, {7, 594}, {601, w4a8_row_range::all}};
  const float sentinel = -7.25f;
  for (const w4a8_weights& W : layers) {
    // T = 5 runs the prefill on the prefill paths and five decode passes on the others.
    for (const std::size_t T : {std::size_t{1}, std::size_t{5}}) {
      const std::vector<float> x = activations(T, in, 32 + static_cast<std::uint32_t>(T));
      const auto A = w4a8_activations::quantize(W.activation(), x.data(), T, in);
      for (const path_case& p : paths(W.scheme())) {
        INFO(lowp::w4a8_scheme_name(W.scheme()) << ", " << T << " tokens, " << p.name);
        const std::vector<float> whole = lowp::w4a8_linear(A, W, p.opt);
        // Each range into a fresh Y, on the calling thread and then with the path's own
        // threading: its rows hold the whole call's bits, every other entry the sentinel.
        for (const bool threaded : {false, p.opt.threaded}) {
          for (const w4a8_row_range& r : ranges) {
            w4a8_options o = p.opt;
            o.threaded = threaded;
            o.rows = r;
            std::vector<float> Y(T * out, sentinel);
            lowp::w4a8_linear(A, W, Y.data(), o);
            const std::size_t last = r.count == w4a8_row_range::all ? out : r.first + r.count;
            bool written = true, untouched = true;
            for (std::size_t t = 0; t < T; ++t)
              for (std::size_t c = 0; c < out; ++c) {
                const float y = Y[t * out + c];
                if (c >= r.first && c < last)
                  written = written && std::memcmp(&y, &whole[t * out + c], sizeof y) == 0;
                else
                  untouched = untouched && std::memcmp(&y, &sentinel, sizeof y) == 0;
              }
            CHECK(written);
            CHECK(untouched);
          }
        }

        // One plan, its ranges run by three threads at once (an engine's pool), and run
        // again: the same bits.
        w4a8_options o = p.opt;
        o.threaded = false;
        o.rows = {3, 4};  // not read by a plan
        const lowp::w4a8_plan plan(A, W, o);
        CHECK(plan.out() == out);
        CHECK(plan.tokens() == T);
        std::vector<float> Yp(T * out, sentinel);
        std::vector<std::thread> pool;
        for (const w4a8_row_range& r : ranges)
          pool.emplace_back([&plan, &Yp, r] { plan.run(Yp.data(), r); });
        for (std::thread& th : pool) th.join();
        CHECK((bits_of(Yp) == bits_of(whole)));
        std::fill(Yp.begin(), Yp.end(), sentinel);
        plan.run(Yp.data());
        CHECK((bits_of(Yp) == bits_of(whole)));
      }
    }
  }

  // Empty ranges write nothing (first == out is the empty range at the end); a range past
  // the last row is an error, and nothing is written.
  const w4a8_weights& W = layers[0];
  const std::vector<float> x = activations(2, in, 40);
  const auto A = w4a8_activations::quantize(W.activation(), x.data(), 2, in);
  std::vector<float> Y(2 * out, sentinel);
  const std::vector<std::uint32_t> before = bits_of(Y);
  w4a8_options o;
  o.rows = {out, w4a8_row_range::all};
  CHECK_NOTHROW(lowp::w4a8_linear(A, W, nullptr, o));
  o.rows = {5, 0};
  CHECK_NOTHROW(lowp::w4a8_linear(A, W, Y.data(), o));
  o.rows = {out + 1, w4a8_row_range::all};
  CHECK_THROWS_WITH(
      lowp::w4a8_linear(A, W, Y.data(), o),
      Catch::Contains("rows (first 1101, count all)") && Catch::Contains("1100 rows"));
  o.rows = {1000, 101};
  CHECK_THROWS_WITH(lowp::w4a8_linear(A, W, Y.data(), o), Catch::Contains("first 1000, count 101"));
  o.rows = {1, w4a8_row_range::all - 1};  // first + count wraps around
  CHECK_THROWS_AS(lowp::w4a8_linear(A, W, Y.data(), o), std::invalid_argument);
  CHECK((bits_of(Y) == before));
  o.rows = {1000, 100};
  CHECK_NOTHROW(lowp::w4a8_linear(A, W, Y.data(), o));
  CHECK(Y[999] == sentinel);
  CHECK(Y[1000] != sentinel);

  // A plan checks A, W and the options as w4a8_linear does, and each run its range and Y.
  const lowp::w4a8_plan plan(A, W);
  std::fill(Y.begin(), Y.end(), sentinel);
  CHECK_THROWS_WITH(plan.run(Y.data(), {out - 1, 2}),
                    Catch::Contains("lowp::w4a8_plan") &&
                        Catch::Contains("rows (first 1099, count 2) reach past"));
  CHECK_THROWS_WITH(plan.run(nullptr), Catch::Contains("null Y"));
  CHECK((bits_of(Y) == before));
  CHECK_NOTHROW(plan.run(nullptr, {out, w4a8_row_range::all}));
  const auto A2 = w4a8_activations::quantize(W.activation(), x.data(), 1, in - 128);
  CHECK_THROWS_WITH(lowp::w4a8_plan(A2, W), Catch::Contains("128 columns"));
  const auto Ai = w4a8_activations::quantize(w4a8_activation::int8, x.data(), 2, in);
  CHECK_THROWS_WITH(lowp::w4a8_plan(Ai, W), Catch::Contains("supported"));
  const w4a8_weights none;
  CHECK_THROWS_AS(lowp::w4a8_plan(A, none), std::invalid_argument);
  static_assert(!std::is_constructible_v<lowp::w4a8_plan, w4a8_activations&&, const w4a8_weights&>,
                "a plan keeps references: no temporaries");
  static_assert(!std::is_constructible_v<lowp::w4a8_plan, const w4a8_activations&, w4a8_weights&&>);
  lowp::w4a8_plan first(A, W);
  const lowp::w4a8_plan second = std::move(first);
  CHECK_THROWS_AS(first.run(Y.data()), std::logic_error);  // NOLINT(bugprone-use-after-move)
  CHECK((bits_of(Y) == before));
  CHECK_NOTHROW(second.run(Y.data()));
  CHECK((bits_of(Y) == bits_of(lowp::w4a8_linear(A, W))));
  // The vector form leaves the rows outside opt.rows at 0.
  o.rows = {1000, 100};
  const std::vector<float> part = lowp::w4a8_linear(A, W, o);
  CHECK(part[999] == 0.0f);
  CHECK(part[1000] == Y[1000]);
  CHECK(part[out + 999] == 0.0f);
  const auto A0 = w4a8_activations::quantize(W.activation(), x.data(), 0, in);
  const lowp::w4a8_plan empty(A0, W);
  CHECK(empty.tokens() == 0);
  CHECK_NOTHROW(empty.run(nullptr));
}
