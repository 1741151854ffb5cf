// lowp/detail/linalg.hpp — the dense linear algebra the solvers share: size and NaN/Inf
// checks of matrices, the lower rank-k update, a recursive Cholesky, and the tiled
// scaled sum into a symmetric matrix.
//
// Layer: solvers (needs Eigen).  Includes <Eigen/Dense>, detail/finite.hpp and
// detail/parallel.hpp.
//
// Threads: the products are Eigen GEMMs, multi-threaded when the program is compiled
// with OpenMP (Eigen::setNbThreads); the Cholesky's triangular solves and the tiled sum
// are OpenMP loops over the same thread count.
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "finite.hpp"
#include "parallel.hpp"

namespace lowp::detail {

/// n as an Eigen::Index; throws std::invalid_argument when it does not fit.
inline Eigen::Index to_index(std::size_t n) {
  if (n > static_cast<std::size_t>(std::numeric_limits<Eigen::Index>::max())) {
    throw std::invalid_argument("lowp: matrix dimension too large");
  }
  return static_cast<Eigen::Index>(n);
}

/// Throws Exception, in the one format of detail/finite.hpp, for the first NaN or ±Inf
/// of the contiguous rows x cols matrix at `data` (row-major or column-major storage),
/// naming its row and column: "<who>: <operand> contains NaN or Inf (NaN at row r,
/// column c)".
template <class Exception>
void require_finite(const char* who, const char* operand, const float* data, std::size_t rows,
                    std::size_t cols, bool row_major) {
  const std::size_t n = rows * cols;
  const std::size_t i = first_nonfinite(data, n);
  if (i == n) return;
  const std::size_t row = row_major ? i / cols : i % rows;
  const std::size_t col = row_major ? i % cols : i / rows;
  throw_nonfinite<Exception>(who, operand, data[i], at_row_column(row, col));
}

/// require_finite() of a float Eigen matrix (any storage order).
template <class Exception, class Derived>
void require_finite(const char* who, const char* operand,
                    const Eigen::PlainObjectBase<Derived>& m) {
  static_assert(std::is_same_v<typename Derived::Scalar, float>, "a float matrix");
  require_finite<Exception>(who, operand, m.data(), static_cast<std::size_t>(m.rows()),
                            static_cast<std::size_t>(m.cols()), Derived::IsRowMajor);
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
void rank_update_lower(Eigen::Ref<MatC> C, const Eigen::Ref<const MatA>& A,
                       typename MatC::Scalar alpha, bool overwrite = false) {
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
/// parts of it are overwritten).  Returns false when A is not numerically positive
/// definite.  Recursive (Gustavson's recursive Cholesky):
///
///   [A11    ]   [L11    ] [L11ᵀ L21ᵀ]        L11 = chol(A11)
///   [A21 A22] = [L21 L22] [     L22ᵀ]        L21 = A21 L11⁻ᵀ   (row by row, threads)
///                                            L22 = chol(A22 - L21 L21ᵀ)
///
/// so the n³/3 flops are half parallel GEMM (the symmetric update, see
/// rank_update_lower) and half triangular solves split over threads by rows; Eigen 3.4's
/// LLT, used for blocks of at most 256, is single-threaded.
template <class Mat>
bool cholesky_lower_inplace(Eigen::Ref<Mat> A) {
  const Eigen::Index n = A.rows();
  if (n <= 256) {
    Eigen::LLT<Eigen::Ref<Mat>> llt(A);
    return llt.info() == Eigen::Success;
  }
  const Eigen::Index k = ((n / 2 + 63) / 64) * 64, m = n - k;
  if (!cholesky_lower_inplace<Mat>(A.topLeftCorner(k, k))) return false;
  const auto L11 = A.topLeftCorner(k, k).template triangularView<Eigen::Lower>();
  constexpr Eigen::Index chunk = 64;
  const auto chunks = static_cast<std::size_t>((m + chunk - 1) / chunk);
  parallel_rows(chunks, static_cast<std::size_t>(chunk * k * k), true, [&](std::size_t c) {
    const Eigen::Index r0 = static_cast<Eigen::Index>(c) * chunk;
    auto rows = A.block(k + r0, 0, std::min(chunk, m - r0), k);
    L11.transpose().template solveInPlace<Eigen::OnTheRight>(rows);
  });
  rank_update_lower<Mat, Mat>(A.bottomRightCorner(m, m), A.bottomLeftCorner(m, k),
                              typename Mat::Scalar(-1));
  return cholesky_lower_inplace<Mat>(A.bottomRightCorner(m, m));
}

/// h = keep·h + add·G on the lower triangle of G, mirrored into h's upper triangle; with
/// keep == 0 h is only written (it may be uninitialized).  In 64x64 tiles so the mirrored
/// writes stay in cache (a plain column loop writes the upper triangle with a stride of
/// n doubles and takes longer than the Gram matrix itself at n = 4096); tile columns are
/// spread over Eigen's thread count.
inline void axpby_symmetric_from_lower(Eigen::MatrixXd& h, const Eigen::MatrixXf& G, double keep,
                                       double add) {
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

}  // namespace lowp::detail
