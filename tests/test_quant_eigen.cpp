// tests/test_quant_eigen.cpp — the Eigen glue of the quantizers and metrics.
#include <Eigen/Core>
#include <vector>

#include "lowp/eigen.hpp"
#include "lowp_test.hpp"
#include "test_quant_ref.hpp"

TEST_CASE("Eigen: fake_quantize and quantize agree with the array forms", "[quant][eigen]") {
  const std::size_t rows = 12, cols = 96;
  const std::vector<float> w = qref::matrix(qref::dist::laplace, rows, cols, 31);
  // A column-major Eigen copy of the row-major data.
  Eigen::MatrixXf W(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c)
      W(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) = w[r * cols + c];

  const auto gran = lowp::granularity::per_group(32);
  const lowp::pow2_relative<lowp::float4_e2m1fn> pol;
  const std::vector<float> ref = lowp::fake_quantize(pol, w, rows, cols, gran);
  const Eigen::MatrixXf F = lowp::fake_quantize(pol, W, gran);
  const auto q = lowp::quantize(pol, W, gran);
  const Eigen::MatrixXf D = lowp::dequantize_matrix(q);
  REQUIRE(F.rows() == static_cast<Eigen::Index>(rows));
  REQUIRE(F.cols() == static_cast<Eigen::Index>(cols));
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      const auto i = static_cast<Eigen::Index>(r), j = static_cast<Eigen::Index>(c);
      REQUIRE(F(i, j) == ref[r * cols + c]);
      REQUIRE(D(i, j) == ref[r * cols + c]);
    }
  // Expressions (a block, a double matrix) are accepted.
  const Eigen::MatrixXf B = lowp::fake_quantize(lowp::absmax<lowp::int8>{}, W.block(0, 0, 4, 64),
                                                lowp::granularity::per_channel());
  CHECK(B.rows() == 4);
  const Eigen::MatrixXd Wd = W.cast<double>();
  CHECK(lowp::fake_quantize(pol, Wd, gran) == F);

  SECTION("metrics on Eigen matrices") {
    const std::vector<float> fv(ref);
    CHECK(lowp::mse(W, F) == lowp::mse(w, fv));
    CHECK(lowp::sqnr_db(W, F) == lowp::sqnr_db(w, fv));
    CHECK(lowp::max_abs_error(W, F) == lowp::max_abs_error(w, fv));
    CHECK(lowp::relative_frobenius_error(W, F) == lowp::relative_frobenius_error(w, fv));
    CHECK(lowp::cosine_similarity(W, F) == lowp::cosine_similarity(w, fv));
    // X: 7 tokens x cols features (one token per row); the outputs are W Xᵀ.
    const Eigen::MatrixXf X = Eigen::MatrixXf::Random(7, static_cast<Eigen::Index>(cols));
    const Eigen::MatrixXf WX = W * X.transpose(), FX = F * X.transpose();
    const double direct =
        static_cast<double>((WX - FX).squaredNorm()) / static_cast<double>(WX.squaredNorm());
    CHECK(lowp::layer_output_error(W, F, X) == Approx(direct).epsilon(1e-4));
    CHECK_THROWS_AS(lowp::layer_output_error(W, F, X.transpose()), std::invalid_argument);
    CHECK_THROWS_AS(lowp::mse(W, X), std::invalid_argument);
  }
  SECTION("bad input keeps its contract") {
    Eigen::MatrixXf bad = W;
    bad(2, 5) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH(lowp::fake_quantize(pol, bad, gran), Catch::Contains("row 2, column 5"));
    CHECK(lowp::fake_quantize(pol, Eigen::MatrixXf(0, 0), gran).size() == 0);
    CHECK_THROWS_AS(lowp::quantize(pol, W, lowp::granularity::per_group(0)), std::invalid_argument);
  }
}
