// Bulk conversions (lowp/bulk.hpp) against the scalar API, element by element.
//
// This one source is built several times (tests/CMakeLists.txt): with LOWP_NO_SIMD (the
// portable path), with -mavx2 (the AVX2 path) and with AVX-512 flags (the AVX-512 path);
// lowp::bulk_backend_name() says which path the public functions use in each build.  A
// build skips on a CPU that lacks one of its instruction sets (tests/lowp_test.hpp).
// The reference is always the generic scalar converter, lowp::cast, one element at a
// time; nothing here computes an expected value with the bulk code under test.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "lowp_test.hpp"
#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>  // _mm_getcsr / _mm_setcsr
#endif
#include <lowp/bulk.hpp>
#include <lowp/lowp.hpp>

namespace {

using namespace lowp;

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

constexpr rounding all_modes[] = {rounding::nearest_even, rounding::nearest_away,
                                  rounding::toward_zero, rounding::up, rounding::down};
constexpr overflow all_policies[] = {overflow::saturate, overflow::non_saturating};

// Inputs that hit every decision of an encoder for format T: each representable value,
// its float neighbours and the midpoints (exact in float: every lowp format has at most
// 10 mantissa bits), values around max and the overflow threshold, zeros, float
// subnormals, Inf, NaNs with payloads, both signs; plus random bit patterns and a
// random spread over the format's range.
template <class T>
std::vector<float> probe_floats(std::uint32_t seed) {
  std::vector<float> v;
  auto add = [&v](double d) {
    const float f = static_cast<float>(d);
    for (float g :
         {f, std::nextafter(f, 0.0f), std::nextafter(f, std::numeric_limits<float>::infinity()),
          std::nextafter(f, -std::numeric_limits<float>::infinity())}) {
      v.push_back(g);
      v.push_back(-g);
    }
  };
  constexpr unsigned ncodes = sizeof(typename T::storage_type) == 1 ? 256u : 0u;
  std::vector<double> vals;
  for (unsigned c = 0; c < ncodes; ++c) {
    const double d = static_cast<double>(T::from_bits(static_cast<typename T::storage_type>(c)));
    if (std::isfinite(d)) vals.push_back(d);
  }
  for (std::size_t i = 0; i < vals.size(); ++i) {
    add(vals[i]);
    for (std::size_t j = 0; j < vals.size(); ++j)  // midpoints of neighbouring values
      if (vals[j] > vals[i]) {
        bool neighbour = true;
        for (double w : vals)
          if (w > vals[i] && w < vals[j]) {
            neighbour = false;
            break;
          }
        if (neighbour) add((vals[i] + vals[j]) / 2);
      }
    add(vals[i] * 2);
    add(vals[i] * 1.03125);
  }
  for (double d : {0.0,     1e-45,   1e-40,   1e-38,   1.1754944e-38, 0.5,   1.0,   3.4e38, 1e30,
                   65504.0, 65520.0, 57344.0, 61440.0, 448.0,         464.0, 480.0, 240.0,  248.0,
                   6.0,     7.0,     7.5,     28.0,    30.0,          127.5, 128.0, 255.5,  256.0,
                   -128.5,  -129.0,  7.5,     8.0,     15.5,          16.0,  -8.5,  -9.0})
    add(d);
  for (std::uint32_t special : {0x7F800000u, 0x7FC00000u, 0x7FA00000u, 0x7F800001u, 0x7FE00001u,
                                0x7FBFFFFFu, 0x7F7FFFFFu, 0x00000001u, 0x007FFFFFu, 0x00800000u}) {
    v.push_back(from_fbits(special));
    v.push_back(from_fbits(special | 0x80000000u));
  }
  std::mt19937 rng(seed);
  for (int i = 0; i < 4000; ++i) v.push_back(from_fbits(static_cast<std::uint32_t>(rng())));
  std::uniform_real_distribution<double> expo(-30.0, 20.0);
  for (int i = 0; i < 4000; ++i) {
    const double d = std::exp2(expo(rng));
    v.push_back(static_cast<float>((rng() & 1u) ? d : -d));
  }
  return v;
}

template <class T>
std::string fmt_name() {
  return T::traits_type::name;
}

// --- encode ----------------------------------------------------------------------

template <class T>
void check_encode_all_modes() {
  const std::vector<float> x = probe_floats<T>(1234);
  std::vector<T> got(x.size());
  for (rounding r : all_modes)
    for (overflow o : all_policies) {
      convert(x.data(), got.data(), x.size(), r, o);
      std::size_t bad = 0, first_bad = 0;
      for (std::size_t i = 0; i < x.size(); ++i)
        if (got[i].bits() != cast<T>(x[i], r, o).bits()) {
          if (bad++ == 0) first_bad = i;
        }
      INFO(fmt_name<T>() << " rounding " << static_cast<int>(r) << " overflow "
                         << static_cast<int>(o) << " first mismatch at x bits 0x" << std::hex
                         << fbits(x[first_bad]));
      CHECK(bad == 0);
    }
}

TEST_CASE("convert float -> every format equals lowp::cast, every rounding and overflow",
          "[bulk][encode]") {
  INFO("backend " << bulk_backend_name());
  check_encode_all_modes<float8_e4m3fn>();
  check_encode_all_modes<float8_e5m2>();
  check_encode_all_modes<float8_e4m3fnuz>();
  check_encode_all_modes<float8_e5m2fnuz>();
  check_encode_all_modes<float6_e2m3fn>();
  check_encode_all_modes<float6_e3m2fn>();
  check_encode_all_modes<float4_e2m1fn>();
  check_encode_all_modes<int4>();
  check_encode_all_modes<uint4>();
  check_encode_all_modes<int8>();
  check_encode_all_modes<uint8>();
  check_encode_all_modes<float8_e8m0fnu>();  // generic path
  check_encode_all_modes<float16>();         // half_encoder at nearest even (F16C)
  check_encode_all_modes<bfloat16>();        // half_encoder at nearest even
}

// --- decode ------------------------------------------------------------------------

template <class T>
void check_decode_all_codes() {
  std::vector<T> q(256);
  for (unsigned c = 0; c < 256; ++c) q[c] = T::from_bits(static_cast<typename T::storage_type>(c));
  std::vector<float> y(256);
  for (overflow o : all_policies) {
    convert(q.data(), y.data(), q.size(), rounding::nearest_even, o);
    for (unsigned c = 0; c < 256; ++c) {
      INFO(fmt_name<T>() << " code " << c << " overflow " << static_cast<int>(o));
      CHECK(fbits(y[c]) == fbits(cast<float>(q[c], rounding::nearest_even, o)));
    }
  }
  // convert_unscaled: static_cast<float>(q) * scale, one binary32 multiply
  for (float scale : {1.0f, 0.37f, -3.0e-3f, 1e30f, 0.0f}) {
    convert_unscaled(q.data(), y.data(), q.size(), scale);
    for (unsigned c = 0; c < 256; ++c) {
      const float want = static_cast<float>(q[c]) * scale;
      INFO(fmt_name<T>() << " code " << c << " scale " << scale);
      CHECK((fbits(y[c]) == fbits(want) || (std::isnan(y[c]) && std::isnan(want))));
    }
  }
}

TEST_CASE("convert every code -> float equals lowp::cast; convert_unscaled", "[bulk][decode]") {
  check_decode_all_codes<float8_e4m3fn>();
  check_decode_all_codes<float8_e5m2>();
  check_decode_all_codes<float8_e4m3fnuz>();
  check_decode_all_codes<float8_e5m2fnuz>();
  check_decode_all_codes<float6_e2m3fn>();
  check_decode_all_codes<float6_e3m2fn>();
  check_decode_all_codes<float4_e2m1fn>();
  check_decode_all_codes<int4>();
  check_decode_all_codes<uint4>();
  check_decode_all_codes<int8>();
  check_decode_all_codes<uint8>();
  check_decode_all_codes<float8_e8m0fnu>();
}

TEST_CASE("decoding does not depend on MXCSR's denormals-are-zero flag", "[bulk][decode]") {
  // The AVX-512 E5M2 decoder converts through binary16 with vcvtph2ps, which DAZ would
  // flush; it checks the flag and falls back.  The other kernels are integer-only.
#if defined(__SSE__) || defined(_M_X64)
  const unsigned saved = _mm_getcsr();
  _mm_setcsr(saved | 0x0040u);  // DAZ
  check_decode_all_codes<float8_e5m2>();
  check_decode_all_codes<float8_e4m3fn>();
  check_decode_all_codes<float4_e2m1fn>();
  _mm_setcsr(saved);
#else
  LOWP_SKIP("no MXCSR on this target");
#endif
}

// --- tails, unaligned pointers, guard bytes -----------------------------------------

TEST_CASE("every length 0..127 at unaligned offsets writes exactly n results", "[bulk][tails]") {
  std::mt19937 rng(7);
  std::vector<float> pool(128 + 8);
  for (float& f : pool)
    f = static_cast<float>(std::ldexp(static_cast<double>(rng() % 2001) - 1000.0, -6));
  constexpr std::uint8_t guard = 0xA5;
  for (std::size_t src_off = 0; src_off < 4; ++src_off)
    for (std::size_t dst_off = 0; dst_off < 5; ++dst_off)
      for (std::size_t n = 0; n < 128; ++n) {
        const float* src = pool.data() + src_off;
        // encode
        std::vector<std::uint8_t> raw(n + dst_off + 64, guard);
        auto* dst = reinterpret_cast<float8_e4m3fn*>(raw.data() + dst_off);
        convert(src, dst, n);
        bool ok = true;
        for (std::size_t i = 0; i < raw.size(); ++i) {
          const bool inside = i >= dst_off && i < dst_off + n;
          const std::uint8_t want = inside ? cast<float8_e4m3fn>(src[i - dst_off]).bits() : guard;
          if (raw[i] != want) ok = false;
        }
        // decode back, into a float buffer with guards
        std::vector<float> out(n + dst_off + 32, from_fbits(0xDEADBEEFu));
        convert(static_cast<const float8_e4m3fn*>(dst), out.data() + dst_off, n);
        for (std::size_t i = 0; i < out.size(); ++i) {
          const bool inside = i >= dst_off && i < dst_off + n;
          const std::uint32_t want =
              inside ? fbits(static_cast<float>(cast<float8_e4m3fn>(src[i - dst_off])))
                     : 0xDEADBEEFu;
          if (fbits(out[i]) != want) ok = false;
        }
        INFO("n " << n << " src offset " << src_off << " dst offset " << dst_off);
        REQUIRE(ok);
      }
}

TEST_CASE("in place: float -> 1-byte format over its own buffer", "[bulk][inplace]") {
  const std::vector<float> x = probe_floats<float8_e5m2>(99);
  std::vector<float> buf = x;
  auto* q = reinterpret_cast<float8_e5m2*>(buf.data());
  convert(buf.data(), q, buf.size());
  std::size_t bad = 0;
  for (std::size_t i = 0; i < x.size(); ++i) bad += q[i].bits() != cast<float8_e5m2>(x[i]).bits();
  CHECK(bad == 0);
  // and a packed destination over the same buffer
  std::vector<float> buf2 = x;
  packed_span<float4_e2m1fn> p(reinterpret_cast<std::uint8_t*>(buf2.data()), x.size());
  convert(buf2.data(), p);
  bad = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    bad += p.get(i).bits() != cast<float4_e2m1fn>(x[i]).bits();
  CHECK(bad == 0);
}

TEST_CASE("arrays past the prefetch threshold (> 2 MiB of floats) equal lowp::cast",
          "[bulk][large]") {
  // The encoders request the source ahead of themselves on long runs; the results, the
  // in-place case and the last elements must not notice.
  const std::size_t n = 600001;  // 2.4 MB of floats, odd
  std::mt19937 rng(23);
  std::normal_distribution<float> nd(0.0f, 100.0f);
  std::vector<float> x(n);
  for (float& f : x) f = nd(rng);
  x[n - 1] = 448.0f;
  x[n - 2] = std::numeric_limits<float>::quiet_NaN();

  std::vector<float8_e4m3fn> q(n);
  convert(x.data(), q.data(), n);
  std::size_t bad = 0;
  for (std::size_t i = 0; i < n; ++i) bad += q[i].bits() != cast<float8_e4m3fn>(x[i]).bits();
  CHECK(bad == 0);

  std::vector<float> buf = x;  // in place
  auto* qi = reinterpret_cast<float8_e5m2*>(buf.data());
  convert(buf.data(), qi, n);
  bad = 0;
  for (std::size_t i = 0; i < n; ++i) bad += qi[i].bits() != cast<float8_e5m2>(x[i]).bits();
  CHECK(bad == 0);

  packed_vector<float4_e2m1fn> p(n);  // packed
  convert(x.data(), p.span());
  bad = 0;
  for (std::size_t i = 0; i < n; ++i) bad += p.get(i).bits() != cast<float4_e2m1fn>(x[i]).bits();
  CHECK(bad == 0);

  const std::size_t g = 32, ng = (n + g - 1) / g;
  std::vector<float> inv(ng);
  for (std::size_t k = 0; k < ng; ++k) inv[k] = std::ldexp(1.0f, -static_cast<int>(k % 9));
  std::vector<int8> qs(n);
  convert_scaled(x.data(), qs.data(), n, inv.data(), g);
  packed_vector<int4> p4(n);
  convert_scaled(x.data(), p4.span(), inv.data(), g);
  bad = 0;
  for (std::size_t i = 0; i < n; ++i) {
    bad += qs[i].bits() != cast<int8>(x[i] * inv[i / g]).bits();
    bad += p4.get(i).bits() != cast<int4>(x[i] * inv[i / g]).bits();
  }
  CHECK(bad == 0);
}

// --- scaled ------------------------------------------------------------------------

template <class T>
void check_convert_scaled_groups() {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{31}, std::size_t{32},
                        std::size_t{100}, std::size_t{515}}) {
    std::vector<float> x(n);
    for (float& f : x) f = nd(rng);
    if (n > 5) x[3] = std::numeric_limits<float>::quiet_NaN();
    for (std::size_t g : {std::size_t{1}, std::size_t{3}, std::size_t{16}, std::size_t{32},
                          std::size_t{33}, std::size_t{1000}}) {
      const std::size_t ng = (n + g - 1) / g;
      std::vector<float> inv(ng == 0 ? 1 : ng);
      for (float& s : inv) s = std::ldexp(1.0f, static_cast<int>(rng() % 7)) * 1.37f;
      std::vector<T> q(n);
      for (rounding r : {rounding::nearest_even, rounding::toward_zero})
        for (overflow o : all_policies) {
          convert_scaled(x.data(), q.data(), n, inv.data(), g, r, o);
          std::size_t bad = 0;
          for (std::size_t i = 0; i < n; ++i)
            bad += q[i].bits() != cast<T>(x[i] * inv[i / g], r, o).bits();
          INFO(fmt_name<T>() << " n " << n << " g " << g);
          CHECK(bad == 0);
          // packed destination where T packs
          if constexpr (is_packable_v<T>) {
            packed_vector<T> pv(n);
            convert_scaled(x.data(), pv.span(), inv.data(), g, r, o);
            bad = 0;
            for (std::size_t i = 0; i < n; ++i)
              bad += pv.get(i).bits() != cast<T>(x[i] * inv[i / g], r, o).bits();
            if constexpr (packed_bits_v<T> == 4) {
              packed_vector<T, packed_layout::high_nibble_first> ph(n);
              convert_scaled(x.data(), ph.span(), inv.data(), g, r, o);
              for (std::size_t i = 0; i < n; ++i)
                bad += ph.get(i).bits() != cast<T>(x[i] * inv[i / g], r, o).bits();
            }
            CHECK(bad == 0);
            // grouped convert_unscaled of the packed result
            std::vector<float> y(n);
            convert_unscaled(pv.span(), y.data(), inv.data(), g);
            bad = 0;
            for (std::size_t i = 0; i < n; ++i)
              bad += fbits(y[i]) != fbits(static_cast<float>(pv.get(i)) * inv[i / g]);
            CHECK(bad == 0);
          }
        }
      // grouped convert_unscaled
      std::vector<float> y(n);
      convert_unscaled(q.data(), y.data(), n, inv.data(), g);
      std::size_t bad = 0;
      for (std::size_t i = 0; i < n; ++i)
        bad += fbits(y[i]) != fbits(static_cast<float>(q[i]) * inv[i / g]);
      CHECK(bad == 0);
    }
    // one scale per call
    std::vector<T> q(n);
    convert_scaled(x.data(), q.data(), n, 0.75f);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < n; ++i) bad += q[i].bits() != cast<T>(x[i] * 0.75f).bits();
    CHECK(bad == 0);
  }
}

