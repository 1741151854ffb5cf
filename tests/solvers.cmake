# tests/solvers.cmake — GPTQ and LoRC (issue 6): lowp/gptq.hpp, lowp/lorc.hpp.
# They need Eigen (lowp::solvers); OpenMP, when found, lets Eigen's GEMM and GPTQ's
# per-row loop use several threads (the tests are small: they mostly check the
# single-threaded and the threaded paths agree with the references).
if(TARGET lowp::solvers)
  set(_lowp_solver_libs ${LOWP_SOLVER_PROGRAM_LIBS})
  lowp_add_test(test_gptq SOURCES test_gptq.cpp LABELS quick LINK ${_lowp_solver_libs} TIMEOUT 300)
  if(EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/test_lorc.cpp")
    lowp_add_test(test_lorc SOURCES test_lorc.cpp LABELS quick LINK ${_lowp_solver_libs} TIMEOUT 300)
  endif()
endif()
