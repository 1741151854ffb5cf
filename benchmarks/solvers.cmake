# benchmarks/solvers.cmake — GPTQ and LoRC (issue 6), with OpenMP for Eigen's GEMM and
# GPTQ's per-row loop when it is available.
if(TARGET lowp::solvers)
  set(_lowp_solver_bench_libs ${LOWP_SOLVER_PROGRAM_LIBS})
  lowp_add_benchmark(bench_solvers SOURCES bench_solvers.cpp LINK ${_lowp_solver_bench_libs})
endif()