TEST_CASE("convert_scaled / convert_unscaled with one scale and per-group scales",
          "[bulk][scaled]") {
  check_convert_scaled_groups<float8_e4m3fn>();
  check_convert_scaled_groups<float8_e5m2>();
  check_convert_scaled_groups<float4_e2m1fn>();
  check_convert_scaled_groups<float6_e2m3fn>();
  check_convert_scaled_groups<float6_e3m2fn>();
  check_convert_scaled_groups<int4>();
  check_convert_scaled_groups<uint4>();
  check_convert_scaled_groups<int8>();
  check_convert_scaled_groups<float8_e8m0fnu>();  // generic path
}

// --- packed ------------------------------------------------------------------------

template <class T, packed_layout L>
void check_packed_convert() {
  const std::vector<float> x = probe_floats<T>(5);
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{3},
                        std::size_t{17}, std::size_t{64}, x.size()}) {
    packed_vector<T, L> pv(n);
    for (rounding r : all_modes)
      for (overflow o : all_policies) {
        convert(x.data(), pv.span(), r, o);
        std::size_t bad = 0;
        for (std::size_t i = 0; i < n; ++i) bad += pv.get(i).bits() != cast<T>(x[i], r, o).bits();
        INFO(fmt_name<T>() << " n " << n);
        CHECK(bad == 0);
      }
    std::vector<float> y(n);
    convert(packed_span<const T, L>(pv), y.data());
    std::size_t bad = 0;
    for (std::size_t i = 0; i < n; ++i) bad += fbits(y[i]) != fbits(static_cast<float>(pv.get(i)));
    CHECK(bad == 0);
    // non-float destination through the generic path
    std::vector<bfloat16> yb(n);
    convert(pv.span(), yb.data());
    bad = 0;
    for (std::size_t i = 0; i < n; ++i) bad += yb[i].bits() != cast<bfloat16>(pv.get(i)).bits();
    CHECK(bad == 0);
  }
}

