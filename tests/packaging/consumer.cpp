// Uses lowp through its CMake package: a value cast and back must hold.
#include <lowp/lowp.hpp>

int main() {
  const lowp::float8_e4m3fn x(3.0f);
  return static_cast<float>(x) == 3.0f && x.bits() == 0x44 ? 0 : 1;
}
