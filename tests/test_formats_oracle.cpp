// tests/test_formats_oracle.cpp — lowp's scalar conversions against the independent
// oracle of tests/oracle/format_oracle.hpp (issue 3, acceptance items 1, 3 and 4).
//
// The library is used only through its public API (lowp::cast, lowp::cast_stochastic,
// T::from_bits, v.bits(), static_cast<float/double>); every expected result comes from
// the oracle, which shares no code or constant with lowp.
//
// Built twice from this one source (tests/CMakeLists.txt):
//   LOWP_ORACLE_FULL=0  test_formats_oracle_quick  label quick: reduced sizes (seconds,
//                       also under ASan+UBSan);
//   LOWP_ORACLE_FULL=1  test_formats_oracle        label exhaustive: all 2^32 floats for
//                       the FP8/FP4 formats under nearest_even, +-64 ulps around every
//                       boundary, 2 x 10^7 random floats and 10^7 random doubles per format.
// Test cases carry tags ([sweep], [boundaries], [specials], [random], [doubles], [codes],
// [cross], [stochastic], [self] and a format tag) so ctest can run them in parallel.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <lowp/cast.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "lowp_test.hpp"
#include "oracle/format_oracle.hpp"

#ifndef LOWP_ORACLE_FULL
#define LOWP_ORACLE_FULL 0
#endif

namespace {

using namespace lowp_oracle;

// --- sizes of the two builds ----------------------------------------------------------

constexpr bool kFull = LOWP_ORACLE_FULL != 0;
// Floats within +-kWindow ulps of every boundary (16-bit formats: kWindow16, since they
// have 2^16 codes; the full build uses 64 for every format, as issue 3 asks).
constexpr std::uint32_t kWindow = 64;
constexpr std::uint32_t kWindow16 = kFull ? 64 : 1;
constexpr std::uint64_t kRandomFloats = kFull ? 20000000ull : 100000ull;
constexpr std::uint64_t kRandomDoubles = kFull ? 10000000ull : 100000ull;
constexpr std::uint64_t kStochasticRandom = kFull ? 10000000ull : 100000ull;
constexpr std::uint64_t kStochasticSamples = kFull ? 1000000ull : 20000ull;
// The quick build samples the 2^32-float sweep with this stride (plus every bin edge).
constexpr std::uint32_t kSweepStride = kFull ? 1u : 4099u;

// --- the library side -----------------------------------------------------------------

lowp::rounding lib_mode(mode m) {
  switch (m) {
    case mode::nearest_even:
      return lowp::rounding::nearest_even;
    case mode::nearest_away:
      return lowp::rounding::nearest_away;
    case mode::toward_zero:
      return lowp::rounding::toward_zero;
    case mode::up:
      return lowp::rounding::up;
    case mode::down:
      return lowp::rounding::down;
  }
  return lowp::rounding::nearest_even;
}
lowp::overflow lib_ovf(ovf o) {
  return o == ovf::saturate ? lowp::overflow::saturate : lowp::overflow::non_saturating;
}

template <class T, class X>
std::uint32_t lib_cast(X x, mode m, ovf o) {
  return static_cast<std::uint32_t>(lowp::cast<T>(x, lib_mode(m), lib_ovf(o)).bits());
}
// All ten (rounding, overflow) results, out[m][o] in the order of all_modes / all_ovfs;
// the modes are constants here so that each call is specialized for its mode.
template <class T, class X>
void lib_cast_all(X x, std::uint32_t (&out)[5][2]) {
  using R = lowp::rounding;
  constexpr lowp::overflow S = lowp::overflow::saturate, N = lowp::overflow::non_saturating;
  auto c = [](T v) { return static_cast<std::uint32_t>(v.bits()); };
  out[0][0] = c(lowp::cast<T>(x, R::nearest_even, S));
  out[0][1] = c(lowp::cast<T>(x, R::nearest_even, N));
  out[1][0] = c(lowp::cast<T>(x, R::nearest_away, S));
  out[1][1] = c(lowp::cast<T>(x, R::nearest_away, N));
  out[2][0] = c(lowp::cast<T>(x, R::toward_zero, S));
  out[2][1] = c(lowp::cast<T>(x, R::toward_zero, N));
  out[3][0] = c(lowp::cast<T>(x, R::up, S));
  out[3][1] = c(lowp::cast<T>(x, R::up, N));
  out[4][0] = c(lowp::cast<T>(x, R::down, S));
  out[4][1] = c(lowp::cast<T>(x, R::down, N));
}
static_assert(all_modes[0] == mode::nearest_even && all_modes[1] == mode::nearest_away &&
                  all_modes[2] == mode::toward_zero && all_modes[3] == mode::up &&
                  all_modes[4] == mode::down && all_ovfs[0] == ovf::saturate,
              "lib_cast_all's order");

template <class T, class X>
std::uint32_t lib_stochastic(X x, std::uint32_t bits, ovf o) {
  return static_cast<std::uint32_t>(lowp::cast_stochastic<T>(x, bits, lib_ovf(o)).bits());
}
template <class T>
T lib_from_bits(std::uint32_t code) {
  return T::from_bits(static_cast<typename T::storage_type>(code));
}

// The oracle of each lowp type.
template <class T>
struct format_of;
#define LOWP_ORACLE_FORMAT(T, SPEC)   \
  template <>                         \
  struct format_of<lowp::T> {         \
    static const reference& get() {   \
      static const reference r(SPEC); \
      return r;                       \
    }                                 \
  };
LOWP_ORACLE_FORMAT(float8_e4m3fn, spec_e4m3fn)
LOWP_ORACLE_FORMAT(float8_e5m2, spec_e5m2)
LOWP_ORACLE_FORMAT(float8_e4m3fnuz, spec_e4m3fnuz)
LOWP_ORACLE_FORMAT(float8_e5m2fnuz, spec_e5m2fnuz)
LOWP_ORACLE_FORMAT(float6_e2m3fn, spec_e2m3fn)
LOWP_ORACLE_FORMAT(float6_e3m2fn, spec_e3m2fn)
LOWP_ORACLE_FORMAT(float4_e2m1fn, spec_e2m1fn)
LOWP_ORACLE_FORMAT(float8_e8m0fnu, spec_e8m0fnu)
LOWP_ORACLE_FORMAT(float16, spec_binary16)
LOWP_ORACLE_FORMAT(bfloat16, spec_bfloat16)
LOWP_ORACLE_FORMAT(int4, spec_int4)
LOWP_ORACLE_FORMAT(uint4, spec_uint4)
LOWP_ORACLE_FORMAT(int8, spec_int8)
LOWP_ORACLE_FORMAT(uint8, spec_uint8)
#undef LOWP_ORACLE_FORMAT

template <class T>
const reference& ref() {
  return format_of<T>::get();
}

template <class... Ts>
struct type_list {};
using all_formats =
    type_list<lowp::float8_e4m3fn, lowp::float8_e5m2, lowp::float8_e4m3fnuz, lowp::float8_e5m2fnuz,
              lowp::float6_e2m3fn, lowp::float6_e3m2fn, lowp::float4_e2m1fn, lowp::float8_e8m0fnu,
              lowp::float16, lowp::bfloat16, lowp::int4, lowp::uint4, lowp::int8, lowp::uint8>;

// --- mismatch bookkeeping ---------------------------------------------------------------

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}
std::string describe(float x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "float 0x%08x (%.9g)", float_bits(x), static_cast<double>(x));
  return buf;
}
std::string describe(double x) {
  char buf[80];
  std::snprintf(buf, sizeof buf, "double 0x%016llx (%.17g)",
                static_cast<unsigned long long>(double_bits(x)), x);
  return buf;
}

