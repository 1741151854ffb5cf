// tests/test_formats_cuda.cpp — lowp against NVIDIA's own conversions (issue 3).
//
// The CUDA toolkit's cuda_fp8.h / cuda_fp6.h / cuda_fp4.h define every conversion as a
// __host__ __device__ function whose host path is plain C++ (integer code on the bits of
// a double), so a host compiler can call them: an oracle written by somebody else, that
// shares no code with lowp.  We compare, bit for bit:
//
//   float -> E4M3 / E5M2       __nv_cvt_float_to_fp8 x {__NV_SATFINITE, __NV_NOSAT}
//                              (round to nearest even) vs cast<T>(x, nearest_even,
//                              saturate / non_saturating)
//   float -> E2M1 / E2M3 / E3M2 __nv_cvt_float_to_fp4/fp6 x {cudaRoundNearest, cudaRoundZero}
//                              (the only modes they accept; they always saturate) vs
//                              cast<T>(x, nearest_even / toward_zero) under both overflow
//                              policies (a format without Inf/NaN saturates either way)
//   float -> E8M0              __nv_cvt_float_to_e8m0 x {cudaRoundZero, cudaRoundPosInf} x
//                              {__NV_SATFINITE, __NV_NOSAT} vs cast<float8_e8m0fnu>(x,
//                              toward_zero / up, saturate / non_saturating)
//   float -> float16 / bfloat16 __float2half_{rn,rz,rd,ru} / __float2bfloat16_{rn,rz,rd,ru}
//                              (cuda_fp16.h, cuda_bf16.h: IEEE conversions) vs cast<T>(x,
//                              nearest_even / toward_zero / down / up, non_saturating)
//   double -> each of them     the __nv_cvt_double_to_* functions, __double2half and
//                              __double2bfloat16, near every boundary
//   code -> value              __nv_cvt_fp8/fp6/fp4_to_halfraw, __nv_cvt_e8m0_to_bf16raw,
//                              __half2float, __bfloat162float vs
//                              static_cast<double>(T::from_bits(code))
//
// For a NaN input both sides must give a NaN of the format (CUDA returns 0x7F for every
// NaN in E4M3 and E5M2 and 0x7FFF in FP16/BF16, lowp keeps the sign and the payload's top
// bits: 0x7F/0xFF in E4M3, 0x7E/0xFE in E5M2 for a quiet NaN, so only "is NaN" is
// compared); FP4/FP6 have no NaN and both give +max, which is compared bit for bit.
//
// Tags: [quick] boundaries (+-1024 float ulps around every code and every midpoint of
// every 8-bit or narrower format; +-4 for FP16/BF16), specials and 2^20 random floats:
// seconds.  [exhaustive] (hidden: [.]) all 2^32 floats, one tag per format so that ctest
// runs them in parallel.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <lowp/cast.hpp>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "lowp_test.hpp"

#if __has_include(<cuda_fp8.h>) && __has_include(<cuda_fp6.h>) && __has_include(<cuda_fp4.h>)
#include <cuda_fp4.h>
#include <cuda_fp6.h>
#include <cuda_fp8.h>
#define LOWP_TEST_HAVE_CUDA_FP 1
#else
#define LOWP_TEST_HAVE_CUDA_FP 0
#endif

#if LOWP_TEST_HAVE_CUDA_FP

namespace {

using std::uint32_t;
using std::uint64_t;
using std::uint8_t;

float float_of(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}
uint64_t bits_of(double d) {
  uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}
bool float_bits_nan(uint32_t bits) {
  return (bits & 0x7FFFFFFFu) > 0x7F800000u;
}

std::string hex(uint64_t v, int digits) {
  std::ostringstream s;
  s << "0x" << std::hex << std::uppercase;
  s.width(digits);
  s.fill('0');
  s << v;
  return s.str();
}

// NaN codes of each format, from the specs (OCP OFP8 v1.0 Table 1, OCP MX v1.0 5.4.1),
// not from lowp.
bool e4m3_nan(uint8_t c) {
  return (c & 0x7Fu) == 0x7Fu;
}
bool e5m2_nan(uint8_t c) {
  return (c & 0x7Cu) == 0x7Cu && (c & 0x03u) != 0;
}
bool e8m0_nan(uint8_t c) {
  return c == 0xFFu;
}
bool no_nan(uint8_t) {
  return false;
}

// One comparison: NVIDIA's function and lowp's, over inputs of type In.  Counts
// mismatches and keeps the first few, so that the inner loop has no Catch2 macro.
struct tally {
  explicit tally(const char* n) : name(n) {}
  const char* name;
  uint64_t checked = 0, mismatches = 0;
  std::vector<std::string> first;
  void miss(std::string what) {
    if (++mismatches <= 8) first.push_back(std::move(what));
  }
};

template <class Cuda, class Ours>
struct comparison {
  tally t;
  Cuda cuda;
  Ours ours;
  bool (*format_nan)(uint8_t);

