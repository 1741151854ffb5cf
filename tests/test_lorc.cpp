// tests/test_lorc.cpp — LoRC and the truncated SVDs (lowp/lorc.hpp).
//
// References: the singular values of E from Eigen's JacobiSVD in double (a different
// algorithm from the BDCSVD lowp uses), the Eckart–Young optimum Σ_{i>r} σ_i², and the
// factors' codes decoded here with the lowp value types.
#include <cmath>
#include <cstdio>
#include <limits>
#include <lowp/lorc.hpp>
#include <stdexcept>
#include <vector>

#include "lowp_test.hpp"
#include "test_gptq_data.hpp"

using namespace gptq_test;

namespace {

// E = W - RTN_int4(W), per-channel INT4: the nearly flat-spectrum case LoRC sees.
Mf int4_error(std::size_t rows, std::size_t cols, std::uint32_t seed, Mf* W_out = nullptr,
              Mf* What_out = nullptr) {
  const Mf W = student_t_weights(rows, cols, seed);
  Mf What(W.rows(), W.cols());
  lowp::fake_quantize(lowp::absmax<lowp::int4>{}, W.data(), What.data(), rows, cols,
                      lowp::granularity::per_group(std::min<std::size_t>(cols, 128)));
  if (W_out) *W_out = W;
  if (What_out) *What_out = What;
  return W - What;
}

Eigen::VectorXd singular_values_ref(const Mf& A) {
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(A.cast<double>());
  return svd.singularValues();
}

double sq(const Mf& A) {
  return A.cast<double>().squaredNorm();
}

}  // namespace

TEST_CASE("LoRC with the exact SVD reaches the Eckart-Young optimum", "[lorc]") {
  Mf W, What;
  const Mf E = int4_error(96, 160, 31, &W, &What);
  const Eigen::VectorXd s = singular_values_ref(E);
  for (const std::size_t r : {std::size_t{1}, std::size_t{8}, std::size_t{40}}) {
    CAPTURE(r);
    lowp::lorc_options opt;
    opt.rank = r;
    opt.svd.method = lowp::svd_method::exact;
    const auto res = lowp::lorc(W, What, opt);
    REQUIRE_FALSE(res.randomized);
    const double optimum = s.tail(s.size() - static_cast<Eigen::Index>(r)).squaredNorm();
    const double resid =
        (E.cast<double>() - res.U_hat.cast<double>() * res.V_hat.cast<double>()).squaredNorm();
    CHECK(resid == Approx(optimum).epsilon(1e-5));
    // The compensated weight is Ŵ + Û V̂ (float rounding of the sum only).
    CHECK(sq(W - res.compensated) == Approx(optimum).epsilon(1e-4));
    for (std::size_t i = 0; i < r; ++i) {
      CHECK(static_cast<double>(res.singular_values(static_cast<Eigen::Index>(i))) ==
            Approx(s(static_cast<Eigen::Index>(i))).epsilon(1e-5));
    }
    CHECK(res.U_codes.empty());
  }
}

TEST_CASE("randomized SVD captures the top-r energy of quantization errors", "[lorc][rsvd]") {
  const std::size_t rank = 8;
  const Mf E = int4_error(256, 512, 41);
  const Eigen::VectorXd s = singular_values_ref(E);
  const double exact = s.head(rank).squaredNorm();
  std::printf(
      "randomized SVD, 256x512 INT4 error, rank 8: captured energy (sum top-r sigma^2 vs exact)\n");
  double default_ratio = 0;
  for (const std::size_t q :
       {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{4}, std::size_t{8}}) {
    lowp::truncated_svd_options opt;
    opt.method = lowp::svd_method::randomized;
    opt.power_iterations = q;
    const auto svd = lowp::truncated_svd(E, rank, opt);
    REQUIRE(svd.randomized);
    // Energy of E projected on the rank-r subspace found: ||Uᵀ E||² (independent of S).
    const double captured = (svd.U.cast<double>().transpose() * E.cast<double>()).squaredNorm();
    std::printf("  q=%zu  %.4f\n", q, captured / exact);
    CHECK(captured <= exact * (1 + 1e-5));  // Ky Fan: no rank-r subspace beats the top-r one
    CHECK(static_cast<double>(svd.S.squaredNorm()) == Approx(captured).epsilon(1e-3));
    // Orthonormal factors.
    CHECK((svd.U.transpose() * svd.U - Eigen::MatrixXf::Identity(8, 8)).cwiseAbs().maxCoeff() <
          1e-4f);
    CHECK((svd.V.transpose() * svd.V - Eigen::MatrixXf::Identity(8, 8)).cwiseAbs().maxCoeff() <
          1e-4f);
    if (q == lowp::truncated_svd_options{}.power_iterations) default_ratio = captured / exact;
  }
  CHECK(default_ratio >= 0.95);

  SECTION("seeded: same seed, same result; decaying spectrum: exact to float precision") {
    lowp::truncated_svd_options opt;
    opt.method = lowp::svd_method::randomized;
    const auto a = lowp::truncated_svd(E, rank, opt);
    const auto b = lowp::truncated_svd(E, rank, opt);
    CHECK(a.U == b.U);
    CHECK(a.S == b.S);
    // A rank-6 matrix plus tiny noise: the randomized SVD finds it.
    const Mf L = student_t_weights(200, 6, 1) * student_t_weights(6, 300, 2) * 100.0f +
                 1e-4f * E.topLeftCorner(200, 300);
    const Eigen::VectorXd sl = singular_values_ref(L);
    const auto c = lowp::truncated_svd(L, 6, opt);
    for (Eigen::Index i = 0; i < 6; ++i)
      CHECK(static_cast<double>(c.S(i)) == Approx(sl(i)).epsilon(1e-4));
  }
}

