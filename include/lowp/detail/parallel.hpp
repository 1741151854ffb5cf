// lowp/detail/parallel.hpp — a loop over independent rows, split over threads.
//
// Layer: solvers (needs Eigen).  Includes <Eigen/Core>.
//
// The thread count is Eigen's (Eigen::setNbThreads), so the loops of the solvers and
// Eigen's GEMMs use the same threads.  Threads need OpenMP (the program compiled with
// -fopenmp); without it everything runs on the calling thread.
#pragma once

#include <Eigen/Core>
#include <cstddef>
#include <exception>

namespace lowp::detail {

/// Runs f(r) for r in [0, n), over Eigen's thread count when compiled with OpenMP,
/// `threaded` is true and the work n · work_per_row is at least 2^15; otherwise in order
/// on the calling thread.  Exceptions thrown by f are rethrown on the calling thread (one
/// of them).
template <class F>
void parallel_rows(std::size_t n, std::size_t work_per_row, bool threaded, F&& f) {
#if defined(_OPENMP)
  const bool enough_work = n * work_per_row >= (std::size_t{1} << 15);
  const int threads = (threaded && enough_work) ? Eigen::nbThreads() : 1;
  std::exception_ptr error;
  const auto count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (std::ptrdiff_t r = 0; r < count; ++r) {
    try {
      f(static_cast<std::size_t>(r));
    } catch (...) {
#pragma omp critical(lowp_parallel_rows_error)
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

}  // namespace lowp::detail