  // A float input given by its bits.
  void operator()(uint32_t bits) {
    const float x = float_of(bits);
    const uint8_t c = cuda(x), o = ours(x);
    ++t.checked;
    const bool ok =
        float_bits_nan(bits) && format_nan != no_nan ? format_nan(c) && format_nan(o) : c == o;
    if (!ok) t.miss("float " + hex(bits, 8) + ": cuda " + hex(c, 2) + ", lowp " + hex(o, 2));
  }
  // A double input.
  void operator()(double x) {
    const uint8_t c = cuda(x), o = ours(x);
    ++t.checked;
    const bool ok = std::isnan(x) && format_nan != no_nan ? format_nan(c) && format_nan(o) : c == o;
    if (!ok)
      t.miss("double " + hex(bits_of(x), 16) + ": cuda " + hex(c, 2) + ", lowp " + hex(o, 2));
  }
};

template <class Cuda, class Ours>
comparison<Cuda, Ours> compare(const char* name, bool (*format_nan)(uint8_t), Cuda cuda,
                               Ours ours) {
  return comparison<Cuda, Ours>{tally{name}, cuda, ours, format_nan};
}

void require_clean(const tally& t) {
  std::string msg = std::string(t.name) + ": " + std::to_string(t.mismatches) + " mismatches in " +
                    std::to_string(t.checked) + " inputs";
  for (const auto& s : t.first) msg += "\n  " + s;
  INFO(msg);
  CHECK(t.checked > 0);
  CHECK(t.mismatches == 0);
}

// --- the comparisons, one generic lambda pair per (format, mode) ---------------------
// Each lambda takes a float or a double, so the same pair serves both sweeps.

using lowp::overflow;
using lowp::rounding;

#define LOWP_FP8(fmt, interp, sat, ovf)                                      \
  compare(                                                                   \
      #fmt " " #sat, interp == __NV_E4M3 ? e4m3_nan : e5m2_nan,              \
      [](auto x) -> uint8_t {                                                \
        if constexpr (std::is_same_v<decltype(x), float>)                    \
          return __nv_cvt_float_to_fp8(x, sat, interp);                      \
        else                                                                 \
          return __nv_cvt_double_to_fp8(x, sat, interp);                     \
      },                                                                     \
      [](auto x) -> uint8_t {                                                \
        return lowp::cast<lowp::fmt>(x, rounding::nearest_even, ovf).bits(); \
      })

// FP4/FP6: CUDA always saturates, and lowp's two overflow policies must both agree
// with it (a format without Inf and NaN saturates either way): one CUDA call, two
// comparisons.
template <class Cuda, class Sat, class NonSat>
struct comparison_pair {
  tally t;
  Cuda cuda;
  Sat sat;
  NonSat nonsat;
  // A float input given by its bits, or a double.
  // (The message is built only for a mismatch: the inner loop must stay tight.)
  void operator()(uint32_t bits) { check(float_of(bits), "float ", bits, 8); }
  void operator()(double x) { check(x, "double ", bits_of(x), 16); }
  template <class In>
  void check(In x, const char* kind, uint64_t bits, int digits) {
    const uint8_t c = cuda(x), a = sat(x), b = nonsat(x);
    ++t.checked;
    if (a != c || b != c)
      t.miss(kind + hex(bits, digits) + ": cuda " + hex(c, 2) + ", lowp saturate " + hex(a, 2) +
             ", non_saturating " + hex(b, 2));
  }
};
template <class Cuda, class Sat, class NonSat>
comparison_pair<Cuda, Sat, NonSat> compare_pair(const char* name, Cuda cuda, Sat sat,
                                                NonSat nonsat) {
  return comparison_pair<Cuda, Sat, NonSat>{tally{name}, cuda, sat, nonsat};
}

#define LOWP_FP6(fmt, interp, rnd, lrnd)                                                           \
  compare_pair(                                                                                    \
      #fmt " " #rnd,                                                                               \
      [](auto x) -> uint8_t {                                                                      \
        if constexpr (std::is_same_v<decltype(x), float>)                                          \
          return __nv_cvt_float_to_fp6(x, interp, rnd);                                            \
        else                                                                                       \
          return __nv_cvt_double_to_fp6(x, interp, rnd);                                           \
      },                                                                                           \
      [](auto x) -> uint8_t { return lowp::cast<lowp::fmt>(x, lrnd, overflow::saturate).bits(); }, \
      [](auto x) -> uint8_t {                                                                      \
        return lowp::cast<lowp::fmt>(x, lrnd, overflow::non_saturating).bits();                    \
      })

#define LOWP_FP4(rnd, lrnd)                                                               \
  compare_pair(                                                                           \
      "float4_e2m1fn " #rnd,                                                              \
      [](auto x) -> uint8_t {                                                             \
        if constexpr (std::is_same_v<decltype(x), float>)                                 \
          return __nv_cvt_float_to_fp4(x, __NV_E2M1, rnd);                                \
        else                                                                              \
          return __nv_cvt_double_to_fp4(x, __NV_E2M1, rnd);                               \
      },                                                                                  \
      [](auto x) -> uint8_t {                                                             \
        return lowp::cast<lowp::float4_e2m1fn>(x, lrnd, overflow::saturate).bits();       \
      },                                                                                  \
      [](auto x) -> uint8_t {                                                             \
        return lowp::cast<lowp::float4_e2m1fn>(x, lrnd, overflow::non_saturating).bits(); \
      })

#define LOWP_E8M0(rnd, lrnd, sat, ovf)                    \
  compare(                                                \
      "float8_e8m0fnu " #rnd " " #sat, e8m0_nan,          \
      [](auto x) -> uint8_t {                             \
        if constexpr (std::is_same_v<decltype(x), float>) \
          return __nv_cvt_float_to_e8m0(x, sat, rnd);     \
        else                                              \
          return __nv_cvt_double_to_e8m0(x, sat, rnd);    \
      },                                                  \
      [](auto x) -> uint8_t { return lowp::cast<lowp::float8_e8m0fnu>(x, lrnd, ovf).bits(); })

// Each format's comparisons as a tuple, applied together to every input.
auto e4m3_cases() {
  return std::make_tuple(LOWP_FP8(float8_e4m3fn, __NV_E4M3, __NV_SATFINITE, overflow::saturate),
                         LOWP_FP8(float8_e4m3fn, __NV_E4M3, __NV_NOSAT, overflow::non_saturating));
}
auto e5m2_cases() {
  return std::make_tuple(LOWP_FP8(float8_e5m2, __NV_E5M2, __NV_SATFINITE, overflow::saturate),
                         LOWP_FP8(float8_e5m2, __NV_E5M2, __NV_NOSAT, overflow::non_saturating));
}
auto e2m1_cases() {
  return std::make_tuple(LOWP_FP4(cudaRoundNearest, rounding::nearest_even),
                         LOWP_FP4(cudaRoundZero, rounding::toward_zero));
}
auto e2m3_cases() {
  return std::make_tuple(
      LOWP_FP6(float6_e2m3fn, __NV_E2M3, cudaRoundNearest, rounding::nearest_even),
      LOWP_FP6(float6_e2m3fn, __NV_E2M3, cudaRoundZero, rounding::toward_zero));
}
auto e3m2_cases() {
  return std::make_tuple(
      LOWP_FP6(float6_e3m2fn, __NV_E3M2, cudaRoundNearest, rounding::nearest_even),
      LOWP_FP6(float6_e3m2fn, __NV_E3M2, cudaRoundZero, rounding::toward_zero));
}
auto e8m0_cases() {
  return std::make_tuple(
      LOWP_E8M0(cudaRoundZero, rounding::toward_zero, __NV_SATFINITE, overflow::saturate),
      LOWP_E8M0(cudaRoundZero, rounding::toward_zero, __NV_NOSAT, overflow::non_saturating),
      LOWP_E8M0(cudaRoundPosInf, rounding::up, __NV_SATFINITE, overflow::saturate),
      LOWP_E8M0(cudaRoundPosInf, rounding::up, __NV_NOSAT, overflow::non_saturating));
}

// --- float16 / bfloat16: cuda_fp16.h and cuda_bf16.h, in all four IEEE rounding modes ---
// __float2half_{rn,rz,rd,ru} and __float2bfloat16_{rn,rz,rd,ru} are IEEE conversions:
// overflow gives Inf, except where the directed rounding rounds toward zero for the
// value's sign, which gives +-max (IEEE 754 section 7.4) -- lowp's overflow::non_saturating.
// Their NaN is canonical (0x7FFF), lowp's keeps sign and payload: only "is NaN" is compared.
bool f16_nan(uint16_t c) {
  return (c & 0x7C00u) == 0x7C00u && (c & 0x03FFu) != 0;
}
bool bf16_nan(uint16_t c) {
  return (c & 0x7F80u) == 0x7F80u && (c & 0x007Fu) != 0;
}

template <class Cuda, class Ours>
struct comparison16 {
  tally t;
  Cuda cuda;
  Ours ours;
  bool (*format_nan)(uint16_t);
  void operator()(uint32_t bits) {
    const float x = float_of(bits);
    const uint16_t c = cuda(x), o = ours(x);
    ++t.checked;
    const bool ok = float_bits_nan(bits) ? format_nan(c) && format_nan(o) : c == o;
    if (!ok) t.miss("float " + hex(bits, 8) + ": cuda " + hex(c, 4) + ", lowp " + hex(o, 4));
  }
  void operator()(double x) {
    const uint16_t c = cuda(x), o = ours(x);
    ++t.checked;
    const bool ok = std::isnan(x) ? format_nan(c) && format_nan(o) : c == o;
    if (!ok)
      t.miss("double " + hex(bits_of(x), 16) + ": cuda " + hex(c, 4) + ", lowp " + hex(o, 4));
  }
};
template <class Cuda, class Ours>
comparison16<Cuda, Ours> compare16(const char* name, bool (*format_nan)(uint16_t), Cuda cuda,
                                   Ours ours) {
  return comparison16<Cuda, Ours>{tally{name}, cuda, ours, format_nan};
}

// Doubles go through __double2half / __double2bfloat16 (round to nearest even) only.
#define LOWP_HALF(fmt, nan_pred, fcvt, dcvt, raw, lrnd)                                     \
  compare16(                                                                                \
      #fmt " " #fcvt, nan_pred,                                                             \
      [](auto x) -> uint16_t {                                                              \
        if constexpr (std::is_same_v<decltype(x), float>) {                                 \
          const raw r = fcvt(x);                                                            \
          return r.x;                                                                       \
        } else {                                                                            \
          const raw r = dcvt(x);                                                            \
          return r.x;                                                                       \
        }                                                                                   \
      },                                                                                    \
      [](auto x) -> uint16_t {                                                              \
        if constexpr (std::is_same_v<decltype(x), float>)                                   \
          return lowp::cast<lowp::fmt>(x, lrnd, overflow::non_saturating).bits();           \
        else                                                                                \
          return lowp::cast<lowp::fmt>(x, rounding::nearest_even, overflow::non_saturating) \
              .bits();                                                                      \
      })

auto f16_rn_cases() {
  return std::make_tuple(LOWP_HALF(float16, f16_nan, __float2half_rn, __double2half, __half_raw,
                                   rounding::nearest_even));
}
auto f16_directed_cases() {
  return std::make_tuple(
      LOWP_HALF(float16, f16_nan, __float2half_rz, __double2half, __half_raw,
                rounding::toward_zero),
      LOWP_HALF(float16, f16_nan, __float2half_rd, __double2half, __half_raw, rounding::down),
      LOWP_HALF(float16, f16_nan, __float2half_ru, __double2half, __half_raw, rounding::up));
}
auto bf16_rn_cases() {
  return std::make_tuple(LOWP_HALF(bfloat16, bf16_nan, __float2bfloat16_rn, __double2bfloat16,
                                   __nv_bfloat16_raw, rounding::nearest_even));
}
auto bf16_directed_cases() {
  return std::make_tuple(LOWP_HALF(bfloat16, bf16_nan, __float2bfloat16_rz, __double2bfloat16,
                                   __nv_bfloat16_raw, rounding::toward_zero),
                         LOWP_HALF(bfloat16, bf16_nan, __float2bfloat16_rd, __double2bfloat16,
                                   __nv_bfloat16_raw, rounding::down),
                         LOWP_HALF(bfloat16, bf16_nan, __float2bfloat16_ru, __double2bfloat16,
                                   __nv_bfloat16_raw, rounding::up));
}

template <class Tuple, class Input>
void apply_all(Tuple& cases, Input x) {
  std::apply([x](auto&... c) { (c(x), ...); }, cases);
}
template <class Tuple>
void require_all(const Tuple& cases) {
  std::apply([](const auto&... c) { (require_clean(c.t), ...); }, cases);
}

// --- the format's values as NVIDIA decodes them (no lowp involved) -------------------

// binary16 bits -> double, written from IEEE 754 section 3.4 for this test.
double half_value(uint16_t h) {
  const int e = (h >> 10) & 0x1F, m = h & 0x3FF;
  double v;
  if (e == 0x1F)
    v = m != 0 ? std::numeric_limits<double>::quiet_NaN() : HUGE_VAL;
  else if (e == 0)
    v = std::ldexp(m, -24);
  else
    v = std::ldexp(m + 1024, e - 25);
  return (h & 0x8000) ? -v : v;
}
double bf16_value(uint16_t b) {
  const uint32_t bits = uint32_t{b} << 16;
  return static_cast<double>(float_of(bits));
}

enum class fmt { e4m3, e5m2, e2m1, e2m3, e3m2, e8m0, f16, bf16 };

int code_count(fmt f) {
  switch (f) {
    case fmt::e2m1:
      return 16;
    case fmt::e2m3:
    case fmt::e3m2:
      return 64;
    case fmt::f16:
    case fmt::bf16:
      return 65536;
    default:
      return 256;
  }
}

double cuda_value(fmt f, uint32_t code) {
  const auto c8 = static_cast<__nv_fp8_storage_t>(code);
  switch (f) {
    case fmt::e4m3:
      return half_value(__nv_cvt_fp8_to_halfraw(c8, __NV_E4M3).x);
    case fmt::e5m2:
      return half_value(__nv_cvt_fp8_to_halfraw(c8, __NV_E5M2).x);
    case fmt::e2m1:
      return half_value(
          __nv_cvt_fp4_to_halfraw(static_cast<__nv_fp4_storage_t>(code), __NV_E2M1).x);
    case fmt::e2m3:
      return half_value(
          __nv_cvt_fp6_to_halfraw(static_cast<__nv_fp6_storage_t>(code), __NV_E2M3).x);
    case fmt::e3m2:
      return half_value(
          __nv_cvt_fp6_to_halfraw(static_cast<__nv_fp6_storage_t>(code), __NV_E3M2).x);
    case fmt::e8m0:
      return bf16_value(__nv_cvt_e8m0_to_bf16raw(c8).x);
    case fmt::f16: {
      __half_raw r;
      r.x = static_cast<unsigned short>(code);
      return static_cast<double>(__half2float(__half(r)));
    }
    case fmt::bf16: {
      __nv_bfloat16_raw r;
      r.x = static_cast<unsigned short>(code);
      return static_cast<double>(__bfloat162float(__nv_bfloat16(r)));
    }
  }
  return 0;
}

// The input set of the quick sweep for one format: +-1024 float ulps (+-4 for the 16-bit
// formats) around every
// positive finite value and every midpoint between neighbours (including the midpoint
// past max, the overflow threshold), with both signs; zeros, subnormals, Inf and NaN
// payloads; 2^20 random floats (fixed seed).
std::vector<uint32_t> boundary_floats(fmt f) {
  std::vector<double> values;
  for (int c = 0; c < code_count(f); ++c) {
    const double v = cuda_value(f, static_cast<uint32_t>(c));
    if (std::isfinite(v) && v > 0) values.push_back(v);
  }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  std::vector<double> points = values;
  // (E8M0 is only rounded toward zero or up, whose boundaries are the values themselves.)
  if (f != fmt::e8m0)
    for (std::size_t i = 0; i + 1 < values.size(); ++i)
      points.push_back((values[i] + values[i + 1]) / 2);
  const double top_ulp = values.back() - values[values.size() - 2];
  points.push_back(values.back() + top_ulp / 2);
  points.push_back(values.front() / 2);  // the underflow midpoint
  points.push_back(values.back() * 2);

  std::vector<uint32_t> in;
  const int K = code_count(f) > 256 ? 4 : 1024;  // 16-bit formats: 2^17 points already
  for (double p : points) {
    const uint32_t b = bits_of(static_cast<float>(p));  // exact: every point has few bits
    for (int d = -K; d <= K; ++d) {
      const int64_t v = static_cast<int64_t>(b) + d;
      if (v < 0 || v >= 0x7F800000) continue;
      in.push_back(static_cast<uint32_t>(v));
      in.push_back(static_cast<uint32_t>(v) | 0x80000000u);
    }
  }
  for (uint32_t s : {0u, 0x80000000u}) {
    for (uint32_t m = 0; m < 65536; ++m) in.push_back(s | m);  // tiny subnormals
    for (uint32_t m = 0; m < 65536; ++m)
      in.push_back(s | (0x00800000u - 1 - m));                                // large subnormals
    for (uint32_t m = 0; m < 4096; ++m) in.push_back(s | (0x7F7FFFFFu - m));  // near FLT_MAX
    in.push_back(s | 0x7F800000u);                                            // Inf
    for (uint32_t m : {1u, 2u, 0x1FFFu, 0x2000u, 0x3FFFFFu, 0x400000u, 0x400001u, 0x7FFFFFu})
      in.push_back(s | 0x7F800000u | m);  // signalling and quiet NaNs, assorted payloads
  }
  uint64_t state = 0x9E3779B97F4A7C15ull;  // splitmix64, fixed seed
  for (int i = 0; i < (1 << 20); ++i) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    in.push_back(static_cast<uint32_t>(z ^ (z >> 31)));
  }
  return in;
}

