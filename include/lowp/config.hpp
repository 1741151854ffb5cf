// lowp/config.hpp — version, portability macros and the constexpr bit cast.
//
// Layer: formats (bottom).  Includes only the standard library.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>
#if __has_include(<version>)
#include <version>
#endif
#if defined(__cpp_lib_bit_cast) && __cpp_lib_bit_cast >= 201806L
#include <bit>
#endif

#define LOWP_VERSION_MAJOR 0
#define LOWP_VERSION_MINOR 1
#define LOWP_VERSION_PATCH 0

// LOWP_HOST_DEVICE marks every scalar function so that the same header compiles into
// CUDA and HIP kernels; it is empty for a host compiler.
#if defined(__CUDACC__) || defined(__HIPCC__)
#define LOWP_HOST_DEVICE __host__ __device__
#else
#define LOWP_HOST_DEVICE
#endif

#if defined(__has_builtin)
#define LOWP_HAS_BUILTIN(x) __has_builtin(x)
#else
#define LOWP_HAS_BUILTIN(x) 0
#endif

// LOWP_SIMD_LOOP before a loop asks for it to be vectorized (OpenMP's `omp simd`) when
// the program is compiled with OpenMP: GCC's -O2 cost model leaves loops of unknown trip
// count scalar.  Only for loops whose iterations are independent and give the same bits
// in any order (no reductions).  Empty without OpenMP, so no unknown-pragma warning.
#if defined(_OPENMP)
#define LOWP_SIMD_LOOP _Pragma("omp simd")
#else
#define LOWP_SIMD_LOOP
#endif

// LOWP_CONSTEXPR_BIT_CAST is 1 when lowp::detail::bit_cast is usable in constant
// expressions: C++20 std::bit_cast, or the compiler builtin that GCC >= 11, Clang >= 9,
// MSVC >= 19.27 and NVCC >= 11 provide in C++17 mode.  Otherwise the scalar conversions
// are still correct but only `inline`, not constexpr.
#if LOWP_HAS_BUILTIN(__builtin_bit_cast) || (defined(_MSC_VER) && _MSC_VER >= 1927)
#define LOWP_CONSTEXPR_BIT_CAST 1
#elif defined(__cpp_lib_bit_cast) && __cpp_lib_bit_cast >= 201806L && !defined(__CUDACC__)
#define LOWP_CONSTEXPR_BIT_CAST 1
#else
#define LOWP_CONSTEXPR_BIT_CAST 0
#endif

#if LOWP_CONSTEXPR_BIT_CAST
#define LOWP_CONSTEXPR constexpr
#else
#define LOWP_CONSTEXPR inline
#endif

namespace lowp::detail {

// Reinterprets the object representation of `from` as a `To`: the only well-defined way
// to look at a float's bits (no unions, no pointer casts).
template <class To, class From>
LOWP_HOST_DEVICE LOWP_CONSTEXPR To bit_cast(const From& from) noexcept {
  static_assert(sizeof(To) == sizeof(From), "bit_cast needs equal sizes");
  static_assert(std::is_trivially_copyable_v<To> && std::is_trivially_copyable_v<From>,
                "bit_cast needs trivially copyable types");
#if LOWP_HAS_BUILTIN(__builtin_bit_cast) || (defined(_MSC_VER) && _MSC_VER >= 1927)
  return __builtin_bit_cast(To, from);
#elif defined(__cpp_lib_bit_cast) && __cpp_lib_bit_cast >= 201806L && !defined(__CUDACC__)
  return std::bit_cast<To>(from);
#else
  To to;
  std::memcpy(&to, &from, sizeof(To));
  return to;
#endif
}

}  // namespace lowp::detail