TEST_CASE("convert to and from packed 4-bit and FP6 storage", "[bulk][packed]") {
  check_packed_convert<float4_e2m1fn, packed_layout::low_nibble_first>();
  check_packed_convert<float4_e2m1fn, packed_layout::high_nibble_first>();
  check_packed_convert<int4, packed_layout::low_nibble_first>();
  check_packed_convert<int4, packed_layout::high_nibble_first>();
  check_packed_convert<uint4, packed_layout::low_nibble_first>();
  check_packed_convert<float6_e2m3fn, packed_layout::low_nibble_first>();
  check_packed_convert<float6_e3m2fn, packed_layout::low_nibble_first>();
}

TEST_CASE("packed spans at odd element offsets (subspan) and shared bytes", "[bulk][packed]") {
  // A 4-bit span of odd length shares its last byte: the neighbour nibble must survive.
  std::vector<std::uint8_t> raw(40, 0xEE);
  packed_span<int4> s(raw.data(), 33);
  std::vector<float> x(33);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 16) - 8.0f;
  convert(x.data(), s);
  CHECK((raw[16] >> 4) == 0xE);
  CHECK(raw[17] == 0xEE);
  for (std::size_t i = 0; i < 33; ++i) CHECK(s.get(i).value() == static_cast<int>(x[i]));
}