/// Counts checks and mismatches; keeps the first few mismatches for the report.  Once
/// it has them (full()), callers skip building messages, so that a systematic bug
/// costs no more time than a pass.
struct tally {
  static constexpr std::uint64_t kKeep = 10;
  std::uint64_t checked = 0;
  std::uint64_t bad = 0;
  std::string first;
  bool full() const { return bad >= kKeep; }
  void fail(const std::string& what) {
    if (bad < kKeep) first += what + "\n";
    ++bad;
  }
  template <class X>
  void compare(const reference& r, const X& x, const char* how, std::uint32_t expected,
               std::uint32_t got) {
    ++checked;
    if (expected == got) return;
    if (full()) {
      ++bad;
      return;
    }
    fail(std::string(r.name()) + " " + how + " of " + describe(x) + ": expected " + hex(expected) +
         ", got " + hex(got));
  }
};

std::string how(mode m, ovf o) {
  return std::string(name(m)) + "/" + name(o);
}

// Compares all ten results for input x.
template <class X>
void compare_all(tally& t, const reference& r, const X& x, const std::uint32_t (&want)[5][2],
                 const std::uint32_t (&got)[5][2]) {
  t.checked += 10;
  for (int mi = 0; mi < 5; ++mi) {
    for (int oi = 0; oi < 2; ++oi) {
      if (want[mi][oi] != got[mi][oi]) {
        if (t.full()) {
          ++t.bad;
          continue;
        }
        --t.checked;
        t.compare(r, x, how(all_modes[mi], all_ovfs[oi]).c_str(), want[mi][oi], got[mi][oi]);
      }
    }
  }
}

#define LOWP_REQUIRE_NO_MISMATCH(t) \
  do {                              \
    INFO((t).first);                \
    CAPTURE((t).checked);           \
    CHECK((t).checked > 0);         \
    CHECK((t).bad == 0);            \
  } while (0)

// --- 1. all 2^32 floats (nearest_even), walked bin by bin -----------------------------

