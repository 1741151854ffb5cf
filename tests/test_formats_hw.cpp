// tests/test_formats_hw.cpp — lowp's float16 and bfloat16 against the CPU's own
// conversion instructions (issue 3).
//
//   float -> binary16   F16C VCVTPS2PH with imm8 = _MM_FROUND_TO_NEAREST_INT: IEEE 754
//                       round to nearest even, overflow to Inf, NaN quieted with its top
//                       payload bits kept (Intel SDM vol. 2, VCVTPS2PH).  Compared, bit for
//                       bit and for all 2^32 floats, with cast<float16>(x, nearest_even,
//                       non_saturating).
//   binary16 -> float   F16C VCVTPH2PS for all 65536 codes vs static_cast<float>.
//   float -> bfloat16   AVX512-BF16 VCVTNEPS2BF16: round to nearest even, but it treats
//                       denormal inputs as zero (DAZ, whatever MXCSR says) and quiets NaN
//                       keeping the top payload bits (Intel SDM, "convert_fp32_to_bfloat16").
//                       Normal numbers, zeros and Inf are compared bit for bit with
//                       cast<bfloat16>(x, nearest_even, non_saturating); for denormal and
//                       NaN inputs the test checks and counts exactly what differs.
//
// The instructions are reached through __attribute__((target(...))) functions and used
// only after CPUID says the CPU (and the OS, XGETBV) supports them, so no -march flag is
// needed; where they are missing the test case skips (LOWP_REQUIRE_ISA, tests/lowp_test.hpp).
//
// Tags: [quick] a few million floats near every rounding boundary plus specials;
// [exhaustive] (hidden: [.]) all 2^32 floats, [f16c] and [avx512bf16] separately.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <lowp/cast.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "lowp_test.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LOWP_TEST_X86 1
#else
#define LOWP_TEST_X86 0
#endif

#if LOWP_TEST_X86