// --- packed FP6 at every start offset ------------------------------------------------
//
// The vector back-ends pack and unpack FP6 32 codes (24 bytes) at a time in registers,
// from the first group of four on; the elements before it and the last fewer than 32 go
// one by one.  A run of a bulk call can start at any element (a group of convert_scaled /
// convert_unscaled; threaded chunks start at multiples of 64), so the kernels are called
// here directly, the way the public functions call them per run, at start elements 0..7
// and lengths 0..100 plus some thousands, with random bytes around and inside the run's
// partial bytes.  The reference stores lowp::cast's code of each element with
// packed_store_code, and every byte of the buffer, canaries included, must equal it: so a
// bit outside the run that changed is caught as well as a wrong code.  Decoding is checked
// the same way against packed_load_code and lowp::cast<float>, into a float buffer with
// canaries on both sides, from a stream exactly as long as the run (AddressSanitizer
// reports a read past it).

using fp6_backend = detail::simd::best_backend;

// The 64 codes' values (each encodes back to its own code) and probe_floats (specials,
// midpoints, neighbours, random), shuffled so that each lane of a step sees all kinds.
template <class T>
std::vector<float> fp6_pool(std::uint32_t seed) {
  std::vector<float> v;
  for (unsigned c = 0; c < 64; ++c)
    v.push_back(static_cast<float>(T::from_bits(static_cast<std::uint8_t>(c))));
  const std::vector<float> p = probe_floats<T>(seed);
  v.insert(v.end(), p.begin(), p.end());
  std::mt19937 rng(seed);
  for (std::size_t i = v.size() - 1; i > 0; --i) std::swap(v[i], v[rng() % (i + 1)]);
  return v;
}

