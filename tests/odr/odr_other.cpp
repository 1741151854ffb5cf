// Translation unit 2 of the ODR test.
#include "lowp_all_headers.hpp"

float odr_other_value() {
  return static_cast<float>(lowp::float8_e5m2(1.5f));
}
