// Bulk conversion throughput: lowp's bulk paths (scalar, AVX2, AVX-512) beside
// the bandwidth references (roofline loops moving the same bytes with no conversion work,
// memcpy), the usual baselines (a plain scalar RNE encoder, a 256-entry lookup
// table decoder, the generic lowp::cast loop) and, when cuda_fp8.h is found, NVIDIA's
// host conversion functions.
//
// Plain-converter peers (peer_plain_{novec,autovec}_*): the converters anyone would write
// without lowp (bit manipulation on the float or the code, branch-free selects, no tables,
// no intrinsics) for float -> E4M3, float -> E5M2, float -> packed E2M1 (RNE, saturating)
// and E4M3 -> float, packed E2M1 -> float.  Each loop is compiled twice from the same
// source: "novec" with the vectorizer off for that function (GCC: optimize
// ("no-tree-vectorize"); clang: #pragma clang loop vectorize(disable)), "autovec" left to
// the compiler's auto-vectorizer at the build's -O3 -march=native.  They answer "how much
// does lowp gain over plain code, scalar and auto-vectorized" within one run; lowp's own
// rows for the same directions are encode_*/decode_*/<backend> and convert_*/best.  With
// g++ 12 (-O3 -march=znver3) all five "autovec" loops come out as AVX2 code and the
// "novec" ones as scalar code (checked in the disassembly).  The plain converters were
// checked bit for bit against lowp::cast (saturating, RNE; every code, the midpoints
// between codes and their float neighbours, NaN payloads, Inf, a strided sweep over all
// float bit patterns, random inputs) and both loop variants against lowp::convert, by a
// one-off program outside the repository; they are benchmark code, not part of the library.
//
// Packed FP6 (E2M3, E3M2): the public entry points (convert_*_packed*/best), the same
// conversions one code per byte (*_unpacked/best: the encoder's own cost), the path they
// had before their packing was SIMD (baseline_bufpack_*: codes through a buffer, packed
// and unpacked one element at a time), and the plain 6-bit packing loops
// (roofline_*_6bit: four low 6-bit fields to three bytes and back, no conversion work;
// GCC vectorizes these stride-3 byte loops poorly, so they are slower than lowp's kernels
// in cache, and from memory the nibble rooflines and memcpy_5B are the bandwidth bound).
//
// Sizes: n elements from 1 Ki to 64 Mi (a float source of 4 KiB to 256 MiB); the
// "in cache" point of the targets is n = 64 Ki, the "memory" point n = 64 Mi.
// Items/s counts elements, bytes/s counts bytes read + written.  Inputs are fixed-seed
// normal samples scaled so that the largest lands near the format's max, like the
// values a per-tensor quantizer feeds the encoder.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <lowp/bulk.hpp>
#include <lowp/lowp.hpp>
#include <lowp/shift_cast.hpp>
#include <map>
#include <memory>
#include <random>
#include <vector>

#if __has_include(<cuda_fp8.h>)
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#endif
#include <cuda_fp8.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#define LOWP_BENCH_CUDA 1
#endif

namespace {

using namespace lowp;
namespace s = lowp::detail::simd;
using lowp::detail::round_mode;

// Fixed-seed inputs, shared between benchmarks of the same size (allocating 256 MiB per
// benchmark would dominate the run).
const std::vector<float>& input(std::size_t n, float absmax) {
  static std::map<std::pair<std::size_t, float>, std::unique_ptr<std::vector<float>>> cache;
  auto& slot = cache[{n, absmax}];
  if (!slot) {
    slot = std::make_unique<std::vector<float>>(n);
    std::mt19937 rng(42);
    std::normal_distribution<float> nd(0.0f, absmax / 4.5f);
    for (float& f : *slot) f = nd(rng);
  }
  return *slot;
}

template <class T>
std::vector<std::uint8_t> codes(std::size_t n) {
  const auto& x = input(n, 448.0f);
  std::vector<std::uint8_t> c(n);
  convert(x.data(), reinterpret_cast<T*>(c.data()), n);
  return c;
}

void counters(benchmark::State& st, std::size_t n, double bytes_per_item) {
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * static_cast<std::int64_t>(n));
  st.SetBytesProcessed(static_cast<std::int64_t>(static_cast<double>(st.iterations()) *
                                                 static_cast<double>(n) * bytes_per_item));
}

template <class T>
constexpr float absmax_of() {
  if constexpr (std::is_same_v<T, float8_e4m3fn>) return 448.0f;
  if constexpr (std::is_same_v<T, float8_e5m2>) return 57344.0f;
  if constexpr (std::is_same_v<T, float6_e2m3fn>) return 7.5f;
  if constexpr (std::is_same_v<T, float6_e3m2fn>) return 28.0f;
  return 6.0f;
}