// Doubles: every value and midpoint +-64 double ulps (+-2 for the 16-bit formats),
// zeros, Inf, NaN, the extremes.  Exercises "a double converts directly".
std::vector<double> boundary_doubles(fmt f) {
  std::vector<double> values;
  for (int c = 0; c < code_count(f); ++c) {
    const double v = cuda_value(f, static_cast<uint32_t>(c));
    if (std::isfinite(v) && v > 0) values.push_back(v);
  }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  std::vector<double> points = values;
  for (std::size_t i = 0; i + 1 < values.size(); ++i)
    points.push_back((values[i] + values[i + 1]) / 2);
  points.push_back(values.back() + (values.back() - values[values.size() - 2]) / 2);
  points.push_back(values.front() / 2);
  std::vector<double> in;
  const int K = code_count(f) > 256 ? 2 : 64;
  for (double p : points) {
    double lo = p, hi = p;
    in.push_back(p);
    in.push_back(-p);
    for (int d = 1; d <= K; ++d) {
      lo = std::nextafter(lo, 0.0);
      hi = std::nextafter(hi, HUGE_VAL);
      for (double v : {lo, -lo, hi, -hi}) in.push_back(v);
    }
  }
  for (double s : {1.0, -1.0}) {
    in.push_back(s * 0.0);
    in.push_back(s * HUGE_VAL);
    in.push_back(s * std::numeric_limits<double>::quiet_NaN());
    in.push_back(s * std::numeric_limits<double>::denorm_min());
    in.push_back(s * std::numeric_limits<double>::max());
  }
  return in;
}

