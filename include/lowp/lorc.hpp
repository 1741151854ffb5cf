// lowp/lorc.hpp — LoRC: low-rank compensation of a quantized weight matrix, and the
// truncated SVDs it needs (exact, and randomized for large matrices).
//
// Layer: solvers (needs Eigen: link lowp::solvers, or lowp::solvers_compiled).  Includes
// eigen.hpp (row_major_matrixf), cast.hpp, detail/linalg.hpp (the checks),
// detail/solvers_api.hpp and Eigen/Dense.
//
// LoRC (ZeroQuant-V2, Yao et al. 2023, arXiv 2303.08302, sec. 5 "Low Rank Compensation";
// used with FP formats in ZeroQuant-FP, arXiv 2307.09782): the quantization error
// E = W - Ŵ is approximated by a rank-r truncated SVD E ≈ U_r Σ_r V_rᵀ, split
// symmetrically as Û = U_r Σ_r^½ (rows x r) and V̂ = Σ_r^½ V_rᵀ (r x cols), and the layer
// uses Ŵ + Û V̂.  By Eckart–Young the exact truncated SVD leaves the smallest possible
// residual: ||E - Û V̂||_F² = Σ_{i>r} σ_i².  The factors are small (r(rows+cols) values)
// and can themselves be quantized: INT8 symmetric per row of Û and per column of V̂, as
// in ZeroQuant-V2 (near lossless there), or FP8 E4M3 with the same absmax granularity.
//
// Randomized truncated SVD: Halko, Martinsson, Tropp, "Finding structure with
// randomness", SIAM Review 53(2), 2011: a Gaussian test matrix Ω (cols x (r+p)),
// Y = E Ω, then q power iterations with re-orthonormalization after every product
// (their Algorithm 4.4, "randomized subspace iteration": plain (E Eᵀ)^q E Ω loses the
// small directions to rounding), Q = orth(Y), B = Qᵀ E, the SVD of the small B (their
// Algorithm 5.1).  Quantization errors are close to random matrices: their spectra are
// nearly flat, the hard case for randomized methods (HMT sec. 4.5, 10.4), so the default
// takes more oversampling and power iterations than for a decaying spectrum; the
// captured energy (Σ top-r σ̃² / Σ top-r σ²) on such matrices for q = 0, 1, 2, 4 is in
// docs/gptq.md and tested to be >= 95% with the defaults.
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "cast.hpp"
#include "detail/linalg.hpp"
#include "detail/solvers_api.hpp"
#include "eigen.hpp"  // row_major_matrixf

