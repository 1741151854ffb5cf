// lowp/detail/threads.hpp — the bulk layer's one threaded loop: fixed chunks of an
// array, spread over OpenMP's threads.
//
// Layer: bulk (standard library only; OpenMP's pragmas and omp.h when the program is
// compiled with -fopenmp).  Includes config.hpp.
//
// Why fixed chunks: the chunk boundaries depend only on n and the chunk size, never on the
// thread count, so whatever runs per chunk (a SIMD loop with a scalar tail, a packed
// span's odd first nibble, a counter-based random stream) sees the same pieces on one
// thread as on sixteen, and the results are the same bits.
//
// The thread count is OpenMP's (OMP_NUM_THREADS, omp_set_num_threads); without OpenMP
// every chunk runs on the calling thread, in order.  A program whose translation units
// disagree on -fopenmp gets the same results from either definition.
#pragma once

#include <cstddef>
#include <exception>

#include "../config.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace lowp::detail {

/// Elements below which a bulk call stays on the calling thread: about 10 µs of work at
/// a few G elements/s, more than a parallel region's start-up.
inline constexpr std::size_t parallel_threshold = std::size_t{1} << 16;

/// The threads a for_each_chunk call may use: OpenMP's omp_get_max_threads() (at least
/// 1), or 1 without OpenMP or when `threaded` is false.  For cost decisions only; results
/// never depend on it.
inline std::size_t chunk_threads(bool threaded = true) noexcept {
#if defined(_OPENMP)
  const int n = threaded ? omp_get_max_threads() : 1;
  return n > 1 ? static_cast<std::size_t>(n) : 1;
#else
  (void)threaded;
  return 1;
#endif
}

/// Calls f(first, count) for the chunks [k*chunk, min((k+1)*chunk, n)) of [0, n), chunk
/// > 0: over OpenMP's threads when compiled with OpenMP, `threaded` is true and the work,
/// n * elements_per_item elements, is at least parallel_threshold; otherwise in order on
/// the calling thread.  When chunks throw, the exception of the first of them (the one
/// the sequential loop would have thrown) is rethrown on the calling thread, after the
/// other chunks have run.
template <class F>
void for_each_chunk(std::size_t n, std::size_t chunk, F&& f, std::size_t elements_per_item = 1,
                    bool threaded = true) {
  const std::size_t chunks = chunk == 0 ? 0 : (n + chunk - 1) / chunk;
#if defined(_OPENMP)
  if (threaded && n * elements_per_item >= parallel_threshold && chunks > 1) {
    std::exception_ptr error;
    std::size_t error_chunk = chunks;
    const auto count = static_cast<std::ptrdiff_t>(chunks);
#pragma omp parallel for schedule(static)
    for (std::ptrdiff_t k = 0; k < count; ++k) {
      const std::size_t first = static_cast<std::size_t>(k) * chunk;
      try {
        f(first, n - first < chunk ? n - first : chunk);
      } catch (...) {
#pragma omp critical(lowp_for_each_chunk_error)
        if (static_cast<std::size_t>(k) < error_chunk) {
          error_chunk = static_cast<std::size_t>(k);
          error = std::current_exception();
        }
      }
    }
    if (error) std::rethrow_exception(error);
    return;
  }
#endif
  (void)elements_per_item;
  (void)threaded;
  for (std::size_t k = 0; k < chunks; ++k) {
    const std::size_t first = k * chunk;
    f(first, n - first < chunk ? n - first : chunk);
  }
}

}  // namespace lowp::detail
