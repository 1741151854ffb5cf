// Prints the format card of every lowp floating-point type: layout, range, special
// codes and, for the 4- and 6-bit formats, every code with its value.
#include <iostream>
#include <lowp/lowp.hpp>

int main() {
  lowp::print_format_card<lowp::float8_e4m3fn>(std::cout);
  lowp::print_format_card<lowp::float8_e5m2>(std::cout);
  lowp::print_format_card<lowp::float8_e4m3fnuz>(std::cout);
  lowp::print_format_card<lowp::float8_e5m2fnuz>(std::cout);
  lowp::print_format_card<lowp::float6_e2m3fn>(std::cout);
  lowp::print_format_card<lowp::float6_e3m2fn>(std::cout);
  lowp::print_format_card<lowp::float4_e2m1fn>(std::cout);
  lowp::print_format_card<lowp::float8_e8m0fnu>(std::cout);
  lowp::print_format_card<lowp::float16>(std::cout);
  lowp::print_format_card<lowp::bfloat16>(std::cout);
  return 0;
}
