// tests/lowp_test.hpp — the one Catch2 include of every test: Catch2 v2 (Debian's
// single header) and v3 (split headers) look the same to the test sources.  It also
// says how a test that cannot run here reports it: as skipped, never as passed.
//
// A test case that cannot run calls LOWP_SKIP(reason) (or LOWP_REQUIRE_ISA); the
// program's main() (lowp_test::run_program) then exits with lowp_test::skip_return_code
// unless a check failed, and ctest, told that code by tests/CMakeLists.txt
// (SKIP_RETURN_CODE), shows the test as skipped.  A run in which some test cases passed
// and one skipped is reported skipped: part of what it checks did not run.  Catch2 v2
// has no SKIP macro, so both versions use this one mechanism.
//
// A test program compiled with instruction-set flags (lowp_add_test(... ISA ...) in
// tests/CMakeLists.txt) gets LOWP_TEST_ISA, the same list as the flags; main() checks
// it before any test case runs, so no test code compiled for a missing instruction set
// is reached.
#pragma once

#if __has_include(<catch2/catch_test_macros.hpp>)
#define LOWP_TEST_CATCH2_MAJOR 3
#include <catch2/catch_approx.hpp>
#include <catch2/catch_message.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
using Catch::Approx;
#else
#define LOWP_TEST_CATCH2_MAJOR 2
#include <catch2/catch.hpp>
#endif

#include <sstream>
#include <string>

#include "lowp_test_cpu.hpp"  // lowp_test::missing_isa

// Defined in lowp_test_support.cpp, which is compiled once, without instruction-set flags.
namespace lowp_test {

// The exit status of a test program that skipped (automake's convention).
inline constexpr int skip_return_code = 77;

// Records that the running test case skipped, and why.
void note_skip(const std::string& reason);

// Declares, before main() runs, the instruction sets this program was compiled for.
bool declare_program_isa(const char* isa);

// What every test program's main() does: returns skip_return_code without running a
// test when the CPU lacks an instruction set the program declared; else runs Catch2
// (run_catch) and returns its status, or skip_return_code when nothing failed but a
// test case skipped.
int run_program(int argc, char* argv[], int (*run_catch)(int, char*[]));

}  // namespace lowp_test

// Ends the running test case (or the void function it is called from) as skipped.
#define LOWP_SKIP(reason)                            \
  do {                                               \
    std::ostringstream lowp_skip_reason_;            \
    lowp_skip_reason_ << reason;                     \
    WARN("skipped: " << lowp_skip_reason_.str());    \
    ::lowp_test::note_skip(lowp_skip_reason_.str()); \
    return;                                          \
  } while (false)

// Skips the running test case unless the CPU has every instruction set of `isa`: call it
// before any function compiled for them (__attribute__((target(isa)))).
#define LOWP_REQUIRE_ISA(isa)                                                          \
  do {                                                                                 \
    const std::string lowp_missing_isa_ = ::lowp_test::missing_isa(isa);               \
    if (!lowp_missing_isa_.empty()) LOWP_SKIP("this CPU lacks " << lowp_missing_isa_); \
  } while (false)

#if defined(LOWP_TEST_ISA)
namespace {
[[maybe_unused]] const bool lowp_test_program_isa_declared =
    ::lowp_test::declare_program_isa(LOWP_TEST_ISA);
}  // namespace
#endif
