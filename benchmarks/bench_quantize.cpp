// benchmarks/bench_quantize.cpp — lowp::quantize, quantized_tensor::dequantize and
// lowp::fake_quantize on square n x n float matrices, next to memcpy and a nibble -> float
// roofline in the same binary.
//
// Quantize rows (bytes of float input per second, n = 1024, 2048, 4096; CPU time):
//   fp4_m2_g128    pow2_relative<float4_e2m1fn>, groups of 128, packed codes (the target:
//                  >= 50% of memcpy at 4096 x 4096)
//   fp8_per_token  absmax<float8_e4m3fn>, one scale per row
//   *_scalar       the same policy through policy.encode() element by element (the path
//                  quantize() takes without a bulk kernel), for comparison
// quantize() may run on OpenMP's threads; these rows pin OpenMP to 1 thread, because their
// rates come from the CPU time of the calling thread (as in the build without OpenMP).
//
// Dequantize / fake-quantize rows ({n, threads}; items/s = matrix elements, bytes/s = the
// 4 n² bytes of the float output; wall-clock time, since the library may split the work
// over OpenMP threads and the CPU time of the main thread would then under-count):
//   dequantize/<policy>      q.dequantize(out) of a tensor quantized once before the loop
//   fake_quantize/<policy>   lowp::fake_quantize(policy, W, out, n, n, gran)
//   <policy>: absmax, m1 (pow2) and m2 (pow2_relative), each with float4_e2m1fn (e2m1)
//   and int4, groups of 128; mx<float4_e2m1fn> (b32) and nvfp4 (b16) with per_block().
//   threads sets omp_set_num_threads for the call (restored afterwards); without OpenMP
//   only the 1-thread rows exist.
//   dequantize_bf16/<p>, dequantize_f16/<p>   q.dequantize(To*) straight to a 16-bit
//                  buffer (bytes/s: the 2 n² bytes written), <p> = m2_e2m1_g128 and
//                  absmax_int4_g128; dequantize_then_convert_{bf16,f16}/<p>: the same
//                  result through a float buffer and lowp::convert<To>;
//                  float_to_{bf16,f16}_codes: the float -> 16-bit rounding pass alone on
//                  n² floats, as lowp runs it (float16: F16C where the CPU has it);
//                  float_to_f16_codes_portable: the integer encoder (the same bits);
//                  convert_float_to_{f16,bf16}: lowp::convert; cast_loop_float_to_{f16,
//                  bf16}: a lowp::cast loop (what convert ran before);
//                  roofline_float_to_u16_truncate: the same pass truncating (the least a
//                  float -> 16-bit pass does)
//   dequantize_reference_value_loop/m2_e2m1_g128   out[r*n+c] = q.value(r, c) element by
//                  element: the path dequantize() had before it got a bulk kernel, kept so
//                  that before/after ratios come from the same run.
// References for those rows, at the same sizes and thread counts:
//   roofline_nib_lut16_to_float        read n²/2 bytes of packed nibbles and write n²
//                  floats through a 16-entry table, no scales: the least any 4-bit
//                  dequantizer must do (a plain loop, left to the auto-vectorizer)
//   roofline_nib_lut16_to_float_avx2   the same with one vpermd per 8 elements (AVX2
//                  builds): the plain loop's code depends on what the compiler makes of
//                  a table lookup (gathers or scalar loads), which may be slower than
//                  lowp's own decoder, and a roofline must be an upper bound
//   memcpy_float_out                   memcpy of the n² float output (4 n² bytes)
// Sizes 256 (64 Ki elements, 256 KiB of floats: in L2) and 4096 (16 Mi elements, 64 MiB:
// from memory).
// Data: Gaussian, fixed seed (12345).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "lowp/quantize.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace {

// One fixed-seed matrix per size, generated once (4096² normals take a good fraction of a
// second, too much to redo each time the benchmarks alternate between sizes).
const std::vector<float>& matrix(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<std::vector<float>>> cache;
  auto& slot = cache[n];
  if (!slot) {
    slot = std::make_unique<std::vector<float>>(n * n);
    std::mt19937 rng(12345);
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (float& v : *slot) v = d(rng);
  }
  return *slot;
}

void set_rate(benchmark::State& state, std::size_t n,
              std::size_t bytes_per_element = sizeof(float)) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(n * n * bytes_per_element));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(n * n));
}