// The oracle's answer is constant between consecutive "bin starts": every float that is
// a code value, a midpoint, an overflow threshold, or the float just above one of them.
// For the FP8/FP4 formats all of these are exact floats, so computing the answer once
// per bin (and checking it at the bin's first, middle and last float against the
// per-input oracle) is exact, and the sweep costs one library call per float.
// The rounding and overflow modes are template arguments so that the library call in the
// hot loop is specialized for them (about 3x faster than passing them at run time).
template <class T, ovf O>
void sweep_all_floats(std::uint32_t stride, tally& t) {
  const reference& r = ref<T>();
  const float_oracle& orc = r.floats();
  constexpr mode m = mode::nearest_even;
  constexpr lowp::rounding lr = lowp::rounding::nearest_even;
  constexpr lowp::overflow lo =
      O == ovf::saturate ? lowp::overflow::saturate : lowp::overflow::non_saturating;
  std::vector<std::uint32_t> starts{0u};
  for (double b : r.boundaries()) {
    const float f = static_cast<float>(b);
    if (static_cast<double>(f) != b) throw std::logic_error("sweep: a boundary is not a float");
    const std::uint32_t u = float_bits(f);
    if (u < 0x7F800000u) {
      starts.push_back(u);
      starts.push_back(u + 1);
    }
  }
  starts.push_back(0x7F800000u);  // +Inf
  starts.push_back(0x7F800001u);  // the NaNs: answered per float (payloads differ)
  std::sort(starts.begin(), starts.end());
  starts.erase(std::unique(starts.begin(), starts.end()), starts.end());

  auto lib = [&](float x) { return static_cast<std::uint32_t>(lowp::cast<T>(x, lr, lo).bits()); };
  auto report = [&](float x, std::uint32_t expected, std::uint32_t got) {
    if (t.full()) {
      ++t.bad;
      return;
    }
    t.fail(std::string(r.name()) + " nearest_even/" + name(O) + " of " + describe(x) +
           ": expected " + hex(expected) + ", got " + hex(got));
  };
  for (std::uint32_t sign : {0u, 0x80000000u}) {
    for (std::size_t k = 0; k < starts.size(); ++k) {
      const std::uint32_t first = starts[k];
      const std::uint32_t end = k + 1 < starts.size() ? starts[k + 1] : 0x80000000u;
      if (first >= 0x7F800001u) {  // NaN inputs
        for (std::uint32_t u = first; u < end; u += stride) {
          const float x = bits_float(sign | u);
          ++t.checked;
          const std::uint32_t expected = orc.convert(x, m, O), got = lib(x);
          if (expected != got) report(x, expected, got);
        }
        continue;
      }
      const std::uint32_t expected = orc.convert(bits_float(sign | first), m, O);
      for (std::uint32_t probe : {end - 1, first + (end - 1 - first) / 2}) {
        if (orc.convert(bits_float(sign | probe), m, O) != expected)
          throw std::logic_error("sweep: the oracle is not constant on a bin");
      }
      // The floats checked in this bin: all of them, or (quick build) its two ends and
      // every stride-th one.
      auto for_points = [&](auto&& fn) {
        if (stride == 1) {
          for (std::uint32_t u = first; u < end; ++u) fn(u);
          return;
        }
        fn(first);
        if (end - 1 != first) fn(end - 1);
        for (std::uint32_t u = first + stride; u < end - 1; u += stride) fn(u);
      };
      std::uint64_t bad = 0, n = 0;
      for_points([&](std::uint32_t u) {
        bad += lib(bits_float(sign | u)) != expected;
        ++n;
      });
      t.checked += n;
      if (bad != 0) {  // slow path: name the first mismatching inputs
        std::uint64_t named = 0;
        for_points([&](std::uint32_t u) {
          if (t.full()) return;
          const std::uint32_t got = lib(bits_float(sign | u));
          if (got != expected) {
            report(bits_float(sign | u), expected, got);
            ++named;
          }
        });
        t.bad += bad - named;
      }
    }
  }
}

#define LOWP_ORACLE_SWEEP(T, TAG, O, OTAG)                                                         \
  TEST_CASE("oracle: every float -> " #T " nearest_even " #OTAG, "[sweep][" #TAG "][" #OTAG "]") { \
    tally t;                                                                                       \
    sweep_all_floats<lowp::T, O>(kSweepStride, t);                                                 \
    LOWP_REQUIRE_NO_MISMATCH(t);                                                                   \
  }
