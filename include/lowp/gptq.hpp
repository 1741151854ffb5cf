// lowp/gptq.hpp — GPTQ: one-shot weight quantization that minimizes a layer's output error.
//
// Layer: solvers (needs Eigen: link lowp::solvers).  Includes quantize.hpp, eigen.hpp and Eigen/Dense.
//
// GPTQ (Frantar, Ashkboos, Hoefler, Alistarh 2022, arXiv 2210.17323) quantizes the
// columns of a weight matrix W (rows = output channels, cols = input features) one at a
// time, and after each column spreads that column's rounding error over the columns not
// yet quantized so that ||W X - Ŵ X||² on calibration activations X stays small.  The
// structure below follows the reference implementation (IST-DASLab gptq.py,
// `GPTQ.fasterquant`) step by step:
//
//   H = (2/N) Σ x xᵀ                         hessian_accumulator  (paper eq. (1)'s Hessian)
//   dead columns: H_ii = 0 → H_ii = 1, W[:, i] = 0
//   act_order: columns by descending H_ii     ("act-order" heuristic, paper §6 / repo)
//   H += λ I, λ = percdamp · mean(diag H)      ("lazy batch" paper §4 Step 3, dampening)
//   U = upper Cholesky factor of H⁻¹           (paper §4 Step 3, "Cholesky reformulation")
//   for each block of B columns (Algorithm 1):
//     for each column j of the block:
//       q_j = quant(w_j);  err_j = (w_j - q_j) / U_jj;  loss_j = (w_j - q_j)² / (2 U_jj²)
//       w_{j+1..block end} -= err_j · U_{j, j+1..block end}          (in-block, eq. (2))
//     W[:, block end..] -= Err_block · U_{block, block end..}         (one lazy GEMM)
//
// The quantizer is a policy (the "group quantizer" concept of lowp/quantize.hpp):
//
//   struct Policy {
//     using format = ...;   // element type, e.g. lowp::int4
//     using params = ...;   // scale (+ zero point) of one group of one row, trivially copyable
//     void prepare(const float* W, std::size_t rows, std::size_t cols, std::size_t group_size);
//     params fit(const float* x, std::size_t n, std::ptrdiff_t stride, std::size_t row) const;
//     typename format::storage_type encode(float x, const params& p) const;
//     float decode(typename format::storage_type code, const params& p) const;
//     float fake(float x, const params& p) const;     // decode(encode(x, p), p)
//   };
//
// Deviations from the reference, all deliberate (docs/gptq.md has the long form):
// - U is computed as the inverse of the Cholesky factor of H in reversed index order
//   (two O(n³) steps instead of the reference's three: chol(H), cholesky_inverse,
//   chol(H⁻¹, upper)).  It is the same matrix: if J is the exchange matrix and
//   J H J = L Lᵀ, then H⁻¹ = (J L⁻ᵀ J)(J L⁻¹ J) = Uᵀ U with U = J L⁻¹ J upper triangular,
//   and the Cholesky factor with positive diagonal is unique.
// - Group parameters are fitted when a group starts, from the *current* values of the
//   group's columns, i.e. after every error update from the columns already quantized.
//   The reference reads the group from W, which misses the in-block updates when a group
//   starts mid-block (group_size < block_size, or unaligned), and the current block's
//   updates for columns past the block end.  Here the result does not depend on the block
//   size (block size 1 and 128 give the same codes, up to float rounding at exact ties);
//   with the defaults (group 128 = block 128) both agree exactly.
// - act_order with groups smaller than a row needs static_groups = true (groups fitted
//   on the original weights before any update, as the reference's static_groups): then
//   every group is a run of consecutive *original* columns and the codes + parameters
//   are an ordinary grouped tensor.  The reference's dynamic act-order groups need a
//   g_idx indirection per column, which lowp's tensors do not have, so that combination
//   throws std::invalid_argument.  Ties in diag H are ordered by column index (stable
//   sort); torch.argsort is not stable.
// - Per-channel parameters (group_size 0) are fitted after dead columns are zeroed (the
//   reference fits before).
// - If the damped H is not positive definite (float Cholesky fails, or U has a
//   non-finite or non-positive diagonal), the damping fraction is retried
//   max_damping_retries times, each time 10x larger (from 1e-3 if percdamp was 0),
//   then std::domain_error.  The reference simply fails.
//
// Precision: H is accumulated per batch in float (Eigen GEMMs) and averaged across
// batches in double (see hessian_accumulator); the factorization and the column loop run
// in float like the reference (gptq_options::factor_in_double runs the Cholesky and the
// inverse in double; measured in docs/gptq.md: on a 1024² layer with percdamp 0.01 the
// codes are identical and the loss within 2e-4 relative, with percdamp 1e-4 99.96% of
// the codes agree, for ~10% more time).
//
// Threads: the large products (the Gram matrix, the triangular inverse, the lazy block
// updates) are Eigen GEMMs, which use OpenMP when the program is compiled with it
// (Eigen::setNbThreads); the per-row column loop is an OpenMP loop over rows with the
// same thread count.  Eigen 3.4's LLT is single-threaded.  Without OpenMP everything
// runs on one thread.
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "eigen.hpp"  // row_major_matrixf
#include "quantize.hpp"

