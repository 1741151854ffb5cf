# Flags for lowp's own targets (tests, benchmarks, examples) only: nothing here touches
# global CMake state, so a parent project that add_subdirectory()s us is unaffected.

# LOWP_SANITIZE: AddressSanitizer + UndefinedBehaviorSanitizer, stopping at the first
# report.  Compile and link flags.
set(LOWP_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
    -fno-omit-frame-pointer)

function(lowp_target_options target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wconversion -Wshadow -Wpedantic)
    if(LOWP_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
    if(LOWP_SANITIZE)
      target_compile_options(${target} PRIVATE ${LOWP_SANITIZE_FLAGS})
      target_link_options(${target} PRIVATE ${LOWP_SANITIZE_FLAGS})
    endif()
    if(LOWP_NATIVE)
      target_compile_options(${target} PRIVATE -march=native)
      if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
        # GCC 12 reports a false -Wmaybe-uninitialized inside avx512fintrin.h when Eigen's
        # AVX-512 GEMM kernels are inlined (-O3 -march=native); not in our code.
        target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
      endif()
    endif()
  elseif(MSVC)
    target_compile_options(${target} PRIVATE /W4 /permissive-)
    if(LOWP_WERROR)
      target_compile_options(${target} PRIVATE /WX)
    endif()
  endif()
endfunction()