// OpenMP's thread count for the library's parallel loops, for one benchmark run; the
// previous count is restored so that rows without a thread argument keep the default.
class omp_threads {
 public:
  explicit omp_threads(std::int64_t n) {
#if defined(_OPENMP)
    previous_ = omp_get_max_threads();
    omp_set_num_threads(static_cast<int>(n));
#else
    (void)n;
#endif
  }
  ~omp_threads() {
#if defined(_OPENMP)
    omp_set_num_threads(previous_);
#endif
  }
  omp_threads(const omp_threads&) = delete;
  omp_threads& operator=(const omp_threads&) = delete;

 private:
  int previous_ = 1;
};

// f(first_row, last_row) over `threads` equal bands of rows (the references' own
// threading, for the same thread count as the library rows; one band without OpenMP).
template <class F>
void row_bands(std::size_t rows, std::int64_t threads, F&& f) {
#if defined(_OPENMP)
  if (threads <= 1) {
    f(std::size_t{0}, rows);  // no parallel region: its start-up is not part of 1 thread
    return;
  }
  const auto t = static_cast<std::ptrdiff_t>(threads);
#pragma omp parallel for num_threads(static_cast <int>(t)) schedule(static)
  for (std::ptrdiff_t k = 0; k < t; ++k) {
    const std::size_t uk = static_cast<std::size_t>(k), ut = static_cast<std::size_t>(t);
    f(rows * uk / ut, rows * (uk + 1) / ut);
  }
#else
  (void)threads;
  f(std::size_t{0}, rows);
#endif
}

// ------------------------------------------------------------------------- quantize

void BM_memcpy(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto& w = matrix(n);
  std::vector<float> dst(w.size(), 1.0f);
  for (auto _ : state) {
    std::memcpy(dst.data(), w.data(), w.size() * sizeof(float));
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, n);
}

template <class Policy>
void run_quantize(benchmark::State& state, Policy pol, lowp::granularity gran) {
  const omp_threads one(1);  // see the file comment: CPU-time rows stay single-threaded
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto& w = matrix(n);
  for (auto _ : state) {
    auto q = lowp::quantize(pol, w.data(), n, n, gran);
    benchmark::DoNotOptimize(q.code_bytes());
    benchmark::ClobberMemory();
  }
  set_rate(state, n);
}

void BM_quantize_fp4_m2_g128(benchmark::State& state) {
  run_quantize(state, lowp::pow2_relative<lowp::float4_e2m1fn>{},
               lowp::granularity::per_group(128));
}
void BM_quantize_fp8_per_token(benchmark::State& state) {
  run_quantize(state, lowp::absmax<lowp::float8_e4m3fn>{}, lowp::granularity::per_token());
}

// The element-by-element path: prepare, fit and encode() per element into packed codes.
template <class Policy>
void run_scalar(benchmark::State& state, Policy pol, std::size_t g) {
  const omp_threads one(1);
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto& w = matrix(n);
  for (auto _ : state) {
    lowp::quantized_tensor<Policy> t(pol, n, n, lowp::granularity::per_group(g));
    auto& p = t.policy();
    p.prepare(w.data(), n, n, g);
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t c0 = 0; c0 < n; c0 += g) {
        const auto prm = p.fit(w.data() + r * n + c0, g, 1, r);
        t.group_params(r, c0 / g) = prm;
        for (std::size_t i = 0; i < g; ++i) t.set_code(r, c0 + i, p.encode(w[r * n + c0 + i], prm));
      }
    benchmark::DoNotOptimize(t.code_bytes());
    benchmark::ClobberMemory();
  }
  set_rate(state, n);
}
void BM_quantize_fp4_m2_g128_scalar(benchmark::State& state) {
  run_scalar(state, lowp::pow2_relative<lowp::float4_e2m1fn>{}, 128);
}
void BM_quantize_fp8_per_token_scalar(benchmark::State& state) {
  run_scalar(state, lowp::absmax<lowp::float8_e4m3fn>{}, static_cast<std::size_t>(state.range(0)));
}

// ------------------------------------------------------------ dequantize / fake_quantize

// The policy/format pairs of the dequantize and fake_quantize rows, with their granularity.
using fp4 = lowp::float4_e2m1fn;
const lowp::granularity g128 = lowp::granularity::per_group(128);
const lowp::granularity block = lowp::granularity::per_block();

template <class Policy>
void BM_dequantize(benchmark::State& state, Policy pol, lowp::granularity gran) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const omp_threads threads(state.range(1));
  const auto q = lowp::quantize(pol, matrix(n).data(), n, n, gran);
  std::vector<float> out(n * n, 0.0f);  // written once here, so no page faults in the loop
  for (auto _ : state) {
    q.dequantize(out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, n);
}

