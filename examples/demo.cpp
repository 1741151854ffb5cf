// The lowp demo: the table of every number format lowp implements, then ZeroQuant-FP's
// comparison (arXiv 2307.09782, Tables 2-4) on a synthetic LLM-like layer built here:
// W8A8 and W4A8 with INT or FP weights and activations, round-to-nearest vs GPTQ
// (arXiv 2210.17323), + LoRC (ZeroQuant-V2, arXiv 2303.08302), and FP4 weights with the
// M1 (power-of-two) and M2 (power-of-two relative) scale constraints.
// Run it with `cmake --workflow --preset demo`.
//
// The layer (seeded, so every run prints the same errors): 1024 x 1024 weights drawn
// from a Student-t(4) (heavy tails, like trained LLM weights); activations with
// correlated features and 6 outlier channels 20-100x larger than the rest (the LLM.int8()
// phenomenon that makes per-token INT8 activations hard).  GPTQ is calibrated on 2048
// tokens; errors are measured on 1024 held-out tokens:
//     error = ||Y - Ŷ||² / ||Y||²,  Y = X Wᵀ,  Ŷ = Q_act(X) Ŵᵀ.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <lowp/lowp.hpp>
#include <random>
#include <string>

#if !defined(LOWP_DEMO_NO_SOLVERS)
#include <lowp/gptq.hpp>
#include <lowp/lorc.hpp>
#include <lowp/quantize.hpp>
#endif