// Run lengths: every one of 0..100 (the head, the 32-code steps and the tail in every
// combination), then a few thousand.
std::vector<std::size_t> fp6_lengths() {
  std::vector<std::size_t> v;
  for (std::size_t n = 0; n <= 100; ++n) v.push_back(n);
  for (std::size_t n : {1023u, 2048u, 3001u, 4099u}) v.push_back(n);
  return v;
}

// Encodes elements [first, first + len) of the stream (element i from x[i], times
// inv_scale when Scaled) into a buffer of random bytes with pad canary bytes on either
// side, and compares every byte with the scalar reference.  Returns the number of
// mismatched bytes (and the first in *where).
template <class T, bool Scaled>
std::size_t fp6_encode_mismatches(const float* x, std::size_t first, std::size_t len, rounding r,
                                  overflow o, float inv_scale, std::mt19937& rng,
                                  std::size_t* where) {
  constexpr std::size_t pad = 8;
  std::vector<std::uint8_t> got(pad + packed_size_in_bytes<T>(first + len) + pad);
  for (std::uint8_t& b : got) b = static_cast<std::uint8_t>(rng());
  std::vector<std::uint8_t> want = got;
  detail::bulk::encode_packed_range<fp6_backend, T, packed_layout::low_nibble_first, Scaled>(
      x, got.data() + pad, first + len, first, len, nullptr, inv_scale, 1, r, o);
  for (std::size_t i = first; i < first + len; ++i)
    detail::packed_store_code<T>(want.data() + pad, i,
                                 cast<T>(Scaled ? x[i] * inv_scale : x[i], r, o).bits());
  std::size_t bad = 0;
  for (std::size_t b = 0; b < got.size(); ++b)
    if (got[b] != want[b] && bad++ == 0) *where = b;
  return bad;
}

template <class T>
void check_fp6_encode_offsets() {
  const std::vector<float> pool = fp6_pool<T>(11);
  std::mt19937 rng(12);
  std::size_t runs = 0;
  for (std::size_t first = 0; first < 8; ++first)
    for (std::size_t len : fp6_lengths())
      for (rounding r : all_modes)
        for (overflow o : all_policies) {
          // src[i] is element i's float: pool[off + i - first] for a varying offset
          const std::size_t off = 8 + (runs * 37) % (pool.size() - len - 8);
          const float* src = pool.data() + off - first;
          std::size_t where = 0;
          const std::size_t bad =
              fp6_encode_mismatches<T, false>(src, first, len, r, o, 1.0f, rng, &where);
          const std::size_t bad_scaled =
              fp6_encode_mismatches<T, true>(src, first, len, r, o, 0.37f, rng, &where);
          ++runs;
          if (bad != 0 || bad_scaled != 0) {
            INFO(fmt_name<T>() << " backend " << fp6_backend::name << " first " << first
                               << " length " << len << " rounding " << static_cast<int>(r)
                               << " overflow " << static_cast<int>(o) << ": " << bad << " + "
                               << bad_scaled << " bytes differ (scaled), first at buffer byte "
                               << where << " (8 canary bytes before the stream)");
            REQUIRE(bad + bad_scaled == 0);
          }
        }
  CHECK(runs == 8 * fp6_lengths().size() * 10);
}