template <class Tuple>
void quick_sweep(fmt f, Tuple cases) {
  for (uint32_t b : boundary_floats(f)) apply_all(cases, b);
  for (double d : boundary_doubles(f)) apply_all(cases, d);
  require_all(cases);
}

template <class Tuple>
void exhaustive_sweep(Tuple cases) {
  for (uint64_t b = 0; b <= 0xFFFFFFFFull; ++b) apply_all(cases, static_cast<uint32_t>(b));
  require_all(cases);
}

// Every code, decoded by NVIDIA and by lowp.
template <class T>
void decode_all(fmt f) {
  int mismatches = 0;
  for (int c = 0; c < code_count(f); ++c) {
    const double cuda = cuda_value(f, static_cast<uint32_t>(c));
    const double ours = static_cast<double>(T::from_bits(static_cast<typename T::storage_type>(c)));
    const bool same = std::isnan(cuda) ? std::isnan(ours)
                                       : cuda == ours && std::signbit(cuda) == std::signbit(ours);
    if (!same) {
      ++mismatches;
      INFO("code " << hex(static_cast<uint64_t>(c), 2) << ": cuda " << cuda << ", lowp " << ours);
      CHECK(same);
    }
  }
  CHECK(mismatches == 0);
}

}  // namespace

TEST_CASE("CUDA decodes every code as lowp does", "[quick][cuda]") {
  decode_all<lowp::float8_e4m3fn>(fmt::e4m3);
  decode_all<lowp::float8_e5m2>(fmt::e5m2);
  decode_all<lowp::float4_e2m1fn>(fmt::e2m1);
  decode_all<lowp::float6_e2m3fn>(fmt::e2m3);
  decode_all<lowp::float6_e3m2fn>(fmt::e3m2);
  decode_all<lowp::float8_e8m0fnu>(fmt::e8m0);
  decode_all<lowp::float16>(fmt::f16);
  decode_all<lowp::bfloat16>(fmt::bf16);
}