// ---------------------------------------------------------------- lowp encode / decode

template <class B, class T>
void BM_encode(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto& x = input(n, absmax_of<T>());
  std::vector<std::uint8_t> out(n);
  const auto k = s::make_encode_consts<T>(round_mode::nearest_even, overflow::saturate);
  for (auto _ : st) {
    s::encode_run<B, T, round_mode::nearest_even, false, true>(x.data(), out.data(), n, 1.0f, k);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 5.0);
}

template <class B, class T>
void BM_decode(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto c = codes<T>(n);
  std::vector<float> out(n);
  for (auto _ : st) {
    s::decode_run<B, T, false>(c.data(), out.data(), n, 1.0f);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 5.0);
}

// The public entry points (best back-end of this build).
template <class T>
void BM_convert_encode(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto& x = input(n, absmax_of<T>());
  std::vector<T> out(n);
  for (auto _ : st) {
    convert(x.data(), out.data(), n);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 5.0);
}

// float -> packed E2M1 (no scale): the public entry point.
void BM_convert_encode_packed_e2m1(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto& x = input(n, 6.0f);
  packed_vector<float4_e2m1fn> q(n);
  for (auto _ : st) {
    convert(x.data(), q.span());
    benchmark::DoNotOptimize(q.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 4.5);
}

// FP8 -> float: the public entry point.
template <class T>
void BM_convert_decode(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto c = codes<T>(n);
  std::vector<float> out(n);
  for (auto _ : st) {
    convert(reinterpret_cast<const T*>(c.data()), out.data(), n);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 5.0);
}

// packed E2M1 -> float (no scale): the public entry point.
void BM_convert_decode_packed_e2m1(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto& x = input(n, 6.0f);
  packed_vector<float4_e2m1fn> q(n);
  convert(x.data(), q.span());
  std::vector<float> out(n);
  for (auto _ : st) {
    convert(q.span(), out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 4.5);
}

// float -> packed FP6 (E2M3 / E3M2, no scale): the public entry point.  4 bytes read and
// 3/4 of a byte written per element.
template <class T>
void BM_convert_encode_packed_fp6(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto& x = input(n, absmax_of<T>());
  packed_vector<T> q(n);
  for (auto _ : st) {
    convert(x.data(), q.span());
    benchmark::DoNotOptimize(q.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 4.75);
}

// packed FP6 -> float (no scale): the public entry point.
template <class T>
void BM_convert_decode_packed_fp6(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto& x = input(n, absmax_of<T>());
  packed_vector<T> q(n);
  convert(x.data(), q.span());
  std::vector<float> out(n);
  for (auto _ : st) {
    convert(q.span(), out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 4.75);
}

// float -> packed E2M1 / int4 with one inverse scale per 32 elements.
template <class T>
void BM_convert_scaled_packed_g32(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto& x = input(n, 6.0f);
  std::vector<float> inv(n / 32 + 1, 1.0f);
  packed_vector<T> q(n);
  for (auto _ : st) {
    convert_scaled(x.data(), q.span(), inv.data(), 32);
    benchmark::DoNotOptimize(q.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 4.5 + 4.0 / 32);
}

// packed E2M1 / int4 -> float with one scale per 32 elements.
template <class T>
void BM_convert_unscaled_packed_g32(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto& x = input(n, 6.0f);
  packed_vector<T> q(n);
  convert(x.data(), q.span());
  std::vector<float> sc(n / 32 + 1, 0.5f), out(n);
  for (auto _ : st) {
    convert_unscaled(q.span(), out.data(), sc.data(), 32);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 4.5 + 4.0 / 32);
}

// packed E2M1 -> E4M3 / bfloat16 by the bit-shift cast, k folded in.
template <class To>
void BM_shift_cast_packed(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto& x = input(n, 6.0f);
  packed_vector<float4_e2m1fn> q(n);
  convert(x.data(), q.span());
  std::vector<To> out(n);
  for (auto _ : st) {
    shift_cast(q.span(), out.data(), 2);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 0.5 + static_cast<double>(sizeof(To)));
}

// FP8 -> bfloat16 (table) and bfloat16 -> FP8.
void BM_e4m3_to_bf16(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto c = codes<float8_e4m3fn>(n);
  std::vector<bfloat16> out(n);
  for (auto _ : st) {
    convert(reinterpret_cast<const float8_e4m3fn*>(c.data()), out.data(), n);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 3.0);
}
void BM_bf16_to_e4m3(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto& x = input(n, 448.0f);
  std::vector<bfloat16> b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = bfloat16(x[i]);
  std::vector<float8_e4m3fn> out(n);
  for (auto _ : st) {
    convert(b.data(), out.data(), n);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 3.0);
}

// ---------------------------------------------------------------- references

// Encode roofline: read 4 bytes, write 1, no conversion work (vectorized by the compiler).
void BM_roofline_encode(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto& x = input(n, 448.0f);
  std::vector<std::uint32_t> bits(n);
  std::memcpy(bits.data(), x.data(), n * 4);
  std::vector<std::uint8_t> out(n);
  for (auto _ : st) {
    const std::uint32_t* __restrict src = bits.data();
    std::uint8_t* __restrict dst = out.data();
    for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<std::uint8_t>(src[i]);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 5.0);
}
// Decode roofline: read 1 byte, write 4 (f[i] = u8[i]).
void BM_roofline_decode(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto c = codes<float8_e4m3fn>(n);
  std::vector<float> out(n);
  for (auto _ : st) {
    const std::uint8_t* __restrict src = c.data();
    float* __restrict dst = out.data();
    for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 5.0);
}
// Packed 4-bit rooflines: 4 bytes -> half a byte, and back.
void BM_roofline_encode_nib(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto& x = input(n, 6.0f);
  std::vector<std::uint32_t> bits(n);
  std::memcpy(bits.data(), x.data(), n * 4);
  std::vector<std::uint8_t> out(n / 2);
  for (auto _ : st) {
    const std::uint32_t* __restrict src = bits.data();
    std::uint8_t* __restrict dst = out.data();
    for (std::size_t i = 0; i < n / 2; ++i)
      dst[i] = static_cast<std::uint8_t>((src[2 * i] & 15u) | (src[2 * i + 1] << 4));
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 4.5);
}
void BM_roofline_decode_nib(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto c = codes<float8_e4m3fn>(n / 2);
  std::vector<float> out(n);
  for (auto _ : st) {
    const std::uint8_t* __restrict src = c.data();
    float* __restrict dst = out.data();
    for (std::size_t i = 0; i < n / 2; ++i) {
      dst[2 * i] = static_cast<float>(src[i] & 15u);
      dst[2 * i + 1] = static_cast<float>(src[i] >> 4);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 4.5);
}
// Packed 6-bit rooflines: 4 bytes -> 6 bits (four elements to three bytes), and back.
void BM_roofline_encode_fp6(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto& x = input(n, 6.0f);
  std::vector<std::uint32_t> bits(n);
  std::memcpy(bits.data(), x.data(), n * 4);
  std::vector<std::uint8_t> out(n / 4 * 3);
  for (auto _ : st) {
    const std::uint32_t* __restrict src = bits.data();
    std::uint8_t* __restrict dst = out.data();
    for (std::size_t j = 0; j < n / 4; ++j) {
      const std::uint32_t w = (src[4 * j] & 63u) | (src[4 * j + 1] & 63u) << 6 |
                              (src[4 * j + 2] & 63u) << 12 | (src[4 * j + 3] & 63u) << 18;
      dst[3 * j] = static_cast<std::uint8_t>(w);
      dst[3 * j + 1] = static_cast<std::uint8_t>(w >> 8);
      dst[3 * j + 2] = static_cast<std::uint8_t>(w >> 16);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 4.75);
}
void BM_roofline_decode_fp6(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto c = codes<float8_e4m3fn>(n / 4 * 3);
  std::vector<float> out(n);
  for (auto _ : st) {
    const std::uint8_t* __restrict src = c.data();
    float* __restrict dst = out.data();
    for (std::size_t j = 0; j < n / 4; ++j) {
      const std::uint32_t w = src[3 * j] | static_cast<std::uint32_t>(src[3 * j + 1]) << 8 |
                              static_cast<std::uint32_t>(src[3 * j + 2]) << 16;
      dst[4 * j] = static_cast<float>(w & 63u);
      dst[4 * j + 1] = static_cast<float>((w >> 6) & 63u);
      dst[4 * j + 2] = static_cast<float>((w >> 12) & 63u);
      dst[4 * j + 3] = static_cast<float>(w >> 18);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 4.75);
}
void BM_memcpy(benchmark::State& st) {  // the same 5 bytes per element, copied
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  std::vector<std::uint8_t> a(n * 5 / 2 + 64, 1), b(n * 5 / 2 + 64);
  for (auto _ : st) {
    std::memcpy(b.data(), a.data(), n * 5 / 2);
    benchmark::DoNotOptimize(b.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 5.0);
}

// ---------------------------------------------------------------- baselines

// A plain scalar RNE + saturating float -> E4M3 encoder as commonly written (branchy,
// per element, no tables): the plain-encoder baseline.  Benchmark-only code.
inline std::uint8_t plain_e4m3(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  const std::uint8_t sign = static_cast<std::uint8_t>((u >> 24) & 0x80u);
  u &= 0x7FFFFFFFu;
  if (u > 0x7F800000u) return static_cast<std::uint8_t>(sign | 0x7F);
  if (u >= 0x43E00000u) return static_cast<std::uint8_t>(sign | 0x7E);  // >= 448
  if (u >= (121u << 23)) {                                              // normal
    u += 0x7FFFFu + ((u >> 20) & 1u);
    const std::uint32_t c = (u >> 20) - (120u << 3);
    return static_cast<std::uint8_t>(sign | (c > 0x7E ? 0x7E : c));
  }
  // subnormal: round |x| / 2^-9 to an integer
  const int e = static_cast<int>(u >> 23);
  if (e < 117) return sign;  // below 2^-10: rounds to zero (and keeps shifts < 32)
  const std::uint32_t m = (u & 0x7FFFFFu) | 0x800000u;
  const int sh = 141 - e;
  const std::uint32_t r = (m + (1u << (sh - 1)) - 1u + ((m >> sh) & 1u)) >> sh;
  return static_cast<std::uint8_t>(sign | r);
}

void BM_plain_scalar_encode_e4m3(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto& x = input(n, 448.0f);
  std::vector<std::uint8_t> out(n);
  for (auto _ : st) {
    for (std::size_t i = 0; i < n; ++i) out[i] = plain_e4m3(x[i]);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 5.0);
}

void BM_lut256_decode_e4m3(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto c = codes<float8_e4m3fn>(n);
  float lut[256];
  for (unsigned i = 0; i < 256; ++i)
    lut[i] = static_cast<float>(float8_e4m3fn::from_bits(static_cast<std::uint8_t>(i)));
  std::vector<float> out(n);
  for (auto _ : st) {
    const std::uint8_t* __restrict src = c.data();
    float* __restrict dst = out.data();
    for (std::size_t i = 0; i < n; ++i) dst[i] = lut[src[i]];
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 5.0);
}

// The packed FP6 path as it was before its packing was SIMD (kept to compare both in one
// run): the SIMD encoder into a buffer of 512 codes, then packed_store_code per element;
// packed_load_code per element into a buffer, then the SIMD decoder.
template <class T>
void BM_bufpack_encode_fp6(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto& x = input(n, absmax_of<T>());
  packed_vector<T> q(n);
  const auto k = s::make_encode_consts<T>(round_mode::nearest_even, overflow::saturate);
  for (auto _ : st) {
    constexpr std::size_t chunk = 512;
    std::uint8_t buf[chunk];
    for (std::size_t i = 0; i < n; i += chunk) {
      const std::size_t c = n - i < chunk ? n - i : chunk;
      s::encode_run<s::best_backend, T, round_mode::nearest_even, false, true>(x.data() + i, buf, c,
                                                                               1.0f, k);
      for (std::size_t j = 0; j < c; ++j)
        lowp::detail::packed_store_code<T>(q.data(), i + j, buf[j]);
    }
    benchmark::DoNotOptimize(q.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 4.75);
}
template <class T>
void BM_bufpack_decode_fp6(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto& x = input(n, absmax_of<T>());
  packed_vector<T> q(n);
  convert(x.data(), q.span());
  std::vector<float> out(n);
  for (auto _ : st) {
    constexpr std::size_t chunk = 512;
    std::uint8_t buf[chunk];
    for (std::size_t i = 0; i < n; i += chunk) {
      const std::size_t c = n - i < chunk ? n - i : chunk;
      for (std::size_t j = 0; j < c; ++j)
        buf[j] = lowp::detail::packed_load_code<T>(q.data(), i + j);
      s::decode_run<s::best_backend, T, false>(buf, out.data() + i, c, 1.0f);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 4.75);
}

void BM_generic_cast_encode_e4m3(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto& x = input(n, 448.0f);
  std::vector<float8_e4m3fn> out(n);
  for (auto _ : st) {
    for (std::size_t i = 0; i < n; ++i) out[i] = cast<float8_e4m3fn>(x[i]);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 5.0);
}

// ---------------------------------------------------------------- plain-converter peers

// The plain converters, written from the format definitions (OCP OFP8 E4M3 "fn" and
// E5M2, OCP MX E2M1), independent of lowp.  Branch-free (selects, not early returns), so
// that the auto-vectorizer can take them; integer shifts only, so that they do not depend
// on the FP environment.
namespace plain {

inline std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float float_of(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// |x| (bits a, not NaN) -> the magnitude code of a sign-magnitude minifloat with M mantissa
// bits and exponent bias Bias: rounded to nearest, ties to even, and saturated to MaxCode
// (finite values beyond the largest and Inf).
template <int M, int Bias, std::uint32_t MaxCode>
inline std::uint32_t encode_magnitude(std::uint32_t a) {
  constexpr int emin = 1 - Bias;  // exponent of the smallest normal
  constexpr std::uint32_t min_normal = static_cast<std::uint32_t>(127 + emin) << 23;
  constexpr std::uint32_t drop = 23 - M;  // float mantissa bits dropped
  // Normal range: round the float's bits at mantissa bit M (the carry may run into the
  // exponent, which is the right result), then rebias the exponent.
  const std::uint32_t rounded = (a + ((1u << (drop - 1)) - 1u) + ((a >> drop) & 1u)) >> drop;
  const std::uint32_t normal = rounded - (static_cast<std::uint32_t>(127 - Bias) << M);
  // Subnormal range: |x| / 2^(emin - M) rounded to an integer = the 24-bit significand
  // shifted right by sh, rounded to nearest even.  sh is capped at 31 so that the shift is
  // defined: any sh >= 25 rounds to 0 anyway, and for normal inputs k - e wraps around
  // (that result is discarded by the select below).
  constexpr std::uint32_t k = static_cast<std::uint32_t>(150 + emin - M);
  const std::uint32_t e = a >> 23;
  const std::uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
  const std::uint32_t sh = std::min(k - e, 31u);
  const std::uint32_t sub = (m + (1u << (sh - 1)) - 1u + ((m >> sh) & 1u)) >> sh;
  const std::uint32_t code = a >= min_normal ? normal : sub;
  return std::min(code, MaxCode);
}

// float -> E4M3 (bias 7, max 448 = 0x7E, NaN 0x7F with the input's sign).
inline std::uint8_t encode_e4m3(float x) {
  const std::uint32_t u = bits_of(x), a = u & 0x7FFFFFFFu, sign = (u >> 24) & 0x80u;
  const std::uint32_t mag = a > 0x7F800000u ? 0x7Fu : encode_magnitude<3, 7, 0x7Eu>(a);
  return static_cast<std::uint8_t>(sign | mag);
}
// float -> E5M2 (bias 15, max 57344 = 0x7B; NaN: quiet, the top payload bit kept, as the
// float -> binary16 conversion of F16C does, E5M2 being binary16's top byte).
inline std::uint8_t encode_e5m2(float x) {
  const std::uint32_t u = bits_of(x), a = u & 0x7FFFFFFFu, sign = (u >> 24) & 0x80u;
  const std::uint32_t nan = 0x7Eu | ((a >> 21) & 1u);
  const std::uint32_t mag = a > 0x7F800000u ? nan : encode_magnitude<2, 15, 0x7Bu>(a);
  return static_cast<std::uint8_t>(sign | mag);
}
// float -> E2M1 code in the low nibble (bias 1, max 6 = 0x7; no NaN: NaN gives +6).
inline std::uint32_t encode_e2m1(float x) {
  const std::uint32_t u = bits_of(x), a = u & 0x7FFFFFFFu, sign = (u >> 28) & 0x8u;
  const std::uint32_t code = sign | encode_magnitude<1, 1, 0x7u>(a);
  return a > 0x7F800000u ? 0x7u : code;
}

// E4M3 -> float: exponent and mantissa fields go to the top of the float's (bits 20-26),
// which reads as 2^(e-127) (1 + m/8), or as a float subnormal m 2^-129 when e = 0; one
// multiplication by 2^120 rebiases both exactly (the float subnormal becomes the normal
// m 2^-9; needs denormals honoured, the default).  0x7F/0xFF are NaN.
inline float decode_e4m3(std::uint8_t c) {
  const std::uint32_t sign = static_cast<std::uint32_t>(c & 0x80u) << 24;
  const std::uint32_t mag = c & 0x7Fu;
  const std::uint32_t r = bits_of(float_of(mag << 20) * 0x1p120f);
  // NaN by OR-ing a mask, not a select: GCC sinks the multiplication into the non-NaN
  // branch of a select and then leaves the loop scalar ("control flow in loop").
  const std::uint32_t nan = 0u - static_cast<std::uint32_t>(mag == 0x7Fu);
  return float_of(r | (nan & 0x7FC00000u) | sign);
}
// E2M1 code (low nibble of c) -> float: subnormal 0.5 * m, normal 2^(e-1) * (1 + m/2).
inline float decode_e2m1(std::uint32_t c) {
  const std::uint32_t sign = (c & 8u) << 28, e = (c >> 1) & 3u, m = c & 1u;
  const std::uint32_t normal = ((e + 126u) << 23) | (m << 22);
  const std::uint32_t sub = m != 0 ? 0x3F000000u : 0u;
  return float_of((e == 0 ? sub : normal) | sign);
}

// One element (one packed byte for E2M1) per call: the loop bodies.
struct enc_e4m3 {
  static void run(const float* x, std::uint8_t* y, std::size_t i) { y[i] = encode_e4m3(x[i]); }
};
struct enc_e5m2 {
  static void run(const float* x, std::uint8_t* y, std::size_t i) { y[i] = encode_e5m2(x[i]); }
};
struct enc_e2m1_packed {  // low nibble first
  static void run(const float* x, std::uint8_t* y, std::size_t i) {
    y[i] = static_cast<std::uint8_t>(encode_e2m1(x[2 * i]) | (encode_e2m1(x[2 * i + 1]) << 4));
  }
};
struct dec_e4m3 {
  static void run(const std::uint8_t* c, float* y, std::size_t i) { y[i] = decode_e4m3(c[i]); }
};
struct dec_e2m1_packed {
  static void run(const std::uint8_t* c, float* y, std::size_t i) {
    y[2 * i] = decode_e2m1(c[i] & 15u);
    y[2 * i + 1] = decode_e2m1(static_cast<std::uint32_t>(c[i] >> 4));
  }
};

// The same loop twice: the vectorizer off for this function, and left to the compiler.
#if defined(__clang__)
#define LOWP_BENCH_NO_VECTORIZE_FN
#define LOWP_BENCH_NO_VECTORIZE_LOOP _Pragma("clang loop vectorize(disable)")
#elif defined(__GNUC__)
#define LOWP_BENCH_NO_VECTORIZE_FN __attribute__((optimize("no-tree-vectorize")))
#define LOWP_BENCH_NO_VECTORIZE_LOOP
#else
#define LOWP_BENCH_NO_VECTORIZE_FN
#define LOWP_BENCH_NO_VECTORIZE_LOOP
#endif

template <class Op, class In, class Out>
LOWP_BENCH_NO_VECTORIZE_FN void loop_novec(const In* __restrict x, Out* __restrict y,
                                           std::size_t count) {
  LOWP_BENCH_NO_VECTORIZE_LOOP
  for (std::size_t i = 0; i < count; ++i) Op::run(x, y, i);
}
template <class Op, class In, class Out>
void loop_autovec(const In* __restrict x, Out* __restrict y, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) Op::run(x, y, i);
}

}  // namespace plain

// float -> 1-byte codes (Packed: 2 elements per byte).
template <class Op, bool Vectorize, class T, bool Packed>
void BM_plain_encode(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto& x = input(n, absmax_of<T>());
  const std::size_t count = Packed ? n / 2 : n;
  std::vector<std::uint8_t> out(count);
  for (auto _ : st) {
    if constexpr (Vectorize) {
      plain::loop_autovec<Op>(x.data(), out.data(), count);
    } else {
      plain::loop_novec<Op>(x.data(), out.data(), count);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, Packed ? 4.5 : 5.0);
}

// E4M3 codes / packed E2M1 bytes (of the same inputs as the encoders') -> float.
template <class Op, bool Vectorize, bool Packed>
void BM_plain_decode(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  std::vector<std::uint8_t> c;
  if constexpr (Packed) {
    packed_vector<float4_e2m1fn> q(n);
    convert(input(n, 6.0f).data(), q.span());
    c.assign(q.bytes(), q.bytes() + q.size_in_bytes());
  } else {
    c = codes<float8_e4m3fn>(n);
  }
  const std::size_t count = Packed ? n / 2 : n;
  std::vector<float> out(n);
  for (auto _ : st) {
    if constexpr (Vectorize) {
      plain::loop_autovec<Op>(c.data(), out.data(), count);
    } else {
      plain::loop_novec<Op>(c.data(), out.data(), count);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, Packed ? 4.5 : 5.0);
}

#if defined(LOWP_BENCH_CUDA)
void BM_cuda_host_encode_e4m3(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto& x = input(n, 448.0f);
  std::vector<std::uint8_t> out(n);
  for (auto _ : st) {
    for (std::size_t i = 0; i < n; ++i)
      out[i] = static_cast<std::uint8_t>(__nv_cvt_float_to_fp8(x[i], __NV_SATFINITE, __NV_E4M3));
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 5.0);
}
void BM_cuda_host_decode_e4m3(benchmark::State& st) {
  const std::size_t n = static_cast<std::size_t>(st.range(0));
  const auto c = codes<float8_e4m3fn>(n);
  std::vector<float> out(n);
  for (auto _ : st) {
    for (std::size_t i = 0; i < n; ++i) {
      const __half_raw h = __nv_cvt_fp8_to_halfraw(c[i], __NV_E4M3);
      // half -> float via lowp (exact), since cuda_fp16's host path needs more headers
      out[i] = static_cast<float>(float16::from_bits(h.x));
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  counters(st, n, 5.0);
}
#endif

void sizes(benchmark::internal::Benchmark* b) {
  for (std::int64_t n : {1 << 10, 1 << 14, 1 << 16, 1 << 18, 1 << 22, 1 << 26}) b->Arg(n);
}

}  // namespace

#define LOWP_BENCH(...) BENCHMARK(__VA_ARGS__)->Apply(sizes)

LOWP_BENCH(BM_encode<s::scalar_backend, float8_e4m3fn>)->Name("encode_e4m3/scalar");
LOWP_BENCH(BM_encode<s::scalar_backend, float8_e5m2>)->Name("encode_e5m2/scalar");
LOWP_BENCH(BM_decode<s::scalar_backend, float8_e4m3fn>)->Name("decode_e4m3/scalar");
LOWP_BENCH(BM_decode<s::scalar_backend, float8_e5m2>)->Name("decode_e5m2/scalar");
#if defined(LOWP_SIMD_AVX2)
LOWP_BENCH(BM_encode<s::avx2_backend, float8_e4m3fn>)->Name("encode_e4m3/avx2");
LOWP_BENCH(BM_encode<s::avx2_backend, float8_e5m2>)->Name("encode_e5m2/avx2");
LOWP_BENCH(BM_decode<s::avx2_backend, float8_e4m3fn>)->Name("decode_e4m3/avx2");
LOWP_BENCH(BM_decode<s::avx2_backend, float8_e5m2>)->Name("decode_e5m2/avx2");
#endif
#if defined(LOWP_SIMD_AVX512)
LOWP_BENCH(BM_encode<s::avx512_backend, float8_e4m3fn>)->Name("encode_e4m3/avx512");
LOWP_BENCH(BM_encode<s::avx512_backend, float8_e5m2>)->Name("encode_e5m2/avx512");
LOWP_BENCH(BM_decode<s::avx512_backend, float8_e4m3fn>)->Name("decode_e4m3/avx512");
LOWP_BENCH(BM_decode<s::avx512_backend, float8_e5m2>)->Name("decode_e5m2/avx512");
#endif
LOWP_BENCH(BM_convert_encode<float8_e4m3fn>)->Name("convert_float_to_e4m3/best");
LOWP_BENCH(BM_convert_encode<float8_e5m2>)->Name("convert_float_to_e5m2/best");
LOWP_BENCH(BM_convert_encode<float4_e2m1fn>)->Name("convert_float_to_e2m1_unpacked/best");
LOWP_BENCH(BM_convert_encode_packed_e2m1)->Name("convert_float_to_e2m1_packed/best");
LOWP_BENCH(BM_convert_decode<float8_e4m3fn>)->Name("convert_e4m3_to_float/best");
LOWP_BENCH(BM_convert_decode_packed_e2m1)->Name("convert_e2m1_packed_to_float/best");
LOWP_BENCH(BM_convert_encode<float6_e2m3fn>)->Name("convert_float_to_e2m3_unpacked/best");
LOWP_BENCH(BM_convert_encode<float6_e3m2fn>)->Name("convert_float_to_e3m2_unpacked/best");
LOWP_BENCH(BM_convert_encode_packed_fp6<float6_e2m3fn>)->Name("convert_float_to_e2m3_packed/best");
LOWP_BENCH(BM_convert_encode_packed_fp6<float6_e3m2fn>)->Name("convert_float_to_e3m2_packed/best");
LOWP_BENCH(BM_convert_decode_packed_fp6<float6_e2m3fn>)->Name("convert_e2m3_packed_to_float/best");
LOWP_BENCH(BM_convert_decode_packed_fp6<float6_e3m2fn>)->Name("convert_e3m2_packed_to_float/best");
LOWP_BENCH(BM_convert_scaled_packed_g32<float4_e2m1fn>)->Name("quantize_packed_e2m1_g32/best");
LOWP_BENCH(BM_convert_scaled_packed_g32<lowp::int4>)->Name("quantize_packed_int4_g32/best");
LOWP_BENCH(BM_convert_unscaled_packed_g32<float4_e2m1fn>)->Name("dequantize_packed_e2m1_g32/best");
LOWP_BENCH(BM_convert_unscaled_packed_g32<lowp::int4>)->Name("dequantize_packed_int4_g32/best");
LOWP_BENCH(BM_shift_cast_packed<float8_e4m3fn>)->Name("shift_cast_packed_e2m1_to_e4m3");
LOWP_BENCH(BM_shift_cast_packed<bfloat16>)->Name("shift_cast_packed_e2m1_to_bf16");
LOWP_BENCH(BM_e4m3_to_bf16)->Name("convert_e4m3_to_bf16");
LOWP_BENCH(BM_bf16_to_e4m3)->Name("convert_bf16_to_e4m3");
LOWP_BENCH(BM_roofline_encode)->Name("roofline_encode_4B_to_1B");
LOWP_BENCH(BM_roofline_decode)->Name("roofline_decode_1B_to_4B");
LOWP_BENCH(BM_roofline_encode_nib)->Name("roofline_encode_4B_to_nibble");
LOWP_BENCH(BM_roofline_decode_nib)->Name("roofline_decode_nibble_to_4B");
LOWP_BENCH(BM_roofline_encode_fp6)->Name("roofline_encode_4B_to_6bit");
LOWP_BENCH(BM_roofline_decode_fp6)->Name("roofline_decode_6bit_to_4B");
LOWP_BENCH(BM_memcpy)->Name("memcpy_5B");
LOWP_BENCH(BM_plain_scalar_encode_e4m3)->Name("baseline_plain_scalar_encode_e4m3");
LOWP_BENCH(BM_lut256_decode_e4m3)->Name("baseline_lut256_decode_e4m3");
LOWP_BENCH(BM_generic_cast_encode_e4m3)->Name("baseline_generic_cast_encode_e4m3");
LOWP_BENCH(BM_bufpack_encode_fp6<float6_e2m3fn>)->Name("baseline_bufpack_encode_e2m3_packed");
LOWP_BENCH(BM_bufpack_encode_fp6<float6_e3m2fn>)->Name("baseline_bufpack_encode_e3m2_packed");
LOWP_BENCH(BM_bufpack_decode_fp6<float6_e2m3fn>)->Name("baseline_bufpack_decode_e2m3_packed");
LOWP_BENCH(BM_bufpack_decode_fp6<float6_e3m2fn>)->Name("baseline_bufpack_decode_e3m2_packed");
// The plain converters, vectorizer off ("novec") and left to the compiler ("autovec").
LOWP_BENCH(BM_plain_encode<plain::enc_e4m3, false, float8_e4m3fn, false>)
    ->Name("peer_plain_novec_encode_e4m3");
LOWP_BENCH(BM_plain_encode<plain::enc_e4m3, true, float8_e4m3fn, false>)
    ->Name("peer_plain_autovec_encode_e4m3");
LOWP_BENCH(BM_plain_encode<plain::enc_e5m2, false, float8_e5m2, false>)
    ->Name("peer_plain_novec_encode_e5m2");
LOWP_BENCH(BM_plain_encode<plain::enc_e5m2, true, float8_e5m2, false>)
    ->Name("peer_plain_autovec_encode_e5m2");
LOWP_BENCH(BM_plain_encode<plain::enc_e2m1_packed, false, float4_e2m1fn, true>)
    ->Name("peer_plain_novec_encode_e2m1_packed");
LOWP_BENCH(BM_plain_encode<plain::enc_e2m1_packed, true, float4_e2m1fn, true>)
    ->Name("peer_plain_autovec_encode_e2m1_packed");
LOWP_BENCH(BM_plain_decode<plain::dec_e4m3, false, false>)->Name("peer_plain_novec_decode_e4m3");
LOWP_BENCH(BM_plain_decode<plain::dec_e4m3, true, false>)->Name("peer_plain_autovec_decode_e4m3");
LOWP_BENCH(BM_plain_decode<plain::dec_e2m1_packed, false, true>)
    ->Name("peer_plain_novec_decode_e2m1_packed");
LOWP_BENCH(BM_plain_decode<plain::dec_e2m1_packed, true, true>)
    ->Name("peer_plain_autovec_decode_e2m1_packed");
#if defined(LOWP_BENCH_CUDA)
LOWP_BENCH(BM_cuda_host_encode_e4m3)->Name("peer_cuda_host_encode_e4m3");
LOWP_BENCH(BM_cuda_host_decode_e4m3)->Name("peer_cuda_host_decode_e4m3");
#endif

BENCHMARK_MAIN();
