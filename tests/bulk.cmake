# Bulk, packed and shift-cast tests (issue 4).
#
# The test presets do not build with -march=native, so each SIMD path gets its own
# executable with per-target flags; at run time each test checks the CPU
# (__builtin_cpu_supports) and skips with a warning where the instructions are missing.
#   test_bulk_scalar   LOWP_NO_SIMD: the portable path
#   test_bulk_avx2     -mavx2 -mfma -mf16c: the AVX2 path
#   test_bulk_avx512   AVX-512 F/BW/VL/VBMI/BF16: the AVX-512 path
#   test_bulk_exhaustive  all 2^32 floats through all three back-ends (AVX-512 build)
#   test_bulk_odr      an AVX-512 and a LOWP_NO_SIMD translation unit in one program
set(_lowp_avx2_flags -mavx2 -mfma -mf16c)
set(_lowp_avx512_flags -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vbmi -mavx512bf16 -mfma -mf16c)

lowp_add_test(test_packed SOURCES test_packed.cpp LABELS quick)

lowp_add_test(test_shift_cast SOURCES test_shift_cast.cpp LABELS quick)
lowp_add_test(test_shift_cast_scalar SOURCES test_shift_cast.cpp LABELS quick)
target_compile_definitions(test_shift_cast_scalar PRIVATE LOWP_NO_SIMD)

lowp_add_test(test_bulk_scalar SOURCES test_bulk.cpp LABELS quick)
target_compile_definitions(test_bulk_scalar PRIVATE LOWP_NO_SIMD)

if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang" AND CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
  lowp_add_test(test_bulk_avx2 SOURCES test_bulk.cpp LABELS quick)
  target_compile_options(test_bulk_avx2 PRIVATE ${_lowp_avx2_flags})
  lowp_add_test(test_bulk_avx512 SOURCES test_bulk.cpp LABELS quick)
  target_compile_options(test_bulk_avx512 PRIVATE ${_lowp_avx512_flags})

  # Two translation units with different SIMD flags in one program (ODR check).
  lowp_add_test(test_bulk_odr SOURCES test_bulk_odr.cpp test_bulk_odr_simd.cpp test_bulk_odr_scalar.cpp
                LABELS quick)
  set_source_files_properties(test_bulk_odr_simd.cpp PROPERTIES COMPILE_OPTIONS "${_lowp_avx512_flags}")
  set_source_files_properties(test_bulk_odr_scalar.cpp PROPERTIES COMPILE_DEFINITIONS LOWP_NO_SIMD)

  # One ctest entry per format so that the sweeps run in parallel under ctest -j.
  lowp_add_test(test_bulk_exhaustive SOURCES test_bulk_exhaustive.cpp LABELS exhaustive
                ARGS "[e4m3]" TIMEOUT 1800)
  if(TARGET test_bulk_exhaustive)  # not built when LOWP_BUILD_EXHAUSTIVE_TESTS is off
    target_compile_options(test_bulk_exhaustive PRIVATE ${_lowp_avx512_flags})
  endif()
  lowp_add_test_case(test_bulk_exhaustive_e5m2 test_bulk_exhaustive LABELS exhaustive ARGS "[e5m2]" TIMEOUT 1800)
  lowp_add_test_case(test_bulk_exhaustive_e2m1 test_bulk_exhaustive LABELS exhaustive ARGS "[e2m1]" TIMEOUT 1800)
  lowp_add_test_case(test_bulk_exhaustive_int4 test_bulk_exhaustive LABELS exhaustive ARGS "[int4]" TIMEOUT 1800)
  lowp_add_test_case(test_bulk_exhaustive_int8 test_bulk_exhaustive LABELS exhaustive ARGS "[int8]" TIMEOUT 1800)
endif()
