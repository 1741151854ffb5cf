// benchmarks/bench_w4a8.cpp — lowp::w4a8_linear (w4a8.hpp) next to Eigen on the same
// shapes, and next to the memory roofline of the bytes it reads, in one binary.
//
// Rows ({out, in, tokens, threads}; wall-clock time, since the kernel and Eigen split the
// work over threads; items/s = multiply-adds, out · in · tokens):
//   w4a8/<scheme>[_<cast>]  Y = A · Wᵀ through lowp::w4a8_linear, the automatic path (the
//                        AVX-512 decode where the CPU has AVX512-BF16/VNNI, else AVX2; the
//                        label names it), weights prepared and activations quantized once
//                        before the loop.  <scheme>:
//                          m2      FP4 E2M1, M2 (pow2_relative) g128, E4M3 activations
//                          m1      FP4, M1 (pow2) g128
//                          absmax  FP4, absmax g128 (a float scale per group)
//                          int4    INT4 absmax g128, INT8 activations (int32 sums)
//                        and the FP decode's weight cast (w4a8_weight_cast), decode shapes
//                        only; without one, automatic (integer on AVX2, table on AVX-512):
//                          _table    a float per weight from the group's 16-value table
//                          _shift    a float per weight, its exponent shifted by k
//                          _integer  2·E2M1 as integers, exact integer group sums
//   w4a8/m2_no_outliers  w4a8/m2 on activations without outlier channels (decode shapes):
//                        the AVX2 integer decode then takes nearly every piece of 128
//                        columns as two digit planes instead of three
//   w4a8_avx2/{m2,int4}  the AVX2 path forced (m2: every shape; int4: decode): beside
//                        the AVX-512 rows on a CPU that has them (the same as w4a8/ on
//                        one that does not)
//   w4a8_portable/m2     the portable path (plain C++), decode shapes only
//   w4a8_ranges/{m2,int4}  {out, in, tokens, ranges}: the whole layer on one thread as
//                        `ranges` calls of out / ranges rows each (w4a8_options::rows,
//                        threaded = false), as an engine's own threads would split it;
//                        ranges = 1 is one call.  The time over ranges = 1 is what the
//                        split costs: each call prepares the activations again
//   w4a8_plan_ranges/{m2,int4}  the same split through one w4a8_plan (made inside the
//                        timed loop, as an engine makes one per layer call): the
//                        activations prepared once, then `ranges` runs
//   eigen_float/dequantized  Eigen's Y = X · Wᵀ on the dequantized float weights (SGEMV
//                        for one token, SGEMM otherwise); Eigen::setNbThreads(threads)
//   roofline_read/packed_bytes  one pass over as many bytes as the kernel's weights and
//                        scales (w4a8_weights::bytes()), summed: the least a decode (GEMV)
//                        call must read, at the same thread count
// Counters: GB/s = the packed weight bytes over the time (decode rows and the roofline;
// the ratio of the two is the kernel's share of the memory roofline), GFLOP/s = 2 · out
// · in · tokens over the time.
//
// Shapes: decode (1 token) on 4096 x 4096 and 11008 x 4096 weights, and 256 x 4096 (its
// 0.5 MiB of codes stay in L2: the decode's compute cost without the memory); prefill
// on 4096 x 4096 with 128 and 512 tokens.  Data: fixed seeds, Student-t weights,
// activations with outlier channels.
#include <benchmark/benchmark.h>

#include <Eigen/Dense>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include <lowp/w4a8.hpp>

