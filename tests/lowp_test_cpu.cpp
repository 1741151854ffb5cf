// The compiled part of tests/lowp_test_cpu.hpp: which instruction sets this CPU and OS
// provide.  Built without any instruction-set flag, so it runs on every x86-64 CPU.
#include "lowp_test_cpu.hpp"

#include <stdexcept>
#include <string>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <cpuid.h>
#define LOWP_TEST_HAVE_CPUID 1
#else
#define LOWP_TEST_HAVE_CPUID 0
#endif

namespace lowp_test {
namespace {

// Where CPUID reports an instruction set (Intel SDM vol. 2, CPUID, leaves 1 and 7), and
// which register state the OS must save for it (XCR0, Intel SDM vol. 1, section 13.3).
enum reg { eax, ebx, ecx, edx };
struct isa_bit {
  const char* name;
  unsigned leaf, subleaf;
  reg r;
  unsigned bit;
  unsigned xcr0;  // XCR0 bits that must be set: 0x6 SSE+AVX, 0xE6 + opmask and ZMM
};
constexpr unsigned ymm = 0x6u, zmm = 0xE6u;
constexpr isa_bit isa_bits[] = {
    {"fma", 1, 0, ecx, 12, ymm},        {"avx", 1, 0, ecx, 28, ymm},
    {"f16c", 1, 0, ecx, 29, ymm},       {"bmi", 7, 0, ebx, 3, 0},
    {"avx2", 7, 0, ebx, 5, ymm},        {"bmi2", 7, 0, ebx, 8, 0},
    {"avx512f", 7, 0, ebx, 16, zmm},    {"avx512dq", 7, 0, ebx, 17, zmm},
    {"avx512cd", 7, 0, ebx, 28, zmm},   {"avx512bw", 7, 0, ebx, 30, zmm},
    {"avx512vl", 7, 0, ebx, 31, zmm},   {"avx512vbmi", 7, 0, ecx, 1, zmm},
    {"avx512vbmi2", 7, 0, ecx, 6, zmm}, {"avx512vnni", 7, 0, ecx, 11, zmm},
    {"avx512bf16", 7, 1, eax, 5, zmm},  {"avx512fp16", 7, 0, edx, 23, zmm},
};

const isa_bit& find_isa(const std::string& name) {
  for (const isa_bit& b : isa_bits)
    if (name == b.name) return b;
  throw std::invalid_argument("lowp_test::missing_isa: unknown instruction set \"" + name + "\"");
}

bool cpu_has(const isa_bit& b) {
#if LOWP_TEST_HAVE_CPUID
  unsigned a = 0, bx = 0, c = 0, d = 0;
  if (static_cast<unsigned>(__get_cpuid_max(0, nullptr)) < b.leaf) return false;  // int in clang
  if (b.subleaf != 0) {
    __cpuid_count(b.leaf, 0, a, bx, c, d);
    if (a < b.subleaf) return false;  // EAX of subleaf 0: the highest subleaf
  }
  __cpuid_count(b.leaf, b.subleaf, a, bx, c, d);
  const unsigned regs[] = {a, bx, c, d};
  if (((regs[b.r] >> b.bit) & 1u) == 0) return false;
  if (b.xcr0 == 0) return true;
  __cpuid(1, a, bx, c, d);
  if (((c >> 27) & 1u) == 0) return false;  // OSXSAVE: XGETBV is not available
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0u));
  return (xcr0_lo & b.xcr0) == b.xcr0;
#else
  (void)b;
  return false;
#endif
}

}  // namespace

std::string missing_isa(const char* isa) {
  std::string missing;
  std::string name;
  for (const char* p = isa;; ++p) {
    if (*p == ',' || *p == ' ' || *p == ';' || *p == '\0') {
      if (!name.empty() && !cpu_has(find_isa(name))) missing += (missing.empty() ? "" : ",") + name;
      name.clear();
      if (*p == '\0') break;
    } else {
      name += *p;
    }
  }
  return missing;
}

}  // namespace lowp_test
