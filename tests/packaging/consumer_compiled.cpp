// Uses lowp::solvers_compiled from an installed tree: the solver headers declare, the
// library defines (gptq() for a listed policy, lorc(), hessian_accumulator::add_batch).
#include <Eigen/Dense>
#include <cmath>
#include <cstdio>
#include <lowp/gptq.hpp>
#include <lowp/lorc.hpp>

#ifndef LOWP_SOLVERS_COMPILED
#error "lowp::solvers_compiled must define LOWP_SOLVERS_COMPILED for its users"
#endif

int main() {
  // W on the E2M1 grid with 6 (E2M1's largest value) in every group of 16: M2's scales
  // are 1, so GPTQ with any positive definite H must reproduce W exactly.
  const float grid[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  lowp::row_major_matrixf W(4, 32);
  for (Eigen::Index r = 0; r < W.rows(); ++r) {
    for (Eigen::Index c = 0; c < W.cols(); ++c) {
      const float v = c % 16 == 0 ? 6.0f : grid[(r * 5 + c * 3) % 8];
      W(r, c) = (r + c) % 3 == 0 ? -v : v;
    }
  }
  lowp::hessian_accumulator acc(32);
  acc.add_batch(Eigen::MatrixXf::Identity(32, 32) * 2.0f);
  lowp::gptq_options opt;
  opt.groups = lowp::granularity::per_group(16);
  const auto q = lowp::gptq(W, acc.hessian(), lowp::m2<lowp::float4_e2m1fn>{}, opt);
  if (!(q.dequantized.array() == W.array()).all()) {
    std::puts("gptq did not reproduce a W on the E2M1 grid");
    return 1;
  }
  // A rank-1 error is compensated exactly by rank-1 LoRC (up to float rounding).
  lowp::row_major_matrixf E =
      Eigen::VectorXf::LinSpaced(4, 1.0f, 2.0f) * Eigen::RowVectorXf::LinSpaced(32, -0.5f, 0.5f);
  lowp::lorc_options lo;
  lo.rank = 1;
  const lowp::row_major_matrixf W_hat = W - E;
  const auto c = lowp::lorc(W, W_hat, lo);
  const float err = (c.compensated - W).cwiseAbs().maxCoeff();
  if (!(err < 1e-4f)) {
    std::printf("lorc left %g of a rank-1 error\n", static_cast<double>(err));
    return 1;
  }
  return 0;
}
