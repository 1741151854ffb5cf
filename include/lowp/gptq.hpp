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
// (lowp computes the same numbers without forming U; see the first deviation below)
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
// - Nothing is inverted.  With J the exchange matrix and J (H + λI) J = L Lᵀ, F = J L J
//   is upper triangular with H + λI = F Fᵀ, so the reference's U = chol((H + λI)⁻¹,
//   upper) is F⁻¹ (Cholesky factors with positive diagonal are unique).  The updates
//   above say W̃ = W - Err (U - diag U) with Err = (W̃ - Q) diag(U)⁻¹, i.e. Err U = W - Q,
//   Err = (W - Q) F.  So with δ = w - q on the *original* weights and V = F diag(F)⁻¹
//   (unit upper triangular), the value GPTQ quantizes in column j is
//       w̃_j = w_j + Σ_{k<j} δ_k V_kj,      loss_j = ((w̃_j - q_j) F_jj)² / 2,
//   the same numbers computed from the Cholesky factor alone: the loop keeps W and the
//   shifts w̃ - w, updated in-block by axpys and for later blocks by one GEMM per block
//   with V where the reference has U.  One O(n³) step (the Cholesky, n³/3 flops)
//   instead of the reference's three (chol, cholesky_inverse, chol).  A group's fit
//   reads the reference's partially updated values of the group's later columns; they
//   are the shifts after a forward substitution with the group's diagonal block of V
//   (for group = block, one GEMM per block for all rows).
// - Group parameters are fitted when a group starts, from the *current* values of the
//   group's columns, i.e. after every error update from the columns already quantized.
//   The reference reads the group from W, which misses the in-block updates when a group
//   starts mid-block (group_size < block_size, or unaligned), and the current block's
//   updates for columns past the block end.  Here the result does not depend on the block
//   size (block size 1 and 128 give the same codes, up to float rounding at exact ties);
//   with the defaults (group 128 = block 128) both fit on the same values.
// - act_order with groups smaller than a row needs static_groups = true (groups fitted
//   on the original weights before any update, as the reference's static_groups): then
//   every group is a run of consecutive *original* columns and the codes + parameters
//   are an ordinary grouped tensor.  The reference's dynamic act-order groups need a
//   g_idx indirection per column, which lowp's tensors do not have, so that combination
//   throws std::invalid_argument.  Ties in diag H are ordered by column index (stable
//   sort); torch.argsort is not stable.
// - Per-channel parameters (group_size 0) are fitted after dead columns are zeroed (the
//   reference fits before).
// - If the damped H is not positive definite (float Cholesky fails, or F has a
//   non-finite or non-positive diagonal, or V a non-finite entry), the damping fraction is retried
//   max_damping_retries times, each time 10x larger (from 1e-3 if percdamp was 0),
//   then std::domain_error.  The reference simply fails.
//
// Precision: H is accumulated per batch in float (Eigen GEMMs) and averaged across
// batches in double (see hessian_accumulator); the factorization and the column loop run
// in float like the reference (gptq_options::factor_in_double runs the Cholesky in
// double; measured in docs/gptq.md: on a 1024² layer with percdamp 0.01, 99.97% of the
// codes are identical and the loss within 1e-4 relative; with percdamp 1e-4, 99.7% and
// 8e-4, at the same speed).
//
// Threads: the large products (the Gram matrix, the Cholesky's trailing updates, the
// lazy block updates) are Eigen GEMMs, which use OpenMP when the program is compiled with
// it (Eigen::setNbThreads); the Cholesky's triangular solves and the per-row column loop
// are OpenMP loops over rows with the same thread count.  Eigen 3.4's LLT (used for
// diagonal blocks of at most 256) is single-threaded.  Without OpenMP
// everything runs on one thread.
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
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