LOWP_ORACLE_SWEEP(float8_e4m3fn, e4m3fn, ovf::saturate, sat)
LOWP_ORACLE_SWEEP(float8_e4m3fn, e4m3fn, ovf::non_saturating, nosat)
LOWP_ORACLE_SWEEP(float8_e5m2, e5m2, ovf::saturate, sat)
LOWP_ORACLE_SWEEP(float8_e5m2, e5m2, ovf::non_saturating, nosat)
LOWP_ORACLE_SWEEP(float8_e4m3fnuz, e4m3fnuz, ovf::saturate, sat)
LOWP_ORACLE_SWEEP(float8_e4m3fnuz, e4m3fnuz, ovf::non_saturating, nosat)
LOWP_ORACLE_SWEEP(float8_e5m2fnuz, e5m2fnuz, ovf::saturate, sat)
LOWP_ORACLE_SWEEP(float8_e5m2fnuz, e5m2fnuz, ovf::non_saturating, nosat)
LOWP_ORACLE_SWEEP(float4_e2m1fn, e2m1fn, ovf::saturate, sat)
LOWP_ORACLE_SWEEP(float4_e2m1fn, e2m1fn, ovf::non_saturating, nosat)
#undef LOWP_ORACLE_SWEEP

// --- 2. floats near every boundary, specials, random floats -----------------------------

// Every float within +-window ulps of every boundary (codes, midpoints, overflow
// thresholds; both signs), under every rounding x overflow mode.
template <class T>
void check_windows(std::uint32_t window, tally& t) {
  const reference& r = ref<T>();
  for (double b : r.boundaries()) {
    const float fb = static_cast<float>(b);  // Inf above FLT_MAX: the window below Inf
    const std::uint32_t u0 = float_bits(fb);
    const std::uint32_t lo = u0 >= window ? u0 - window : 0u;
    const std::uint32_t hi = std::min(u0 + window, 0x7F800000u);
    for (std::uint32_t sign : {0u, 0x80000000u}) {
      std::size_t hint = 0;
      for (std::uint32_t u = lo; u <= hi; ++u) {
        const float x = bits_float(sign | u);
        std::uint32_t want[5][2], got[5][2];
        r.expect_all(from_float(x), want, &hint);
        lib_cast_all<T>(x, got);
        compare_all(t, r, x, want, got);
      }
    }
  }
}

// Special floats: zeros, infinities, NaNs with assorted signs and payloads (quiet and
// signalling), the float limits and denormals, and a few landmarks.
std::vector<float> special_floats() {
  const std::uint32_t bits[] = {
      0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u,               // +-0, +-Inf
      0x7FC00000u, 0xFFC00000u, 0x7FC00001u, 0x7FE00000u, 0x7FD55555u,  // quiet NaNs
      0x7FFFFFFFu, 0xFFFFFFFFu, 0xFFE00000u, 0x7FF00000u, 0x7FC02000u,
      0x7FA00000u, 0x7F800001u, 0xFF800001u, 0x7FBFFFFFu, 0x7F802000u,  // signalling NaNs
      0x7F900000u, 0xFFB12345u, 0x00800000u, 0x80800000u,               // +-FLT_MIN
      0x00000001u, 0x80000001u, 0x007FFFFFu, 0x807FFFFFu, 0x00400000u,  // denormals
      0x00000002u, 0x00012345u, 0x80400001u, 0x7F7FFFFFu, 0xFF7FFFFFu,
      0x7F7FFFFEu, 0x7F000000u, 0xFF000000u,                            // FLT_MAX etc.
      0x3F800000u, 0xBF800000u, 0x3F7FFFFFu, 0x3F800001u, 0x40000000u,  // 1, -1, ...
  };
  std::vector<float> v;
  for (std::uint32_t b : bits) v.push_back(bits_float(b));
  return v;
}

template <class T>
void check_specials(tally& t) {
  const reference& r = ref<T>();
  for (float x : special_floats()) {
    for (mode m : all_modes) {
      for (ovf o : all_ovfs) {
        t.compare(r, x, how(m, o).c_str(), r.expect(from_float(x), m, o), lib_cast<T>(x, m, o));
        const double d = static_cast<double>(x);
        // The double of a float NaN has the float's payload in its top bits, so both
        // inputs give the same NaN code; everything else is the same value.
        t.compare(r, d, how(m, o).c_str(), r.expect(from_double(d), m, o), lib_cast<T>(d, m, o));
      }
    }
  }
}

// A random float: a quarter are uniformly random bit patterns (mostly far outside every
// format's range: overflow, underflow, NaN), the rest have a random sign, a random
// exponent in [exp_lo, exp_hi] of the format and a random 23-bit mantissa.
float random_float(splitmix64& g, int elo, int ehi) {
  const std::uint64_t r = g.next();
  if ((r & 3u) == 0) return bits_float(static_cast<std::uint32_t>(r >> 32));
  const int e = elo + static_cast<int>((r >> 2) % static_cast<std::uint64_t>(ehi - elo + 1));
  const std::uint32_t man = static_cast<std::uint32_t>(r >> 40) & 0x7FFFFFu;
  float x = std::ldexp(static_cast<float>(man | 0x800000u), e - 23);
  if ((r >> 9) & 1u) x = -x;
  return x;
}