namespace lowp {

/// Which truncated SVD to use.
enum class svd_method {
  automatic,   ///< exact when min(rows, cols) <= truncated_svd_options::exact_max_dim, else
               ///< randomized
  exact,       ///< Eigen BDCSVD in double (thin U, V)
  randomized,  ///< Halko–Martinsson–Tropp randomized subspace iteration in float
};

/// Knobs of truncated_svd().
struct truncated_svd_options {
  svd_method method = svd_method::automatic;
  /// automatic picks the exact SVD up to this min(rows, cols) (LoRC with the exact SVD
  /// took 0.67 s on a 1024² matrix here, the randomized one 0.043 s; the exact cost
  /// grows as n³, the randomized one as n²·(r+p)·(2q+3)).
  std::size_t exact_max_dim = 512;
  /// Extra random directions p beyond the rank (HMT sec. 4.2); r + p is capped at
  /// min(rows, cols).  HMT suggest p = 5..10 for decaying spectra; quantization errors
  /// have flat ones (σ_8/σ_9 ≈ 1.003 on a 1024² INT4 error), where more helps: with q = 4,
  /// p = 16 captures 94.9% of the top-8 energy of such a 1024² matrix and p = 32 97.0%.
  std::size_t oversampling = 32;
  /// Power (subspace) iterations q (HMT Algorithm 4.4).  The default 8 with p = 32
  /// captures 99.6% (1024²) and 98.4% (2048²) of the top-8 energy of INT4 errors
  /// (docs/gptq.md); each iteration costs two passes over the matrix (4·rows·cols·(r+p) flops).
  std::size_t power_iterations = 8;
  /// Seed of the Gaussian test matrix (SplitMix64 + Box–Muller: the same on every platform).
  std::uint64_t seed = 0x10c0ffee;
};

/// A rank-r truncated SVD A ≈ U diag(S) Vᵀ.
struct truncated_svd_result {
  Eigen::MatrixXf U;        ///< rows x r, orthonormal columns
  Eigen::VectorXf S;        ///< r singular values, descending
  Eigen::MatrixXf V;        ///< cols x r, orthonormal columns
  bool randomized = false;  ///< which path was taken
};

/// Rank-`rank` truncated SVD of A (rows x cols).  Exact (BDCSVD in double) or randomized
/// (see the header comment), per opt.method.
/// Contract: A non-empty and finite, 1 <= rank <= min(rows, cols); otherwise
/// std::invalid_argument (shape, rank) or std::domain_error (NaN/Inf).
LOWP_SOLVERS_API truncated_svd_result truncated_svd(const row_major_matrixf& A, std::size_t rank,
                                                    const truncated_svd_options& opt = {});

/// How LoRC stores its factors.
enum class lorc_factor_format {
  fp32,      ///< float, unquantized
  int8,      ///< lowp::int8, symmetric absmax (scale = amax/127) per row of Û, per column of V̂
  fp8_e4m3,  ///< lowp::float8_e4m3fn, absmax (scale = amax/448), same granularity
};

/// Knobs of lorc().
struct lorc_options {
  std::size_t rank = 8;  ///< r (ZeroQuant-V2 uses 8)
  lorc_factor_format factors = lorc_factor_format::fp32;
  truncated_svd_options svd{};
};

/// What lorc() returns.
struct lorc_result {
  row_major_matrixf U_hat;          ///< rows x r: U_r Σ_r^½ as used (dequantized if quantized)
  row_major_matrixf V_hat;          ///< r x cols: Σ_r^½ V_rᵀ as used
  row_major_matrixf compensated;    ///< Ŵ + Û V̂ (rows x cols)
  Eigen::VectorXf singular_values;  ///< the r singular values of E found
  lorc_factor_format format = lorc_factor_format::fp32;
  /// Quantized factors (empty for fp32): code bits (lowp::int8 / float8_e4m3fn::bits()),
  /// row-major like U_hat / V_hat, with one scale per row of Û and per column of V̂.
  std::vector<std::uint8_t> U_codes, V_codes;
  std::vector<float> U_scales, V_scales;
  bool randomized = false;  ///< which SVD path was taken
};

/// LoRC: compensates the quantized Ŵ (rows x cols) of W with a rank-r correction of
/// E = W - Ŵ.  Contract: W and Ŵ the same non-empty shape, finite; 1 <= rank <=
/// min(rows, cols).  Otherwise std::invalid_argument (shapes, rank) / std::domain_error
/// (NaN/Inf).  The SVD path follows opt.svd (automatic: exact up to exact_max_dim).
LOWP_SOLVERS_API lorc_result lorc(const row_major_matrixf& W, const row_major_matrixf& W_hat,
                                  const lorc_options& opt = {});

// The definitions: here in header-only mode, in lowp::solvers_compiled in the compiled
// mode (detail/solvers_api.hpp).
#if LOWP_SOLVERS_HEADER_BODIES

namespace detail {

/// The contract of truncated_svd() and lorc() on the matrix `operand` A: non-empty
/// (std::invalid_argument), finite (std::domain_error), 1 <= rank <= min(rows, cols)
/// (std::invalid_argument).
inline void lorc_check(const char* who, const char* operand, const row_major_matrixf& A,
                       std::size_t rank) {
  if (A.rows() == 0 || A.cols() == 0) {
    throw std::invalid_argument(std::string(who) + ": empty matrix");
  }
  require_finite<std::domain_error>(who, operand, A);
  const auto mn = static_cast<std::size_t>(std::min(A.rows(), A.cols()));
  if (rank == 0 || rank > mn) {
    throw std::invalid_argument(std::string(who) + ": rank " + std::to_string(rank) +
                                " outside [1, min(rows, cols) = " + std::to_string(mn) + "]");
  }
}

/// Standard normal draws from a counter-based SplitMix64 stream (Box–Muller), so the
/// test matrix is identical across standard libraries (std::normal_distribution is not).
inline Eigen::MatrixXf lorc_gaussian(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  Eigen::MatrixXf G(rows, cols);
  std::uint64_t counter = 0;
  const auto next_unit = [&]() {
    std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * ++counter;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (static_cast<double>(z >> 11) + 0.5) * 0x1.0p-53;  // in (0, 1)
  };
  const double two_pi = 6.283185307179586476925286766559;
  for (Eigen::Index i = 0; i < G.size(); ++i) {
    const double u1 = next_unit(), u2 = next_unit();
    G.data()[i] = static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(two_pi * u2));
  }
  return G;
}

/// An orthonormal basis of Y's columns (thin Householder QR).
inline Eigen::MatrixXf lorc_orth(const Eigen::MatrixXf& Y) {
  Eigen::HouseholderQR<Eigen::MatrixXf> qr(Y);
  return qr.householderQ() * Eigen::MatrixXf::Identity(Y.rows(), Y.cols());
}

/// truncated_svd() of an A that meets its contract (checked by the caller).
inline truncated_svd_result truncated_svd_checked(const row_major_matrixf& A, std::size_t rank,
                                                  const truncated_svd_options& opt) {
  const Eigen::Index m = A.rows(), n = A.cols(), r = static_cast<Eigen::Index>(rank);
  const Eigen::Index mn = std::min(m, n);
  const bool randomized =
      opt.method == svd_method::randomized ||
      (opt.method == svd_method::automatic && static_cast<std::size_t>(mn) > opt.exact_max_dim);
  truncated_svd_result out;
  out.randomized = randomized;
  if (!randomized) {
    const Eigen::MatrixXd Ad = A.cast<double>();
    Eigen::BDCSVD<Eigen::MatrixXd> svd(Ad, Eigen::ComputeThinU | Eigen::ComputeThinV);
    out.U = svd.matrixU().leftCols(r).cast<float>();
    out.S = svd.singularValues().head(r).cast<float>();
    out.V = svd.matrixV().leftCols(r).cast<float>();
    return out;
  }
  const Eigen::Index k =
      std::min<Eigen::Index>(mn, r + static_cast<Eigen::Index>(opt.oversampling));
  // Range finder (HMT Algorithm 4.4): Q spans (A Aᵀ)^q A Ω, re-orthonormalized after
  // every product.
  Eigen::MatrixXf Q = detail::lorc_orth(A * detail::lorc_gaussian(n, k, opt.seed));
  for (std::size_t it = 0; it < opt.power_iterations; ++it) {
    const Eigen::MatrixXf Z = detail::lorc_orth(A.transpose() * Q);
    Q = detail::lorc_orth(A * Z);
  }
  // HMT Algorithm 5.1: B = Qᵀ A (k x n), its SVD, U = Q Ũ.
  const Eigen::MatrixXf B = Q.transpose() * A;
  Eigen::JacobiSVD<Eigen::MatrixXf> svd(B, Eigen::ComputeThinU | Eigen::ComputeThinV);
  out.U = Q * svd.matrixU().leftCols(r);
  out.S = svd.singularValues().head(r);
  out.V = svd.matrixV().leftCols(r);
  return out;
}

}  // namespace detail