TEST_CASE("LoRC quantized factors", "[lorc]") {
  Mf W, What;
  const Mf E = int4_error(128, 256, 51, &W, &What);
  lowp::lorc_options opt;
  opt.rank = 8;
  opt.svd.method = lowp::svd_method::exact;
  const auto f32 = lowp::lorc(W, What, opt);
  const double base = sq(W - f32.compensated);
  const double no_lorc = sq(E);
  CHECK(base < no_lorc);

  opt.factors = lowp::lorc_factor_format::int8;
  const auto i8 = lowp::lorc(W, What, opt);
  const double with_int8 = sq(W - i8.compensated);
  std::printf("LoRC rank 8 on 128x256 INT4 error: residual/||E||^2 fp32 %.5f int8 %.5f",
              base / no_lorc, with_int8 / no_lorc);
  CHECK(with_int8 < 1.01 * base);  // INT8 factors add < 1% to the residual error
  // The codes decode (independently, with lowp::int8) to the factors used.
  REQUIRE(i8.U_codes.size() == 128u * 8u);
  REQUIRE(i8.V_codes.size() == 8u * 256u);
  for (std::size_t i = 0; i < 128; ++i) {
    for (std::size_t k = 0; k < 8; ++k) {
      const int v = lowp::int8::from_bits(i8.U_codes[i * 8 + k]).value();
      CHECK(v >= -127);
      CHECK(i8.U_hat(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(k)) ==
            static_cast<float>(static_cast<double>(v) * static_cast<double>(i8.U_scales[i])));
    }
  }
  for (std::size_t j = 0; j < 256; ++j) {
    for (std::size_t k = 0; k < 8; ++k) {
      const int v = lowp::int8::from_bits(i8.V_codes[k * 256 + j]).value();
      CHECK(i8.V_hat(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(j)) ==
            static_cast<float>(static_cast<double>(v) * static_cast<double>(i8.V_scales[j])));
    }
  }

  opt.factors = lowp::lorc_factor_format::fp8_e4m3;
  const auto f8 = lowp::lorc(W, What, opt);
  const double with_fp8 = sq(W - f8.compensated);
  std::printf(" fp8 %.5f\n", with_fp8 / no_lorc);
  CHECK(with_fp8 < 1.05 * base);
  for (std::size_t i = 0; i < 128; ++i) {
    const float v = static_cast<float>(lowp::float8_e4m3fn::from_bits(f8.U_codes[i * 8]));
    CHECK(f8.U_hat(static_cast<Eigen::Index>(i), 0) ==
          static_cast<float>(static_cast<double>(v) * static_cast<double>(f8.U_scales[i])));
  }
}

TEST_CASE("LoRC rejects bad input", "[lorc]") {
  Mf W = student_t_weights(16, 24, 61);
  const Mf What = Mf::Zero(16, 24);
  lowp::lorc_options opt;
  opt.rank = 0;
  REQUIRE_THROWS_AS(lowp::lorc(W, What, opt), std::invalid_argument);
  opt.rank = 17;
  REQUIRE_THROWS_AS(lowp::lorc(W, What, opt), std::invalid_argument);
  opt.rank = 4;
  REQUIRE_THROWS_AS(lowp::lorc(W, Mf::Zero(16, 23), opt), std::invalid_argument);
  REQUIRE_THROWS_AS(lowp::lorc(Mf(0, 0), Mf(0, 0), opt), std::invalid_argument);
  Mf bad = What;
  bad(3, 3) = std::numeric_limits<float>::quiet_NaN();
  REQUIRE_THROWS_AS(lowp::lorc(W, bad, opt), std::domain_error);
  W(0, 0) = std::numeric_limits<float>::infinity();
  REQUIRE_THROWS_AS(lowp::lorc(W, What, opt), std::domain_error);
  REQUIRE_THROWS_AS(lowp::truncated_svd(W, 4), std::domain_error);
}

TEST_CASE("LoRC and truncated_svd name the non-finite element they reject", "[lorc]") {
  Mf W = student_t_weights(16, 24, 62);
  Mf What = Mf::Zero(16, 24);
  lowp::lorc_options opt;
  opt.rank = 4;
  What(3, 5) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(lowp::lorc(W, What, opt),
                    "lowp::lorc: W_hat contains NaN or Inf (NaN at row 3, column 5)");
  CHECK_THROWS_WITH(lowp::truncated_svd(What, 4),
                    "lowp::truncated_svd: A contains NaN or Inf (NaN at row 3, column 5)");
  What(3, 5) = 0.0f;
  // Both finite, but their difference overflows: the error names the difference.
  W(2, 9) = 3e38f;
  What(2, 9) = -3e38f;
  CHECK_THROWS_WITH(lowp::lorc(W, What, opt),
                    "lowp::lorc: W - W_hat contains NaN or Inf (+Inf at row 2, column 9)");
  W(2, 9) = -std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH(lowp::lorc(W, What, opt),
                    "lowp::lorc: W contains NaN or Inf (-Inf at row 2, column 9)");
}