template <class T>
void check_random_floats(std::uint64_t n, std::uint64_t seed, tally& t) {
  const reference& r = ref<T>();
  splitmix64 g(seed);
  const int elo = std::max(r.exp_lo(), -150);
  const int ehi = std::min(r.exp_hi(), 128);
  for (std::uint64_t i = 0; i < n; ++i) {
    const float x = random_float(g, elo, ehi);
    std::uint32_t want[5][2], got[5][2];
    r.expect_all(from_float(x), want);
    lib_cast_all<T>(x, got);
    compare_all(t, r, x, want, got);
  }
}

// --- 3. doubles: one rounding ----------------------------------------------------------

// Every boundary +-1 ulp (in double), both signs, and random doubles: a quarter random bit
// patterns, a quarter random values in the format's range, half within 2^-25 (relative)
// of a random boundary, where rounding to float first would land on the boundary.  Counts
// the inputs whose answer would change if the double were rounded to float first.
template <class T>
void check_doubles(std::uint64_t n, std::uint64_t seed, tally& t, std::uint64_t& sensitive) {
  const reference& r = ref<T>();
  auto check = [&](double x) {
    std::uint32_t want[5][2], got[5][2], want_via_float[5][2];
    std::size_t hint = 0;
    r.expect_all(from_double(x), want, &hint);
    lib_cast_all<T>(x, got);
    compare_all(t, r, x, want, got);
    if (std::isnan(x)) return;
    r.expect_all(from_double(static_cast<double>(static_cast<float>(x))), want_via_float, &hint);
    for (int mi = 0; mi < 5; ++mi) {
      for (int oi = 0; oi < 2; ++oi) sensitive += want_via_float[mi][oi] != want[mi][oi];
    }
  };
  const std::vector<double> bounds = r.boundaries();
  for (double b : bounds) {
    for (double s : {1.0, -1.0}) {
      const double x = s * b;
      check(x);
      check(std::nextafter(x, HUGE_VAL));
      check(std::nextafter(x, -HUGE_VAL));
    }
  }
  splitmix64 g(seed);
  const int elo = r.exp_lo(), ehi = r.exp_hi();
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t bits = g.next();
    const std::uint64_t sel = g.next();
    double x;
    if ((sel & 3u) == 0) {
      x = bits_double(bits);
    } else if ((sel & 3u) == 1) {
      const int e = elo + static_cast<int>((sel >> 2) % static_cast<std::uint64_t>(ehi - elo + 1));
      x = std::ldexp(static_cast<double>((bits >> 11) | (std::uint64_t{1} << 52)), e - 52);
    } else {
      double b = bounds[static_cast<std::size_t>((sel >> 2) % bounds.size())];
      if (b == 0) b = r.magnitudes()[1];
      // A relative perturbation below 2^-25: (float)x is b itself for most of them.
      const int k = 25 + static_cast<int>((sel >> 40) % 28u);
      x = b + std::ldexp(b * (g.unit() - 0.5), -k);
    }
    if ((sel >> 63) != 0) x = -x;
    check(x);
  }
}

// --- 4./5. every code: decoding, round trips, format-to-format casts ----------------------

template <class S>
void check_decode_and_round_trip(tally& t) {
  const reference& r = ref<S>();
  for (std::uint32_t c = 0; c < r.code_count(); ++c) {
    const S v = lib_from_bits<S>(c);
    ++t.checked;
    if (static_cast<std::uint32_t>(v.bits()) != c)
      t.fail(std::string(r.name()) + " from_bits(" + hex(c) + ").bits() differs");
    const float f = static_cast<float>(v);
    const double d = static_cast<double>(v);
    if (r.is_nan_code(c)) {
      if (!std::isnan(f) || !std::isnan(d))
        t.fail(std::string(r.name()) + " NaN code " + hex(c) + " does not decode to NaN");
    } else {
      const double want = r.value_of(c);
      // Same value and the same sign (of zero and of infinities).
      if (!(static_cast<double>(f) == want && std::signbit(f) == std::signbit(want)))
        t.fail(std::string(r.name()) + " code " + hex(c) + " -> float " + describe(f));
      if (!(d == want && std::signbit(d) == std::signbit(want)))
        t.fail(std::string(r.name()) + " code " + hex(c) + " -> double " + describe(d));
    }
    // Round trip code -> float -> code and code -> double -> code, every mode.
    for (mode m : all_modes) {
      for (ovf o : all_ovfs) {
        const std::uint32_t back_f = lib_cast<S>(f, m, o);
        const std::uint32_t back_d = lib_cast<S>(d, m, o);
        std::uint32_t want = c;
        if (r.is_nan_code(c)) {
          // Documented canonical NaNs: IEEE-style formats quiet the NaN (set the top
          // mantissa bit) and keep sign and the rest of the payload; E4M3FN keeps 0x7F /
          // 0xFF; fnuz gives 0x80; E8M0 gives 0xFF.
          const float_spec& s = r.floats().spec();
          if (s.kind == special_kind::ieee) want = c | (1u << (s.man_bits - 1));
        } else if (r.is_inf_code(c) && o == ovf::saturate) {
          want = r.expect(from_double(d), m, o);  // Inf saturates to max
          if (want == c) t.fail("oracle: Inf does not saturate");
        }
        if (back_f == want && back_d == want) {
          t.checked += 2;
        } else {
          t.compare(r, f, ("round trip " + how(m, o)).c_str(), want, back_f);
          t.compare(r, d, ("round trip " + how(m, o)).c_str(), want, back_d);
        }
      }
    }
  }
}

