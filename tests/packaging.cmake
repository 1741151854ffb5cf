# Packaging: find_package against an installed tree, add_subdirectory, and ODR.
if(LOWP_INSTALL)
  add_test(NAME packaging_find_package
    COMMAND "${CMAKE_COMMAND}"
      -DLOWP_BINARY_DIR=${PROJECT_BINARY_DIR}
      -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/packaging_find_package
      -DCONSUMER_DIR=${CMAKE_CURRENT_SOURCE_DIR}/packaging/find_package_consumer
      -DGENERATOR=${CMAKE_GENERATOR}
      -DCXX_COMPILER=${CMAKE_CXX_COMPILER}
      -P ${CMAKE_CURRENT_SOURCE_DIR}/packaging/run_find_package.cmake)
  set_tests_properties(packaging_find_package PROPERTIES LABELS "quick;packaging")
endif()

add_test(NAME packaging_add_subdirectory
  COMMAND "${CMAKE_CTEST_COMMAND}"
    --build-and-test "${CMAKE_CURRENT_SOURCE_DIR}/packaging/subdirectory_consumer"
                     "${CMAKE_CURRENT_BINARY_DIR}/packaging_add_subdirectory"
    --build-generator "${CMAKE_GENERATOR}"
    --build-options "-DLOWP_SOURCE_DIR=${PROJECT_SOURCE_DIR}" "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}"
    --test-command consumer)
set_tests_properties(packaging_add_subdirectory PROPERTIES LABELS "quick;packaging")

# ODR: two translation units that include every public header, linked together.  The
# list is globbed, so a new header is covered without editing this file.
file(GLOB_RECURSE _lowp_public_headers CONFIGURE_DEPENDS
  RELATIVE "${PROJECT_SOURCE_DIR}/include" "${PROJECT_SOURCE_DIR}/include/lowp/*.hpp")
set(_lowp_all "// Generated: every public lowp header.\n#pragma once\n")
foreach(_h IN LISTS _lowp_public_headers)
  file(STRINGS "${PROJECT_SOURCE_DIR}/include/${_h}" _needs_eigen REGEX "#include <Eigen/")
  if(_h MATCHES "/detail/" OR (_needs_eigen AND NOT TARGET lowp::solvers))
    continue()
  endif()
  string(APPEND _lowp_all "#include <${_h}>\n")
endforeach()
file(CONFIGURE OUTPUT "${CMAKE_CURRENT_BINARY_DIR}/odr/lowp_all_headers.hpp" CONTENT "${_lowp_all}")
add_executable(odr_test odr/odr_main.cpp odr/odr_other.cpp)
target_include_directories(odr_test PRIVATE "${CMAKE_CURRENT_BINARY_DIR}/odr")
target_link_libraries(odr_test PRIVATE lowp::lowp)
if(TARGET lowp::solvers)
  target_link_libraries(odr_test PRIVATE lowp::solvers)
endif()
lowp_target_options(odr_test)
add_test(NAME odr_test COMMAND odr_test)
set_tests_properties(odr_test PROPERTIES LABELS "quick;packaging")
