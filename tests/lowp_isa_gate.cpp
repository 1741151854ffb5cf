// lowp_isa_gate <instruction sets> <program> [arguments...]
//
// How ctest runs a test program compiled with instruction-set flags (lowp_add_test(...
// ISA ...) in tests/CMakeLists.txt): where this CPU lacks one of the instruction sets
// (comma-separated, GCC's names), it prints why and exits with 77, which ctest reports
// as skipped; else it replaces itself with the program.  The program checks the CPU in
// main() as well, but code of its own runs before main() (static initialisers, and
// inline functions the linker may take from a translation unit built with the flags);
// this gate is built without any flag, so nothing compiled for a missing instruction
// set runs at all.
#include <cerrno>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>

#include "lowp_test_cpu.hpp"

#if defined(__unix__)
#include <unistd.h>
#endif

namespace {
constexpr int skip_return_code = 77;  // lowp_test::skip_return_code
}

int main(int argc, char* argv[]) {
  if (argc < 3) {
    std::cerr << "usage: lowp_isa_gate <instruction sets> <program> [arguments...]\n";
    return 2;
  }
  try {
    const std::string missing = lowp_test::missing_isa(argv[1]);
    if (!missing.empty()) {
      std::cout << "lowp: skipped: " << argv[2] << " was compiled for " << argv[1]
                << " and this CPU lacks " << missing << "\n";
      return skip_return_code;
    }
  } catch (const std::exception& e) {
    std::cerr << "lowp_isa_gate: " << e.what() << "\n";
    return 2;
  }
#if defined(__unix__)
  ::execv(argv[2], argv + 2);
  std::cerr << "lowp_isa_gate: cannot run " << argv[2] << ": " << std::strerror(errno) << "\n";
  return 2;
#else
  std::cerr << "lowp_isa_gate: running a program is implemented for POSIX systems only\n";
  return 2;
#endif
}