// Source S's every code cast to T, against the oracle applied to the exact decoded value.
template <class S, class T>
void check_cross(tally& t) {
  const reference& rs = ref<S>();
  const reference& rt = ref<T>();
  const std::string pair = std::string(rs.name()) + "->" + rt.name() + " ";
  for (std::uint32_t c = 0; c < rs.code_count(); ++c) {
    const S v = lib_from_bits<S>(c);
    const input in = rs.input_of(c);
    for (mode m : all_modes) {
      for (ovf o : all_ovfs) {
        const std::uint32_t got =
            static_cast<std::uint32_t>(lowp::cast<T>(v, lib_mode(m), lib_ovf(o)).bits());
        const std::uint32_t expected = rt.expect(in, m, o);
        ++t.checked;
        if (in.kind == input::nan && !in.payload_known && rt.is_nan_code(expected)) {
          // A NaN without an IEEE payload (E4M3FN, fnuz, E8M0 sources): any NaN of the
          // target, with the sign kept where both formats have signed NaNs.
          const bool signed_nan = rt.is_float() && rt.floats().spec().has_sign() &&
                                  rt.floats().spec().kind != special_kind::fnuz;
          const bool sign_ok = !(signed_nan && in.sign_known) ||
                               ((got & rt.floats().sign_bit()) != 0) == in.negative;
          if ((!rt.is_nan_code(got) || !sign_ok) && t.full()) {
            ++t.bad;
          } else if (!rt.is_nan_code(got) || !sign_ok) {
            t.fail(pair + how(m, o) + " code " + hex(c) + ": expected a NaN like " + hex(expected) +
                   ", got " + hex(got));
          }
          continue;
        }
        if (expected != got && t.full()) {
          ++t.bad;
        } else if (expected != got) {
          t.fail(pair + how(m, o) + " code " + hex(c) + ": expected " + hex(expected) + ", got " +
                 hex(got));
        }
      }
    }
  }
}

template <class S, class... Ts>
void cross_from(type_list<Ts...>, tally& t) {
  (check_cross<S, Ts>(t), ...);
}

// --- 6. stochastic rounding ---------------------------------------------------------------

// The exact rule at and around every boundary: random_bits in {0, 1, thr-1, thr, thr+1,
// 2^31, 2^32-1, random} where thr = floor(f * 2^32) is the oracle's threshold.
template <class T, class X>
void check_stochastic_at(const reference& r, X x, splitmix64& g, tally& t) {
  const input in = std::is_same_v<X, float> ? from_float(static_cast<float>(x))
                                            : from_double(static_cast<double>(x));
  const std::uint64_t thr = r.stochastic_threshold(in);
  std::uint32_t bits[8] = {0u, 1u, 0x80000000u, 0xFFFFFFFFu, g.next32(), 0u, 0u, 0u};
  int nbits = 5;
  for (std::uint64_t b : {thr - 1, thr, thr + 1}) {
    if (thr > 0 && b <= 0xFFFFFFFFu) bits[nbits++] = static_cast<std::uint32_t>(b);
  }
  for (int k = 0; k < nbits; ++k) {
    const std::uint32_t rb = bits[k];
    for (ovf o : all_ovfs) {
      const std::uint32_t expected = r.expect_stochastic(in, rb, o);
      const std::uint32_t got = lib_stochastic<T>(x, rb, o);
      if (expected == got || t.full()) {
        ++t.checked;
        t.bad += expected != got;
      } else {
        t.compare(r, x, ("stochastic " + hex(rb) + " " + name(o)).c_str(), expected, got);
      }
    }
  }
}

