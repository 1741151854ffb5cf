// lowp/detail/solvers_api.hpp — header-only or compiled: how the solvers' functions are
// defined.
//
// Layer: solvers.  Includes only the standard library (nothing at all, in fact).
//
// By default the solvers are header-only, like the rest of lowp: every function is
// `inline` and defined in its header, so every translation unit that calls gptq() or
// lorc() compiles Eigen's GEMM, Cholesky and SVD kernels again (minutes per file; the
// figures are in docs/performance.md, "Compile time").  The compiled mode, as fmt offers
// it, compiles them once:
//
//   - LOWP_SOLVERS_COMPILED is defined for every translation unit that includes a solver
//     header (the CMake target lowp::solvers_compiled sets it for its users).  Then the
//     headers only declare the non-template functions (hessian_accumulator::add_batch,
//     truncated_svd, lorc, and GPTQ's linear-algebra steps), and gptq() for the common
//     policies (LOWP_GPTQ_COMPILED_POLICIES in gptq.hpp) is an `extern template`; their
//     code is in the library, built from src/solvers.cpp.  gptq() with any other policy
//     is still instantiated where it is called, but its Eigen work is in the library.
//   - LOWP_SOLVERS_SOURCE is defined only when compiling src/solvers.cpp: the headers
//     then give the bodies, as non-inline functions, once.
//
// Every translation unit of one program must agree on LOWP_SOLVERS_COMPILED (an inline
// and a non-inline definition of one function would break the one-definition rule);
// linking lowp::solvers_compiled instead of lowp::solvers sees to it.
#pragma once

/// 1 where this translation unit compiles the solvers' non-template function bodies
/// (header-only mode, or src/solvers.cpp in the compiled mode), 0 where they are only
/// declared and come from lowp::solvers_compiled.
#if defined(LOWP_SOLVERS_COMPILED) && !defined(LOWP_SOLVERS_SOURCE)
#define LOWP_SOLVERS_HEADER_BODIES 0
#else
#define LOWP_SOLVERS_HEADER_BODIES 1
#endif

/// The linkage of those functions: `inline` in header-only mode, external (defined once,
/// in the library) in the compiled mode.
#if defined(LOWP_SOLVERS_COMPILED)
#define LOWP_SOLVERS_API
#else
#define LOWP_SOLVERS_API inline
#endif