#if !defined(LOWP_DEMO_NO_SOLVERS)
namespace {

using Mf = lowp::row_major_matrixf;
using clock_type = std::chrono::steady_clock;

constexpr std::size_t kOut = 1024, kIn = 1024, kCalib = 2048, kEval = 1024;

Mf make_weights(std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::student_t_distribution<float> t(4.0f);
  Mf W(kOut, kIn);
  for (Eigen::Index i = 0; i < W.size(); ++i) W.data()[i] = 0.02f * t(gen);
  return W;
}

// Correlated features (256 latent factors mixed into 1024 channels, plus noise), with 6
// outlier channels scaled by 20..100; `outlier_seed` fixes which channels, so the
// calibration and the evaluation tokens share them.
Mf make_activations(std::size_t tokens, std::uint32_t seed, std::uint32_t outlier_seed) {
  std::mt19937 gen(seed), mix_gen(outlier_seed + 1);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const Eigen::Index T = static_cast<Eigen::Index>(tokens), F = kIn, K = kIn / 4;
  Mf Z(T, K), A(K, F), N(T, F);
  for (Eigen::Index i = 0; i < Z.size(); ++i) Z.data()[i] = nd(gen);
  for (Eigen::Index i = 0; i < A.size(); ++i) A.data()[i] = nd(mix_gen) / 16.0f;  // fixed mixing
  for (Eigen::Index i = 0; i < N.size(); ++i) N.data()[i] = 0.3f * nd(gen);
  Mf X = Z * A + N;
  std::mt19937 og(outlier_seed);
  std::uniform_real_distribution<float> mag(20.0f, 100.0f);
  std::uniform_int_distribution<Eigen::Index> ch(0, F - 1);
  for (int o = 0; o < 6; ++o) X.col(ch(og)) *= mag(og);
  return X;
}

enum class act { int8, fp8 };

// Per-token dynamic activation quantization (absmax, one scale per token).
Mf quantize_activations(const Mf& X, act a) {
  Mf Q(X.rows(), X.cols());
  const auto t = static_cast<std::size_t>(X.rows()), h = static_cast<std::size_t>(X.cols());
  if (a == act::int8) {
    lowp::activation_quantizer<lowp::absmax<lowp::int8>>().fake_quantize(X.data(), Q.data(), t, h);
  } else {
    lowp::activation_quantizer<lowp::absmax<lowp::float8_e4m3fn>>().fake_quantize(X.data(),
                                                                                  Q.data(), t, h);
  }
  return Q;
}

struct layer {
  Mf W, Xcal, Xeval, Xeval_int8, Xeval_fp8;
  Eigen::MatrixXf H;
  Eigen::MatrixXd Y;  // reference output on the evaluation tokens
};

double output_error(const layer& L, const Mf& What, act a) {
  const Mf& Xq = a == act::int8 ? L.Xeval_int8 : L.Xeval_fp8;
  const Eigen::MatrixXd Yhat = (Xq * What.transpose()).cast<double>();
  return (L.Y - Yhat).squaredNorm() / L.Y.squaredNorm();
}

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

void row(const char* name, const char* method, double err, double ms) {
  std::printf("  %-20s %-22s %12.3e %10.1f\n", name, method, err, ms);
}

// RTN, GPTQ and (optionally) GPTQ + LoRC for one weight policy and activation format.
template <class Policy>
void compare(const layer& L, const char* name, Policy policy, std::size_t group, act a,
             bool with_lorc) {
  const auto gran =
      group == 0 ? lowp::granularity::per_channel() : lowp::granularity::per_group(group);
  auto t0 = clock_type::now();
  const auto q = lowp::quantize(policy, L.W.data(), kOut, kIn, gran);
  Mf What(kOut, kIn);
  q.dequantize(What.data());
  row(name, "RTN", output_error(L, What, a), ms_since(t0));

  t0 = clock_type::now();
  lowp::gptq_options opt;
  opt.groups = gran;
  const auto g = lowp::gptq(L.W.data(), kOut, kIn, L.H, policy, opt);
  row(name, "GPTQ", output_error(L, g.dequantized, a), ms_since(t0));
  if (with_lorc) {
    t0 = clock_type::now();
    lowp::lorc_options lo;
    lo.rank = 8;
    lo.factors = lowp::lorc_factor_format::int8;
    const auto c = lowp::lorc(L.W, g.dequantized, lo);
    row(name, "GPTQ + LoRC r8 (INT8)", output_error(L, c.compensated, a), ms_since(t0));
  }
}

void run_comparison() {
  std::printf(
      "\nZeroQuant-FP on a synthetic %zux%zu layer (Student-t weights, 6 outlier input channels),\n"
      "GPTQ calibrated on %zu tokens, error ||Y - Yq||^2/||Y||^2 on %zu held-out tokens.\n"
      "Weights: 8-bit per channel, 4-bit groups of 128; activations per-token absmax.\n"
      "Time: weight quantization only (the LoRC rows: the LoRC step alone; Hessian: once, "
      "below).\n\n",
      kOut, kIn, kCalib, kEval);
  layer L;
  L.W = make_weights(2023);
  L.Xcal = make_activations(kCalib, 7, 77);
  L.Xeval = make_activations(kEval, 8, 77);
  L.Xeval_int8 = quantize_activations(L.Xeval, act::int8);
  L.Xeval_fp8 = quantize_activations(L.Xeval, act::fp8);
  L.Y = (L.Xeval * L.W.transpose()).cast<double>();
  auto t0 = clock_type::now();
  lowp::hessian_accumulator acc(kIn);
  for (Eigen::Index b = 0; b < static_cast<Eigen::Index>(kCalib); b += 512) {
    acc.add_batch(L.Xcal.data() + b * static_cast<Eigen::Index>(kIn), 512, kIn);
  }
  L.H = acc.hessian();
  std::printf("  Hessian from %zu tokens (4 batches): %.1f ms\n\n", kCalib, ms_since(t0));

  std::printf("  %-20s %-22s %12s %10s\n", "W-A format", "method", "error", "time ms");
  std::printf("  %-20s %-22s %12.3e %10s\n", "W16A8 -INT8", "(weights unquantized)",
              output_error(L, L.W, act::int8), "-");
  std::printf("  %-20s %-22s %12.3e %10s\n", "W16A8 -FP8", "(weights unquantized)",
              output_error(L, L.W, act::fp8), "-");
  compare(L, "W8A8 INT8-INT8", lowp::absmax<lowp::int8>{}, 0, act::int8, false);
  compare(L, "W8A8 INT8-FP8", lowp::absmax<lowp::int8>{}, 0, act::fp8, false);
  compare(L, "W8A8 FP8-FP8", lowp::absmax<lowp::float8_e4m3fn>{}, 0, act::fp8, false);
  compare(L, "W4A8 INT4-INT8", lowp::absmax<lowp::int4>{}, 128, act::int8, true);
  compare(L, "W4A8 INT4-FP8", lowp::absmax<lowp::int4>{}, 128, act::fp8, true);
  compare(L, "W4A8 FP4-FP8", lowp::absmax<lowp::float4_e2m1fn>{}, 128, act::fp8, true);
  std::printf("  FP4 weights with scale constraints (ZeroQuant-FP sec. 4), FP8 activations:\n");
  compare(L, "W4A8 FP4-FP8 M1", lowp::m1<lowp::float4_e2m1fn>{}, 128, act::fp8, true);
  compare(L, "W4A8 FP4-FP8 M2", lowp::m2<lowp::float4_e2m1fn>{}, 128, act::fp8, true);
}

}  // namespace
#endif

int main() {
  std::cout << "lowp " << LOWP_VERSION_MAJOR << '.' << LOWP_VERSION_MINOR << '.'
            << LOWP_VERSION_PATCH << " — number formats\n\n";
  lowp::print_format_table(std::cout);
#if defined(LOWP_DEMO_NO_SOLVERS)
  std::cout << "\n(Eigen was not found: the GPTQ/LoRC comparison needs lowp::solvers.)\n";
#else
  const auto t0 = clock_type::now();
  run_comparison();
  std::printf("\nTotal %.1f s on %d thread(s) (Eigen::nbThreads).\n", ms_since(t0) / 1000.0,
              Eigen::nbThreads());
#endif
  return 0;
}
