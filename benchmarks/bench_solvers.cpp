// benchmarks/bench_solvers.cpp — GPTQ and LoRC next to an Eigen float GEMM of
// similar size measured in the same run.  Threads: the argument "threads" sets
// Eigen::setNbThreads (Eigen's GEMM and GPTQ's per-row loop use it; OpenMP build).
//
// GFLOP/s counters use nominal flop counts:
//   GEMM m x k x n                     2 m k n
//   Hessian, t tokens x n features     t n²        (the symmetric product; done as panel GEMMs)
//   GPTQ solve, rows x n, block B      n³/3 (Cholesky) + rows n² (lazy updates)
//                                      + rows n B (in-block)
//   LoRC rank r, m x n, exact          4 m n² + 8 n³ (Golub–Van Loan's SVD count, R-SVD)
//   LoRC rank r, randomized, k = r+p   (2q + 3) 2 m n k
//
// GPTQ rows: BM_GptqSolve (absmax<int4>) and BM_GptqSolve_m2_fp4
// (pow2_relative<float4_e2m1fn>, ZeroQuant-FP M2), both with groups of 128, args
// {cols n, threads, rows}.  Besides GFLOP/s, each has three counters that say how far the
// solve is from what its arithmetic alone would cost at this machine's GEMM speed:
//   floor_GFLOP     the FLOP floor n³/3 + rows n²: the Cholesky of H plus the lazy block
//                   updates, the two parts GPTQ cannot skip (the in-block work, the
//                   quantizer and the bookkeeping are left out, so it is a lower bound)
//   SGEMM_GFLOP/s   Eigen's float GEMM rate in the same process at the same thread count:
//                   the best of 3 timed 2048 x 2048 x 2048 products after one warm-up,
//                   measured once per thread count before the first GPTQ row that needs it
//                   (a static map), so every GPTQ row is compared with the same figure
//   x_floor         measured seconds per iteration / (floor FLOP / SGEMM rate): how many
//                   times longer the solve takes than its FLOP floor run at SGEMM speed
//                   (1 = as fast as the GEMM kernel can go; the Cholesky and the triangular
//                   parts run below GEMM speed, so a few is expected).  Seconds: wall time
//                   of the timed loop over its iterations (the Time column's measure).
// Run: build/<dir>/benchmarks/bench_solvers --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <lowp/gptq.hpp>
#include <lowp/lorc.hpp>
#include <map>
#include <random>

namespace {

using Mf = lowp::row_major_matrixf;

Mf random_matrix(Eigen::Index rows, Eigen::Index cols, unsigned seed, bool heavy = false) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::student_t_distribution<float> t(4.0f);
  Mf M(rows, cols);
  for (Eigen::Index i = 0; i < M.size(); ++i) M.data()[i] = heavy ? 0.02f * t(gen) : nd(gen);
  return M;
}

// Correlated activations with a few outlier channels (as in the tests and the demo).
Mf activations(Eigen::Index tokens, Eigen::Index features, unsigned seed) {
  Mf Z = random_matrix(tokens, features / 8, seed);
  Mf A = random_matrix(features / 8, features, seed + 1) / 8.0f;
  Mf X = Z * A + 0.3f * random_matrix(tokens, features, seed + 2);
  for (Eigen::Index c = 0; c < features; c += features / 4) X.col(c) *= 50.0f;
  return X;
}

void set_threads(benchmark::State& state) {
  Eigen::setNbThreads(static_cast<int>(state.range(1)));
}

