# ctest driver: install lowp into a scratch prefix, then configure, build and run a
# consumer that only knows find_package(lowp CONFIG REQUIRED).
#
# Either LOWP_BINARY_DIR (install that build tree as it is), or LOWP_SOURCE_DIR (configure
# lowp afresh with LOWP_SOLVERS_COMPILED=ON and nothing else, build and install it; the
# consumer must then find lowp::solvers_compiled and use it without compiling gptq()).
foreach(v WORK_DIR CONSUMER_DIR GENERATOR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "${v} is not set")
  endif()
endforeach()
set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(rc)
    message(FATAL_ERROR "${what} failed: ${rc}")
  endif()
endfunction()

if(DEFINED LOWP_SOURCE_DIR)
  set(compiled TRUE)
  run("configuring lowp with LOWP_SOLVERS_COMPILED" "${CMAKE_COMMAND}" -S "${LOWP_SOURCE_DIR}"
    -B "${WORK_DIR}/lowp" -G "${GENERATOR}" -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
    -DCMAKE_BUILD_TYPE= -DLOWP_SOLVERS_COMPILED=ON -DLOWP_BUILD_TESTS=OFF
    -DLOWP_BUILD_BENCHMARKS=OFF -DLOWP_BUILD_EXAMPLES=OFF -DLOWP_FETCH_DEPS=OFF)
  run("building lowp::solvers_compiled" "${CMAKE_COMMAND}" --build "${WORK_DIR}/lowp")
  set(LOWP_BINARY_DIR "${WORK_DIR}/lowp")
elseif(DEFINED LOWP_BINARY_DIR)
  set(compiled FALSE)
else()
  message(FATAL_ERROR "set LOWP_BINARY_DIR or LOWP_SOURCE_DIR")
endif()

run("cmake --install" "${CMAKE_COMMAND}" --install "${LOWP_BINARY_DIR}" --prefix "${prefix}")
if(NOT EXISTS "${prefix}/share/cmake/lowp/lowpConfig.cmake")
  message(FATAL_ERROR "no lowpConfig.cmake was installed")
endif()
run("configuring the consumer" "${CMAKE_COMMAND}" -S "${CONSUMER_DIR}" -B "${WORK_DIR}/build"
  -G "${GENERATOR}" "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
  -DLOWP_CONSUMER_COMPILED_ONLY=${compiled})
run("building the consumer" "${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
set(programs consumer consumer_solvers)
if(compiled)
  set(programs consumer_compiled)
  if(NOT EXISTS "${WORK_DIR}/build/consumer_compiled")
    message(FATAL_ERROR "the installed lowp has no lowp::solvers_compiled")
  endif()
endif()
if(compiled)
  # Defined (T/W) symbols of gptq<P>(const float*, ...) (the Eigen overload is a thin
  # wrapper), lorc, truncated_svd or add_batch in the consumer's object would mean that the
  # extern templates or the hidden bodies did not work: the consumer compiled them itself.
  find_program(NM nm)
  if(NM)
    file(READ "${WORK_DIR}/build/compiled_objects.txt" objects)
    foreach(o IN LISTS objects)
      execute_process(COMMAND "${NM}" -C --defined-only "${o}" OUTPUT_VARIABLE syms
        RESULT_VARIABLE rc)
      if(rc)
        message(FATAL_ERROR "nm ${o} failed: ${rc}")
      endif()
      string(REGEX MATCHALL "[^\n]*(lowp::gptq<[^(]*>\\(float const|lowp::lorc\\(|lowp::truncated_svd\\(|hessian_accumulator::add_batch\\(float const)[^\n]*" own "${syms}")
      if(own)
        message(FATAL_ERROR "the compiled-mode consumer defines solver code itself:\n${own}")
      endif()
    endforeach()
    message(STATUS "the compiled-mode consumer holds no gptq/lorc/add_batch code of its own")
  else()
    message(STATUS "no nm: not checking the consumer's object file")
  endif()
endif()
foreach(p IN LISTS programs)
  if(EXISTS "${WORK_DIR}/build/${p}")
    run("the consumer ${p}" "${WORK_DIR}/build/${p}")
  endif()
endforeach()