namespace {

using std::uint16_t;
using std::uint32_t;
using std::uint64_t;

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

std::string hex(uint64_t v, int digits) {
  std::ostringstream s;
  s << "0x" << std::hex << std::uppercase;
  s.width(digits);
  s.fill('0');
  s << v;
  return s.str();
}

// Counts, and the first few examples, of one kind of disagreement.
struct tally {
  uint64_t count = 0;
  std::vector<std::string> first;
  void add(uint32_t in, uint32_t hw, uint32_t ours) {
    if (++count <= 8)
      first.push_back("input " + hex(in, 8) + ": hardware " + hex(hw, 4) + ", lowp " +
                      hex(ours, 4));
  }
  std::string str(const char* what) const {
    std::string s = std::string(what) + ": " + std::to_string(count);
    for (const auto& e : first) s += "\n  " + e;
    return s;
  }
};

constexpr std::size_t chunk = 4096;  // a multiple of 16 (the widest vector below)

// --- the instructions -------------------------------------------------------------------

// The instruction sets of the functions below: their target attribute and the run-time
// check of the test cases that call them (LOWP_REQUIRE_ISA) name the same list.
#define LOWP_TEST_F16C_ISA "avx,f16c"
#define LOWP_TEST_BF16_ISA "avx512f,avx512bf16"

__attribute__((target(LOWP_TEST_F16C_ISA))) void f16c_from_float(const float* in, uint16_t* out,
                                                                 std::size_t n) {
  for (std::size_t i = 0; i < n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
  }
}

__attribute__((target(LOWP_TEST_F16C_ISA))) void f16c_to_float(const uint16_t* in, float* out,
                                                               std::size_t n) {
  for (std::size_t i = 0; i < n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
  }
}

__attribute__((target(LOWP_TEST_BF16_ISA))) void bf16_from_float(const float* in, uint16_t* out,
                                                                 std::size_t n) {
  for (std::size_t i = 0; i < n; i += 16) {
    const __m256bh b = _mm512_cvtneps_pbh(_mm512_loadu_ps(in + i));
    std::memcpy(out + i, &b, sizeof b);  // __m256bh's element type differs between compilers
  }
}

// --- float -> float16 --------------------------------------------------------------------

struct f16_result {
  uint64_t checked = 0;
  tally mismatch;
};

// Converts in[0..n) (n a multiple of 8) with F16C and with lowp, and tallies.
void f16c_compare(const std::vector<uint32_t>& in, f16_result& r) {
  std::vector<float> x(chunk);
  std::vector<uint16_t> hw(chunk);
  for (std::size_t base = 0; base < in.size(); base += chunk) {
    const std::size_t n = std::min(chunk, in.size() - base);
    for (std::size_t i = 0; i < chunk; ++i) x[i] = float_of(i < n ? in[base + i] : 0u);
    f16c_from_float(x.data(), hw.data(), chunk);
    for (std::size_t i = 0; i < n; ++i) {
      const uint16_t ours = lowp::cast<lowp::float16>(x[i], lowp::rounding::nearest_even,
                                                      lowp::overflow::non_saturating)
                                .bits();
      if (ours != hw[i]) r.mismatch.add(in[base + i], hw[i], ours);
    }
    r.checked += n;
  }
}

void f16c_all_floats(f16_result& r) {
  std::vector<float> x(chunk);
  std::vector<uint16_t> hw(chunk);
  for (uint64_t base = 0; base < (uint64_t{1} << 32); base += chunk) {
    for (std::size_t i = 0; i < chunk; ++i) x[i] = float_of(static_cast<uint32_t>(base + i));
    f16c_from_float(x.data(), hw.data(), chunk);
    for (std::size_t i = 0; i < chunk; ++i) {
      const uint16_t ours = lowp::cast<lowp::float16>(x[i], lowp::rounding::nearest_even,
                                                      lowp::overflow::non_saturating)
                                .bits();
      if (ours != hw[i]) r.mismatch.add(static_cast<uint32_t>(base + i), hw[i], ours);
    }
    r.checked += chunk;
  }
}

// --- float -> bfloat16 -------------------------------------------------------------------

// What differs, by class of input.
struct bf16_result {
  uint64_t checked = 0, denormals = 0, nans = 0;
  tally normal_mismatch;    // normal, zero or Inf input: must be empty
  tally denormal_differs;   // denormal input: hardware flushed, lowp rounded
  tally denormal_not_zero;  // denormal input where the hardware did NOT give a signed zero
  tally nan_not_nan;        // NaN input where either side is not a bfloat16 NaN
  tally nan_differs;        // NaN input, both NaN but different bits
};

void bf16_one(uint32_t in, uint16_t hw, bf16_result& r) {
  const uint16_t ours = lowp::cast<lowp::bfloat16>(float_of(in), lowp::rounding::nearest_even,
                                                   lowp::overflow::non_saturating)
                            .bits();
  const uint32_t exp = (in >> 23) & 0xFFu, mant = in & 0x7FFFFFu;
  auto bf16_nan = [](uint16_t b) { return (b & 0x7F80u) == 0x7F80u && (b & 0x7Fu) != 0; };
  if (exp == 0xFF && mant != 0) {
    ++r.nans;
    if (!bf16_nan(hw) || !bf16_nan(ours))
      r.nan_not_nan.add(in, hw, ours);
    else if (hw != ours)
      r.nan_differs.add(in, hw, ours);
  } else if (exp == 0 && mant != 0) {
    ++r.denormals;
    if (hw != ours) r.denormal_differs.add(in, hw, ours);
    if (hw != ((in >> 16) & 0x8000u)) r.denormal_not_zero.add(in, hw, ours);
  } else if (hw != ours) {
    r.normal_mismatch.add(in, hw, ours);
  }
  ++r.checked;
}

void bf16_compare(const std::vector<uint32_t>& in, bf16_result& r) {
  std::vector<float> x(chunk);
  std::vector<uint16_t> hw(chunk);
  for (std::size_t base = 0; base < in.size(); base += chunk) {
    const std::size_t n = std::min(chunk, in.size() - base);
    for (std::size_t i = 0; i < chunk; ++i) x[i] = float_of(i < n ? in[base + i] : 0u);
    bf16_from_float(x.data(), hw.data(), chunk);
    for (std::size_t i = 0; i < n; ++i) bf16_one(in[base + i], hw[i], r);
  }
}

void bf16_all_floats(bf16_result& r) {
  std::vector<float> x(chunk);
  std::vector<uint16_t> hw(chunk);
  for (uint64_t base = 0; base < (uint64_t{1} << 32); base += chunk) {
    for (std::size_t i = 0; i < chunk; ++i) x[i] = float_of(static_cast<uint32_t>(base + i));
    bf16_from_float(x.data(), hw.data(), chunk);
    for (std::size_t i = 0; i < chunk; ++i) bf16_one(static_cast<uint32_t>(base + i), hw[i], r);
  }
}

// What the bfloat16 comparison must show: agreement on everything but denormal inputs,
// which the instruction (alone) flushes to a zero of the same sign.
void require_bf16(const bf16_result& r, bool all_denormals_seen) {
  INFO(r.normal_mismatch.str("normal/zero/Inf inputs that differ"));
  INFO(r.nan_not_nan.str("NaN inputs not giving NaN"));
  INFO(r.nan_differs.str("NaN inputs giving a different NaN"));
  INFO(r.denormal_not_zero.str("denormal inputs not flushed to a signed zero by the hardware"));
  INFO(r.denormal_differs.str("denormal inputs that differ (hardware flushes, lowp rounds)"));
  CHECK(r.checked > 0);
  CHECK(r.normal_mismatch.count == 0);
  CHECK(r.nan_not_nan.count == 0);
  CHECK(r.nan_differs.count == 0);
  CHECK(r.denormal_not_zero.count == 0);
  // lowp rounds a denormal float to a bfloat16 subnormal (bfloat16 has float's exponent
  // range); it agrees with the flushing instruction exactly where the correctly rounded
  // result is zero: |x| <= 2^-134 (half of bfloat16's smallest subnormal 2^-133, ties to
  // even), i.e. mantissa field <= 0x8000.  Per sign 2^23 - 1 denormals, 2^15 of them flush.
  if (all_denormals_seen) CHECK(r.denormal_differs.count == 2 * ((uint64_t{1} << 23) - 1 - 0x8000));
}

// --- the quick input sets ----------------------------------------------------------------

// +-16 float ulps around every positive finite value of a 16-bit format (given by a list
// of float bit patterns) and every midpoint between neighbours, both signs; the overflow
// threshold; subnormal floats at both ends; Inf; NaNs with assorted payloads; 2^20
// random floats (fixed seed).
std::vector<uint32_t> quick_floats(const std::vector<uint32_t>& values) {
  std::vector<uint32_t> in;
  auto around = [&in](uint32_t b, int k) {
    for (int d = -k; d <= k; ++d) {
      const int64_t v = static_cast<int64_t>(b) + d;
      if (v < 0 || v >= 0x7F800000) continue;
      in.push_back(static_cast<uint32_t>(v));
      in.push_back(static_cast<uint32_t>(v) | 0x80000000u);
    }
  };
  for (std::size_t i = 0; i < values.size(); ++i) {
    around(values[i], 16);
    if (i + 1 < values.size()) {
      const double mid = (static_cast<double>(float_of(values[i])) +
                          static_cast<double>(float_of(values[i + 1]))) /
                         2;
      around(bits_of(static_cast<float>(mid)),
             16);  // exact: a 16-bit format's midpoint has <= 18 bits
    }
  }
  for (uint32_t s : {0u, 0x80000000u}) {
    for (uint32_t m = 0; m < 65536; ++m) in.push_back(s | m);
    for (uint32_t m = 0; m < 65536; ++m) in.push_back(s | (0x00800000u - 1 - m));
    for (uint32_t m = 0x7F7F0000u; m <= 0x7F800000u; ++m) in.push_back(s | m);
    for (uint32_t m : {1u, 2u, 0x1FFFu, 0x2000u, 0x3FFFu, 0xFFFFu, 0x10000u, 0x3FFFFFu, 0x400000u,
                       0x400001u, 0x5A5A5Au, 0x7FFFFFu})
      in.push_back(s | 0x7F800000u | m);
  }
  uint64_t state = 0x2545F4914F6CDD1Dull;  // splitmix64, fixed seed
  for (int i = 0; i < (1 << 20); ++i) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    in.push_back(static_cast<uint32_t>(z ^ (z >> 31)));
  }
  return in;
}