template <class Policy>
void BM_fake_quantize(benchmark::State& state, Policy pol, lowp::granularity gran) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const omp_threads threads(state.range(1));
  const auto& w = matrix(n);
  std::vector<float> out(n * n, 0.0f);
  for (auto _ : state) {
    lowp::fake_quantize(pol, w.data(), out.data(), n, n, gran);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, n);
}

// q.dequantize(To*) of a 16-bit output (bfloat16, float16).  items/s as the float rows;
// bytes/s count the 2 n² bytes written.
template <class Policy, class To>
void BM_dequantize_half(benchmark::State& state, Policy pol, lowp::granularity gran) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const omp_threads threads(state.range(1));
  const auto q = lowp::quantize(pol, matrix(n).data(), n, n, gran);
  std::vector<To> out(n * n);
  for (auto _ : state) {
    q.dequantize(out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, n, 2);
}

// The same result in two passes: q.dequantize() to a float buffer, then lowp::convert<To>
// (nearest even: the vectorized encoder, F16C for float16).  Until convert gained that
// encoder, this went through lowp::cast element by element: the "before" rows of
// docs/performance.md.
template <class Policy, class To>
void BM_dequantize_half_reference(benchmark::State& state, Policy pol, lowp::granularity gran) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const omp_threads threads(state.range(1));
  const auto q = lowp::quantize(pol, matrix(n).data(), n, n, gran);
  std::vector<float> tmp(n * n, 0.0f);
  std::vector<To> out(n * n);
  for (auto _ : state) {
    q.dequantize(tmp.data());
    lowp::convert(tmp.data(), out.data(), n * n);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, n, 2);
}

// The element-by-element dequantization through value(r, c), M2 FP4 g128, one thread.
void BM_dequantize_reference(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto q = lowp::quantize(lowp::pow2_relative<fp4>{}, matrix(n).data(), n, n, g128);
  std::vector<float> out(n * n, 0.0f);
  for (auto _ : state) {
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t c = 0; c < n; ++c) out[r * n + c] = q.value(r, c);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, n);
}

// ------------------------------------------------------------------------- references

// Packed nibbles of the same matrix (E2M1 codes, low nibble first) and the 16 E2M1 values.
std::vector<std::uint8_t> nibbles(std::size_t n) {
  const auto q = lowp::quantize(lowp::pow2_relative<fp4>{}, matrix(n).data(), n, n, g128);
  return std::vector<std::uint8_t>(q.code_bytes(), q.code_bytes() + q.code_size_in_bytes());
}
struct lut16 {
  alignas(32) float v[16];
  lut16() {
    for (unsigned i = 0; i < 16; ++i)
      v[i] = static_cast<float>(fp4::from_bits(static_cast<std::uint8_t>(i)));
  }
};

void BM_roofline_nib_lut16(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::int64_t threads = state.range(1);
  const auto src = nibbles(n);
  const lut16 t;
  std::vector<float> out(n * n, 0.0f);
  for (auto _ : state) {
    row_bands(n, threads, [&](std::size_t r0, std::size_t r1) {
      const std::uint8_t* __restrict s = src.data() + r0 * n / 2;
      float* __restrict d = out.data() + r0 * n;
      const float* __restrict v = t.v;
      for (std::size_t i = 0; i < (r1 - r0) * n / 2; ++i) {
        d[2 * i] = v[s[i] & 15u];
        d[2 * i + 1] = v[s[i] >> 4];
      }
    });
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, n);
}

#if defined(__AVX2__)
void BM_roofline_nib_lut16_avx2(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::int64_t threads = state.range(1);
  const auto src = nibbles(n);
  const lut16 t;
  std::vector<float> out(n * n, 0.0f);
  // E2M1 values: the sign is bit 3, so the table is 8 magnitudes; vpermd indexes 8 lanes
  // with the low 3 bits and the sign goes in by a shift of the code into bit 31.
  const __m256 mag = _mm256_load_ps(t.v);
  for (auto _ : state) {
    row_bands(n, threads, [&](std::size_t r0, std::size_t r1) {
      const std::uint8_t* s = src.data() + r0 * n / 2;
      float* d = out.data() + r0 * n;
      const std::size_t bytes = (r1 - r0) * n / 2;  // n is a multiple of 8
      for (std::size_t i = 0; i < bytes; i += 4) {
        std::uint32_t w;
        std::memcpy(&w, s + i, 4);
        // 4 bytes -> 8 nibbles in element order (low nibble first), one per 32-bit lane.
        const __m256i sh = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
        const __m256i c = _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(w)), sh);
        const __m256 m = _mm256_permutevar8x32_ps(mag, c);  // uses the low 3 bits
        const __m256i sign = _mm256_slli_epi32(c, 28);      // bit 3 -> bit 31
        const __m256 v = _mm256_or_ps(
            m, _mm256_castsi256_ps(_mm256_and_si256(sign, _mm256_set1_epi32(INT32_MIN))));
        _mm256_storeu_ps(d + 2 * i, v);
      }
    });
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, n);
}
#endif