/// True if none of p[0..n) is NaN or ±Inf.  On the bits: a float is not finite exactly
/// when its exponent field is all ones, |bits| >= 0x7F800000; the max of |bits| over a
/// chunk is a branch-free loop the compiler vectorizes (std::isfinite is not).
inline bool gptq_all_finite(const float* p, std::size_t n) noexcept {
  constexpr std::uint32_t inf_bits = 0x7F800000u;  // 0'11111111'000...: +Inf
  constexpr std::size_t chunk = 4096;
  for (std::size_t i0 = 0; i0 < n; i0 += chunk) {
    const std::size_t i1 = std::min(n, i0 + chunk);
    std::uint32_t m = 0;
    for (std::size_t i = i0; i < i1; ++i) {
      std::uint32_t b;
      std::memcpy(&b, p + i, sizeof b);
      m = std::max(m, b & 0x7FFFFFFFu);
    }
    if (m >= inf_bits) return false;
  }
  return true;
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

/// C's lower triangle (and diagonal) += alpha · A Aᵀ, for C n x n and A n x k; with
/// `overwrite`, C's lower triangle is set to alpha · A Aᵀ (C's old values not read).
/// Column panels of P = 512: panel j is one Eigen GEMM (multi-threaded) computing
/// C[j:, j:j+P] whole, the full P x P diagonal block included, so entries above the
/// diagonal inside those blocks are overwritten too; the rest of the upper triangle is
/// left alone.  That is at most 1 + P/n times a symmetric product's k·n² flops (1.125 at
/// n = 4096, 2 when n <= P), yet faster than a recursive split into smaller GEMMs and
/// Eigen 3.4's rankUpdate (SYRK), which is single-threaded.
template <class MatC, class MatA>
void gptq_rank_update_lower(Eigen::Ref<MatC> C, const Eigen::Ref<const MatA>& A, typename MatC::Scalar alpha,
                            bool overwrite = false) {
  constexpr Eigen::Index P = 512;
  const Eigen::Index n = C.rows();
  for (Eigen::Index j = 0; j < n; j += P) {
    const Eigen::Index w = std::min(P, n - j);
    auto panel = C.block(j, j, n - j, w);
    if (overwrite) {
      panel.noalias() = alpha * (A.middleRows(j, n - j) * A.middleRows(j, w).transpose());
    } else {
      panel.noalias() += alpha * (A.middleRows(j, n - j) * A.middleRows(j, w).transpose());
    }
  }
}

/// In place: A's lower triangle becomes L with A = L Lᵀ (the upper triangle is not read;
/// parts of it are overwritten).  Returns false when A is not numerically positive definite.
/// Recursive (Gustavson's recursive Cholesky):
///
///   [A11    ]   [L11    ] [L11ᵀ L21ᵀ]        L11 = chol(A11)
///   [A21 A22] = [L21 L22] [     L22ᵀ]        L21 = A21 L11⁻ᵀ   (row by row, threads)
///                                            L22 = chol(A22 - L21 L21ᵀ)
///
/// so the n³/3 flops are half parallel GEMM (the symmetric update, see
/// gptq_rank_update_lower) and half triangular solves split over threads by rows; Eigen
/// 3.4's LLT, used for blocks of at most 256, is single-threaded.
template <class Mat>
bool gptq_cholesky_lower_inplace(Eigen::Ref<Mat> A) {
  const Eigen::Index n = A.rows();
  if (n <= 256) {
    Eigen::LLT<Eigen::Ref<Mat>> llt(A);
    return llt.info() == Eigen::Success;
  }
  const Eigen::Index k = ((n / 2 + 63) / 64) * 64, m = n - k;
  if (!gptq_cholesky_lower_inplace<Mat>(A.topLeftCorner(k, k))) return false;
  const auto L11 = A.topLeftCorner(k, k).template triangularView<Eigen::Lower>();
  constexpr Eigen::Index chunk = 64;
  gptq_parallel_rows(static_cast<std::size_t>((m + chunk - 1) / chunk), static_cast<std::size_t>(chunk * k * k),
                     true, [&](std::size_t c) {
                       const Eigen::Index r0 = static_cast<Eigen::Index>(c) * chunk;
                       auto rows = A.block(k + r0, 0, std::min(chunk, m - r0), k);
                       L11.transpose().template solveInPlace<Eigen::OnTheRight>(rows);
                     });
  gptq_rank_update_lower<Mat, Mat>(A.bottomRightCorner(m, m), A.bottomLeftCorner(m, k),
                                   typename Mat::Scalar(-1));
  return gptq_cholesky_lower_inplace<Mat>(A.bottomRightCorner(m, m));
}

/// h = keep·h + add·G on the lower triangle of G, mirrored into h's upper triangle; with
/// keep == 0 h is only written (it may be uninitialized).  In 64x64 tiles so the mirrored
/// writes stay in cache (a plain column loop writes the upper triangle with a stride of
/// n doubles and takes longer than the Gram matrix itself at n = 4096); tile columns are
/// spread over Eigen's thread count.
inline void gptq_average_into(Eigen::MatrixXd& h, const Eigen::MatrixXf& G, double keep, double add) {
  constexpr Eigen::Index T = 64;
  const Eigen::Index n = h.rows();
  const std::ptrdiff_t tiles = (n + T - 1) / T;
#if defined(_OPENMP)
  const int threads = n >= 512 ? Eigen::nbThreads() : 1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
  for (std::ptrdiff_t tj = 0; tj < tiles; ++tj) {
    const Eigen::Index j0 = tj * T, j1 = std::min(n, j0 + T);
    for (Eigen::Index i0 = j0; i0 < n; i0 += T) {
      const Eigen::Index i1 = std::min(n, i0 + T);
      for (Eigen::Index j = j0; j < j1; ++j) {
        for (Eigen::Index i = std::max(i0, j); i < i1; ++i) {
          const double a = add * static_cast<double>(G(i, j));
          const double v = keep == 0.0 ? a : h(i, j) * keep + a;
          h(i, j) = v;
          h(j, i) = v;
        }
      }
    }
  }
}

/// The factor GPTQ's column loop needs, without inverting anything: F upper triangular
/// with H + λI = F Fᵀ (F = J L J for J (H + λI) J = L Lᵀ, J the exchange matrix), so
/// that the reference's U = chol((H + λI)⁻¹, upper) is F⁻¹ (see the header comment).
/// On return V = F diag(F)⁻¹ (unit upper triangular, row-major, zeros below the
/// diagonal) and f = diag(F) = 1 / diag(U).  Returns false when the damped H is not
/// numerically positive definite in Scalar.  H must be symmetric.
///
/// Index reversal is a buffer reversal: for a symmetric column-major H, the row-major
/// matrix R(i, j) = H(n-1-i, n-1-j) = J H J is H's buffer read backwards, and
/// F(i, j) = L(n-1-i, n-1-j).
template <class Scalar>
bool gptq_factor(const Eigen::MatrixXf& H, double lambda, row_major_matrixf& V, std::vector<float>& f) {
  using Mat = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Index n = H.rows();
  const std::size_t nn = static_cast<std::size_t>(H.size());
  Mat R(n, n);
  const float* h = H.data();
  Scalar* rp = R.data();
  for (std::size_t t = 0; t < nn; ++t) rp[t] = static_cast<Scalar>(h[nn - 1 - t]);
  R.diagonal().array() += static_cast<Scalar>(lambda);
  if (!gptq_cholesky_lower_inplace<Mat>(R)) return false;
  std::vector<Scalar> inv(static_cast<std::size_t>(n));
  f.resize(static_cast<std::size_t>(n));
  for (Eigen::Index j = 0; j < n; ++j) {
    const Scalar d = R(n - 1 - j, n - 1 - j);
    if (!(std::isfinite(d) && d > 0)) return false;
    inv[static_cast<std::size_t>(j)] = Scalar(1) / d;
    f[static_cast<std::size_t>(j)] = static_cast<float>(d);
  }
  V.resize(n, n);
  bool finite = true;
  for (Eigen::Index i = 0; i < n; ++i) {
    const Scalar* lrow = rp + (n - 1 - i) * n;  // row n-1-i of L, read backwards
    float* vrow = V.data() + i * n;
    for (Eigen::Index j = 0; j < i; ++j) vrow[j] = 0.0f;
    for (Eigen::Index j = i; j < n; ++j) {
      vrow[j] = static_cast<float>(lrow[n - 1 - j] * inv[static_cast<std::size_t>(j)]);
      finite &= std::isfinite(vrow[j]);
    }
  }
  return finite;
}

}  // namespace detail