// The positive finite binary16 values as float bits, from IEEE 754 section 3.4 (not lowp).
std::vector<uint32_t> half_values() {
  std::vector<uint32_t> v;
  for (int e = 0; e < 31; ++e)
    for (int m = 0; m < 1024; ++m) {
      if (e == 0 && m == 0) continue;
      const double x = e == 0 ? std::ldexp(m, -24) : std::ldexp(m + 1024, e - 25);
      v.push_back(bits_of(static_cast<float>(x)));
    }
  v.push_back(bits_of(65520.0f));  // the overflow threshold: 65504 + half an ulp (32)
  return v;
}
// The positive finite bfloat16 values: the top half of a float.
std::vector<uint32_t> bf16_values() {
  std::vector<uint32_t> v;
  for (uint32_t b = 1; b < 0x7F80u; ++b) v.push_back(b << 16);
  v.push_back(0x7F7F8000u);  // the overflow threshold: max + half an ulp
  return v;
}

}  // namespace

TEST_CASE("F16C: float -> float16 near every boundary", "[quick][f16c]") {
  LOWP_REQUIRE_ISA(LOWP_TEST_F16C_ISA);
  f16_result r;
  f16c_compare(quick_floats(half_values()), r);
  INFO(r.mismatch.str("mismatches"));
  CHECK(r.checked > 4000000);
  CHECK(r.mismatch.count == 0);
}