// The float -> 16-bit pass alone, on n² floats (the float matrix), at nearest even /
// saturate: what lowp runs (how = backend: detail::bulk::half_encoder on this build's SIMD
// back-end, which for float16 is F16C's vcvtps2ph where the CPU has it), the portable
// integer encoder (how = portable: detail::bulk::float_to_half_codes, the same bits), and
// lowp::convert(float*, To*) (how = convert: half_encoder per 64 Ki chunk, the chunks over
// `threads` OpenMP threads), and a loop of
// lowp::cast<To> (how = cast_loop: what convert ran before it had the encoder).  The roofline:
// truncation to the top 16 bits (read 4 bytes, write 2: the least any float -> bfloat16
// pass does).
enum class half_how { backend, portable, convert, cast_loop };
template <class To, half_how How>
void BM_float_to_half(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::int64_t threads = state.range(1);
  const auto& w = matrix(n);
  std::vector<std::uint16_t> out(n * n, 0);
  std::vector<To> out_t(How == half_how::convert || How == half_how::cast_loop ? n * n : 0);
  for (auto _ : state) {
    if constexpr (How == half_how::convert) {  // convert splits the array over OpenMP itself
      const omp_threads scope(threads);
      lowp::convert(w.data(), out_t.data(), n * n);
      benchmark::DoNotOptimize(out_t.data());
      benchmark::ClobberMemory();
      continue;
    }
    row_bands(n, threads, [&](std::size_t r0, std::size_t r1) {
      const float* src = w.data() + r0 * n;
      const std::size_t len = (r1 - r0) * n;
      if constexpr (How == half_how::backend) {
        lowp::detail::bulk::half_encoder<lowp::detail::simd::best_backend, To, std::uint16_t>::run(
            src, out.data() + r0 * n, len, lowp::overflow::saturate);
      } else if constexpr (How == half_how::portable) {
        lowp::detail::bulk::float_to_half_codes<To>(src, out.data() + r0 * n, len,
                                                    lowp::overflow::saturate);
      } else {
        To* dst = out_t.data() + r0 * n;
        for (std::size_t i = 0; i < len; ++i) dst[i] = lowp::cast<To>(src[i]);
      }
    });
    benchmark::DoNotOptimize(out.data());
    benchmark::DoNotOptimize(out_t.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, n, 2);
}
void BM_roofline_truncate_to_u16(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::int64_t threads = state.range(1);
  const auto& w = matrix(n);
  std::vector<std::uint16_t> out(n * n, 0);
  for (auto _ : state) {
    row_bands(n, threads, [&](std::size_t r0, std::size_t r1) {
      const float* __restrict s = w.data() + r0 * n;
      std::uint16_t* __restrict d = out.data() + r0 * n;
      for (std::size_t i = 0; i < (r1 - r0) * n; ++i) {
        std::uint32_t b;
        std::memcpy(&b, s + i, 4);
        d[i] = static_cast<std::uint16_t>(b >> 16);
      }
    });
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, n, 2);
}

void BM_memcpy_float_out(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::int64_t threads = state.range(1);
  const auto& w = matrix(n);
  std::vector<float> out(n * n, 0.0f);
  for (auto _ : state) {
    row_bands(n, threads, [&](std::size_t r0, std::size_t r1) {
      std::memcpy(out.data() + r0 * n, w.data() + r0 * n, (r1 - r0) * n * sizeof(float));
    });
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_rate(state, n);
}

// {n, threads}: n = 256 (in cache) and 4096 (from memory); 1 and 2 threads with OpenMP.
void sizes_threads(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n", "threads"});
  for (std::int64_t n : {256, 4096}) {
    b->Args({n, 1});
#if defined(_OPENMP)
    b->Args({n, 2});
#endif
  }
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(BM_memcpy)->Arg(1024)->Arg(2048)->Arg(4096)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_quantize_fp4_m2_g128)->Arg(1024)->Arg(2048)->Arg(4096)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_quantize_fp8_per_token)
    ->Arg(1024)
    ->Arg(2048)
    ->Arg(4096)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_quantize_fp4_m2_g128_scalar)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_quantize_fp8_per_token_scalar)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond);