namespace lowp {

namespace detail {

inline Eigen::Index gptq_index(std::size_t n) {
  if (n > static_cast<std::size_t>(std::numeric_limits<Eigen::Index>::max())) {
    throw std::invalid_argument("lowp: matrix dimension too large");
  }
  return static_cast<Eigen::Index>(n);
}

inline bool gptq_all_finite(const float* p, std::size_t n) noexcept {
  // AND-ing the flags without an early exit keeps the loop branch-free.
  bool ok = true;
  for (std::size_t i = 0; i < n; ++i) ok &= std::isfinite(p[i]);
  return ok;
}

/// True for a policy that rounds stochastically (lowp's element_codec policies expose
/// rounding_config()): its random stream is sequential state, so GPTQ must not call it
/// from several threads.
template <class P, class = void>
struct gptq_stochastic {
  static bool get(const P&) noexcept { return false; }
};
template <class P>
struct gptq_stochastic<P, std::void_t<decltype(std::declval<const P&>().rounding_config().stochastic)>> {
  static bool get(const P& p) noexcept { return p.rounding_config().stochastic; }
};

/// Runs f(r) for r in [0, n), over Eigen's thread count when compiled with OpenMP and
/// `threaded`.  Exceptions thrown by f are rethrown on the calling thread (one of them).
template <class F>
void gptq_parallel_rows(std::size_t n, std::size_t work_per_row, bool threaded, F&& f) {
#if defined(_OPENMP)
  const int threads = (threaded && n * work_per_row >= (std::size_t{1} << 15)) ? Eigen::nbThreads() : 1;
  std::exception_ptr error;
  const auto count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (std::ptrdiff_t r = 0; r < count; ++r) {
    try {
      f(static_cast<std::size_t>(r));
    } catch (...) {
#pragma omp critical(lowp_gptq_error)
      error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
#else
  (void)work_per_row;
  (void)threaded;
  for (std::size_t r = 0; r < n; ++r) f(r);
#endif
}

/// In place: L (lower triangular, row-major, zeros above the diagonal) becomes L⁻¹.
/// Recursive 2x2 blocking, [[A, 0], [B, C]]⁻¹ = [[A⁻¹, 0], [-C⁻¹ B A⁻¹, C⁻¹]], so nearly
/// all the work is two Eigen GEMMs per level (multi-threaded); 2n³/3 flops.
template <class Mat>
void gptq_invert_lower_inplace(Eigen::Ref<Mat> L) {
  using S = typename Mat::Scalar;
  const Eigen::Index n = L.rows();
  if (n <= 64) {
    // Row by row: row i of L⁻¹ is -(L[i, :i] · L⁻¹[:i, :i]) / L_ii, then 1/L_ii on the
    // diagonal; as axpys over the (contiguous) rows already inverted.
    S acc[64];
    for (Eigen::Index i = 0; i < n; ++i) {
      for (Eigen::Index j = 0; j < i; ++j) acc[j] = 0;
      for (Eigen::Index k = 0; k < i; ++k) {
        const S lik = L(i, k);
        for (Eigen::Index j = 0; j <= k; ++j) acc[j] += lik * L(k, j);
      }
      const S inv = S(1) / L(i, i);
      for (Eigen::Index j = 0; j < i; ++j) L(i, j) = -acc[j] * inv;
      L(i, i) = inv;
    }
    return;
  }
  const Eigen::Index k = ((n / 2 + 31) / 32) * 32;  // keep the big GEMMs nicely sized
  gptq_invert_lower_inplace<Mat>(L.topLeftCorner(k, k));
  gptq_invert_lower_inplace<Mat>(L.bottomRightCorner(n - k, n - k));
  Mat tmp(n - k, k);
  tmp.noalias() = L.bottomLeftCorner(n - k, k) * L.topLeftCorner(k, k);
  L.bottomLeftCorner(n - k, k).noalias() = -(L.bottomRightCorner(n - k, n - k) * tmp);
}

/// G's lower triangle (and diagonal) += Xᵀ X, for X row-major (tokens x n) and G
/// column-major n x n.  Recursive halving: [X1 X2]ᵀ[X1 X2] has the off-diagonal block
/// X2ᵀ X1, one Eigen GEMM (multi-threaded), and two half-size symmetric products; so the
/// work stays t·n² flops (a symmetric product, half a GEMM's) while nearly all of it runs
/// in Eigen's parallel GEMM kernel.  Eigen 3.4's own rankUpdate (SYRK) is single-threaded.
inline void gptq_syrk_lower(const Eigen::Ref<const row_major_matrixf>& X, Eigen::Ref<Eigen::MatrixXf> G) {
  const Eigen::Index n = X.cols();
  if (n <= 256) {
    G.selfadjointView<Eigen::Lower>().rankUpdate(X.transpose());
    return;
  }
  const Eigen::Index k = ((n / 2 + 63) / 64) * 64;
  gptq_syrk_lower(X.leftCols(k), G.topLeftCorner(k, k));
  G.bottomLeftCorner(n - k, k).noalias() += X.rightCols(n - k).transpose() * X.leftCols(k);
  gptq_syrk_lower(X.rightCols(n - k), G.bottomRightCorner(n - k, n - k));
}

/// U = upper Cholesky factor of (H + λI)⁻¹, row-major, via the reversed-order Cholesky
/// (see the header comment).  Returns false when the damped H is not numerically
/// positive definite in Scalar.  H must be symmetric.
///
/// Index reversal is a buffer reversal: for a symmetric column-major H, the row-major
/// matrix R(i, j) = H(n-1-i, n-1-j) = J H J is H's buffer read backwards, and the
/// row-major U = J L⁻¹ J is the row-major L⁻¹'s buffer read backwards.
template <class Scalar>
bool gptq_inverse_factor(const Eigen::MatrixXf& H, double lambda, row_major_matrixf& U) {
  using Mat = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Index n = H.rows();
  const std::size_t nn = static_cast<std::size_t>(H.size());
  Mat R(n, n);
  const float* h = H.data();
  Scalar* rp = R.data();
  for (std::size_t t = 0; t < nn; ++t) rp[t] = static_cast<Scalar>(h[nn - 1 - t]);
  R.diagonal().array() += static_cast<Scalar>(lambda);
  Eigen::LLT<Eigen::Ref<Mat>> llt(R);  // in place: R's lower triangle becomes L
  if (llt.info() != Eigen::Success) return false;
  R.template triangularView<Eigen::StrictlyUpper>().setZero();
  gptq_invert_lower_inplace<Mat>(R);
  U.resize(n, n);
  float* up = U.data();
  for (std::size_t t = 0; t < nn; ++t) up[t] = static_cast<float>(rp[nn - 1 - t]);
  for (Eigen::Index i = 0; i < n; ++i) {
    if (!(std::isfinite(U(i, i)) && U(i, i) > 0.0f)) return false;
  }
  return gptq_all_finite(U.data(), nn);
}

}  // namespace detail

/// Streams calibration activations into the GPTQ Hessian H = (2/N) Σ_t x_t x_tᵀ, where
/// x_t (one row of X) is a token's input to the layer and N counts every token so far.
///
/// Precision (tested against a double reference in tests/test_gptq.cpp): each batch's
/// Gram matrix XᵀX is computed in float by Eigen GEMMs (the O(t·n²) part, multi-threaded;
/// see detail::gptq_syrk_lower); the
/// running average across batches is kept in double, H ← H·N/(N+t) + (2/(N+t))·XᵀX, as
/// gptq.py's add_batch does in float.  So the only float rounding is inside one batch's
/// dot products (relative error ~ sqrt(t)·2⁻²⁴ typically), whatever the number of batches.
class hessian_accumulator {
 public:
  /// An empty accumulator for layers with `features` inputs.  Throws
  /// std::invalid_argument if features == 0.
  explicit hessian_accumulator(std::size_t features) : features_(features) {
    if (features == 0) throw std::invalid_argument("lowp::hessian_accumulator: features must be > 0");
    const Eigen::Index n = detail::gptq_index(features);
    h_ = Eigen::MatrixXd::Zero(n, n);
  }

  /// Adds a batch X of `tokens` rows, row-major, `features` floats per row.
  /// Throws std::invalid_argument if features differs from the constructor's or tokens == 0
  /// (or x is null), std::domain_error if X holds NaN or Inf (H is left unchanged).
  void add_batch(const float* x, std::size_t tokens, std::size_t features) {
    if (features != features_) {
      throw std::invalid_argument("lowp::hessian_accumulator::add_batch: X has " +
                                  std::to_string(features) + " features, expected " +
                                  std::to_string(features_));
    }
    if (tokens == 0 || x == nullptr) {
      throw std::invalid_argument("lowp::hessian_accumulator::add_batch: empty batch");
    }
    if (!detail::gptq_all_finite(x, tokens * features)) {
      throw std::domain_error("lowp::hessian_accumulator::add_batch: X contains NaN or Inf");
    }
    const Eigen::Index n = detail::gptq_index(features_);
    Eigen::Map<const row_major_matrixf> X(x, detail::gptq_index(tokens), n);
    // The symmetric product (half the flops of a GEMM) fills the lower triangle; only
    // that triangle is read below.
    gram_.setZero(n, n);
    detail::gptq_syrk_lower(X, gram_);
    const double total = static_cast<double>(tokens_) + static_cast<double>(tokens);
    const double keep = static_cast<double>(tokens_) / total;
    const double add = 2.0 / total;
    for (Eigen::Index j = 0; j < n; ++j) {
      for (Eigen::Index i = j; i < n; ++i) {
        const double v = h_(i, j) * keep + add * static_cast<double>(gram_(i, j));
        h_(i, j) = v;
        h_(j, i) = v;
      }
    }
    tokens_ += tokens;
  }

  /// The same for an Eigen expression with one token per row.
  template <class Derived>
  void add_batch(const Eigen::MatrixBase<Derived>& X) {
    const row_major_matrixf tmp = X.template cast<float>();
    add_batch(tmp.data(), static_cast<std::size_t>(tmp.rows()), static_cast<std::size_t>(tmp.cols()));
  }

  std::size_t features() const noexcept { return features_; }
  /// Tokens seen so far (N).
  std::uint64_t tokens() const noexcept { return tokens_; }
  /// H in double (the accumulator itself).
  const Eigen::MatrixXd& hessian_double() const noexcept { return h_; }
  /// H rounded to float, what gptq() takes.  Throws std::logic_error before any batch.
  Eigen::MatrixXf hessian() const {
    if (tokens_ == 0) throw std::logic_error("lowp::hessian_accumulator::hessian: no batch added yet");
    return h_.cast<float>();
  }
  /// Forgets every batch.
  void reset() {
    h_.setZero();
    tokens_ = 0;
  }

 private:
  std::size_t features_;
  std::uint64_t tokens_ = 0;
  Eigen::MatrixXd h_;
  Eigen::MatrixXf gram_;
};

/// Knobs of gptq(); the defaults are the reference's.
struct gptq_options {
  /// Columns per lazy-update block (reference `blocksize`, paper §4 Step 2).  >= 1.
  std::size_t block_size = 128;
  /// Columns per quantization group; 0 (or >= cols) = one group per row ("per channel").
  std::size_t group_size = 0;
  /// λ = percdamp · mean(diag H) is added to diag H (reference `percdamp`).  >= 0.
  double percdamp = 0.01;
  /// Quantize columns by descending diag H (reference `actorder`).
  bool act_order = false;
  /// Fit every group's parameters up front on the original weights (reference
  /// `static_groups`); required with act_order when group_size < cols.
  bool static_groups = false;
  /// If the damped H is not positive definite: this many retries, the damping fraction
  /// 10x larger each time; then std::domain_error.
  int max_damping_retries = 3;
  /// Factorize and invert H in double instead of float (slower; see header comment).
  bool factor_in_double = false;
};

/// What gptq() returns; everything in the ORIGINAL column order.
template <class Policy>
struct gptq_result {
  /// Codes + per-group params (+ the prepared policy): group j of row r covers columns
  /// [j*g, min((j+1)*g, cols)), granularity per_group(g), or per_channel for one group.
  quantized_tensor<Policy> quantized;
  row_major_matrixf dequantized;  ///< Ŵ = quantized.dequantize(), rows x cols
  /// Per column: Σ_rows (w - q)² / (2 U_jj²), the reference's Losses summed over rows.
  /// Their sum equals ½ Σ_rows (w - ŵ)(H + λI)(w - ŵ)ᵀ with w the (dead-zeroed) input row.
  std::vector<double> column_losses;
  double total_loss = 0;     ///< Σ column_losses
  double damping = 0;        ///< λ actually added to diag H
  int damping_retries = 0;   ///< retries that were needed (0 normally)
  std::vector<std::size_t> dead_columns;  ///< columns with H_ii == 0 (quantized as zero)
};

/// GPTQ-quantizes W (rows x cols, row-major; row = output channel) given the Hessian H
/// (cols x cols, from hessian_accumulator) with the group-quantizer `policy`.
///
/// Contract: rows, cols >= 1; H square with cols rows; W and H finite; block_size >= 1;
/// percdamp finite and >= 0; act_order with 0 < group_size < cols needs static_groups.
/// Violations throw std::invalid_argument (shapes, options) or std::domain_error (NaN/Inf,
/// H not positive definite after the retries, mean(diag H) <= 0).  H must be symmetric
/// (it is not checked; the Cholesky reads its lower triangle, act_order both).
template <class Policy>
gptq_result<Policy> gptq(const float* W, std::size_t rows, std::size_t cols, const Eigen::MatrixXf& H,
                         Policy policy, const gptq_options& opt = {}) {
  using storage_type = typename Policy::format::storage_type;
  using params_type = typename Policy::params;
  static_assert(std::is_trivially_copyable_v<params_type>, "Policy::params must be trivially copyable");

  // --- contract ---------------------------------------------------------------------
  if (rows == 0 || cols == 0 || W == nullptr) throw std::invalid_argument("lowp::gptq: W is empty");
  if (H.rows() != H.cols() || static_cast<std::size_t>(H.rows()) != cols) {
    throw std::invalid_argument("lowp::gptq: H is " + std::to_string(H.rows()) + "x" +
                                std::to_string(H.cols()) + ", expected " + std::to_string(cols) +
                                "x" + std::to_string(cols) + " (W has " + std::to_string(cols) +
                                " columns)");
  }
  if (opt.block_size == 0) throw std::invalid_argument("lowp::gptq: block_size must be >= 1");
  if (!(std::isfinite(opt.percdamp) && opt.percdamp >= 0)) {
    throw std::invalid_argument("lowp::gptq: percdamp must be finite and >= 0");
  }
  if (opt.max_damping_retries < 0) throw std::invalid_argument("lowp::gptq: max_damping_retries < 0");
  const std::size_t g = (opt.group_size == 0 || opt.group_size >= cols) ? cols : opt.group_size;
  const std::size_t ngroups = (cols + g - 1) / g;
  if (opt.act_order && g < cols && !opt.static_groups) {
    throw std::invalid_argument(
        "lowp::gptq: act_order with group_size < cols needs static_groups = true (dynamic "
        "act-order groups are not runs of original columns)");
  }
  if (!detail::gptq_all_finite(W, rows * cols)) throw std::domain_error("lowp::gptq: W contains NaN or Inf");
  if (!detail::gptq_all_finite(H.data(), static_cast<std::size_t>(H.size()))) {
    throw std::domain_error("lowp::gptq: H contains NaN or Inf");
  }
  const Eigen::Index R = detail::gptq_index(rows), C = detail::gptq_index(cols);

  gptq_result<Policy> res;
  std::vector<params_type> params(rows * ngroups);
  std::vector<storage_type> codes(rows * cols, storage_type{});

  // --- dead columns (an input that is always zero: nothing to preserve) ----------------
  row_major_matrixf Wd = Eigen::Map<const row_major_matrixf>(W, R, C);
  Eigen::MatrixXf Hp = H;
  for (Eigen::Index i = 0; i < C; ++i) {
    if (Hp(i, i) == 0.0f) {
      Hp(i, i) = 1.0f;
      Wd.col(i).setZero();
      res.dead_columns.push_back(static_cast<std::size_t>(i));
    }
  }

  policy.prepare(Wd.data(), rows, cols, g);
  const bool static_params = opt.static_groups || (opt.act_order && g == cols);
  if (static_params) {
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t k = 0; k < ngroups; ++k) {
        const std::size_t c0 = k * g, n = std::min(g, cols - c0);
        params[r * ngroups + k] = policy.fit(Wd.data() + r * cols + c0, n, 1, r);
      }
    }
  }

