// Uses lowp::solvers: Eigen must come along through the package's dependency.
#include <Eigen/Dense>
#include <lowp/lowp.hpp>

int main() {
  Eigen::Matrix2f m = Eigen::Matrix2f::Identity() * 3.0f;
  return static_cast<float>(lowp::float8_e4m3fn(m(0, 0))) == 3.0f ? 0 : 1;
}