BENCHMARK(BM_dequantize_reference)
    ->Name("dequantize_reference_value_loop/m2_e2m1_g128")
    ->ArgName("n")
    ->Arg(256)
    ->Arg(4096)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_roofline_nib_lut16)->Name("roofline_nib_lut16_to_float")->Apply(sizes_threads);
#if defined(__AVX2__)
BENCHMARK(BM_roofline_nib_lut16_avx2)
    ->Name("roofline_nib_lut16_to_float_avx2")
    ->Apply(sizes_threads);
#endif
BENCHMARK(BM_memcpy_float_out)->Name("memcpy_float_out")->Apply(sizes_threads);
BENCHMARK(BM_float_to_half<lowp::bfloat16, half_how::backend>)
    ->Name("float_to_bf16_codes")
    ->Apply(sizes_threads);
BENCHMARK(BM_float_to_half<lowp::float16, half_how::backend>)
    ->Name("float_to_f16_codes")
    ->Apply(sizes_threads);
BENCHMARK(BM_float_to_half<lowp::float16, half_how::portable>)
    ->Name("float_to_f16_codes_portable")
    ->Apply(sizes_threads);
BENCHMARK(BM_float_to_half<lowp::float16, half_how::convert>)
    ->Name("convert_float_to_f16")
    ->Apply(sizes_threads);
BENCHMARK(BM_float_to_half<lowp::float16, half_how::cast_loop>)
    ->Name("cast_loop_float_to_f16")
    ->Apply(sizes_threads);
BENCHMARK(BM_float_to_half<lowp::bfloat16, half_how::convert>)
    ->Name("convert_float_to_bf16")
    ->Apply(sizes_threads);
BENCHMARK(BM_float_to_half<lowp::bfloat16, half_how::cast_loop>)
    ->Name("cast_loop_float_to_bf16")
    ->Apply(sizes_threads);
BENCHMARK(BM_roofline_truncate_to_u16)
    ->Name("roofline_float_to_u16_truncate")
    ->Apply(sizes_threads);

namespace {
// Registers dequantize/<name> and fake_quantize/<name>.
template <class Policy>
void register_pair(const char* name, Policy pol, lowp::granularity gran) {
  const std::string s(name);
  benchmark::RegisterBenchmark(("dequantize/" + s).c_str(), BM_dequantize<Policy>, pol, gran)
      ->Apply(sizes_threads);
  benchmark::RegisterBenchmark(("fake_quantize/" + s).c_str(), BM_fake_quantize<Policy>, pol, gran)
      ->Apply(sizes_threads);
}

// Registers dequantize_{bf16,f16}/<name> and their dequantize_then_convert_* references.
template <class Policy>
void register_half(const char* name, Policy pol, lowp::granularity gran) {
  const std::string s(name);
  benchmark::RegisterBenchmark(("dequantize_bf16/" + s).c_str(),
                               BM_dequantize_half<Policy, lowp::bfloat16>, pol, gran)
      ->Apply(sizes_threads);
  benchmark::RegisterBenchmark(("dequantize_then_convert_bf16/" + s).c_str(),
                               BM_dequantize_half_reference<Policy, lowp::bfloat16>, pol, gran)
      ->Apply(sizes_threads);
  benchmark::RegisterBenchmark(("dequantize_f16/" + s).c_str(),
                               BM_dequantize_half<Policy, lowp::float16>, pol, gran)
      ->Apply(sizes_threads);
  benchmark::RegisterBenchmark(("dequantize_then_convert_f16/" + s).c_str(),
                               BM_dequantize_half_reference<Policy, lowp::float16>, pol, gran)
      ->Apply(sizes_threads);
}

[[maybe_unused]] const bool registered = [] {
  register_pair("absmax_e2m1_g128", lowp::absmax<fp4>{}, g128);
  register_pair("absmax_int4_g128", lowp::absmax<lowp::int4>{}, g128);
  register_pair("m1_e2m1_g128", lowp::pow2<fp4>{}, g128);
  register_pair("m1_int4_g128", lowp::pow2<lowp::int4>{}, g128);
  register_pair("m2_e2m1_g128", lowp::pow2_relative<fp4>{}, g128);
  register_pair("m2_int4_g128", lowp::pow2_relative<lowp::int4>{}, g128);
  register_pair("mx_e2m1_b32", lowp::mx<fp4>{}, block);
  register_pair("nvfp4_b16", lowp::nvfp4{}, block);
  register_half("m2_e2m1_g128", lowp::pow2_relative<fp4>{}, g128);
  register_half("absmax_int4_g128", lowp::absmax<lowp::int4>{}, g128);
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
