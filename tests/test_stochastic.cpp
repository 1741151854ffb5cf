// Stochastic rounding in bulk (lowp::convert_stochastic, lowp::encode_stochastic, and the
// Philox4x32-10 generator behind them, detail/philox.hpp) and the threaded bulk paths
// (bulk.hpp over detail::for_each_chunk).
//
// Built with OpenMP when CMake finds it (tests/CMakeLists.txt), so that the chunked paths
// run on two threads; the cases that compare one thread with two skip without it.  The
// references are always scalar: lowp::cast / lowp::cast_stochastic one element at a time
// with detail::stochastic_bits(seed, i) computed per element, never the bulk code under
// test.  Like test_bulk.cpp, this source is built once per SIMD back-end.
#include <algorithm>
#include <array>
#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "lowp_test.hpp"
#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>  // _mm_getcsr / _mm_setcsr
#endif
#include <lowp/bulk.hpp>
#include <lowp/detail/philox.hpp>
#include <lowp/lowp.hpp>

namespace {

using namespace lowp;
using lowp::detail::philox4x32_10;
using lowp::detail::stochastic_bits;

std::uint32_t fbits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float from_fbits(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

template <class T>
std::string fmt_name() {
  return T::traits_type::name;
}

constexpr overflow all_policies[] = {overflow::saturate, overflow::non_saturating};

// Elements of the large cases: three chunks and a part (not a multiple of the chunk, of
// 64, or of 4), past parallel_threshold so that the calls are threaded.
constexpr std::size_t big_n = 3 * lowp::detail::bulk::chunk_elems + 1237;
static_assert(big_n > lowp::detail::parallel_threshold, "the large cases must be threaded");

// n floats for format T: mostly a log-uniform spread over the format's range, both signs
// (values between codes, where stochastic rounding decides); and, scattered through every
// chunk, the specials: NaNs (with payloads, both signs), +-Inf, +-0, float subnormals,
// float's max, values past the format's max (which overflow when rounded away), the
// format's own codes; and random bit patterns.
template <class T>
std::vector<float> inputs(std::size_t n, std::uint32_t seed) {
  const double maxv = cast<double>(std::numeric_limits<T>::max());
  const double minv = is_lowp_int_v<T> ? 1.0 : cast<double>(std::numeric_limits<T>::denorm_min());
  std::vector<float> specials = {0.0f,
                                 -0.0f,
                                 std::numeric_limits<float>::infinity(),
                                 -std::numeric_limits<float>::infinity(),
                                 from_fbits(0x7FC00000u),
                                 from_fbits(0xFFC00000u),
                                 from_fbits(0x7FA00001u),
                                 from_fbits(0x7F800001u),
                                 from_fbits(0x00000001u),
                                 from_fbits(0x807FFFFFu),
                                 from_fbits(0x00800000u),
                                 std::numeric_limits<float>::max(),
                                 -std::numeric_limits<float>::max(),
                                 static_cast<float>(maxv),
                                 static_cast<float>(-maxv),
                                 static_cast<float>(maxv * 1.01),
                                 static_cast<float>(-maxv * 1.01),
                                 static_cast<float>(maxv * 1.07),
                                 static_cast<float>(maxv * 1.5),
                                 static_cast<float>(maxv * 2),
                                 static_cast<float>(-maxv * 3),
                                 static_cast<float>(minv),
                                 static_cast<float>(minv / 2),
                                 static_cast<float>(-minv * 0.75),
                                 static_cast<float>(minv * 1.5)};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> expo(std::log2(minv) - 3, std::log2(maxv) + 1);
  std::vector<float> v(n);
  for (float& f : v) {
    const std::uint32_t pick = static_cast<std::uint32_t>(rng()) % 32u;
    if (pick == 0) {
      f = specials[rng() % specials.size()];
    } else if (pick == 1) {
      f = from_fbits(static_cast<std::uint32_t>(rng()));
    } else {
      const double d = std::exp2(expo(rng));
      f = static_cast<float>((rng() & 1u) ? d : -d);
    }
  }
  return v;
}

// The reference: element i through the scalar API with its own Philox call.
template <class T>
T ref_stochastic(float x, std::uint64_t seed, std::size_t i, overflow o) {
  return cast_stochastic<T>(x, stochastic_bits(seed, i), o);
}

// Runs f() with OpenMP's thread count set to t (restored after, also when f throws).
#if defined(_OPENMP)
template <class F>
void with_threads(int t, F&& f) {
  struct restore {
    int saved;
    ~restore() { omp_set_num_threads(saved); }
  } guard{omp_get_max_threads()};
  omp_set_num_threads(t);
  f();
}
#endif

// ======================================================================================
// (a) Philox4x32-10 against Random123's known-answer vectors
// ======================================================================================

// Random123 1.14, tests/kat_vectors, the three philox4x32 10-round lines ("nrounds ctr
// key expected"); also recomputed, with the same results, by an independent Python
// implementation of the paper's round function while writing this test.
TEST_CASE("philox4x32_10 reproduces Random123's known-answer vectors", "[stochastic][philox]") {
  using a4 = std::array<std::uint32_t, 4>;
  using a2 = std::array<std::uint32_t, 2>;
  CHECK(philox4x32_10(a4{0, 0, 0, 0}, a2{0, 0}) ==
        a4{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
  CHECK(philox4x32_10(a4{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                      a2{0xffffffffu, 0xffffffffu}) ==
        a4{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
  CHECK(philox4x32_10(a4{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                      a2{0xa4093822u, 0x299f31d0u}) ==
        a4{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
  // constexpr: usable in constant expressions.
  static_assert(philox4x32_10(a4{0, 0, 0, 0}, a2{0, 0})[3] == 0x9b00dbd8u);
  static_assert(stochastic_bits(0, 0) == 0x6627e8d5u);
}

TEST_CASE("stochastic_bits: key = seed's halves, counter = (index / 4, 0, 0), word index % 4",
          "[stochastic][philox]") {
  using a4 = std::array<std::uint32_t, 4>;
  using a2 = std::array<std::uint32_t, 2>;
  // Values from the independent Python implementation (low half first in key and counter).
  CHECK(stochastic_bits(0x0123456789abcdefu, 5) == 0x523e0d85u);
  CHECK(stochastic_bits(0xdeadbeefcafef00du, (std::uint64_t{1} << 40) + 3) == 0xac2be917u);
  CHECK(stochastic_bits(42, 7) == 0x744e06fbu);
  // And the definition itself, over indices whose block needs the counter's second word.
  std::mt19937_64 rng(5);
  std::size_t bad = 0;
  for (int k = 0; k < 1000; ++k) {
    const std::uint64_t seed = rng(), index = rng() >> (k % 64);
    const std::uint64_t block = index / 4;
    const a4 w = philox4x32_10(
        a4{static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32), 0, 0},
        a2{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)});
    bad += stochastic_bits(seed, index) != w[index % 4];
    bad += lowp::detail::stochastic_bits4(seed, block) != w;
  }
  CHECK(bad == 0);
}

// ======================================================================================
// (b) convert_stochastic bit for bit against cast_stochastic
// ======================================================================================

template <class T>
void check_stochastic_plain(std::uint64_t seed) {
  const std::vector<float> x = inputs<T>(big_n, static_cast<std::uint32_t>(seed));
  std::vector<T> got(x.size());
  std::vector<code_t<T>> codes(x.size());
  for (overflow o : all_policies) {
    convert_stochastic(x.data(), got.data(), x.size(), seed, o);
    encode_stochastic<T>(x.data(), codes.data(), x.size(), seed, o);
    std::size_t bad = 0, bad_codes = 0, first_bad = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const auto want = ref_stochastic<T>(x[i], seed, i, o).bits();
      if (got[i].bits() != want && bad++ == 0) first_bad = i;
      bad_codes += codes[i] != want;
    }
    INFO(fmt_name<T>() << " overflow " << static_cast<int>(o) << " first mismatch at i "
                       << first_bad << ", x bits 0x" << std::hex << fbits(x[first_bad]));
    CHECK(bad == 0);
    CHECK(bad_codes == 0);
  }
}

TEST_CASE("convert_stochastic equals cast_stochastic with stochastic_bits(seed, i)",
          "[stochastic][bulk]") {
  INFO("backend " << bulk_backend_name());
  check_stochastic_plain<float8_e4m3fn>(1);
  check_stochastic_plain<float8_e5m2>(2);
  check_stochastic_plain<float8_e4m3fnuz>(3);
  check_stochastic_plain<float6_e2m3fn>(4);
  check_stochastic_plain<float4_e2m1fn>(5);
  check_stochastic_plain<int4>(6);
  check_stochastic_plain<int8>(7);
  check_stochastic_plain<uint8>(8);
  check_stochastic_plain<float16>(0xfeedface12345678u);
  check_stochastic_plain<bfloat16>(0xffffffffffffffffu);
  check_stochastic_plain<float8_e8m0fnu>(9);  // unsigned, no zero: converts |x|, as cast
}

// Packed: the span covers n elements of a buffer whose bits past them hold a guard
// pattern; those bits must survive, and the elements equal the reference.
template <class T, packed_layout L>
void check_stochastic_packed(std::size_t n, std::uint64_t seed) {
  const std::vector<float> x = inputs<T>(n, static_cast<std::uint32_t>(seed));
  const std::size_t bytes = packed_size_in_bytes<T>(n);
  for (overflow o : all_policies) {
    std::vector<std::uint8_t> buf(bytes + 8, 0xA5);
    convert_stochastic(x.data(), packed_span<T, L>(buf.data(), n), seed, o);
    // The reference: the same guard pattern, each element stored by the scalar path.
    std::vector<std::uint8_t> want(bytes + 8, 0xA5);
    for (std::size_t i = 0; i < n; ++i)
      packed_set<T, L>(want.data(), i, ref_stochastic<T>(x[i], seed, i, o));
    std::size_t bad = 0;
    for (std::size_t b = 0; b < buf.size(); ++b) bad += buf[b] != want[b];
    INFO(fmt_name<T>() << " n " << n << " layout " << static_cast<int>(L) << " overflow "
                       << static_cast<int>(o));
    CHECK(bad == 0);
  }
}

TEST_CASE("convert_stochastic into packed storage equals cast_stochastic, other bits kept",
          "[stochastic][bulk][packed]") {
  INFO("backend " << bulk_backend_name());
  for (std::size_t n :
       {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{5}, std::size_t{63},
        std::size_t{64}, std::size_t{65}, std::size_t{1001}, big_n, big_n + 2}) {
    check_stochastic_packed<float4_e2m1fn, packed_layout::low_nibble_first>(n, 11);
    check_stochastic_packed<float4_e2m1fn, packed_layout::high_nibble_first>(n, 12);
    check_stochastic_packed<int4, packed_layout::low_nibble_first>(n, 13);
    check_stochastic_packed<uint4, packed_layout::high_nibble_first>(n, 14);
    check_stochastic_packed<float6_e3m2fn, packed_layout::low_nibble_first>(n, 15);
    check_stochastic_packed<float6_e2m3fn, packed_layout::low_nibble_first>(n, 16);
  }
}

TEST_CASE("convert_stochastic: element i depends on (seed, i) only", "[stochastic][bulk]") {
  const std::vector<float> x = inputs<float8_e4m3fn>(big_n, 21);
  std::vector<float8_e4m3fn> whole(big_n), part(1000);
  convert_stochastic(x.data(), whole.data(), big_n, 77);
  // A prefix converted alone gives the same elements (its indices are the same).
  convert_stochastic(x.data(), part.data(), part.size(), 77);
  std::size_t bad = 0;
  for (std::size_t i = 0; i < part.size(); ++i) bad += part[i].bits() != whole[i].bits();
  CHECK(bad == 0);
  // Another seed gives other draws: elements between two codes differ with probability
  // 2 p (1 - p), a third of them on average here.
  std::vector<float8_e4m3fn> other(big_n);
  convert_stochastic(x.data(), other.data(), big_n, 78);
  std::size_t differ = 0;
  for (std::size_t i = 0; i < big_n; ++i) differ += other[i].bits() != whole[i].bits();
  CHECK(differ > big_n / 10);
}

TEST_CASE("convert_stochastic: null pointers throw, n == 0 does nothing", "[stochastic][bulk]") {
  float x[4] = {1, 2, 3, 4};
  float8_e4m3fn q[4];
  std::uint8_t c[4];
  CHECK_THROWS_AS(convert_stochastic<float8_e4m3fn>(nullptr, q, 4, 1), std::invalid_argument);
  CHECK_THROWS_AS(convert_stochastic<float8_e4m3fn>(x, nullptr, 4, 1), std::invalid_argument);
  CHECK_THROWS_AS(encode_stochastic<float8_e4m3fn>(x, static_cast<std::uint8_t*>(nullptr), 4, 1),
                  std::invalid_argument);
  CHECK_THROWS_AS(convert_stochastic(nullptr, packed_span<float4_e2m1fn>(c, 4), 1),
                  std::invalid_argument);
  CHECK_NOTHROW(convert_stochastic<float8_e4m3fn>(nullptr, nullptr, 0, 1));
  CHECK_NOTHROW(convert_stochastic(nullptr, packed_span<float4_e2m1fn>(), 1));
  CHECK_NOTHROW(encode_stochastic<float8_e4m3fn>(x, reinterpret_cast<std::byte*>(c), 4, 1));
}

TEST_CASE("convert_stochastic in place (float -> 1-byte, float -> packed)",
          "[stochastic][bulk][inplace]") {
  const std::vector<float> x = inputs<float8_e5m2>(big_n, 31);
  std::vector<float> buf = x;
  auto* q = reinterpret_cast<float8_e5m2*>(buf.data());
  convert_stochastic(buf.data(), q, big_n, 5);
  std::size_t bad = 0;
  for (std::size_t i = 0; i < big_n; ++i)
    bad += q[i].bits() != ref_stochastic<float8_e5m2>(x[i], 5, i, overflow::saturate).bits();
  CHECK(bad == 0);
  std::vector<float> buf2 = x;
  packed_span<float6_e3m2fn> p(reinterpret_cast<std::uint8_t*>(buf2.data()), big_n);
  convert_stochastic(buf2.data(), p, 6);
  bad = 0;
  for (std::size_t i = 0; i < big_n; ++i)
    bad += p.get(i).bits() != ref_stochastic<float6_e3m2fn>(x[i], 6, i, overflow::saturate).bits();
  CHECK(bad == 0);
}

// ======================================================================================
// (c) the threaded paths: the same bytes on one thread and on two, and the scalar result
// ======================================================================================

// The bytes of a vector, for comparing outputs of any element type.
template <class T>
std::vector<std::uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<std::uint8_t> b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// Bytes where got differs from want (all of them past the shorter one's end), and the
// first such byte, for a short failure message instead of two 200 KB vectors.
struct byte_diff {
  std::size_t count = 0, first = 0;
};
[[maybe_unused]] byte_diff compare_bytes(const std::vector<std::uint8_t>& got,
                                         const std::vector<std::uint8_t>& want) {
  byte_diff d;
  const std::size_t n = std::max(got.size(), want.size());
  for (std::size_t i = 0; i < n; ++i)
    if (i >= got.size() || i >= want.size() || got[i] != want[i]) {
      if (d.count++ == 0) d.first = i;
    }
  return d;
}

// run() computes a call's output bytes; they must equal `want` on one thread and on two.
template <class F>
void check_threads(const char* what, const std::vector<std::uint8_t>& want, F&& run) {
#if defined(_OPENMP)
  std::vector<std::uint8_t> one, two;
  with_threads(1, [&] { one = run(); });
  with_threads(2, [&] { two = run(); });
  const byte_diff d1 = compare_bytes(one, want), d2 = compare_bytes(two, want);
  INFO(what << ": 1 thread, " << d1.count << " bytes differ from the reference (first " << d1.first
            << "); 2 threads, " << d2.count << " (first " << d2.first << ")");
  CHECK(d1.count == 0);
  CHECK(d2.count == 0);
#else
  (void)what;
  (void)want;
  (void)run;
#endif
}

#if defined(_OPENMP)
#define LOWP_REQUIRE_OPENMP() (void)0
#else
#define LOWP_REQUIRE_OPENMP() LOWP_SKIP("built without OpenMP: every bulk call runs on one thread")
#endif

TEST_CASE("run_chunks: fixed chunks on two threads; in-place and short calls in one piece",
          "[threads]") {
  LOWP_REQUIRE_OPENMP();
#if defined(_OPENMP)
  using lowp::detail::bulk::chunk_elems;
  using lowp::detail::bulk::run_chunks;
  struct piece {
    std::size_t first, count;
    int thread, team;
  };
  auto record = [](std::size_t n, bool in_place) {
    std::vector<piece> pieces;
    run_chunks(n, in_place, [&](std::size_t first, std::size_t count) {
#pragma omp critical(test_run_chunks)
      pieces.push_back({first, count, omp_get_thread_num(), omp_get_num_threads()});
    });
    return pieces;
  };
  with_threads(2, [&] {
    const std::vector<piece> p = record(big_n, false);
    REQUIRE(p.size() == (big_n + chunk_elems - 1) / chunk_elems);
    std::vector<bool> seen(p.size(), false);
    bool other_thread = false;
    for (const piece& c : p) {
      REQUIRE(c.first % chunk_elems == 0);
      REQUIRE(c.count == std::min(chunk_elems, big_n - c.first));
      REQUIRE(!seen[c.first / chunk_elems]);
      seen[c.first / chunk_elems] = true;
      CHECK(c.team == 2);
      other_thread |= c.thread != 0;
    }
    CHECK(other_thread);  // the second thread did run chunks
    const std::vector<piece> in_place = record(big_n, true);
    REQUIRE(in_place.size() == 1);
    CHECK((in_place[0].first == 0 && in_place[0].count == big_n && in_place[0].team == 1));
    const std::vector<piece> small = record(lowp::detail::parallel_threshold - 1, false);
    REQUIRE(small.size() == 1);
    CHECK(small[0].team == 1);
  });
#endif
}

TEST_CASE("convert_stochastic: the same bytes on one thread and on two", "[stochastic][threads]") {
  LOWP_REQUIRE_OPENMP();
  const std::vector<float> x = inputs<float8_e4m3fn>(big_n, 41);
  {
    std::vector<float8_e4m3fn> want(big_n);
    for (std::size_t i = 0; i < big_n; ++i)
      want[i] = ref_stochastic<float8_e4m3fn>(x[i], 9, i, overflow::non_saturating);
    check_threads("E4M3", bytes_of(want), [&] {
      std::vector<float8_e4m3fn> q(big_n);
      convert_stochastic(x.data(), q.data(), big_n, 9, overflow::non_saturating);
      return bytes_of(q);
    });
  }
  {
    std::vector<bfloat16> want(big_n);
    for (std::size_t i = 0; i < big_n; ++i)
      want[i] = ref_stochastic<bfloat16>(x[i], 10, i, overflow::saturate);
    check_threads("BF16", bytes_of(want), [&] {
      std::vector<bfloat16> q(big_n);
      convert_stochastic(x.data(), q.data(), big_n, 10);
      return bytes_of(q);
    });
  }
  {
    packed_vector<float4_e2m1fn> want(big_n);
    for (std::size_t i = 0; i < big_n; ++i)
      want.set(i, ref_stochastic<float4_e2m1fn>(x[i], 11, i, overflow::saturate));
    const std::vector<std::uint8_t> w(want.data(), want.data() + want.size_in_bytes());
    check_threads("packed E2M1", w, [&] {
      packed_vector<float4_e2m1fn> p(big_n);
      convert_stochastic(x.data(), p.span(), 11);
      return std::vector<std::uint8_t>(p.data(), p.data() + p.size_in_bytes());
    });
  }
  {
    packed_vector<float6_e2m3fn> want(big_n);
    for (std::size_t i = 0; i < big_n; ++i)
      want.set(i, ref_stochastic<float6_e2m3fn>(x[i], 12, i, overflow::non_saturating));
    const std::vector<std::uint8_t> w(want.data(), want.data() + want.size_in_bytes());
    check_threads("packed FP6 E2M3", w, [&] {
      packed_vector<float6_e2m3fn> p(big_n);
      convert_stochastic(x.data(), p.span(), 12, overflow::non_saturating);
      return std::vector<std::uint8_t>(p.data(), p.data() + p.size_in_bytes());
    });
  }
}

// Packed bytes of cast<T>(f(i)) for i < n, stored by the scalar path.
template <class T, packed_layout L = packed_layout::low_nibble_first, class F>
std::vector<std::uint8_t> packed_ref(std::size_t n, F&& f) {
  packed_vector<T, L> v(n);
  for (std::size_t i = 0; i < n; ++i) v.set(i, f(i));
  return std::vector<std::uint8_t>(v.data(), v.data() + v.size_in_bytes());
}

TEST_CASE("convert, encode, decode: the same bytes on one thread and on two", "[threads][bulk]") {
  LOWP_REQUIRE_OPENMP();
  INFO("backend " << bulk_backend_name());
  const std::size_t n = big_n;
  const std::vector<float> x = inputs<float8_e4m3fn>(n, 51);
  const std::vector<float> x4 = inputs<float4_e2m1fn>(n, 52);

  for (rounding r : {rounding::nearest_even, rounding::toward_zero, rounding::up})
    for (overflow o : all_policies) {
      std::vector<float8_e4m3fn> want(n);
      for (std::size_t i = 0; i < n; ++i) want[i] = cast<float8_e4m3fn>(x[i], r, o);
      check_threads("convert float -> E4M3", bytes_of(want), [&] {
        std::vector<float8_e4m3fn> q(n);
        convert(x.data(), q.data(), n, r, o);
        return bytes_of(q);
      });
    }
  std::vector<float8_e4m3fn> q8(n);
  for (std::size_t i = 0; i < n; ++i) q8[i] = cast<float8_e4m3fn>(x[i]);
  {
    std::vector<float> want(n);
    for (std::size_t i = 0; i < n; ++i) want[i] = static_cast<float>(q8[i]);
    check_threads("convert E4M3 -> float", bytes_of(want), [&] {
      std::vector<float> y(n);
      convert(q8.data(), y.data(), n);
      return bytes_of(y);
    });
  }
  {
    std::vector<bfloat16> want(n);
    for (std::size_t i = 0; i < n; ++i) want[i] = cast<bfloat16>(x[i]);
    check_threads("convert float -> BF16 (generic loop)", bytes_of(want), [&] {
      std::vector<bfloat16> h(n);
      convert(x.data(), h.data(), n);
      return bytes_of(h);
    });
    std::vector<float8_e4m3fn> want8(n);
    for (std::size_t i = 0; i < n; ++i) want8[i] = cast<float8_e4m3fn>(want[i]);
    check_threads("convert BF16 -> E4M3 (through float)", bytes_of(want8), [&] {
      std::vector<float8_e4m3fn> q(n);
      convert(want.data(), q.data(), n);
      return bytes_of(q);
    });
    std::vector<bfloat16> want16(n);
    for (std::size_t i = 0; i < n; ++i) want16[i] = cast<bfloat16>(q8[i]);
    check_threads("convert E4M3 -> BF16 (table)", bytes_of(want16), [&] {
      std::vector<bfloat16> h(n);
      convert(q8.data(), h.data(), n);
      return bytes_of(h);
    });
  }
  // Packed, both nibble orders and FP6; then back to float.
  check_threads(
      "convert float -> packed E2M1",
      packed_ref<float4_e2m1fn>(n, [&](std::size_t i) { return cast<float4_e2m1fn>(x4[i]); }), [&] {
        packed_vector<float4_e2m1fn> p(n);
        convert(x4.data(), p.span());
        return std::vector<std::uint8_t>(p.data(), p.data() + p.size_in_bytes());
      });
  check_threads("convert float -> packed int4, high nibble first, toward zero",
                packed_ref<int4, packed_layout::high_nibble_first>(
                    n, [&](std::size_t i) { return cast<int4>(x4[i], rounding::toward_zero); }),
                [&] {
                  packed_vector<int4, packed_layout::high_nibble_first> p(n);
                  convert(x4.data(), p.span(), rounding::toward_zero);
                  return std::vector<std::uint8_t>(p.data(), p.data() + p.size_in_bytes());
                });
  check_threads(
      "convert float -> packed FP6 E3M2",
      packed_ref<float6_e3m2fn>(n, [&](std::size_t i) { return cast<float6_e3m2fn>(x4[i]); }), [&] {
        packed_vector<float6_e3m2fn> p(n);
        convert(x4.data(), p.span());
        return std::vector<std::uint8_t>(p.data(), p.data() + p.size_in_bytes());
      });
  {
    packed_vector<float4_e2m1fn> p(n);
    convert(x4.data(), p.span());
    std::vector<float> want(n), want_s(n);
    for (std::size_t i = 0; i < n; ++i) {
      want[i] = static_cast<float>(p.get(i));
      want_s[i] = static_cast<float>(p.get(i)) * 0.3f;
    }
    check_threads("convert packed E2M1 -> float", bytes_of(want), [&] {
      std::vector<float> y(n);
      convert(packed_span<const float4_e2m1fn>(p.span()), y.data());
      return bytes_of(y);
    });
    check_threads("convert_unscaled packed E2M1", bytes_of(want_s), [&] {
      std::vector<float> y(n);
      convert_unscaled(packed_span<const float4_e2m1fn>(p.span()), y.data(), 0.3f);
      return bytes_of(y);
    });
    std::vector<double> want_d(n);
    for (std::size_t i = 0; i < n; ++i) want_d[i] = cast<double>(p.get(i));
    check_threads("convert packed E2M1 -> double (generic loop)", bytes_of(want_d), [&] {
      std::vector<double> y(n);
      convert(packed_span<const float4_e2m1fn>(p.span()), y.data());
      return bytes_of(y);
    });
  }
  {
    packed_vector<float6_e2m3fn> p(n);
    convert(x4.data(), p.span());
    std::vector<float> want(n);
    for (std::size_t i = 0; i < n; ++i) want[i] = static_cast<float>(p.get(i));
    check_threads("convert packed FP6 E2M3 -> float", bytes_of(want), [&] {
      std::vector<float> y(n);
      convert(packed_span<const float6_e2m3fn>(p.span()), y.data());
      return bytes_of(y);
    });
  }
  // Raw code buffers.
  {
    std::vector<std::uint8_t> want(n);
    for (std::size_t i = 0; i < n; ++i) want[i] = cast<float8_e5m2>(x[i]).bits();
    check_threads("encode<E5M2>", want, [&] {
      std::vector<std::uint8_t> c(n);
      encode<float8_e5m2>(x.data(), c.data(), n);
      return c;
    });
    std::vector<float> back(n);
    for (std::size_t i = 0; i < n; ++i)
      back[i] = static_cast<float>(float8_e5m2::from_bits(want[i]));
    check_threads("decode<E5M2>", bytes_of(back), [&] {
      std::vector<float> y(n);
      decode<float8_e5m2>(want.data(), y.data(), n);
      return bytes_of(y);
    });
    std::vector<std::uint16_t> want16(n);
    for (std::size_t i = 0; i < n; ++i) want16[i] = cast<float16>(x[i]).bits();
    check_threads("encode<float16> (generic loop)", bytes_of(want16), [&] {
      std::vector<std::uint16_t> c(n);
      encode<float16>(x.data(), c.data(), n);
      return bytes_of(c);
    });
    std::vector<float> back16(n);
    for (std::size_t i = 0; i < n; ++i)
      back16[i] = static_cast<float>(float16::from_bits(want16[i]));
    check_threads("decode<float16>", bytes_of(back16), [&] {
      std::vector<float> y(n);
      decode<float16>(want16.data(), y.data(), n);
      return bytes_of(y);
    });
  }
}

TEST_CASE("convert_scaled, convert_unscaled: the same bytes on one thread and on two",
          "[threads][bulk][scaled]") {
  LOWP_REQUIRE_OPENMP();
  INFO("backend " << bulk_backend_name());
  const std::size_t n = big_n;
  std::mt19937 rng(61);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  std::vector<float> x(n);
  for (float& f : x) f = nd(rng);
  x[17] = std::numeric_limits<float>::quiet_NaN();
  x[n - 1] = std::numeric_limits<float>::infinity();
  // Group sizes: one that divides the chunk, ones that do not (groups straddle chunk
  // boundaries), one larger than a chunk.
  for (std::size_t g : {std::size_t{32}, std::size_t{30}, std::size_t{1000}, std::size_t{100003}}) {
    const std::size_t ng = (n + g - 1) / g;
    std::vector<float> inv(ng), sc(ng);
    for (std::size_t k = 0; k < ng; ++k) {
      inv[k] = std::ldexp(1.37f, static_cast<int>(rng() % 9) - 4);
      sc[k] = 1.0f / inv[k];
    }
    INFO("group size " << g);
    std::vector<float8_e4m3fn> want(n);
    for (std::size_t i = 0; i < n; ++i) want[i] = cast<float8_e4m3fn>(x[i] * inv[i / g]);
    check_threads("convert_scaled E4M3, groups", bytes_of(want), [&] {
      std::vector<float8_e4m3fn> q(n);
      convert_scaled(x.data(), q.data(), n, inv.data(), g);
      return bytes_of(q);
    });
    std::vector<float16> want_h(n);
    for (std::size_t i = 0; i < n; ++i) want_h[i] = cast<float16>(x[i] * inv[i / g]);
    check_threads("convert_scaled float16 (generic loop), groups", bytes_of(want_h), [&] {
      std::vector<float16> q(n);
      convert_scaled(x.data(), q.data(), n, inv.data(), g);
      return bytes_of(q);
    });
    check_threads("convert_scaled packed E2M1, groups",
                  packed_ref<float4_e2m1fn>(
                      n, [&](std::size_t i) { return cast<float4_e2m1fn>(x[i] * inv[i / g]); }),
                  [&] {
                    packed_vector<float4_e2m1fn> p(n);
                    convert_scaled(x.data(), p.span(), inv.data(), g);
                    return std::vector<std::uint8_t>(p.data(), p.data() + p.size_in_bytes());
                  });
    check_threads("convert_scaled packed FP6 E2M3, groups, toward zero",
                  packed_ref<float6_e2m3fn>(n,
                                            [&](std::size_t i) {
                                              return cast<float6_e2m3fn>(x[i] * inv[i / g],
                                                                         rounding::toward_zero);
                                            }),
                  [&] {
                    packed_vector<float6_e2m3fn> p(n);
                    convert_scaled(x.data(), p.span(), inv.data(), g, rounding::toward_zero);
                    return std::vector<std::uint8_t>(p.data(), p.data() + p.size_in_bytes());
                  });
    std::vector<float> want_y(n);
    for (std::size_t i = 0; i < n; ++i) want_y[i] = static_cast<float>(want[i]) * sc[i / g];
    check_threads("convert_unscaled E4M3, groups", bytes_of(want_y), [&] {
      std::vector<float> y(n);
      convert_unscaled(want.data(), y.data(), n, sc.data(), g);
      return bytes_of(y);
    });
    packed_vector<int4> p4(n);
    convert(x.data(), p4.span());
    std::vector<float> want_p(n);
    for (std::size_t i = 0; i < n; ++i) want_p[i] = static_cast<float>(p4.get(i)) * sc[i / g];
    check_threads("convert_unscaled packed int4, groups", bytes_of(want_p), [&] {
      std::vector<float> y(n);
      convert_unscaled(packed_span<const int4>(p4.span()), y.data(), sc.data(), g);
      return bytes_of(y);
    });
  }
  // One scale for the whole call.
  std::vector<int8> want(n);
  for (std::size_t i = 0; i < n; ++i) want[i] = cast<int8>(x[i] * 9.5f, rounding::nearest_away);
  check_threads("convert_scaled int8, one scale", bytes_of(want), [&] {
    std::vector<int8> q(n);
    convert_scaled(x.data(), q.data(), n, 9.5f, rounding::nearest_away);
    return bytes_of(q);
  });
  check_threads("convert_scaled packed uint4, one scale",
                packed_ref<uint4>(n, [&](std::size_t i) { return cast<uint4>(x[i] * 2.5f); }), [&] {
                  packed_vector<uint4> p(n);
                  convert_scaled(x.data(), p.span(), 2.5f);
                  return std::vector<std::uint8_t>(p.data(), p.data() + p.size_in_bytes());
                });
  std::vector<float> want_y(n);
  for (std::size_t i = 0; i < n; ++i) want_y[i] = static_cast<float>(want[i]) * 0.1f;
  check_threads("convert_unscaled int8, one scale", bytes_of(want_y), [&] {
    std::vector<float> y(n);
    convert_unscaled(want.data(), y.data(), n, 0.1f);
    return bytes_of(y);
  });
}

TEST_CASE("threaded calls past the prefetch threshold (> 2 MiB of floats)",
          "[threads][bulk][large]") {
  LOWP_REQUIRE_OPENMP();
  // The chunks of a long array prefetch as the whole array's run would (into the next
  // chunk, never past the array's end): the results must not notice.
  namespace s = lowp::detail::simd;
  const std::size_t n = 600001;
  REQUIRE(n * sizeof(float) >= s::stream_prefetcher::min_bytes);
  // The chunk's prefetch limit: relative to the chunk, within it, inside the array, and
  // the whole array's limit for the whole array.
  std::mt19937_64 rng(91);
  std::size_t bad = 0;
  for (int k = 0; k < 10000; ++k) {
    const std::size_t total = rng() % (4 * n), first = total == 0 ? 0 : rng() % total;
    const std::size_t count = rng() % (total - first + 1);
    const std::size_t end = s::prefetch_end(total, first, count);
    bad += end > count;
    if (end > 0) bad += first + end - 1 + s::prefetch_ahead + 63 >= total;
    bad += s::prefetch_end(total, 0, total) != s::prefetch_end(total);
  }
  CHECK(bad == 0);

  std::normal_distribution<float> nd(0.0f, 100.0f);
  std::vector<float> x(n);
  for (float& f : x) f = nd(rng);
  std::vector<float8_e4m3fn> want(n);
  for (std::size_t i = 0; i < n; ++i) want[i] = cast<float8_e4m3fn>(x[i]);
  check_threads("convert float -> E4M3", bytes_of(want), [&] {
    std::vector<float8_e4m3fn> q(n);
    convert(x.data(), q.data(), n);
    return bytes_of(q);
  });
  check_threads(
      "convert float -> packed E2M1",
      packed_ref<float4_e2m1fn>(n, [&](std::size_t i) { return cast<float4_e2m1fn>(x[i]); }), [&] {
        packed_vector<float4_e2m1fn> p(n);
        convert(x.data(), p.span());
        return std::vector<std::uint8_t>(p.data(), p.data() + p.size_in_bytes());
      });
  const std::size_t g = 32, ng = (n + g - 1) / g;
  std::vector<float> inv(ng);
  for (std::size_t k = 0; k < ng; ++k) inv[k] = std::ldexp(1.0f, -static_cast<int>(k % 9));
  std::vector<int8> want8(n);
  for (std::size_t i = 0; i < n; ++i) want8[i] = cast<int8>(x[i] * inv[i / g]);
  check_threads("convert_scaled int8, groups of 32", bytes_of(want8), [&] {
    std::vector<int8> q(n);
    convert_scaled(x.data(), q.data(), n, inv.data(), g);
    return bytes_of(q);
  });
  check_threads("convert_scaled packed int4, groups of 32",
                packed_ref<int4>(n, [&](std::size_t i) { return cast<int4>(x[i] * inv[i / g]); }),
                [&] {
                  packed_vector<int4> p(n);
                  convert_scaled(x.data(), p.span(), inv.data(), g);
                  return std::vector<std::uint8_t>(p.data(), p.data() + p.size_in_bytes());
                });
}

TEST_CASE("in-place narrowing on two threads stays correct", "[threads][bulk][inplace]") {
  LOWP_REQUIRE_OPENMP();
#if defined(_OPENMP)
  // Output bytes inside the input floats: a chunk run on the second thread would write
  // over floats of an earlier chunk the first thread has not read yet; bulk.hpp runs such
  // calls on one thread.  Large enough for eight chunks, so that a race would show.
  const std::size_t n = 8 * lowp::detail::bulk::chunk_elems + 5;
  const std::vector<float> x = inputs<float8_e4m3fn>(n, 71);
  with_threads(2, [&] {
    std::vector<float> buf = x;
    auto* q = reinterpret_cast<float8_e4m3fn*>(buf.data());
    convert(buf.data(), q, n);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < n; ++i) bad += q[i].bits() != cast<float8_e4m3fn>(x[i]).bits();
    CHECK(bad == 0);

    buf = x;
    auto* c = reinterpret_cast<std::uint8_t*>(buf.data());
    encode<float8_e5m2>(buf.data(), c, n);
    bad = 0;
    for (std::size_t i = 0; i < n; ++i) bad += c[i] != cast<float8_e5m2>(x[i]).bits();
    CHECK(bad == 0);

    buf = x;
    auto* qi = reinterpret_cast<int8*>(buf.data());
    convert_scaled(buf.data(), qi, n, 0.25f);
    bad = 0;
    for (std::size_t i = 0; i < n; ++i) bad += qi[i].bits() != cast<int8>(x[i] * 0.25f).bits();
    CHECK(bad == 0);

    buf = x;
    packed_span<float4_e2m1fn> p(reinterpret_cast<std::uint8_t*>(buf.data()), n);
    convert(buf.data(), p);
    bad = 0;
    for (std::size_t i = 0; i < n; ++i) bad += p.get(i).bits() != cast<float4_e2m1fn>(x[i]).bits();
    CHECK(bad == 0);

    buf = x;
    packed_span<float6_e3m2fn> p6(reinterpret_cast<std::uint8_t*>(buf.data()), n);
    convert(buf.data(), p6);
    bad = 0;
    for (std::size_t i = 0; i < n; ++i) bad += p6.get(i).bits() != cast<float6_e3m2fn>(x[i]).bits();
    CHECK(bad == 0);

    buf = x;
    auto* qs = reinterpret_cast<float8_e4m3fn*>(buf.data());
    convert_stochastic(buf.data(), qs, n, 3);
    bad = 0;
    for (std::size_t i = 0; i < n; ++i)
      bad += qs[i].bits() != ref_stochastic<float8_e4m3fn>(x[i], 3, i, overflow::saturate).bits();
    CHECK(bad == 0);
  });
#endif
}

TEST_CASE("threaded scaled paths round as the calling thread's floating-point state says",
          "[threads][bulk][scaled]") {
  LOWP_REQUIRE_OPENMP();
#if defined(_OPENMP)
  // OpenMP's workers keep the floating-point state they were created with; a rounding
  // mode set later on the calling thread must still govern every chunk's multiply.
  const std::size_t n = big_n;
  std::vector<float8_e4m3fn> q(n);
  std::mt19937 rng(81);
  for (auto& c : q) c = float8_e4m3fn::from_bits(static_cast<std::uint8_t>(rng() % 0x7Eu));
  const float scale = 0.1f;  // inexact: code * 0.1f rounds in most products
  with_threads(2, [&] {
    // Start the pool now, under round-to-nearest.
    int team = 0;
#pragma omp parallel
    {
#pragma omp single
      team = omp_get_num_threads();
    }
    CHECK(team == 2);
    const int saved = std::fegetround();
    REQUIRE(std::fesetround(FE_UPWARD) == 0);
    std::vector<float> want(n), y(n);
    // volatile: computed here, at run time, under FE_UPWARD.
    volatile float vs = scale;
    for (std::size_t i = 0; i < n; ++i) want[i] = static_cast<float>(q[i]) * vs;
    convert_unscaled(q.data(), y.data(), n, scale);
    std::fesetround(saved);
    std::vector<float> nearest(n);
    for (std::size_t i = 0; i < n; ++i) nearest[i] = static_cast<float>(q[i]) * vs;
    std::size_t differ = 0;
    for (std::size_t i = 0; i < n; ++i) differ += fbits(want[i]) != fbits(nearest[i]);
    REQUIRE(differ > n / 4);  // the rounding mode matters for these products
    CHECK(compare_bytes(bytes_of(y), bytes_of(want)).count == 0);
#if defined(__x86_64__) || defined(_M_X64)
    // FTZ: products below float's normal range flush to zero on every chunk.
    const unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8000u);
    const float tiny = 1e-40f;
    volatile float vt = tiny;
    for (std::size_t i = 0; i < n; ++i) want[i] = static_cast<float>(q[i]) * vt;
    convert_unscaled(q.data(), y.data(), n, tiny);
    _mm_setcsr(csr);
    CHECK(compare_bytes(bytes_of(y), bytes_of(want)).count == 0);
#endif
  });
#endif
}

// ======================================================================================
// (d) unbiasedness
// ======================================================================================

// For x strictly between two neighbouring codes lo < hi, stochastic rounding gives hi with
// probability p = (x - lo) / (hi - lo) (to 2^-32) and lo otherwise, so the mean of N
// independent roundings has expectation x and standard deviation
// sigma = (hi - lo) * sqrt(p (1 - p) / N).  The check: |mean - x| <= k sigma with k = 5
// (for a true mean, a 5-sigma excursion has probability below 10^-6).
//
// Why the bound is not loose: the same check must reject round-to-nearest, whose mean is
// lo or hi, off by min(p, 1 - p) (hi - lo) = sqrt(N min(p, 1-p) / max(p, 1-p)) sigma.
// With N = 2^18 and p down to 1/64 that is 64 sigma or more, far outside 5: a rounding
// biased by a fraction of an ulp as small as round-to-nearest's is caught, while the
// true mean passes.  The values include a negative one, one in the subnormal range and
// one just below max.
template <class T>
void check_unbiased(double lo, double hi, double p, std::uint64_t seed) {
  constexpr std::size_t N = std::size_t{1} << 18;
  constexpr double k = 5.0;
  const double xd = lo + p * (hi - lo);
  const float x = static_cast<float>(xd);
  REQUIRE(static_cast<double>(x) == xd);  // the test values are exact in float
  REQUIRE(cast<double>(cast<T>(x, rounding::toward_zero)) == (lo < 0 ? hi : lo));
  std::vector<float> src(N, x);
  std::vector<T> q(N);
  convert_stochastic(src.data(), q.data(), N, seed);
  double sum = 0;
  std::size_t ups = 0, others = 0;
  for (const T& v : q) {
    const double d = cast<double>(v);
    others += d != lo && d != hi;
    sum += d;
    ups += d == hi;
  }
  REQUIRE(others == 0);  // only the two neighbours
  const double mean = sum / N;
  const double sigma = (hi - lo) * std::sqrt(p * (1 - p) / N);
  const double nearest = cast<double>(cast<T>(x));
  INFO(fmt_name<T>() << " x " << xd << " between " << lo << " and " << hi << ": mean " << mean
                     << " (" << ups << " of " << N << " up), sigma " << sigma
                     << ", round-to-nearest " << nearest);
  CHECK(std::abs(mean - xd) <= k * sigma);
  CHECK(std::abs(nearest - xd) > k * sigma);  // the bound would catch round-to-nearest
}

TEST_CASE("convert_stochastic is unbiased: the mean of many roundings is x",
          "[stochastic][stats]") {
  // E4M3: ulp 1/8 in [1, 2), 2^-9 for subnormals, 32 in [256, 448].
  check_unbiased<float8_e4m3fn>(1.0, 1.125, 0.3125, 101);
  check_unbiased<float8_e4m3fn>(1.0, 1.125, 0.5, 102);
  check_unbiased<float8_e4m3fn>(1.0, 1.125, 1.0 / 64, 103);
  check_unbiased<float8_e4m3fn>(-1.125, -1.0, 0.75, 104);           // x = -1.03125
  check_unbiased<float8_e4m3fn>(3.0 / 512, 4.0 / 512, 0.125, 105);  // subnormals
  check_unbiased<float8_e4m3fn>(416.0, 448.0, 63.0 / 64, 106);      // just below max
  // E2M1: codes 0, 0.5, 1, 1.5, 2, 3, 4, 6.
  check_unbiased<float4_e2m1fn>(0.0, 0.5, 0.25, 201);
  check_unbiased<float4_e2m1fn>(1.5, 2.0, 0.5, 202);
  check_unbiased<float4_e2m1fn>(4.0, 6.0, 0.1875, 203);
  check_unbiased<float4_e2m1fn>(-3.0, -2.0, 1.0 / 64, 204);  // x = -2.984375
  check_unbiased<float4_e2m1fn>(2.0, 3.0, 0.875, 205);
}

}  // namespace