TEST_CASE("CUDA NaN and overflow codes, as documented", "[quick][cuda]") {
  // What NVIDIA's host functions return for NaN, Inf and overflow; lowp's own rule is
  // checked against these where it promises to agree (FP4/FP6 +max, E8M0 0xFF / 0xFE).
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(__nv_cvt_float_to_fp4(nan, __NV_E2M1, cudaRoundNearest) == 0x7);
  CHECK(__nv_cvt_float_to_fp4(-nan, __NV_E2M1, cudaRoundNearest) == 0x7);
  CHECK(lowp::cast<lowp::float4_e2m1fn>(-nan).bits() == 0x7);
  CHECK(__nv_cvt_float_to_fp6(-nan, __NV_E2M3, cudaRoundZero) == 0x1F);
  CHECK(lowp::cast<lowp::float6_e2m3fn>(-nan, rounding::toward_zero).bits() == 0x1F);
  CHECK(__nv_cvt_float_to_fp6(-nan, __NV_E3M2, cudaRoundZero) == 0x1F);
  CHECK(lowp::cast<lowp::float6_e3m2fn>(-nan, rounding::toward_zero).bits() == 0x1F);
  // CUDA's FP8 NaN is 0x7F whatever the input's sign; lowp keeps the sign (both are NaN).
  CHECK(__nv_cvt_float_to_fp8(-nan, __NV_SATFINITE, __NV_E4M3) == 0x7F);
  CHECK(lowp::cast<lowp::float8_e4m3fn>(-nan).bits() == 0xFF);
  CHECK(__nv_cvt_float_to_fp8(nan, __NV_SATFINITE, __NV_E5M2) == 0x7F);
  CHECK(lowp::cast<lowp::float8_e5m2>(nan).bits() == 0x7E);
  // FP16/BF16: CUDA's NaN is the canonical 0x7FFF; lowp keeps sign and payload (as F16C).
  const __half_raw h = __float2half_rn(-nan);
  const __nv_bfloat16_raw b = __float2bfloat16_rn(-nan);
  CHECK(h.x == 0x7FFF);
  CHECK(b.x == 0x7FFF);
  CHECK(lowp::cast<lowp::float16>(-nan).bits() == 0xFE00);
  CHECK(lowp::cast<lowp::bfloat16>(-nan).bits() == 0xFFC0);
  // E8M0: Inf saturates to 2^127 (0xFE) or becomes NaN (0xFF), whatever the rounding.
  CHECK(__nv_cvt_float_to_e8m0(inf, __NV_SATFINITE, cudaRoundZero) == 0xFE);
  CHECK(__nv_cvt_float_to_e8m0(-inf, __NV_NOSAT, cudaRoundZero) == 0xFF);
  CHECK(__nv_cvt_float_to_e8m0(inf, __NV_NOSAT, cudaRoundPosInf) == 0xFF);
  CHECK(lowp::cast<lowp::float8_e8m0fnu>(-inf, rounding::toward_zero, overflow::non_saturating)
            .bits() == 0xFF);
}