  // --- act_order: permute columns of W and rows/columns of H --------------------------
  std::vector<std::size_t> perm(cols);
  std::iota(perm.begin(), perm.end(), std::size_t{0});
  if (opt.act_order) {
    std::stable_sort(perm.begin(), perm.end(), [&](std::size_t a, std::size_t b) {
      return Hp(static_cast<Eigen::Index>(a), static_cast<Eigen::Index>(a)) >
             Hp(static_cast<Eigen::Index>(b), static_cast<Eigen::Index>(b));
    });
    row_major_matrixf Wperm(R, C);
    Eigen::MatrixXf Hperm(C, C);
    for (Eigen::Index j = 0; j < C; ++j) {
      const auto pj = static_cast<Eigen::Index>(perm[static_cast<std::size_t>(j)]);
      Wperm.col(j) = Wd.col(pj);
      for (Eigen::Index i = 0; i < C; ++i) {
        Hperm(i, j) = Hp(static_cast<Eigen::Index>(perm[static_cast<std::size_t>(i)]), pj);
      }
    }
    Wd.swap(Wperm);
    Hp.swap(Hperm);
  }

  // --- damping, then U = chol((H + λI)⁻¹, upper), with retries ---------------------------
  const double mean_diag = static_cast<double>(Hp.diagonal().cast<double>().mean());
  if (!(mean_diag > 0)) throw std::domain_error("lowp::gptq: mean(diag H) <= 0: H is not a Hessian");
  row_major_matrixf U;
  double frac = opt.percdamp;
  bool ok = false;
  for (int attempt = 0; attempt <= opt.max_damping_retries; ++attempt) {
    if (attempt > 0) frac = frac > 0 ? frac * 10 : 1e-3;
    res.damping = frac * mean_diag;
    ok = opt.factor_in_double ? detail::gptq_inverse_factor<double>(Hp, res.damping, U)
                              : detail::gptq_inverse_factor<float>(Hp, res.damping, U);
    if (ok) {
      res.damping_retries = attempt;
      break;
    }
  }
  if (!ok) {
    throw std::domain_error("lowp::gptq: H + lambda*I is not positive definite even with damping "
                            "fraction " + std::to_string(frac) + " (after " +
                            std::to_string(opt.max_damping_retries) + " retries)");
  }

