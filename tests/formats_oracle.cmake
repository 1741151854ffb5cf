# Conformance of the scalar conversions against the independent oracle in
# tests/oracle/format_oracle.hpp (issue 3, acceptance items 1, 3 and 4).
#
# One source, two builds:
#   test_formats_oracle_quick  label quick: every check at reduced size (a strided sweep
#                              of all floats, +-1 ulp around 16-bit boundaries, 10^5
#                              randoms), plus the oracle's own self-checks.  Seconds;
#                              also run under ASan+UBSan.
#   test_formats_oracle        label exhaustive: all 2^32 floats for the FP8/FP4 formats
#                              under nearest_even x both overflow modes, +-64 ulps around
#                              every boundary, 10^8 random floats and 10^7 random doubles
#                              per format.  Split by Catch2 tag into ctest entries so that
#                              `ctest -j` spreads them.
lowp_add_test(test_formats_oracle_quick
  SOURCES test_formats_oracle.cpp test_formats_oracle_self.cpp
  LABELS quick
  TIMEOUT 600)
target_compile_definitions(test_formats_oracle_quick PRIVATE LOWP_ORACLE_FULL=0)

lowp_add_test(test_formats_oracle
  SOURCES test_formats_oracle.cpp
  LABELS exhaustive
  TIMEOUT 1500
  ARGS "[codes],[cross],[specials],[boundaries],[doubles]")
if(TARGET test_formats_oracle)  # not built when LOWP_BUILD_EXHAUSTIVE_TESTS is off
  target_compile_definitions(test_formats_oracle PRIVATE LOWP_ORACLE_FULL=1)
endif()

# Every float, nearest_even: one entry per format and overflow mode (2^32 casts each).
foreach(_fmt e4m3fn e5m2 e4m3fnuz e5m2fnuz e2m1fn)
  foreach(_ovf sat nosat)
    lowp_add_test_case(test_formats_oracle_sweep_${_fmt}_${_ovf} test_formats_oracle
      LABELS exhaustive TIMEOUT 1500 ARGS "[sweep][${_fmt}][${_ovf}]")
  endforeach()
endforeach()
# 10^8 random floats x every rounding x overflow mode: one entry per format.
foreach(_fmt e4m3fn e5m2 e4m3fnuz e5m2fnuz e2m3fn e3m2fn e2m1fn e8m0fnu float16 bfloat16
             int4 uint4 int8 uint8)
  lowp_add_test_case(test_formats_oracle_random_${_fmt} test_formats_oracle
    LABELS exhaustive TIMEOUT 1500 ARGS "[random][${_fmt}]")
endforeach()
lowp_add_test_case(test_formats_oracle_stochastic test_formats_oracle
  LABELS exhaustive TIMEOUT 1500 ARGS "[stochastic]")
