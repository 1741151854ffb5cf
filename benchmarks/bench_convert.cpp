// Bulk conversion throughput: lowp's bulk paths (scalar, AVX2, AVX-512) beside
// the bandwidth references (roofline loops moving the same bytes with no conversion work,
// memcpy), the usual baselines (a plain scalar RNE encoder, a 256-entry lookup
// table decoder, the generic lowp::cast loop) and, when cuda_fp8.h is found, NVIDIA's
// host conversion functions.
//
// Sizes: n elements from 1 Ki to 64 Mi (a float source of 4 KiB to 256 MiB); the
// "in cache" point of the targets is n = 64 Ki, the "memory" point n = 64 Mi.
// Items/s counts elements, bytes/s counts bytes read + written.  Inputs are fixed-seed
// normal samples scaled so that the largest lands near the format's max, like the
// values a per-tensor quantizer feeds the encoder.
#include <benchmark/benchmark.h>

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
LOWP_BENCH(BM_decode<s::avx2_backend, float8_e4m3fn>)->Name("decode_e4m3/avx2");
#endif
#if defined(LOWP_SIMD_AVX512)
LOWP_BENCH(BM_encode<s::avx512_backend, float8_e4m3fn>)->Name("encode_e4m3/avx512");
LOWP_BENCH(BM_encode<s::avx512_backend, float8_e5m2>)->Name("encode_e5m2/avx512");
LOWP_BENCH(BM_decode<s::avx512_backend, float8_e4m3fn>)->Name("decode_e4m3/avx512");
LOWP_BENCH(BM_decode<s::avx512_backend, float8_e5m2>)->Name("decode_e5m2/avx512");
#endif
LOWP_BENCH(BM_convert_encode<float8_e4m3fn>)->Name("convert_float_to_e4m3/best");
LOWP_BENCH(BM_convert_encode<float4_e2m1fn>)->Name("convert_float_to_e2m1_unpacked/best");
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
LOWP_BENCH(BM_memcpy)->Name("memcpy_5B");
LOWP_BENCH(BM_plain_scalar_encode_e4m3)->Name("baseline_plain_scalar_encode_e4m3");
LOWP_BENCH(BM_lut256_decode_e4m3)->Name("baseline_lut256_decode_e4m3");
LOWP_BENCH(BM_generic_cast_encode_e4m3)->Name("baseline_generic_cast_encode_e4m3");
#if defined(LOWP_BENCH_CUDA)
LOWP_BENCH(BM_cuda_host_encode_e4m3)->Name("peer_cuda_host_encode_e4m3");
LOWP_BENCH(BM_cuda_host_decode_e4m3)->Name("peer_cuda_host_decode_e4m3");
#endif

BENCHMARK_MAIN();
