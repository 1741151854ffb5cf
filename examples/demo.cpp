// The lowp demo: the table of every number format lowp implements, and a few values
// rounded into each.  Run it with `cmake --workflow --preset demo`.
#include <cstdio>
#include <iostream>

#include <lowp/lowp.hpp>

int main() {
  std::cout << "lowp " << LOWP_VERSION_MAJOR << '.' << LOWP_VERSION_MINOR << '.'
            << LOWP_VERSION_PATCH << " — number formats\n\n";
  lowp::print_format_table(std::cout);

  std::cout << "\nRounding pi, 1000 and 1e-3 (nearest-even, saturating):\n";
  for (const double x : {3.14159265358979, 1000.0, 1e-3}) {
    std::printf("  %-10g e4m3fn %-9g e5m2 %-9g e2m1 %-5g e8m0 %-9g bf16 %-9g int4 %d\n", x,
                static_cast<double>(lowp::float8_e4m3fn(x)),
                static_cast<double>(lowp::float8_e5m2(x)),
                static_cast<double>(lowp::float4_e2m1fn(x)),
                static_cast<double>(lowp::float8_e8m0fnu(x)),
                static_cast<double>(lowp::bfloat16(x)), lowp::int4(x).value());
  }
  return 0;
}