namespace {

using row_major = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

enum class scheme { m2, m1, absmax, int4 };

std::vector<float> student_weights(std::size_t n, std::uint32_t seed) {
  std::mt19937 g(seed);
  std::student_t_distribution<float> t(4.0f);
  std::vector<float> w(n);
  for (float& v : w) v = 0.02f * t(g);
  return w;
}

// Normal activations, every 37th channel scaled by `outlier` (30: ZeroQuant-FP's setting;
// 1: none).
std::vector<float> outlier_activations(std::size_t tokens, std::size_t in, std::uint32_t seed,
                                       float outlier = 30.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> nd;
  std::vector<float> x(tokens * in);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = nd(g) * ((i % in) % 37 == 5 ? outlier : 1.0f);
  return x;
}

// One layer, quantized and prepared once per (scheme, shape).
struct layer {
  lowp::w4a8_weights W;
  row_major dequantized;  // out x in
};

const layer& get_layer(scheme s, std::size_t out, std::size_t in) {
  static std::map<std::tuple<int, std::size_t, std::size_t>, std::unique_ptr<layer>> cache;
  auto& slot = cache[{static_cast<int>(s), out, in}];
  if (slot) return *slot;
  const std::vector<float> w = student_weights(out * in, 1);
  const auto g = lowp::granularity::per_group(128);
  slot = std::make_unique<layer>();
  slot->dequantized.resize(static_cast<Eigen::Index>(out), static_cast<Eigen::Index>(in));
  const auto prepare = [&](const auto& q) {
    slot->W = lowp::w4a8_weights(q);
    q.dequantize(slot->dequantized.data());
  };
  switch (s) {
    case scheme::m2:
      prepare(lowp::quantize(lowp::m2<lowp::float4_e2m1fn>{}, w.data(), out, in, g));
      break;
    case scheme::m1:
      prepare(lowp::quantize(lowp::m1<lowp::float4_e2m1fn>{}, w.data(), out, in, g));
      break;
    case scheme::absmax:
      prepare(lowp::quantize(lowp::absmax<lowp::float4_e2m1fn>{}, w.data(), out, in, g));
      break;
    case scheme::int4:
      prepare(lowp::quantize(lowp::absmax<lowp::int4>{}, w.data(), out, in, g));
      break;
  }
  return *slot;
}

// Sets OpenMP's and Eigen's thread counts for a row, restored at its end.
struct thread_scope {
  explicit thread_scope(int n) {
#if defined(_OPENMP)
    saved_ = omp_get_max_threads();
    omp_set_num_threads(n);
#endif
    eigen_saved_ = Eigen::nbThreads();
    Eigen::setNbThreads(n);
  }
  ~thread_scope() {
#if defined(_OPENMP)
    omp_set_num_threads(saved_);
#endif
    Eigen::setNbThreads(eigen_saved_);
  }
  int saved_ = 1, eigen_saved_ = 1;
};

void set_counters(benchmark::State& state, std::size_t out, std::size_t in, std::size_t tokens,
                  std::size_t bytes) {
  const double calls = static_cast<double>(state.iterations());
  state.SetItemsProcessed(static_cast<std::int64_t>(out * in * tokens) * state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * static_cast<double>(out * in * tokens) * calls * 1e-9, benchmark::Counter::kIsRate);
  if (tokens == 1)
    state.counters["GB/s"] =
        benchmark::Counter(static_cast<double>(bytes) * calls * 1e-9, benchmark::Counter::kIsRate);
}

void BM_w4a8(benchmark::State& state, scheme s, lowp::w4a8_weight_cast cast, lowp::w4a8_path path,
             float outlier = 30.0f) {
  const auto out = static_cast<std::size_t>(state.range(0)),
             in = static_cast<std::size_t>(state.range(1));
  const auto tokens = static_cast<std::size_t>(state.range(2));
  const thread_scope threads(static_cast<int>(state.range(3)));
  const layer& L = get_layer(s, out, in);
  // The label names the path that runs (automatic: the best this CPU has for the scheme).
  const lowp::w4a8_path runs =
      path == lowp::w4a8_path::automatic ? lowp::w4a8_best_path(L.W.scheme()) : path;
  if (!lowp::w4a8_path_available(runs, L.W.scheme())) {
    state.SkipWithError(
        (std::string("path ") + lowp::w4a8_path_name(runs) + " is not available on this CPU")
            .c_str());
    return;
  }
  state.SetLabel(lowp::w4a8_path_name(runs));
  const std::vector<float> x = outlier_activations(tokens, in, 2, outlier);
  const lowp::w4a8_activations A = lowp::w4a8_activations::quantize(
      s == scheme::int4 ? lowp::w4a8_activation::int8 : lowp::w4a8_activation::fp8_e4m3, x.data(),
      tokens, in);
  lowp::w4a8_options o;
  o.path = path;
  o.weight_cast = cast;
  std::vector<float> Y(tokens * out);
  for (auto _ : state) {
    lowp::w4a8_linear(A, L.W, Y.data(), o);
    benchmark::DoNotOptimize(Y.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, out, in, tokens, L.W.bytes());
}

void BM_w4a8_ranges(benchmark::State& state, scheme s, bool plan) {
  const auto out = static_cast<std::size_t>(state.range(0)),
             in = static_cast<std::size_t>(state.range(1));
  const auto tokens = static_cast<std::size_t>(state.range(2));
  const auto ranges = static_cast<std::size_t>(state.range(3));
  const layer& L = get_layer(s, out, in);
  state.SetLabel(lowp::w4a8_path_name(lowp::w4a8_best_path(L.W.scheme())));
  const std::vector<float> x = outlier_activations(tokens, in, 2);
  const lowp::w4a8_activations A = lowp::w4a8_activations::quantize(
      s == scheme::int4 ? lowp::w4a8_activation::int8 : lowp::w4a8_activation::fp8_e4m3, x.data(),
      tokens, in);
  lowp::w4a8_options o;
  o.threaded = false;
  std::vector<float> Y(tokens * out);
  const auto range = [&](std::size_t i) {
    return lowp::w4a8_row_range{i * out / ranges, (i + 1) * out / ranges - i * out / ranges};
  };
  for (auto _ : state) {
    if (plan) {
      const lowp::w4a8_plan P(A, L.W, o);
      for (std::size_t i = 0; i < ranges; ++i) P.run(Y.data(), range(i));
    } else {
      for (std::size_t i = 0; i < ranges; ++i) {
        o.rows = range(i);
        lowp::w4a8_linear(A, L.W, Y.data(), o);
      }
    }
    benchmark::DoNotOptimize(Y.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, out, in, tokens, L.W.bytes());
}

void range_shapes(benchmark::internal::Benchmark* b) {
  for (const std::int64_t ranges : {1, 2, 8, 32}) b->Args({4096, 4096, 1, ranges});
  for (const std::int64_t ranges : {1, 8}) b->Args({4096, 4096, 128, ranges});
}

void BM_eigen(benchmark::State& state) {
  const auto out = static_cast<std::size_t>(state.range(0)),
             in = static_cast<std::size_t>(state.range(1));
  const auto tokens = static_cast<std::size_t>(state.range(2));
  const thread_scope threads(static_cast<int>(state.range(3)));
  const layer& L = get_layer(scheme::m2, out, in);
  const std::vector<float> x = outlier_activations(tokens, in, 2);
  const Eigen::Map<const row_major> X(x.data(), static_cast<Eigen::Index>(tokens),
                                      static_cast<Eigen::Index>(in));
  row_major Y(static_cast<Eigen::Index>(tokens), static_cast<Eigen::Index>(out));
  for (auto _ : state) {
    Y.noalias() = X * L.dequantized.transpose();
    benchmark::DoNotOptimize(Y.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, out, in, tokens, L.W.bytes());
}

// The memory roofline of a decode call: read W.bytes() bytes once (a sum over 64-bit
// words, split over the threads like the kernel's rows).
void BM_roofline_read(benchmark::State& state) {
  const auto out = static_cast<std::size_t>(state.range(0)),
             in = static_cast<std::size_t>(state.range(1));
  const thread_scope threads(static_cast<int>(state.range(3)));
  const std::size_t bytes = get_layer(scheme::m2, out, in).W.bytes();
  std::vector<std::uint64_t> buf(bytes / 8);
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = i * 0x9E3779B97F4A7C15ull;
  for (auto _ : state) {
    std::uint64_t sum = 0;
    const auto n = static_cast<std::ptrdiff_t>(buf.size());
#if defined(_OPENMP)
#pragma omp parallel for reduction(+ : sum) schedule(static)
#endif
    for (std::ptrdiff_t i = 0; i < n; ++i) sum += buf[static_cast<std::size_t>(i)];
    benchmark::DoNotOptimize(sum);
  }
  set_counters(state, out, in, 1, bytes);
}

void decode_shapes(benchmark::internal::Benchmark* b) {
  for (const std::int64_t threads : {1, 2}) {
    b->Args({4096, 4096, 1, threads});
    b->Args({11008, 4096, 1, threads});
    b->Args({256, 4096, 1, threads});
  }
}

void all_shapes(benchmark::internal::Benchmark* b) {
  decode_shapes(b);
  for (const std::int64_t threads : {1, 2}) {
    b->Args({4096, 4096, 128, threads});
    b->Args({4096, 4096, 512, threads});
  }
}

constexpr auto best_path_here = lowp::w4a8_path::automatic;

}  // namespace

constexpr auto automatic = lowp::w4a8_weight_cast::automatic;

BENCHMARK_CAPTURE(BM_w4a8, m2, scheme::m2, automatic, best_path_here)
    ->Name("w4a8/m2")
    ->Apply(all_shapes)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_w4a8, m2_table, scheme::m2, lowp::w4a8_weight_cast::table, best_path_here)
    ->Name("w4a8/m2_table")
    ->Apply(decode_shapes)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_w4a8, m2_shift, scheme::m2, lowp::w4a8_weight_cast::shift, best_path_here)
    ->Name("w4a8/m2_shift")
    ->Apply(decode_shapes)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_w4a8, m2_integer, scheme::m2, lowp::w4a8_weight_cast::integer, best_path_here)
    ->Name("w4a8/m2_integer")
    ->Apply(decode_shapes)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_w4a8, m2_no_outliers, scheme::m2, automatic, best_path_here, 1.0f)
    ->Name("w4a8/m2_no_outliers")
    ->Apply(decode_shapes)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_w4a8, m1, scheme::m1, automatic, best_path_here)
    ->Name("w4a8/m1")
    ->Apply(all_shapes)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_w4a8, absmax, scheme::absmax, automatic, best_path_here)
    ->Name("w4a8/absmax")
    ->Apply(all_shapes)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_w4a8, absmax_table, scheme::absmax, lowp::w4a8_weight_cast::table,
                  best_path_here)
    ->Name("w4a8/absmax_table")
    ->Apply(decode_shapes)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_w4a8, int4, scheme::int4, automatic, best_path_here)
    ->Name("w4a8/int4")
    ->Apply(all_shapes)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
