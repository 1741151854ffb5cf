# tests/quant.cmake — scale policies, quantizers, metrics and the Eigen glue (issue 5).
lowp_add_test(test_quant_policies SOURCES test_quant_policies.cpp LABELS quick)
lowp_add_test(test_quant_tensor SOURCES test_quant_tensor.cpp LABELS quick)
# The FP-vs-INT MSE study (prints the tables of docs/quantization.md; asserts directions).
lowp_add_test(test_quant_study SOURCES test_quant_study.cpp LABELS quick)
if(TARGET lowp::solvers)
  lowp_add_test(test_quant_eigen SOURCES test_quant_eigen.cpp LABELS quick LINK lowp::solvers)
endif()
