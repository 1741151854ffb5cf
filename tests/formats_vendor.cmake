# tests/formats_vendor.cmake — lowp against other people's conversions (issue 3):
# NVIDIA's cuda_fp8.h / cuda_fp6.h / cuda_fp4.h host functions, the CPU's F16C and
# AVX512-BF16 instructions, and an nvcc compile test of the headers in a kernel.

# --- CUDA host functions as an oracle (no GPU, no nvcc: the host compiler builds them) -----
if(LOWP_CUDA_INCLUDE_DIR)
  lowp_add_test(test_formats_cuda SOURCES test_formats_cuda.cpp LABELS quick ARGS "[quick]")
  # SYSTEM: NVIDIA's headers are not held to our warning flags.
  target_include_directories(test_formats_cuda SYSTEM PRIVATE "${LOWP_CUDA_INCLUDE_DIR}")
  # All 2^32 floats, one ctest entry per format so that `ctest -j` spreads them.
  # bf16: round to nearest; f16_directed/bf16_directed: rz, rd, ru.  (The tag [f16],
  # float16 round-to-nearest, is left out of ctest to stay within the CPU budget:
  # test_formats_hw_f16c_all checks the same against F16C, NaN payloads included.)
  # CPU seconds at -O2, measured: e4m3 55, e5m2 68, e2m1 51, e2m3 64, e3m2 66, e8m0 92,
  # bf16 31, f16_directed 78, bf16_directed 86 (all ~10 CPU-minutes).
  foreach(_fmt IN ITEMS e4m3 e5m2 e2m1 e2m3 e3m2 e8m0 bf16 f16_directed bf16_directed)
    lowp_add_test_case(test_formats_cuda_${_fmt}_all test_formats_cuda
      LABELS exhaustive ARGS "[exhaustive][cuda][${_fmt}]" TIMEOUT 1800)
  endforeach()
endif()

# --- the CPU's conversion instructions (checked at run time; skipped where absent) -------
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|i.86)$"
   AND CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  lowp_add_test(test_formats_hw SOURCES test_formats_hw.cpp LABELS quick ARGS "[quick]")
  # CPU seconds at -O2, measured: f16c 8, avx512bf16 13.
  lowp_add_test_case(test_formats_hw_f16c_all test_formats_hw
    LABELS exhaustive ARGS "[exhaustive][f16c]" TIMEOUT 1800)
  lowp_add_test_case(test_formats_hw_bf16_all test_formats_hw
    LABELS exhaustive ARGS "[exhaustive][avx512bf16]" TIMEOUT 1800)
endif()

# --- nvcc: the headers compile in device code ----------------------------------------------
if(CMAKE_CUDA_COMPILER)
  set(_lowp_nvcc_hint "${CMAKE_CUDA_COMPILER}")
endif()
find_program(LOWP_NVCC NAMES nvcc
  HINTS ${_lowp_nvcc_hint} ENV CUDA_PATH ENV CUDA_HOME
  PATHS /usr/local/cuda /usr/local/cuda-13.0 /usr/local/cuda-12.8
  PATH_SUFFIXES bin)
if(LOWP_NVCC)
  set(_lowp_nvcc_werror "")
  if(LOWP_WERROR)
    set(_lowp_nvcc_werror -Werror all-warnings)
  endif()
  foreach(_std IN ITEMS 17 20)
    add_test(NAME nvcc_kernel_compile_cxx${_std}
      COMMAND "${LOWP_NVCC}" -std=c++${_std} ${_lowp_nvcc_werror}
              -I "${PROJECT_SOURCE_DIR}/include"
              -c "${CMAKE_CURRENT_SOURCE_DIR}/cuda/kernel_compile.cu"
              -o "${CMAKE_CURRENT_BINARY_DIR}/kernel_compile_cxx${_std}.o")
    set_tests_properties(nvcc_kernel_compile_cxx${_std} PROPERTIES LABELS quick TIMEOUT 300)
  endforeach()
endif()
