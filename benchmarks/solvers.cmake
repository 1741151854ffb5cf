# benchmarks/solvers.cmake — GPTQ and LoRC (issue 6), with OpenMP for Eigen's GEMM and
# GPTQ's per-row loop when it is available.
if(TARGET lowp::solvers)
  set(_lowp_solver_bench_libs ${LOWP_SOLVER_PROGRAM_LIBS})
  lowp_add_benchmark(bench_solvers SOURCES bench_solvers.cpp LINK ${_lowp_solver_bench_libs})
  if(LOWP_NATIVE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 reports a false -Wmaybe-uninitialized inside avx512fintrin.h when Eigen's
    # AVX-512 kernels are inlined here (-O3 -march=native); it is not in our code.
    target_compile_options(bench_solvers PRIVATE -Wno-maybe-uninitialized)
  endif()
endif()