TEST_CASE("CUDA agrees near every boundary: E4M3", "[quick][cuda]") {
  quick_sweep(fmt::e4m3, e4m3_cases());
}
TEST_CASE("CUDA agrees near every boundary: E5M2", "[quick][cuda]") {
  quick_sweep(fmt::e5m2, e5m2_cases());
}
TEST_CASE("CUDA agrees near every boundary: E2M1", "[quick][cuda]") {
  quick_sweep(fmt::e2m1, e2m1_cases());
}
TEST_CASE("CUDA agrees near every boundary: E2M3", "[quick][cuda]") {
  quick_sweep(fmt::e2m3, e2m3_cases());
}
TEST_CASE("CUDA agrees near every boundary: E3M2", "[quick][cuda]") {
  quick_sweep(fmt::e3m2, e3m2_cases());
}
TEST_CASE("CUDA agrees near every boundary: E8M0", "[quick][cuda]") {
  quick_sweep(fmt::e8m0, e8m0_cases());
}

TEST_CASE("CUDA agrees near every boundary: float16", "[quick][cuda]") {
  quick_sweep(fmt::f16, std::tuple_cat(f16_rn_cases(), f16_directed_cases()));
}
TEST_CASE("CUDA agrees near every boundary: bfloat16", "[quick][cuda]") {
  quick_sweep(fmt::bf16, std::tuple_cat(bf16_rn_cases(), bf16_directed_cases()));
}

