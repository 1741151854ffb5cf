// lowp::solvers_compiled: the solvers compiled once (the compiled mode of
// detail/solvers_api.hpp).  The build defines LOWP_SOLVERS_COMPILED for this file and for
// every user of the library, and LOWP_SOLVERS_SOURCE for this file alone, so the headers
// below give their non-template function bodies here, as ordinary external functions.
#ifndef LOWP_SOLVERS_COMPILED
#error "src/solvers.cpp is lowp::solvers_compiled's source: build it with LOWP_SOLVERS_COMPILED"
#endif
#ifndef LOWP_SOLVERS_SOURCE
#define LOWP_SOLVERS_SOURCE
#endif

#include <lowp/gptq.hpp>
#include <lowp/hessian.hpp>
#include <lowp/lorc.hpp>

namespace lowp {

// gptq() for the common policies; the headers declare them `extern template`.
#define LOWP_GPTQ_INSTANTIATE(P)                                                                  \
  template gptq_result<P> gptq<P>(const float*, std::size_t, std::size_t, const Eigen::MatrixXf&, \
                                  P, const gptq_options&);
LOWP_GPTQ_COMPILED_POLICIES(LOWP_GPTQ_INSTANTIATE)
#undef LOWP_GPTQ_INSTANTIATE

}  // namespace lowp