  // --- the column loop (Algorithm 1), blocks of B columns ------------------------------
  res.dequantized.resize(R, C);
  res.column_losses.assign(cols, 0.0);
  const std::size_t B = std::min(opt.block_size, cols);
  const bool threaded = !detail::gptq_stochastic<Policy>::get(policy);
  row_major_matrixf Err(R, detail::gptq_index(B));
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> Loss(R, detail::gptq_index(B));
  std::vector<params_type> current(static_params ? 0 : rows);

  for (std::size_t i1 = 0; i1 < cols; i1 += B) {
    const std::size_t i2 = std::min(i1 + B, cols), count = i2 - i1;
    detail::gptq_parallel_rows(rows, count * count, threaded, [&](std::size_t r) {
      float* w = Wd.data() + r * cols + i1;  // this row's block, updated in place
      float* err = Err.data() + r * B;
      double* loss = Loss.data() + r * B;
      std::vector<float> scratch;
      for (std::size_t j = 0; j < count; ++j) {
        const std::size_t c = i1 + j;      // position in the (permuted) order
        const std::size_t orig = perm[c];  // original column
        const params_type* p;
        if (static_params) {
          p = &params[r * ngroups + orig / g];
        } else {
          if (c % g == 0) {
            // A group starts: fit it on its current values.  Columns inside the block
            // already carry every update; columns past the block end still lack this
            // block's updates from columns i1..c-1, added here on a copy.
            const std::size_t n = std::min(g, cols - c), in_block = std::min(n, count - j);
            if (in_block == n) {
              current[r] = policy.fit(w + j, n, 1, r);
            } else {
              scratch.assign(w + j, w + j + in_block);
              for (std::size_t t = i2; t < c + n; ++t) {
                float v = Wd(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(t));
                for (std::size_t k = 0; k < j; ++k) {
                  v -= err[k] * U(static_cast<Eigen::Index>(i1 + k), static_cast<Eigen::Index>(t));
                }
                scratch.push_back(v);
              }
              current[r] = policy.fit(scratch.data(), n, 1, r);
            }
            params[r * ngroups + c / g] = current[r];
          }
          p = &current[r];
        }
        const float x = w[j];
        const storage_type code = policy.encode(x, *p);
        const float q = policy.decode(code, *p);
        codes[r * cols + orig] = code;
        res.dequantized(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(orig)) = q;
        const float* urow = U.data() + c * cols;  // row c of U
        const float d = urow[c];
        const float e = (x - q) / d;
        loss[j] = static_cast<double>(x - q) * static_cast<double>(x - q) /
                  (2.0 * static_cast<double>(d) * static_cast<double>(d));
        err[j] = e;
        for (std::size_t k = j + 1; k < count; ++k) w[k] -= e * urow[i1 + k];  // eq. (2)
      }
    });
    for (std::size_t j = 0; j < count; ++j) {
      res.column_losses[perm[i1 + j]] += Loss.col(static_cast<Eigen::Index>(j)).sum();
    }
    if (i2 < cols) {
      const Eigen::Index rest = detail::gptq_index(cols - i2);
      const Eigen::Index bi1 = detail::gptq_index(i1), bi2 = detail::gptq_index(i2);
      const Eigen::Index cnt = detail::gptq_index(count);
      Wd.rightCols(rest).noalias() -= Err.leftCols(cnt) * U.block(bi1, bi2, cnt, rest);
    }
  }
  res.total_loss = std::accumulate(res.column_losses.begin(), res.column_losses.end(), 0.0);
  res.quantized = quantized_tensor<Policy>::from_codes(
      std::move(policy), rows, cols, g == cols ? granularity::per_channel() : granularity::per_group(g),
      codes.data(), std::move(params));
  return res;
}

/// gptq() on an Eigen matrix (any storage order; copied to row-major if needed).
template <class Policy, class Derived>
gptq_result<Policy> gptq(const Eigen::MatrixBase<Derived>& W, const Eigen::MatrixXf& H, Policy policy,
                         const gptq_options& opt = {}) {
  const row_major_matrixf Wr = W.template cast<float>();
  return gptq(Wr.data(), static_cast<std::size_t>(Wr.rows()), static_cast<std::size_t>(Wr.cols()), H,
              std::move(policy), opt);
}

}  // namespace lowp
