// W4A8 for your own linear layer: FP4 weights by GPTQ + LoRC, FP8 activations.
// Replace load_layer() with your weights (out x in, row-major) and calibration inputs
// (tokens x in, row-major); link lowp::solvers (and OpenMP for threads).
#include <cstdio>
#include <lowp/gptq.hpp>
#include <lowp/lorc.hpp>
#include <lowp/quantize.hpp>
#include <random>

using Mf = lowp::row_major_matrixf;

// Stand-in for your model: random weights and activations.
static void load_layer(Mf& W, Mf& X) {
  std::mt19937 gen(1);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  W.resize(512, 768);
  X.resize(1024, 768);
  for (Eigen::Index i = 0; i < W.size(); ++i) W.data()[i] = 0.02f * nd(gen);
  for (Eigen::Index i = 0; i < X.size(); ++i) X.data()[i] = nd(gen);
  X.col(5) *= 40.0f;  // an outlier channel
}

int main() {
  Mf W, X;
  load_layer(W, X);
  const auto out = static_cast<std::size_t>(W.rows()), in = static_cast<std::size_t>(W.cols());

  // 1. Hessian of the layer's inputs; stream as many batches as you like.
  lowp::hessian_accumulator hessian(in);
  for (Eigen::Index t = 0; t < X.rows(); t += 256) hessian.add_batch(X.middleRows(t, 256));

  // 2. GPTQ: FP4 (E2M1) weights, groups of 128 with power-of-two-relative (M2) scales.
  lowp::gptq_options opt;
  opt.groups = lowp::granularity::per_group(128);
  const auto q = lowp::gptq(W, hessian.hessian(), lowp::m2<lowp::float4_e2m1fn>{}, opt);
  // q.quantized: packed FP4 codes + per-group params, ready to store or hand to a kernel.

  // 3. LoRC: rank-8 correction of W - Ŵ, factors stored as INT8.
  lowp::lorc_options lo;
  lo.rank = 8;
  lo.factors = lowp::lorc_factor_format::int8;
  const auto c = lowp::lorc(W, q.dequantized, lo);

  // 4. Activations: per-token dynamic FP8 E4M3.
  Mf Xq(X.rows(), X.cols());
  lowp::activation_quantizer<lowp::absmax<lowp::float8_e4m3fn>>().fake_quantize(
      X.data(), Xq.data(), static_cast<std::size_t>(X.rows()), in);

  // 5. How close is the quantized layer?  ||Y - Ŷ||² / ||Y||².
  const Eigen::MatrixXf Y = X * W.transpose();
  const auto err = [&](const Mf& What) {
    return static_cast<double>((Y - Xq * What.transpose()).squaredNorm() / Y.squaredNorm());
  };
  std::printf("W4A8 FP4-FP8, %zu x %zu: GPTQ %.3e, GPTQ + LoRC %.3e (weights %zu bytes vs %zu)\n",
              out, in, err(q.dequantized), err(c.compensated), q.quantized.storage_bytes(),
              out * in * sizeof(float));
  return 0;
}
