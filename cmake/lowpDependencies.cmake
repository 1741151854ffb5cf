# Dependencies: find_package first, FetchContent with a pinned release only when the
# package is not installed (the FIND_PACKAGE_ARGS idiom, CMake >= 3.24).  Each is
# wrapped in a function so that the variables we set for a fetched project stay in
# the function's scope and never leak into the parent project.
include(FetchContent)

# Eigen 3.4: header-only, used by the solvers and the Eigen glue headers.
function(lowp_find_eigen)
  if(TARGET Eigen3::Eigen)
    set(LOWP_EIGEN_FROM_PACKAGE TRUE PARENT_SCOPE)
    return()
  endif()
  find_package(Eigen3 3.4 QUIET NO_MODULE)
  if(TARGET Eigen3::Eigen)
    set(LOWP_EIGEN_FROM_PACKAGE TRUE PARENT_SCOPE)
    return()
  endif()
  set(LOWP_EIGEN_FROM_PACKAGE FALSE PARENT_SCOPE)
  if(NOT LOWP_FETCH_DEPS)
    message(STATUS "lowp: Eigen3 not found; lowp::solvers is not available")
    return()
  endif()
  # Only the headers are needed: SOURCE_SUBDIR names a folder that does not exist so
  # Eigen's own (large) CMake project is never configured.
  FetchContent_Declare(lowp_eigen
    URL https://gitlab.com/libeigen/eigen/-/archive/3.4.0/eigen-3.4.0.tar.gz
    URL_HASH SHA256=8586084f71f9bde545ee7fa6d00288b264a2b7ac3607b974e54d13e7162c1c72
    SOURCE_SUBDIR lowp-headers-only)
  FetchContent_MakeAvailable(lowp_eigen)
  add_library(lowp_fetched_eigen INTERFACE)
  target_include_directories(lowp_fetched_eigen SYSTEM INTERFACE "${lowp_eigen_SOURCE_DIR}")
  add_library(Eigen3::Eigen ALIAS lowp_fetched_eigen)
endfunction()

# nlohmann-json 3 (Debian nlohmann-json3-dev): header-only, used by the model layer for
# config.json and safetensors headers.  Sets LOWP_JSON_FROM_PACKAGE in the caller.
function(lowp_find_json)
  if(TARGET nlohmann_json::nlohmann_json)
    set(LOWP_JSON_FROM_PACKAGE TRUE PARENT_SCOPE)
    return()
  endif()
  find_package(nlohmann_json 3.2 QUIET)
  if(TARGET nlohmann_json::nlohmann_json)
    set(LOWP_JSON_FROM_PACKAGE TRUE PARENT_SCOPE)
    return()
  endif()
  set(LOWP_JSON_FROM_PACKAGE FALSE PARENT_SCOPE)
  if(NOT LOWP_FETCH_DEPS)
    message(STATUS "lowp: nlohmann_json not found; lowp::model is not available")
    return()
  endif()
  FetchContent_Declare(lowp_json
    URL https://github.com/nlohmann/json/releases/download/v3.11.3/json.tar.xz
    URL_HASH SHA256=d6c65aca6b1ed68e7a182f4757257b107ae403032760ed6ef121c9d55e81757d
    SOURCE_SUBDIR lowp-headers-only)
  FetchContent_MakeAvailable(lowp_json)
  add_library(lowp_fetched_json INTERFACE)
  target_include_directories(lowp_fetched_json SYSTEM INTERFACE "${lowp_json_SOURCE_DIR}/include")
  add_library(nlohmann_json::nlohmann_json ALIAS lowp_fetched_json)
endfunction()

# CLI11 (Debian libcli11-dev): header-only, parses lowp-ptq's command line.  The tool is
# ours, not the library's: nothing installed needs it.
function(lowp_find_cli11)
  if(LOWP_FETCH_DEPS)
    FetchContent_Declare(CLI11
      GIT_REPOSITORY https://github.com/CLIUtils/CLI11.git
      GIT_TAG v2.4.2
      GIT_SHALLOW TRUE
      FIND_PACKAGE_ARGS 2.1)
    set(CLI11_PRECOMPILED OFF)
    set(CLI11_BUILD_TESTS OFF)
    set(CLI11_BUILD_EXAMPLES OFF)
    set(CLI11_BUILD_DOCS OFF)
    set(CLI11_INSTALL OFF)
    FetchContent_MakeAvailable(CLI11)
  else()
    find_package(CLI11 2.1 QUIET)
  endif()
endfunction()

