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

# Catch2: Debian bookworm ships v2.13 (single header); v3 is fetched otherwise.
# tests/lowp_test.hpp hides the difference from the test sources.
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
  if(NOT DEFINED Catch2_VERSION OR Catch2_VERSION STREQUAL "")
    set(Catch2_VERSION 3.7.1)  # the fetched release
  endif()
  set(LOWP_CATCH2_VERSION "${Catch2_VERSION}" PARENT_SCOPE)
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