/// Streams calibration activations into the GPTQ Hessian H = (2/N) Σ_t x_t x_tᵀ, where
/// x_t (one row of X) is a token's input to the layer and N counts every token so far.
///
/// Precision (tested against a double reference in tests/test_gptq.cpp): each batch's
/// Gram matrix XᵀX is computed in float by Eigen GEMMs (the O(t·n²) part, multi-threaded;
/// see detail::gptq_rank_update_lower); the
/// running average across batches is kept in double, H ← H·N/(N+t) + (2/(N+t))·XᵀX, as
/// gptq.py's add_batch does in float.  So the only float rounding is inside one batch's
/// dot products (relative error ~ sqrt(t)·2⁻²⁴ typically), whatever the number of batches.
class hessian_accumulator {
 public:
  /// An empty accumulator for layers with `features` inputs.  Throws
  /// std::invalid_argument if features == 0.
  /// Allocates nothing yet: the n x n buffers are made by the first batch.
  explicit hessian_accumulator(std::size_t features) : features_(features) {
    if (features == 0) throw std::invalid_argument("lowp::hessian_accumulator: features must be > 0");
    (void)detail::gptq_index(features);
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
    // The Gram matrix's lower triangle, by panel GEMMs (gptq_rank_update_lower); only that
    // triangle is read below.  The first batch only writes h_.
    gram_.resize(n, n);
    detail::gptq_rank_update_lower<Eigen::MatrixXf, Eigen::MatrixXf>(gram_, X.transpose(), 1.0f, true);
    if (tokens_ == 0) h_.resize(n, n);
    const double total = static_cast<double>(tokens_) + static_cast<double>(tokens);
    detail::gptq_average_into(h_, gram_, static_cast<double>(tokens_) / total, 2.0 / total);
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
  /// H in double (the accumulator itself).  Throws std::logic_error before any batch.
  const Eigen::MatrixXd& hessian_double() const {
    if (tokens_ == 0) throw std::logic_error("lowp::hessian_accumulator::hessian_double: no batch added yet");
    return h_;
  }
  /// H rounded to float, what gptq() takes.  Throws std::logic_error before any batch.
  Eigen::MatrixXf hessian() const {
    if (tokens_ == 0) throw std::logic_error("lowp::hessian_accumulator::hessian: no batch added yet");
    return h_.cast<float>();
  }
  /// Forgets every batch (and frees the buffers).
  void reset() {
    h_.resize(0, 0);
    gram_.resize(0, 0);
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
  /// Run the Cholesky of H in double instead of float (see the header comment).
  bool factor_in_double = false;
};

/// What gptq() returns; everything in the ORIGINAL column order.
template <class Policy>
struct gptq_result {
  /// Codes + per-group params (+ the prepared policy): group j of row r covers columns
  /// [j*g, min((j+1)*g, cols)), granularity per_group(g), or per_channel for one group.
  quantized_tensor<Policy> quantized;
  row_major_matrixf dequantized;  ///< Ŵ = quantized.dequantize(), rows x cols
  /// Per column: Σ_rows (w̃ - q)² / (2 U_jj²) = Σ_rows ((w̃ - q) F_jj)² / 2 (w̃ the value
  /// quantized), the reference's Losses summed over rows.
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

  // --- damping, then the factor F (H + λI = F Fᵀ, U = F⁻¹), with retries --------------
  const double mean_diag = static_cast<double>(Hp.diagonal().cast<double>().mean());
  if (!(mean_diag > 0)) throw std::domain_error("lowp::gptq: mean(diag H) <= 0: H is not a Hessian");
  row_major_matrixf V;   // F diag(F)⁻¹, unit upper triangular
  std::vector<float> f;  // diag(F) = 1 / diag(U)
  double frac = opt.percdamp;
  bool ok = false;
  for (int attempt = 0; attempt <= opt.max_damping_retries; ++attempt) {
    if (attempt > 0) frac = frac > 0 ? frac * 10 : 1e-3;
    res.damping = frac * mean_diag;
    ok = opt.factor_in_double ? detail::gptq_factor<double>(Hp, res.damping, V, f)
                              : detail::gptq_factor<float>(Hp, res.damping, V, f);
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
  // Wd keeps the original weights w; Shift accumulates w̃ - w, what the error updates
  // have added so far; the current weight is w̃ = w + Shift, and with δ = w - q,
  //   w̃_j = w_j + Σ_{k<j} δ_k V_kj      (the reference's updates, see the header)
  // in-block as axpys, for later blocks as one GEMM per block.
  res.dequantized.resize(R, C);
  res.column_losses.assign(cols, 0.0);
  const std::size_t B = std::min(opt.block_size, cols);
  const bool threaded = !detail::gptq_stochastic<Policy>::get(policy);
  row_major_matrixf Shift = row_major_matrixf::Zero(R, C);
  row_major_matrixf Delta(R, detail::gptq_index(B));
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> Loss(R, detail::gptq_index(B));
  std::vector<params_type> current(static_params ? 0 : rows);

  std::vector<double> block_losses;
  row_major_matrixf Start;  // a group's current values when it starts at a block start
  for (std::size_t i1 = 0; i1 < cols; i1 += B) {
    const std::size_t i2 = std::min(i1 + B, cols), count = i2 - i1;
    // A group that starts at this block's start and ends inside it (the default g = B):
    // the forward substitution below, z V_gg = s, for all rows before the loop as one
    // GEMM with V_gg⁻¹ (= U's diagonal block scaled; faster here than Eigen's triangular
    // solve, and the same numbers up to float rounding).
    const std::size_t g0 = std::min(g, cols - i1);
    const bool start_from_block = !static_params && i1 > 0 && i1 % g == 0 && g0 <= count;
    if (start_from_block) {
      const Eigen::Index bi1 = detail::gptq_index(i1), gn = detail::gptq_index(g0);
      const row_major_matrixf Vinv = V.block(bi1, bi1, gn, gn).triangularView<Eigen::UnitUpper>().solve(
          row_major_matrixf::Identity(gn, gn));
      Start.noalias() = Shift.middleCols(bi1, gn) * Vinv;
      Start += Wd.middleCols(bi1, gn);
    }
    detail::gptq_parallel_rows(rows, count * count, threaded, [&](std::size_t r) {
      const float* w = Wd.data() + r * cols + i1;  // this row's block, original weights
      float* shift = Shift.data() + r * cols + i1;  // and its shifts, updated in place
      float* delta = Delta.data() + r * B;
      double* loss = Loss.data() + r * B;
      std::vector<float> scratch;

      // The current values (the reference's w after the updates from columns 0..c-1) of
      // the n columns of the group that starts at c = i1 + j.  Every in-block shift is
      // complete here (a group start begins a sub-block, below).
      auto group_values = [&](std::size_t j, std::size_t n) -> const float* {
        if (start_from_block && j == 0) return Start.data() + r * n;
        const std::size_t c = i1 + j, in_block = std::min(n, count - j);
        // First the shifts s_t = Σ_{k<c} δ_k V_kt; columns past the block end still lack
        // this block's part, added here.
        scratch.resize(n);
        for (std::size_t t = 0; t < in_block; ++t) scratch[t] = shift[j + t];
        float* past = scratch.data() + in_block;  // columns i2 .. c+n-1
        const std::size_t m = n - in_block;
        for (std::size_t t = 0; t < m; ++t) past[t] = Shift.data()[r * cols + i2 + t];
        for (std::size_t k = 0; k < j; ++k) {  // along rows of V
          const float dk = delta[k];
          const float* vk = V.data() + (i1 + k) * cols + i2;
          for (std::size_t t = 0; t < m; ++t) past[t] += dk * vk[t];
        }
        // s_t is w̃_t - w_t only for t = c: the reference's partial update of a later
        // column t is z_t with z_t = s_t - Σ_{c<=a<t} z_a V_at (its U = F⁻¹ restricted to
        // the group is the inverse of F's diagonal block), a forward substitution with
        // the group's block of V: n²/2 per row and group.  Nothing to do at c = 0.
        if (c > 0) {
          for (std::size_t a = 0; a + 1 < n; ++a) {
            const float za = scratch[a];
            const float* va = V.data() + (c + a) * cols + c;  // row c+a of V, from column c
            for (std::size_t t = a + 1; t < n; ++t) scratch[t] -= za * va[t];
          }
        }
        for (std::size_t t = 0; t < in_block; ++t) scratch[t] += w[j + t];
        for (std::size_t t = 0; t < m; ++t) past[t] += Wd.data()[r * cols + i2 + t];
        return scratch.data();
      };

      // Sub-blocks of at most S columns, each ending before the next group start: inside
      // one the updates go column by column; to the rest of the block they go once at
      // its end, as a 1 x S by S x m product held in registers (the column-by-column
      // form is bound by storing the shifts back after every column).
      constexpr std::size_t S = 16, L = 16;
      for (std::size_t j0 = 0; j0 < count;) {
        std::size_t j1 = std::min(j0 + S, count);
        if (!static_params) j1 = std::min(j1, ((i1 + j0) / g + 1) * g - i1);
        for (std::size_t j = j0; j < j1; ++j) {
          const std::size_t c = i1 + j;      // position in the (permuted) order
          const std::size_t orig = perm[c];  // original column
          const params_type* p;
          if (static_params) {
            p = &params[r * ngroups + orig / g];
          } else {
            if (c % g == 0) {
              const std::size_t n = std::min(g, cols - c);
              current[r] = policy.fit(group_values(j, n), n, 1, r);
              params[r * ngroups + c / g] = current[r];
            }
            p = &current[r];
          }
          const float x = w[j] + shift[j];  // w̃_j
          const storage_type code = policy.encode(x, *p);
          const float q = policy.decode(code, *p);
          codes[r * cols + orig] = code;
          res.dequantized(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(orig)) = q;
          // The reference's loss (w̃ - q)² / (2 U_jj²), with 1 / U_jj = F_jj.
          const double e = static_cast<double>(x - q) * static_cast<double>(f[c]);
          loss[j] = 0.5 * e * e;
          const float d = w[j] - q;
          delta[j] = d;
          const float* vrow = V.data() + c * cols + i1;  // row c of V, from column i1
          for (std::size_t k = j + 1; k < j1; ++k) shift[k] += d * vrow[k];  // eq. (2)
        }
        std::size_t k = j1;
        for (; k + L <= count; k += L) {
          float acc[L];
          for (std::size_t l = 0; l < L; ++l) acc[l] = shift[k + l];
          for (std::size_t a = j0; a < j1; ++a) {
            const float da = delta[a];
            const float* va = V.data() + (i1 + a) * cols + i1 + k;
            for (std::size_t l = 0; l < L; ++l) acc[l] += da * va[l];
          }
          for (std::size_t l = 0; l < L; ++l) shift[k + l] = acc[l];
        }
        for (; k < count; ++k) {
          float acc = shift[k];
          for (std::size_t a = j0; a < j1; ++a) acc += delta[a] * V.data()[(i1 + a) * cols + i1 + k];
          shift[k] = acc;
        }
        j0 = j1;
      }
    });
    block_losses.assign(count, 0.0);
    for (std::size_t r = 0; r < rows; ++r) {  // along Loss's rows: it is larger than L2
      const double* loss = Loss.data() + r * B;
      for (std::size_t j = 0; j < count; ++j) block_losses[j] += loss[j];
    }
    for (std::size_t j = 0; j < count; ++j) res.column_losses[perm[i1 + j]] += block_losses[j];
    if (i2 < cols) {
      const Eigen::Index rest = detail::gptq_index(cols - i2);
      const Eigen::Index bi1 = detail::gptq_index(i1), bi2 = detail::gptq_index(i2);
      const Eigen::Index cnt = detail::gptq_index(count);
      Shift.rightCols(rest).noalias() += Delta.leftCols(cnt) * V.block(bi1, bi2, cnt, rest);
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