// Decodes elements [first, first + len) of a stream of random bytes (so every code
// appears) into floats with canaries on either side; each result must be lowp::cast<float>
// of the code packed_load_code reads (times scale when Scaled: one binary32 multiply).
template <class T, bool Scaled>
std::size_t fp6_decode_mismatches(std::size_t first, std::size_t len, float scale,
                                  std::mt19937& rng, std::size_t* where) {
  std::vector<std::uint8_t> stream(packed_size_in_bytes<T>(first + len));  // no slack
  for (std::uint8_t& b : stream) b = static_cast<std::uint8_t>(rng());
  const std::vector<std::uint8_t> before = stream;
  constexpr std::size_t pad = 8;
  constexpr std::uint32_t canary = 0x7FBADBADu;
  std::vector<float> got(pad + len + pad, from_fbits(canary));
  detail::bulk::decode_packed_run<fp6_backend, T, packed_layout::low_nibble_first, Scaled>(
      stream.data(), first, got.data() + pad, len, scale);
  std::size_t bad = stream == before ? 0 : 1;
  for (std::size_t j = 0; j < got.size(); ++j) {
    std::uint32_t want = canary;
    if (j >= pad && j < pad + len) {
      const float v =
          cast<float>(T::from_bits(detail::packed_load_code<T>(stream.data(), first + j - pad)));
      want = fbits(Scaled ? v * scale : v);
    }
    if (fbits(got[j]) != want && bad++ == 0) *where = j;
  }
  return bad;
}

template <class T>
void check_fp6_decode_offsets() {
  std::mt19937 rng(13);
  for (std::size_t first = 0; first < 8; ++first)
    for (std::size_t len : fp6_lengths()) {
      std::size_t where = 0;
      const std::size_t bad = fp6_decode_mismatches<T, false>(first, len, 1.0f, rng, &where);
      const std::size_t bad_scaled =
          fp6_decode_mismatches<T, true>(first, len, -0.37f, rng, &where);
      if (bad != 0 || bad_scaled != 0) {
        INFO(fmt_name<T>() << " backend " << fp6_backend::name << " first " << first << " length "
                           << len << ": " << bad << " + " << bad_scaled
                           << " floats differ (scaled), first at float " << where
                           << " (8 canaries before the results)");
        REQUIRE(bad + bad_scaled == 0);
      }
    }
}

// Through the public functions: a span of each length at the start of a buffer with
// canaries, per-group scales with group sizes that start runs at every position in a
// group of four (1, 3, 5, 6, 7, 33) or at its start only (4, 32), and the matching
// decodes; in place; and a stream holding every code at every position of a group.
template <class T>
void check_fp6_public() {
  const std::vector<float> pool = fp6_pool<T>(21);
  std::mt19937 rng(22);
  constexpr std::size_t pad = 8;
  for (std::size_t len : fp6_lengths()) {
    const float* x = pool.data() + len % 13;
    std::vector<std::uint8_t> got(pad + packed_size_in_bytes<T>(len) + pad);
    for (std::uint8_t& b : got) b = static_cast<std::uint8_t>(rng());
    std::vector<std::uint8_t> want = got;
    packed_span<T> span(got.data() + pad, len);
    convert(x, span);
    for (std::size_t i = 0; i < len; ++i)
      detail::packed_store_code<T>(want.data() + pad, i, cast<T>(x[i]).bits());
    INFO(fmt_name<T>() << " length " << len);
    REQUIRE(got == want);
    std::vector<float> y(len + 1, from_fbits(0x7FBADBADu));
    convert(packed_span<const T>(span), y.data());
    std::size_t bad = fbits(y[len]) != 0x7FBADBADu;
    for (std::size_t i = 0; i < len; ++i) bad += fbits(y[i]) != fbits(cast<float>(cast<T>(x[i])));
    REQUIRE(bad == 0);
    for (std::size_t g : {1u, 3u, 4u, 5u, 6u, 7u, 32u, 33u}) {
      std::vector<float> inv(len / g + 1), sc(len / g + 1);
      for (std::size_t k = 0; k < inv.size(); ++k) {
        inv[k] = static_cast<float>(std::ldexp(1.0 + static_cast<double>(rng() % 64) / 64.0,
                                               static_cast<int>(rng() % 5) - 2));
        sc[k] = 1.0f / inv[k];
      }
      want = got;
      convert_scaled(x, span, inv.data(), g);
      for (std::size_t i = 0; i < len; ++i)
        detail::packed_store_code<T>(want.data() + pad, i, cast<T>(x[i] * inv[i / g]).bits());
      INFO("group size " << g);
      REQUIRE(got == want);
      convert_unscaled(packed_span<const T>(span), y.data(), sc.data(), g);
      bad = fbits(y[len]) != 0x7FBADBADu;
      for (std::size_t i = 0; i < len; ++i)
        bad += fbits(y[i]) != fbits(static_cast<float>(span.get(i)) * sc[i / g]);
      REQUIRE(bad == 0);
    }
  }
  // in place: the packed codes written over their own floats (a step reads 128 bytes of
  // floats, then writes 24 bytes behind them)
  for (std::size_t len : {std::size_t{37}, std::size_t{4099}}) {
    std::vector<float> buf(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(len));
    packed_span<T> in_place(reinterpret_cast<std::uint8_t*>(buf.data()), len);
    convert(buf.data(), in_place);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < len; ++i) bad += in_place.get(i).bits() != cast<T>(pool[i]).bits();
    INFO(fmt_name<T>() << " in place, length " << len);
    CHECK(bad == 0);
  }
  // every code at every position of a group (64 codes, 4 positions: 256 elements)
  packed_vector<T> all(256 + 3);
  for (std::size_t i = 0; i < all.size(); ++i)
    all.set(i, T::from_bits(static_cast<std::uint8_t>((i + i / 64) % 64)));
  std::vector<float> y(all.size());
  convert(all.span(), y.data());
  std::size_t bad = 0;
  for (std::size_t i = 0; i < all.size(); ++i) bad += fbits(y[i]) != fbits(cast<float>(all.get(i)));
  CHECK(bad == 0);
  packed_vector<T> back(all.size());
  convert(y.data(), back.span());
  CHECK(back == all);
}