# Catch2: Debian bookworm ships v2.13 (single header); v3 is fetched otherwise.  Both
# provide Catch2::Catch2 (the framework without a main()); tests/lowp_test.hpp and
# tests/lowp_test_main.cpp hide the difference from the test sources.
function(lowp_find_catch2)
  if(LOWP_FETCH_DEPS)
    FetchContent_Declare(Catch2
      GIT_REPOSITORY https://github.com/catchorg/Catch2.git
      GIT_TAG v3.7.1
      GIT_SHALLOW TRUE
      FIND_PACKAGE_ARGS)
    set(CATCH_INSTALL_DOCS OFF)
    set(CATCH_INSTALL_EXTRAS OFF)
    FetchContent_MakeAvailable(Catch2)
  else()
    find_package(Catch2 REQUIRED)
  endif()
endfunction()

# Google Benchmark: Debian bookworm ships 1.7.1.
function(lowp_find_benchmark)
  if(LOWP_FETCH_DEPS)
    FetchContent_Declare(benchmark
      GIT_REPOSITORY https://github.com/google/benchmark.git
      GIT_TAG v1.9.1
      GIT_SHALLOW TRUE
      FIND_PACKAGE_ARGS)
    set(BENCHMARK_ENABLE_TESTING OFF)
    set(BENCHMARK_ENABLE_GTEST_TESTS OFF)
    set(BENCHMARK_ENABLE_INSTALL OFF)
    FetchContent_MakeAvailable(benchmark)
  else()
    find_package(benchmark REQUIRED)
  endif()
endfunction()

# CUDA toolkit (optional, never required): NVIDIA's cuda_fp8.h, cuda_fp6.h and cuda_fp4.h
# are an independent reference for the tests and a peer in the benchmarks (their host
# functions compile with the host compiler: no nvcc, no GPU), and nvcc, when present,
# compiles lowp's headers in device code.  find_package(CUDAToolkit) finds both; the
# cache variables LOWP_CUDA_INCLUDE_DIR and LOWP_NVCC override it.  Sets, in the caller:
#   LOWP_CUDA_FP_INCLUDE_DIR  the folder holding all three headers, or empty
#   LOWP_CUDA_FP_MISSING      why it is empty (for the tests' skip message)
#   LOWP_NVCC_EXECUTABLE      nvcc, or empty
function(lowp_find_cuda)
  set(LOWP_CUDA_INCLUDE_DIR "" CACHE PATH
    "Folder holding cuda_fp8.h, cuda_fp6.h and cuda_fp4.h (empty: find_package(CUDAToolkit))")
  set(LOWP_NVCC "" CACHE FILEPATH "nvcc for the device-code compile tests (empty: find_package(CUDAToolkit))")

  set(include_dirs "${LOWP_CUDA_INCLUDE_DIR}")
  set(nvcc "${LOWP_NVCC}")
  if(NOT include_dirs OR NOT nvcc)
    find_package(CUDAToolkit QUIET)
    if(NOT include_dirs)
      # Only the headers are used, so a toolkit that lacks what CUDAToolkit_FOUND asks
      # for (the cudart library, the bin folder) still serves when its headers are there.
      if(CUDAToolkit_INCLUDE_DIRS)
        set(include_dirs "${CUDAToolkit_INCLUDE_DIRS}")
      elseif(CUDAToolkit_INCLUDE_DIR)
        set(include_dirs "${CUDAToolkit_INCLUDE_DIR}")
      endif()
    endif()
    if(NOT nvcc AND CUDAToolkit_NVCC_EXECUTABLE)
      set(nvcc "${CUDAToolkit_NVCC_EXECUTABLE}")
    endif()
  endif()

  set(fp_dir "")
  foreach(dir IN LISTS include_dirs)
    if(EXISTS "${dir}/cuda_fp8.h" AND EXISTS "${dir}/cuda_fp6.h" AND EXISTS "${dir}/cuda_fp4.h")
      set(fp_dir "${dir}")
      break()
    endif()
  endforeach()
  if(fp_dir)
    set(missing "")
  elseif(include_dirs)
    set(missing "no cuda_fp8.h, cuda_fp6.h and cuda_fp4.h (CUDA >= 12.8) in ${include_dirs}")
  else()
    set(missing "no CUDA toolkit found by find_package(CUDAToolkit), and LOWP_CUDA_INCLUDE_DIR is not set")
  endif()
  set(LOWP_CUDA_FP_INCLUDE_DIR "${fp_dir}" PARENT_SCOPE)
  set(LOWP_CUDA_FP_MISSING "${missing}" PARENT_SCOPE)
  set(LOWP_NVCC_EXECUTABLE "${nvcc}" PARENT_SCOPE)
endfunction()
