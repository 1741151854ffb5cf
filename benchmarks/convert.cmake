# Bulk conversion benchmarks (issue 4).  Build with -march=native (the bench preset, or
# -DLOWP_NATIVE=ON) to get the SIMD paths; the scalar back-end is measured in the same
# binary.  NVIDIA's host converters join as a peer when cuda_fp8.h is found.
lowp_add_benchmark(bench_convert SOURCES bench_convert.cpp)
find_path(LOWP_BENCH_CUDA_INCLUDE cuda_fp8.h
  HINTS ENV CUDA_PATH ENV CUDA_HOME
  PATHS /usr/local/cuda/include NO_DEFAULT_PATH)
if(LOWP_BENCH_CUDA_INCLUDE)
  # SYSTEM: NVIDIA's headers are not held to our warning flags.
  target_include_directories(bench_convert SYSTEM PRIVATE "${LOWP_BENCH_CUDA_INCLUDE}")
endif()