TEST_CASE("packed FP6: encode at every start element and length, bytes around untouched",
          "[bulk][packed][fp6]") {
  INFO("backend " << bulk_backend_name());
  check_fp6_encode_offsets<float6_e2m3fn>();
  check_fp6_encode_offsets<float6_e3m2fn>();
}

TEST_CASE("packed FP6: decode at every start element and length", "[bulk][packed][fp6]") {
  INFO("backend " << bulk_backend_name());
  check_fp6_decode_offsets<float6_e2m3fn>();
  check_fp6_decode_offsets<float6_e3m2fn>();
}

TEST_CASE("packed FP6 through convert / convert_scaled / convert_unscaled, every code",
          "[bulk][packed][fp6]") {
  INFO("backend " << bulk_backend_name());
  check_fp6_public<float6_e2m3fn>();
  check_fp6_public<float6_e3m2fn>();
}

// --- FP8 <-> float16 / bfloat16 ----------------------------------------------------

template <class F8, class H>
void check_half_pair() {
  for (overflow o : all_policies) {
    std::vector<F8> q(256);
    for (unsigned c = 0; c < 256; ++c) q[c] = F8::from_bits(static_cast<std::uint8_t>(c));
    std::vector<H> h(256);
    convert(q.data(), h.data(), q.size(), rounding::nearest_even, o);
    for (unsigned c = 0; c < 256; ++c) {
      INFO(fmt_name<F8>() << " -> " << fmt_name<H>() << " code " << c);
      CHECK(h[c].bits() == cast<H>(q[c], rounding::nearest_even, o).bits());
    }
  }
  std::vector<H> all(65536);
  for (std::uint32_t c = 0; c < 65536; ++c) all[c] = H::from_bits(static_cast<std::uint16_t>(c));
  std::vector<F8> out(all.size());
  for (rounding r : all_modes)
    for (overflow o : all_policies) {
      convert(all.data(), out.data(), all.size(), r, o);
      std::size_t bad = 0, first = 0;
      for (std::size_t i = 0; i < all.size(); ++i)
        if (out[i].bits() != cast<F8>(all[i], r, o).bits()) {
          if (bad++ == 0) first = i;
        }
      INFO(fmt_name<H>() << " -> " << fmt_name<F8>() << " first mismatch at code " << first);
      CHECK(bad == 0);
    }
}

TEST_CASE("FP8 <-> float16 / bfloat16, every code", "[bulk][half]") {
  check_half_pair<float8_e4m3fn, float16>();
  check_half_pair<float8_e4m3fn, bfloat16>();
  check_half_pair<float8_e5m2, float16>();
  check_half_pair<float8_e5m2, bfloat16>();
  check_half_pair<float8_e4m3fnuz, float16>();
  check_half_pair<float8_e5m2fnuz, bfloat16>();
}

// --- code buffers (std::uint8_t, std::byte, std::uint16_t) ----------------------------