template <class T>
void check_stochastic_rule(std::uint32_t window, tally& t) {
  const reference& r = ref<T>();
  splitmix64 g(0x5EED0006u);
  // Exact values never move, whatever the bits: the result is the value's own code
  // (the oracle's answer under any deterministic rounding).
  for (double mag : r.magnitudes()) {
    for (double s : {1.0, -1.0}) {
      const double x = s * mag;
      std::uint32_t want = r.expect(from_double(x), mode::toward_zero, ovf::saturate);
      for (std::uint32_t rb : {0u, 1u, 0x7FFFFFFFu, 0xFFFFFFFFu, g.next32()}) {
        t.compare(r, x, "stochastic exact (double)", want, lib_stochastic<T>(x, rb, ovf::saturate));
        const float fx = static_cast<float>(x);
        if (static_cast<double>(fx) == x)
          t.compare(r, fx, "stochastic exact (float)", want,
                    lib_stochastic<T>(fx, rb, ovf::non_saturating));
      }
    }
  }
  // Floats around every boundary.
  for (double b : r.boundaries()) {
    const std::uint32_t u0 = float_bits(static_cast<float>(b));
    const std::uint32_t lo = u0 >= window ? u0 - window : 0u;
    const std::uint32_t hi = std::min(u0 + window, 0x7F800000u);
    for (std::uint32_t sign : {0u, 0x80000000u}) {
      for (std::uint32_t u = lo; u <= hi; ++u)
        check_stochastic_at<T>(r, bits_float(sign | u), g, t);
    }
  }
  // Fixed fractions of an ulp between neighbours, as doubles (finer than float).
  const std::vector<double> mags = r.magnitudes();
  for (std::size_t i = 0; i + 1 < mags.size(); i += 1 + mags.size() / 64) {
    for (double f : {0.5, 0.25, 1.0 / 3, 0x1p-32, 0x1p-33, 1 - 0x1p-32, 1 - 0x1p-40}) {
      const double x = mags[i] + f * (mags[i + 1] - mags[i]);
      check_stochastic_at<T>(r, x, g, t);
      check_stochastic_at<T>(r, -x, g, t);
    }
  }
  for (float x : special_floats()) check_stochastic_at<T>(r, x, g, t);
}

template <class T>
void check_stochastic_random(std::uint64_t n, std::uint64_t seed, tally& t) {
  const reference& r = ref<T>();
  splitmix64 g(seed);
  const int elo = std::max(r.exp_lo(), -150);
  const int ehi = std::min(r.exp_hi(), 128);
  for (std::uint64_t i = 0; i < n; ++i) {
    const float x = random_float(g, elo, ehi);
    const std::uint32_t rb = g.next32();
    const ovf o = (rb & 1u) ? ovf::saturate : ovf::non_saturating;
    const input in = from_float(x);
    const std::uint32_t expected = r.expect_stochastic(in, rb, o);
    const std::uint32_t got = lib_stochastic<T>(x, rb, o);
    if (expected != got)
      t.compare(r, x, "stochastic", expected, got);
    else
      ++t.checked;
    // The same value as a double, and a double between floats.
    const double d = static_cast<double>(x) * (1 + 0x1p-40);
    t.compare(r, d, "stochastic", r.expect_stochastic(from_double(d), rb, o),
              lib_stochastic<T>(d, rb, o));
  }
}

// Unbiasedness: the mean of N stochastic roundings of x (uniform random bits) is x.  Each
// result is lo or hi; the count of hi is Binomial(N, p) with p = floor(f 2^32) / 2^32,
// f = (x - lo) / (hi - lo), so |mean - x| <= (hi - lo) (6 sqrt(f(1-f)/N) + 2^-32).
template <class T>
void check_stochastic_mean(std::uint64_t samples, tally& t) {
  const reference& r = ref<T>();
  const std::vector<double> mags = r.magnitudes();
  splitmix64 g(0x5EED0007u);
  const std::size_t n = mags.size();
  // E8M0 converts |x|; pairs that the format cannot hold with this sign (the integers'
  // ends) are skipped.
  const bool absolute = r.is_float() && !r.floats().spec().has_sign();
  auto representable = [&](double v) {
    return r.value_of(r.expect(from_double(v), mode::toward_zero, ovf::saturate)) == v;
  };
  for (std::size_t i : {std::size_t{0}, std::size_t{1}, n / 3, n / 2, n - 2}) {
    for (double f : {0.5, 0.1, 0.9, 0.013, 0.7071}) {
      for (double s : {1.0, -1.0}) {
        const double lo = mags[i], hi = mags[i + 1];
        const double x = s * (lo + f * (hi - lo));
        const double ts = absolute ? 1.0 : s;
        const double tlo = ts * lo, thi = ts * hi, tx = ts * std::fabs(x);
        if (!representable(tlo) || !representable(thi)) continue;
        const double fx = (std::fabs(x) - lo) / (hi - lo);  // the fraction actually used
        double sum = 0;
        for (std::uint64_t k = 0; k < samples; ++k) {
          const double y = static_cast<double>(lowp::cast_stochastic<T>(x, g.next32()));
          if ((y != tlo && y != thi) && t.full()) {
            ++t.bad;
          } else if (y != tlo && y != thi) {
            t.fail(std::string(r.name()) + " stochastic " + describe(x) + " gave " + describe(y));
          }
          sum += y;
        }
        ++t.checked;
        const double mean = sum / static_cast<double>(samples);
        const double tol =
            (hi - lo) * (6 * std::sqrt(fx * (1 - fx) / static_cast<double>(samples)) + 0x1p-32);
        if (!(std::fabs(mean - tx) <= tol)) {
          char buf[200];
          std::snprintf(buf, sizeof buf,
                        "%s stochastic mean of %.17g over %llu draws is %.17g (tolerance %.3g)",
                        r.name(), x, static_cast<unsigned long long>(samples), mean, tol);
          t.fail(buf);
        }
      }
    }
  }
}