// The AVX2 path forced, next to automatic's choice: on a CPU with AVX512-BF16/VNNI the
// rows above run the AVX-512 decode and (FP4) prefill, and these give AVX2's in the same
// run.
BENCHMARK_CAPTURE(BM_w4a8, avx2_m2, scheme::m2, automatic, lowp::w4a8_path::avx2)
    ->Name("w4a8_avx2/m2")
    ->Apply(all_shapes)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_w4a8, avx2_int4, scheme::int4, automatic, lowp::w4a8_path::avx2)
    ->Name("w4a8_avx2/int4")
    ->Apply(decode_shapes)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_w4a8, portable, scheme::m2, automatic, lowp::w4a8_path::portable)
    ->Name("w4a8_portable/m2")
    ->Args({4096, 4096, 1, 1})
    ->Args({4096, 4096, 1, 2})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_w4a8_ranges, m2, scheme::m2, false)
    ->Name("w4a8_ranges/m2")
    ->Apply(range_shapes)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_w4a8_ranges, int4, scheme::int4, false)
    ->Name("w4a8_ranges/int4")
    ->Apply(range_shapes)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_w4a8_ranges, plan_m2, scheme::m2, true)
    ->Name("w4a8_plan_ranges/m2")
    ->Apply(range_shapes)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_w4a8_ranges, plan_int4, scheme::int4, true)
    ->Name("w4a8_plan_ranges/int4")
    ->Apply(range_shapes)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_eigen)
    ->Name("eigen_float/dequantized")
    ->Apply(all_shapes)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_roofline_read)
    ->Name("roofline_read/packed_bytes")
    ->Apply(decode_shapes)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