void BM_EigenSgemm(benchmark::State& state) {
  set_threads(state);
  const Eigen::Index n = state.range(0);
  const Eigen::MatrixXf A = Eigen::MatrixXf::Random(n, n), B = Eigen::MatrixXf::Random(n, n);
  Eigen::MatrixXf C(n, n);
  for (auto _ : state) {
    C.noalias() = A * B;
    benchmark::DoNotOptimize(C.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(n) * double(n) * double(n),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}

void BM_Hessian(benchmark::State& state) {
  set_threads(state);
  const Eigen::Index n = state.range(0), tokens = state.range(2);
  const Mf X = activations(tokens, n, 7);
  for (auto _ : state) {
    lowp::hessian_accumulator acc(static_cast<std::size_t>(n));
    acc.add_batch(X.data(), static_cast<std::size_t>(tokens), static_cast<std::size_t>(n));
    benchmark::DoNotOptimize(acc.hessian_double().data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(double(tokens) * double(n) * double(n),
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}

// Eigen's SGEMM rate (flop/s) at the current Eigen thread count, measured once per count:
// best of 3 timed 2048³ products after a warm-up (the best, not the mean, so that a
// disturbed run on a shared machine does not make the GEMM look slower than it is).
double sgemm_flops_per_second() {
  static std::map<int, double> cache;
  const int threads = Eigen::nbThreads();
  auto it = cache.find(threads);
  if (it != cache.end()) return it->second;
  const Eigen::Index n = 2048;
  const Eigen::MatrixXf A = Eigen::MatrixXf::Random(n, n), B = Eigen::MatrixXf::Random(n, n);
  Eigen::MatrixXf C(n, n);
  C.noalias() = A * B;  // warm-up: first-touch of C, Eigen's blocking buffers, the threads
  double best = 1e300;
  for (int k = 0; k < 3; ++k) {
    const auto t0 = std::chrono::steady_clock::now();
    C.noalias() = A * B;
    benchmark::DoNotOptimize(C.data());
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
  }
  const double rate = 2.0 * double(n) * double(n) * double(n) / best;
  cache.emplace(threads, rate);
  return rate;
}

template <class Policy>
void run_gptq(benchmark::State& state, Policy policy) {
  set_threads(state);
  const double sgemm = sgemm_flops_per_second();  // before the timed loop
  const Eigen::Index n = state.range(0), rows = state.range(2);
  const Mf W = random_matrix(rows, n, 11, true);
  lowp::hessian_accumulator acc(static_cast<std::size_t>(n));
  const Mf X = activations(std::max<Eigen::Index>(n, 1024), n, 12);
  acc.add_batch(X.data(), static_cast<std::size_t>(X.rows()), static_cast<std::size_t>(n));
  const Eigen::MatrixXf H = acc.hessian();
  lowp::gptq_options opt;
  opt.groups = lowp::granularity::per_group(128);
  // Wall time of the whole timed loop, read around it as the framework's own timer is
  // (x_floor is a plain ratio; Google Benchmark's inverted-rate counter would print it
  // with a unit, "s").
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    auto res = lowp::gptq(W.data(), static_cast<std::size_t>(rows), static_cast<std::size_t>(n), H,
                          policy, opt);
    benchmark::DoNotOptimize(res.dequantized.data());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
      static_cast<double>(state.iterations());
  const double N = double(n), R = double(rows);
  state.counters["GFLOP/s"] = benchmark::Counter(N * N * N / 3.0 + R * N * N + R * N * 128.0,
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  const double floor_flops = N * N * N / 3.0 + R * N * N;
  state.counters["floor_GFLOP"] = floor_flops / 1e9;
  state.counters["SGEMM_GFLOP/s"] = sgemm / 1e9;
  state.counters["x_floor"] = seconds / (floor_flops / sgemm);
}

void BM_GptqSolve(benchmark::State& state) {
  run_gptq(state, lowp::absmax<lowp::int4>{});
}
void BM_GptqSolve_m2_fp4(benchmark::State& state) {
  run_gptq(state, lowp::pow2_relative<lowp::float4_e2m1fn>{});
}

void BM_LorcRank8(benchmark::State& state) {
  set_threads(state);
  const Eigen::Index n = state.range(0);
  const bool randomized = state.range(2) != 0;
  const Mf W = random_matrix(n, n, 21, true);
  Mf What(n, n);
  lowp::fake_quantize(lowp::absmax<lowp::int4>{}, W.data(), What.data(),
                      static_cast<std::size_t>(n), static_cast<std::size_t>(n),
                      lowp::granularity::per_group(128));
  lowp::lorc_options opt;
  opt.rank = 8;
  opt.svd.method = randomized ? lowp::svd_method::randomized : lowp::svd_method::exact;
  for (auto _ : state) {
    auto res = lowp::lorc(W, What, opt);
    benchmark::DoNotOptimize(res.compensated.data());
  }
  const double N = double(n);
  const double k = double(8 + opt.svd.oversampling), q = double(opt.svd.power_iterations);
  const double flops = randomized ? (2 * q + 3) * 2 * N * N * k : 4 * N * N * N + 8 * N * N * N;
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

}  // namespace

// {n, threads}
BENCHMARK(BM_EigenSgemm)
    ->Args({1024, 1})
    ->Args({1024, 2})
    ->Args({4096, 1})
    ->Args({4096, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
// {features, threads, tokens}
BENCHMARK(BM_Hessian)
    ->Args({4096, 1, 4096})
    ->Args({4096, 2, 4096})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
// {cols, threads, rows}: the same shapes for both policies.
void gptq_shapes(benchmark::internal::Benchmark* b) {
  b->Args({1024, 1, 1024})
      ->Args({1024, 2, 1024})
      ->Args({4096, 1, 4096})
      ->Args({4096, 2, 4096})
      ->Args({4096, 2, 11008})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}
BENCHMARK(BM_GptqSolve)->Apply(gptq_shapes);
BENCHMARK(BM_GptqSolve_m2_fp4)->Apply(gptq_shapes);
// {n, threads, randomized}
BENCHMARK(BM_LorcRank8)
    ->Args({1024, 2, 0})
    ->Args({1024, 2, 1})
    ->Args({4096, 2, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