// --- per-format test cases ----------------------------------------------------------------

template <class T>
std::uint32_t window_of() {
  return ref<T>().width() >= 16 ? kWindow16 : kWindow;
}
// Stochastic rounding: floats within +-8 ulps of every boundary (+-2 for the 16-bit
// formats, +-1 in the quick build), each with 5 to 8 choices of random bits.
template <class T>
std::uint32_t stochastic_window_of() {
  return ref<T>().width() >= 16 ? (kFull ? 2u : 1u) : 8u;
}

#define LOWP_ORACLE_FORMAT_TESTS(T, TAG, SEED)                                          \
  TEST_CASE("oracle: floats near every boundary -> " #T, "[boundaries][" #TAG "]") {    \
    tally t;                                                                            \
    check_windows<lowp::T>(window_of<lowp::T>(), t);                                    \
    LOWP_REQUIRE_NO_MISMATCH(t);                                                        \
  }                                                                                     \
  TEST_CASE("oracle: special floats -> " #T, "[specials][" #TAG "]") {                  \
    tally t;                                                                            \
    check_specials<lowp::T>(t);                                                         \
    LOWP_REQUIRE_NO_MISMATCH(t);                                                        \
  }                                                                                     \
  TEST_CASE("oracle: random floats -> " #T, "[random][" #TAG "]") {                     \
    tally t;                                                                            \
    check_random_floats<lowp::T>(kRandomFloats, SEED, t);                               \
    LOWP_REQUIRE_NO_MISMATCH(t);                                                        \
  }                                                                                     \
  TEST_CASE("oracle: doubles round once -> " #T, "[doubles][" #TAG "]") {               \
    tally t;                                                                            \
    std::uint64_t sensitive = 0;                                                        \
    check_doubles<lowp::T>(kRandomDoubles, (SEED) + 1, t, sensitive);                   \
    LOWP_REQUIRE_NO_MISMATCH(t);                                                        \
    /* Inputs that rounding to float first would get wrong were exercised. */           \
    CAPTURE(sensitive);                                                                 \
    CHECK(sensitive > 0);                                                               \
  }                                                                                     \
  TEST_CASE("oracle: every code decodes and round-trips: " #T, "[codes][" #TAG "]") {   \
    tally t;                                                                            \
    check_decode_and_round_trip<lowp::T>(t);                                            \
    LOWP_REQUIRE_NO_MISMATCH(t);                                                        \
  }                                                                                     \
  TEST_CASE("oracle: every code of " #T " cast to every format", "[cross][" #TAG "]") { \
    tally t;                                                                            \
    cross_from<lowp::T>(all_formats{}, t);                                              \
    LOWP_REQUIRE_NO_MISMATCH(t);                                                        \
  }                                                                                     \
  TEST_CASE("oracle: stochastic rounding -> " #T, "[stochastic][" #TAG "]") {           \
    tally t;                                                                            \
    check_stochastic_rule<lowp::T>(stochastic_window_of<lowp::T>(), t);                 \
    check_stochastic_random<lowp::T>(kStochasticRandom, (SEED) + 2, t);                 \
    check_stochastic_mean<lowp::T>(kStochasticSamples, t);                              \
    LOWP_REQUIRE_NO_MISMATCH(t);                                                        \
  }

LOWP_ORACLE_FORMAT_TESTS(float8_e4m3fn, e4m3fn, 0x1001)
LOWP_ORACLE_FORMAT_TESTS(float8_e5m2, e5m2, 0x1002)
LOWP_ORACLE_FORMAT_TESTS(float8_e4m3fnuz, e4m3fnuz, 0x1003)
LOWP_ORACLE_FORMAT_TESTS(float8_e5m2fnuz, e5m2fnuz, 0x1004)
LOWP_ORACLE_FORMAT_TESTS(float6_e2m3fn, e2m3fn, 0x1005)
LOWP_ORACLE_FORMAT_TESTS(float6_e3m2fn, e3m2fn, 0x1006)
LOWP_ORACLE_FORMAT_TESTS(float4_e2m1fn, e2m1fn, 0x1007)
LOWP_ORACLE_FORMAT_TESTS(float8_e8m0fnu, e8m0fnu, 0x1008)
LOWP_ORACLE_FORMAT_TESTS(float16, float16, 0x1009)
LOWP_ORACLE_FORMAT_TESTS(bfloat16, bfloat16, 0x100A)
LOWP_ORACLE_FORMAT_TESTS(int4, int4, 0x100B)
LOWP_ORACLE_FORMAT_TESTS(uint4, uint4, 0x100C)
LOWP_ORACLE_FORMAT_TESTS(int8, int8, 0x100D)
LOWP_ORACLE_FORMAT_TESTS(uint8, uint8, 0x100E)
#undef LOWP_ORACLE_FORMAT_TESTS

}  // namespace
