// tests/test_quant_study.cpp — the FP-vs-INT error study of ZeroQuant-FP (Wu, Yao, He,
// arXiv 2307.09782): FP4 (E2M1) vs INT4 symmetric absmax per group on uniform, Gaussian,
// Laplace and Student-t weights, and FP8 (E4M3, E5M2) vs INT8 per token on activations
// with outlier channels.  Prints the tables recorded in docs/quantization.md (run with
// -s or ctest -V to see them) and asserts only the directions that hold by a clear margin
// (a factor >= 1.25); the data are fixed-seed and were not tuned.
#include <cstdio>
#include <string>
#include <vector>

#include "lowp/metrics.hpp"
#include "lowp/quantize.hpp"
#include "lowp_test.hpp"
#include "test_quant_ref.hpp"

namespace {

template <class Policy>
double mse_of(Policy pol, const std::vector<float>& w, std::size_t rows, std::size_t cols,
              lowp::granularity g) {
  const auto q = lowp::quantize(pol, w.data(), rows, cols, g);
  return lowp::mse(w, q.dequantize());
}

}  // namespace

TEST_CASE("FP4 vs INT4 per-group absmax MSE", "[quant][study]") {
  constexpr std::size_t rows = 1024, cols = 1024;
  std::printf(
      "\n| data (1024 x 1024, seed) | group | INT4 absmax | FP4 absmax | FP4 M1 (pow2) | FP4 M2 "
      "(pow2_relative) "
      "| MXFP4 (g=32) | NVFP4 (g=16) | FP4 / INT4 |\n|---|---|---|---|---|---|---|---|---|\n");
  std::uint64_t seed = 2307;
  for (auto d :
       {qref::dist::uniform, qref::dist::gaussian, qref::dist::laplace, qref::dist::student_t}) {
    const auto w = qref::matrix(d, rows, cols, seed);
    for (std::size_t g : {std::size_t{32}, std::size_t{128}}) {
      const auto gran = lowp::granularity::per_group(g);
      const double int4 = mse_of(lowp::absmax<lowp::int4>{}, w, rows, cols, gran);
      const double fp4 = mse_of(lowp::absmax<lowp::float4_e2m1fn>{}, w, rows, cols, gran);
      const double m1 = mse_of(lowp::pow2<lowp::float4_e2m1fn>{}, w, rows, cols, gran);
      const double m2 = mse_of(lowp::pow2_relative<lowp::float4_e2m1fn>{}, w, rows, cols, gran);
      const double mxfp4 =
          mse_of(lowp::mx<lowp::float4_e2m1fn>{}, w, rows, cols, lowp::granularity::per_block());
      const double nv = mse_of(lowp::nvfp4{}, w, rows, cols, lowp::granularity::per_block());
      std::printf("| %s (%llu) | %zu | %.4g | %.4g | %.4g | %.4g | %.4g | %.4g | %.3f |\n",
                  qref::name(d), static_cast<unsigned long long>(seed), g, int4, fp4, m1, m2, mxfp4,
                  nv, fp4 / int4);
      INFO(qref::name(d) << ", group " << g << ": INT4 " << int4 << ", FP4 " << fp4);
      // Directions asserted (each held by > 1.25x when measured; see docs/quantization.md):
      // uniform data favour INT4's uniform grid; heavy tails favour FP4's.  Gaussian is
      // close to a tie and is not asserted.
      if (d == qref::dist::uniform) CHECK(fp4 > 1.25 * int4);
      if (d == qref::dist::student_t) CHECK(int4 > 1.25 * fp4);
      // No assertion on M1/M2 vs the real scale: a larger (power-of-two) scale is not
      // always worse on FP4's non-uniform grid (on uniform data M1 measured better).
    }
    ++seed;
  }
}

TEST_CASE("FP8 vs INT8 per-token MSE on activations with outlier channels", "[quant][study]") {
  constexpr std::size_t tokens = 2048, hidden = 1024;
  std::printf(
      "\n| activations (%zu x %zu, Gaussian + k outlier channels x20..x100) | INT8 | E4M3 | E5M2 | "
      "E4M3 / INT8 | E5M2 / INT8 |\n|---|---|---|---|---|---|\n",
      tokens, hidden);
  for (std::size_t k : {std::size_t{0}, std::size_t{4}, std::size_t{16}}) {
    const auto x = qref::outlier_activations(tokens, hidden, k, 4096 + k);
    const auto gran = lowp::granularity::per_token();
    const double i8 = mse_of(lowp::absmax<lowp::int8>{}, x, tokens, hidden, gran);
    const double e4 = mse_of(lowp::absmax<lowp::float8_e4m3fn>{}, x, tokens, hidden, gran);
    const double e5 = mse_of(lowp::absmax<lowp::float8_e5m2>{}, x, tokens, hidden, gran);
    std::printf("| k = %zu outlier channels (seed %zu) | %.4g | %.4g | %.4g | %.3f | %.3f |\n", k,
                4096 + k, i8, e4, e5, e4 / i8, e5 / i8);
    INFO(k << " outlier channels: INT8 " << i8 << ", E4M3 " << e4 << ", E5M2 " << e5);
    if (k > 0) {
      // With outliers the token's absmax is 20-100x the typical value: INT8's uniform step
      // crushes the ordinary channels, FP8 keeps their relative precision.
      CHECK(i8 > 1.25 * e4);
      // E5M2 (2 mantissa bits) wins clearly only with few outliers: with 16, the error of
      // the outlier values themselves dominates and E5M2 is within 15% of INT8 (measured
      // 0.88x): not asserted.
      if (k == 4) CHECK(i8 > 1.25 * e5);
    } else {
      // Without outliers INT8's 7 bits of uniform precision beat both FP8 grids.
      CHECK(e4 > 1.25 * i8);
      CHECK(e5 > 1.25 * i8);
    }
    // E4M3 has one more mantissa bit than E5M2 and the range suffices per token.
    CHECK(e5 > 1.25 * e4);
  }
}