// encode<T> into a code buffer gives cast<T>'s bits, every rounding and overflow; decode<T>
// of every code gives static_cast<float> of it.  With no lowp object in either buffer.
template <class T>
void check_code_buffer() {
  using code = lowp::code_t<T>;
  const std::vector<float> x = probe_floats<T>(4321);
  std::vector<code> got(x.size());
  for (rounding r : all_modes)
    for (overflow o : all_policies) {
      lowp::encode<T>(x.data(), got.data(), x.size(), r, o);
      std::size_t bad = 0;
      for (std::size_t i = 0; i < x.size(); ++i) bad += got[i] != cast<T>(x[i], r, o).bits();
      INFO(fmt_name<T>() << " rounding " << static_cast<int>(r) << " overflow "
                         << static_cast<int>(o));
      CHECK(bad == 0);
    }
  const std::size_t codes = std::size_t{1} << (8 * sizeof(code));
  std::vector<code> all(codes);
  for (std::size_t c = 0; c < codes; ++c) all[c] = static_cast<code>(c);
  std::vector<float> y(codes);
  lowp::decode<T>(all.data(), y.data(), codes);
  std::size_t bad = 0;
  for (std::size_t c = 0; c < codes; ++c)
    bad += fbits(y[c]) != fbits(static_cast<float>(T::from_bits(all[c])));
  INFO(fmt_name<T>());
  CHECK(bad == 0);
  if constexpr (sizeof(code) == 1) {  // std::byte buffers: the same bytes
    std::vector<std::byte> bytes(x.size());
    lowp::encode<T>(x.data(), bytes.data(), x.size());
    lowp::encode<T>(x.data(), got.data(), x.size());
    CHECK(std::memcmp(bytes.data(), got.data(), x.size()) == 0);
    std::vector<float> from_bytes(x.size()), from_codes(x.size());
    lowp::decode<T>(bytes.data(), from_bytes.data(), x.size());
    lowp::decode<T>(got.data(), from_codes.data(), x.size());
    CHECK(std::memcmp(from_bytes.data(), from_codes.data(), x.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("encode / decode on raw code buffers equal lowp::cast", "[bulk][codes]") {
  INFO("backend " << bulk_backend_name());
  check_code_buffer<float8_e4m3fn>();
  check_code_buffer<float8_e5m2>();
  check_code_buffer<float8_e4m3fnuz>();
  check_code_buffer<float6_e3m2fn>();
  check_code_buffer<float4_e2m1fn>();
  check_code_buffer<int4>();
  check_code_buffer<uint8>();
  check_code_buffer<float8_e8m0fnu>();  // generic path
  check_code_buffer<float16>();         // 16-bit codes: every one of the 65536
  check_code_buffer<bfloat16>();
}

template <class From, class To>
void check_transcode_all_codes() {
  using src_code = lowp::code_t<From>;
  const std::size_t codes = std::size_t{1} << (8 * sizeof(src_code));
  std::vector<src_code> all(codes);
  for (std::size_t c = 0; c < codes; ++c) all[c] = static_cast<src_code>(c);
  std::vector<lowp::code_t<To>> out(codes);
  for (rounding r : all_modes)
    for (overflow o : all_policies) {
      lowp::transcode<From, To>(all.data(), out.data(), codes, r, o);
      std::size_t bad = 0;
      for (std::size_t c = 0; c < codes; ++c)
        bad += out[c] != cast<To>(From::from_bits(all[c]), r, o).bits();
      INFO(fmt_name<From>() << " -> " << fmt_name<To>() << " rounding " << static_cast<int>(r)
                            << " overflow " << static_cast<int>(o));
      CHECK(bad == 0);
    }
}

TEST_CASE("transcode between code buffers: FP16/BF16 <-> FP8, every code", "[bulk][codes]") {
  check_transcode_all_codes<float16, float8_e4m3fn>();
  check_transcode_all_codes<bfloat16, float8_e5m2>();
  check_transcode_all_codes<float8_e4m3fn, float16>();
  check_transcode_all_codes<float8_e5m2, bfloat16>();
  check_transcode_all_codes<float4_e2m1fn, float8_e4m3fn>();  // generic path
}

TEST_CASE("code-buffer functions reject null pointers", "[bulk][codes][errors]") {
  std::vector<float> x(4, 1.0f);
  std::vector<std::uint8_t> q(4);
  CHECK_THROWS_WITH(lowp::encode<float8_e4m3fn>(x.data(), static_cast<std::uint8_t*>(nullptr), 4),
                    "lowp::encode: null pointer with n = 4");
  CHECK_THROWS_AS(
      lowp::decode<float8_e4m3fn>(static_cast<const std::uint8_t*>(nullptr), x.data(), 4),
      std::invalid_argument);
  const auto transcode_null = [&] {
    lowp::transcode<float16, float8_e4m3fn>(nullptr, q.data(), 4);
  };
  CHECK_THROWS_AS(transcode_null(), std::invalid_argument);
  lowp::encode<float8_e4m3fn>(nullptr, static_cast<std::uint8_t*>(nullptr), 0);  // n = 0: fine
}

// --- contract ----------------------------------------------------------------------

TEST_CASE("bulk functions reject null pointers and zero group sizes", "[bulk][errors]") {
  std::vector<float> x(4, 1.0f);
  std::vector<float8_e4m3fn> q(4);
  REQUIRE_THROWS_AS(convert(static_cast<const float*>(nullptr), q.data(), 4),
                    std::invalid_argument);
  REQUIRE_THROWS_AS(convert(x.data(), static_cast<float8_e4m3fn*>(nullptr), 4),
                    std::invalid_argument);
  convert(static_cast<const float*>(nullptr), static_cast<float8_e4m3fn*>(nullptr),
          0);  // n == 0: fine
  const float s = 1.0f;
  REQUIRE_THROWS_WITH(convert_scaled(x.data(), q.data(), 4, &s, 0),
                      "lowp::convert_scaled: group_size must be > 0");
  REQUIRE_THROWS_AS(convert_scaled(x.data(), q.data(), 4, static_cast<const float*>(nullptr), 2),
                    std::invalid_argument);
  REQUIRE_THROWS_AS(convert_unscaled(q.data(), x.data(), 4, &s, 0), std::invalid_argument);
  packed_vector<float4_e2m1fn> pv(4);
  REQUIRE_THROWS_AS(convert_unscaled(pv.span(), x.data(), &s, 0), std::invalid_argument);
#if defined(__cpp_lib_span) && __cpp_lib_span >= 202002L
  std::vector<float8_e4m3fn> q3(3);
  REQUIRE_THROWS_AS(convert(std::span<const float>(x), std::span<float8_e4m3fn>(q3)),
                    std::invalid_argument);
  convert(std::span<const float>(x), std::span<float8_e4m3fn>(q));
  for (std::size_t i = 0; i < 4; ++i) CHECK(q[i].bits() == cast<float8_e4m3fn>(1.0f).bits());
#endif
}

}  // namespace
