// tests/test_gptq_data.hpp — seeded synthetic layers for the GPTQ and LoRC tests, and the
// double-precision references the tests compare against (written independently of
// lowp/gptq.hpp and lowp/lorc.hpp).
#pragma once

#include <Eigen/Dense>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <lowp/gptq.hpp>
#include <random>
#include <vector>

namespace gptq_test {

using Mf = lowp::row_major_matrixf;
using Md = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Student-t(ν = 4) weights (heavy tails, like LLM weights), scaled by 0.02.
inline Mf student_t_weights(std::size_t rows, std::size_t cols, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::student_t_distribution<float> t(4.0f);
  Mf W(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  for (Eigen::Index i = 0; i < W.size(); ++i) W.data()[i] = 0.02f * t(gen);
  return W;
}

/// Calibration activations (tokens x features): correlated features (a random mixing of
/// features/4 latent factors plus independent noise) and `outliers` channels 20..100x
/// larger, as in LLM activations.
inline Mf calibration(std::size_t tokens, std::size_t features, std::size_t outliers,
                      std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const auto T = static_cast<Eigen::Index>(tokens), F = static_cast<Eigen::Index>(features);
  const Eigen::Index k = std::max<Eigen::Index>(F / 4, 1);
  Mf Z(T, k), A(k, F), N(T, F);
  for (Eigen::Index i = 0; i < Z.size(); ++i) Z.data()[i] = nd(gen);
  for (Eigen::Index i = 0; i < A.size(); ++i)
    A.data()[i] = nd(gen) / std::sqrt(static_cast<float>(k));
  for (Eigen::Index i = 0; i < N.size(); ++i) N.data()[i] = 0.3f * nd(gen);
  Mf X = Z * A + N;
  std::uniform_real_distribution<float> mag(20.0f, 100.0f);
  std::uniform_int_distribution<Eigen::Index> ch(0, F - 1);
  for (std::size_t o = 0; o < outliers; ++o) X.col(ch(gen)) *= mag(gen);
  return X;
}

/// H = (2/N) Σ x xᵀ in double, straight from the definition.
inline Eigen::MatrixXd hessian_reference(const Mf& X) {
  const Eigen::MatrixXd Xd = X.cast<double>();
  return (2.0 / static_cast<double>(X.rows())) * (Xd.transpose() * Xd);
}

/// ||W Xᵀ - Ŵ Xᵀ||_F² / ||W Xᵀ||_F², in double.
inline double output_rel_error(const Mf& W, const Mf& What, const Mf& X) {
  const Eigen::MatrixXd Xd = X.cast<double>();
  const Eigen::MatrixXd Y = W.cast<double>() * Xd.transpose();
  const Eigen::MatrixXd D = (W.cast<double>() - What.cast<double>()) * Xd.transpose();
  return D.squaredNorm() / Y.squaredNorm();
}

}  // namespace gptq_test