TEST_CASE("F16C: float16 -> float, all 65536 codes", "[quick][f16c]") {
  LOWP_REQUIRE_ISA(LOWP_TEST_F16C_ISA);
  std::vector<uint16_t> codes(65536);
  std::vector<float> hw(65536);
  for (uint32_t c = 0; c < 65536; ++c) codes[c] = static_cast<uint16_t>(c);
  f16c_to_float(codes.data(), hw.data(), codes.size());
  tally t;
  for (uint32_t c = 0; c < 65536; ++c) {
    const uint32_t ours =
        bits_of(static_cast<float>(lowp::float16::from_bits(static_cast<uint16_t>(c))));
    if (ours != bits_of(hw[c])) t.add(c, bits_of(hw[c]), ours);
  }
  INFO(t.str("codes that decode differently (input = code, outputs = float bits)"));
  CHECK(t.count == 0);
}

TEST_CASE("F16C: all 2^32 floats -> float16", "[.][exhaustive][f16c]") {
  LOWP_REQUIRE_ISA(LOWP_TEST_F16C_ISA);
  f16_result r;
  f16c_all_floats(r);
  INFO(r.mismatch.str("mismatches"));
  CHECK(r.checked == (uint64_t{1} << 32));
  CHECK(r.mismatch.count == 0);
}

TEST_CASE("AVX512-BF16: float -> bfloat16 near every boundary", "[quick][avx512bf16]") {
  LOWP_REQUIRE_ISA(LOWP_TEST_BF16_ISA);
  bf16_result r;
  bf16_compare(quick_floats(bf16_values()), r);
  CHECK(r.denormals > 0);
  CHECK(r.nans > 0);
  require_bf16(r, false);
  // The quick set holds the subnormal floats 1..0xFFFF and 0x7F0000..0x7FFFFF of each
  // sign, of which the mantissas 1..0x8000 round to zero.
  CHECK(r.denormal_differs.count >= 2 * (65536 - 1 - 0x8000 + 65536));
}

TEST_CASE("AVX512-BF16: all 2^32 floats -> bfloat16", "[.][exhaustive][avx512bf16]") {
  LOWP_REQUIRE_ISA(LOWP_TEST_BF16_ISA);
  bf16_result r;
  bf16_all_floats(r);
  CHECK(r.checked == (uint64_t{1} << 32));
  CHECK(r.nans == 2 * ((uint64_t{1} << 23) - 1));
  CHECK(r.denormals == 2 * ((uint64_t{1} << 23) - 1));
  require_bf16(r, true);
}

#else

TEST_CASE("CPU conversion instructions", "[quick]") {
  LOWP_SKIP("not an x86 CPU: no F16C or AVX512-BF16");
}

#endif