LOWP_SOLVERS_API truncated_svd_result truncated_svd(const row_major_matrixf& A, std::size_t rank,
                                                    const truncated_svd_options& opt) {
  detail::lorc_check("lowp::truncated_svd", "A", A, rank);
  return detail::truncated_svd_checked(A, rank, opt);
}

namespace detail {

// Quantizes x[0], x[stride], ..., x[(n-1) stride] with one absmax scale; writes the codes
// and the dequantized values back.  x / s is divided in double and rounded once.
template <class F>
float lorc_quantize_vector(float* x, std::size_t n, std::ptrdiff_t stride, std::uint8_t* codes) {
  float amax = 0.0f;
  for (std::size_t i = 0; i < n; ++i)
    amax = std::max(amax, std::fabs(x[static_cast<std::ptrdiff_t>(i) * stride]));
  const double qmax = is_lowp_int_v<F> ? 127.0 : static_cast<double>(std::numeric_limits<F>::max());
  const float s = amax > 0.0f ? static_cast<float>(static_cast<double>(amax) / qmax) : 1.0f;
  for (std::size_t i = 0; i < n; ++i) {
    float& v = x[static_cast<std::ptrdiff_t>(i) * stride];
    const F code = cast<F>(static_cast<double>(v) / static_cast<double>(s));
    codes[static_cast<std::ptrdiff_t>(i) * stride] = static_cast<std::uint8_t>(code.bits());
    v = static_cast<float>(static_cast<double>(code) * static_cast<double>(s));
  }
  return s;
}

template <class F>
void lorc_quantize_factors(lorc_result& res) {
  const auto rows = static_cast<std::size_t>(res.U_hat.rows()),
             r = static_cast<std::size_t>(res.U_hat.cols());
  const auto cols = static_cast<std::size_t>(res.V_hat.cols());
  res.U_codes.resize(rows * r);
  res.V_codes.resize(r * cols);
  res.U_scales.resize(rows);
  res.V_scales.resize(cols);
  for (std::size_t i = 0; i < rows; ++i) {  // per row of Û (contiguous)
    res.U_scales[i] =
        lorc_quantize_vector<F>(res.U_hat.data() + i * r, r, 1, res.U_codes.data() + i * r);
  }
  for (std::size_t j = 0; j < cols; ++j) {  // per column of V̂ (stride cols)
    res.V_scales[j] = lorc_quantize_vector<F>(
        res.V_hat.data() + j, r, static_cast<std::ptrdiff_t>(cols), res.V_codes.data() + j);
  }
}

}  // namespace detail

