// Translation unit 1 of the ODR test: every public header, plus a use of it.  If any
// header defined a non-inline function or variable, linking with odr_other.cpp fails.
#include "lowp_all_headers.hpp"

float odr_other_value();

int main() {
  const float here = static_cast<float>(lowp::float8_e5m2(1.5f));
  return here == odr_other_value() ? 0 : 1;
}
