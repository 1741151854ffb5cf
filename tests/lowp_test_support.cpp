// The compiled part of tests/lowp_test.hpp: the skip record, the CPU check, and what
// every test program's main() does around Catch2's session.  Built without any
// instruction-set flag, so it runs on every x86-64 CPU whatever the test program it is
// linked into was compiled for.
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "lowp_test.hpp"
#include "lowp_test_cpu.hpp"

namespace lowp_test {
namespace {

std::vector<std::string>& skip_reasons() {
  static std::vector<std::string> reasons;
  return reasons;
}

std::vector<std::string>& program_isas() {
  static std::vector<std::string> isas;
  return isas;
}

}  // namespace

void note_skip(const std::string& reason) {
  for (const std::string& r : skip_reasons())
    if (r == reason) return;
  skip_reasons().push_back(reason);
}

bool declare_program_isa(const char* isa) {
  program_isas().emplace_back(isa);
  return true;
}

int run_program(int argc, char* argv[], int (*run_catch)(int, char*[])) {
  try {
    for (const std::string& isa : program_isas()) {
      const std::string missing = missing_isa(isa.c_str());
      if (!missing.empty()) {
        std::cout << "lowp: skipped: this program was compiled for " << isa
                  << " and this CPU lacks " << missing << "\n";
        return skip_return_code;
      }
    }
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  const int failed = run_catch(argc, argv);  // Catch2: the number of failed checks, at most 255
  if (failed == skip_return_code) return 1;  // 77 failures must not read as a skip
  if (failed != 0 || skip_reasons().empty()) return failed;
  std::cout << "lowp: skipped:";
  for (const std::string& r : skip_reasons()) std::cout << "\n  " << r;
  std::cout << "\n";
  return skip_return_code;
}

}  // namespace lowp_test