LOWP_SOLVERS_API lorc_result lorc(const row_major_matrixf& W, const row_major_matrixf& W_hat,
                                  const lorc_options& opt) {
  if (W.rows() != W_hat.rows() || W.cols() != W_hat.cols()) {
    throw std::invalid_argument("lowp::lorc: W is " + std::to_string(W.rows()) + "x" +
                                std::to_string(W.cols()) + " but W_hat is " +
                                std::to_string(W_hat.rows()) + "x" + std::to_string(W_hat.cols()));
  }
  detail::lorc_check("lowp::lorc", "W", W, opt.rank);
  detail::require_finite<std::domain_error>("lowp::lorc", "W_hat", W_hat);
  const row_major_matrixf E = W - W_hat;
  // Finite W and W_hat can still differ by more than FLT_MAX.
  detail::require_finite<std::domain_error>("lowp::lorc", "W - W_hat", E);
  const truncated_svd_result svd = detail::truncated_svd_checked(E, opt.rank, opt.svd);
  lorc_result res;
  res.randomized = svd.randomized;
  res.singular_values = svd.S;
  res.format = opt.factors;
  const Eigen::VectorXf root = svd.S.cwiseMax(0.0f).cwiseSqrt();
  res.U_hat = svd.U * root.asDiagonal();
  res.V_hat = root.asDiagonal() * svd.V.transpose();
  switch (opt.factors) {
    case lorc_factor_format::fp32:
      break;
    case lorc_factor_format::int8:
      detail::lorc_quantize_factors<int8>(res);
      break;
    case lorc_factor_format::fp8_e4m3:
      detail::lorc_quantize_factors<float8_e4m3fn>(res);
      break;
  }
  res.compensated = W_hat;
  res.compensated.noalias() += res.U_hat * res.V_hat;
  return res;
}

#endif  // LOWP_SOLVERS_HEADER_BODIES

}  // namespace lowp
