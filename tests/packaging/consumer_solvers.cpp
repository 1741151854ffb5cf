// Uses lowp::solvers from an installed tree: Eigen must come along through the
// package's dependency, and the solver headers must be installed and compile.
#include <Eigen/Dense>
#include <lowp/gptq.hpp>
#include <lowp/lorc.hpp>
#include <lowp/lowp.hpp>

int main() {
  lowp::hessian_accumulator h(4);
  Eigen::MatrixXf x = Eigen::MatrixXf::Identity(4, 4) * 3.0f;
  h.add_batch(x);
  return h.tokens() == 4 && static_cast<float>(lowp::float8_e4m3fn(x(0, 0))) == 3.0f ? 0 : 1;
}