TEST_CASE("CUDA agrees on all 2^32 floats: E4M3", "[.][exhaustive][cuda][e4m3]") {
  exhaustive_sweep(e4m3_cases());
}
TEST_CASE("CUDA agrees on all 2^32 floats: E5M2", "[.][exhaustive][cuda][e5m2]") {
  exhaustive_sweep(e5m2_cases());
}
TEST_CASE("CUDA agrees on all 2^32 floats: E2M1", "[.][exhaustive][cuda][e2m1]") {
  exhaustive_sweep(e2m1_cases());
}
TEST_CASE("CUDA agrees on all 2^32 floats: E2M3", "[.][exhaustive][cuda][e2m3]") {
  exhaustive_sweep(e2m3_cases());
}
TEST_CASE("CUDA agrees on all 2^32 floats: E3M2", "[.][exhaustive][cuda][e3m2]") {
  exhaustive_sweep(e3m2_cases());
}
TEST_CASE("CUDA agrees on all 2^32 floats: E8M0", "[.][exhaustive][cuda][e8m0]") {
  exhaustive_sweep(e8m0_cases());
}

TEST_CASE("CUDA agrees on all 2^32 floats: float16", "[.][exhaustive][cuda][f16]") {
  exhaustive_sweep(f16_rn_cases());
}
TEST_CASE("CUDA agrees on all 2^32 floats: float16 directed",
          "[.][exhaustive][cuda][f16_directed]") {
  exhaustive_sweep(f16_directed_cases());
}
TEST_CASE("CUDA agrees on all 2^32 floats: bfloat16", "[.][exhaustive][cuda][bf16]") {
  exhaustive_sweep(bf16_rn_cases());
}
TEST_CASE("CUDA agrees on all 2^32 floats: bfloat16 directed",
          "[.][exhaustive][cuda][bf16_directed]") {
  exhaustive_sweep(bf16_directed_cases());
}

#else  // no CUDA headers

TEST_CASE("CUDA oracle", "[quick][cuda]") {
  LOWP_SKIP("cuda_fp8.h / cuda_fp6.h / cuda_fp4.h not found: no CUDA comparisons");
}

#endif
