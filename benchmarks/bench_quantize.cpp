// benchmarks/bench_quantize.cpp — lowp::quantize on n x n float matrices, in bytes of
// float input per second, next to memcpy of the same bytes in the same binary.
//
//   fp4_m2_g128    pow2_relative<float4_e2m1fn>, groups of 128, packed codes (the target:
//                  >= 50% of memcpy at 4096 x 4096)
//   fp8_per_token  absmax<float8_e4m3fn>, one scale per row
//   *_scalar       the same policy through policy.encode() element by element (the path
//                  quantize() takes without a bulk kernel), for comparison
// Data: Gaussian, fixed seed.  Sizes: 1024, 2048, 4096 (4096 x 4096 = 64 MiB of floats).
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "lowp/quantize.hpp"

namespace {

const std::vector<float>& matrix(std::size_t n) {
  static std::vector<float> w;
  if (w.size() != n * n) {
    std::mt19937 rng(12345);
    std::normal_distribution<float> d(0.0f, 1.0f);
    w.resize(n * n);
    for (float& v : w) v = d(rng);
  }
  return w;
}

void set_rate(benchmark::State& state, std::size_t n) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(n * n * sizeof(float)));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(n * n));
}

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

BENCHMARK_MAIN();
