// The main() of every test program, for Catch2 v2 and v3.  With Catch2 v2 this file
// also holds Catch's implementation (CATCH_CONFIG_RUNNER): it is compiled without our
// warning flags (tests/CMakeLists.txt), so everything else lives in lowp_test_support.cpp.
#define CATCH_CONFIG_RUNNER
#include "lowp_test.hpp"

#if LOWP_TEST_CATCH2_MAJOR == 3
#include <catch2/catch_session.hpp>
#endif

int main(int argc, char* argv[]) {
  return lowp_test::run_program(argc, argv,
                                [](int n, char* args[]) { return Catch::Session().run(n, args); });
}
