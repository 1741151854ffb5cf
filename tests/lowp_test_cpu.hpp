// tests/lowp_test_cpu.hpp — which instruction sets this CPU (and its OS) provides, for
// the test programs compiled with instruction-set flags and for lowp_isa_gate, which
// runs them.  No Catch2 here: the gate must not depend on it.
#pragma once

#include <string>

namespace lowp_test {

// The instruction sets of `isa` that this CPU (or the OS, for the vector registers'
// state) lacks, comma-separated, or "" when it has them all.  `isa` names them as GCC's
// -m flags and target attributes do, comma-separated: "avx512f,avx512bw".  An unknown
// name throws std::invalid_argument.  Where CPUID is not available (not x86, or not
// GCC/Clang) every named instruction set is reported missing.
std::string missing_isa(const char* isa);

}  // namespace lowp_test
