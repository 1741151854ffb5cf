// tests/test_gptq.cpp — the GPTQ solver (lowp/gptq.hpp) against independent references.
//
// References written here, not taken from the code under test:
// - H in double straight from its definition;
// - an unblocked GPTQ in double in its original OBS form (paper arXiv 2210.17323 eq. (3):
//   after quantizing column j, H⁻¹ ← H⁻¹ - H⁻¹[:, j] H⁻¹[j, :] / H⁻¹_jj, Gaussian
//   elimination of an explicit inverse), which shares no code with the Cholesky form;
// - the identity Σ losses = ½ Σ_rows (w - ŵ)(H + λI)(w - ŵ)ᵀ (what the OBS updates
//   minimize, exactly, for the sequential algorithm);
// - round-to-nearest with the same policy (lowp::quantize) for the quality comparison.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "lowp_test.hpp"
#include "test_gptq_data.hpp"

using namespace gptq_test;

namespace {

template <class Policy>
struct reference_result {
  Md What;
  std::vector<typename Policy::format::storage_type> codes;
  double loss = 0;
};

// Unblocked GPTQ in double, OBS form.  Groups fitted when they start, on the current
// (updated) weights, the way lowp documents it.
template <class Policy>
reference_result<Policy> reference_gptq(const Mf& W0, Eigen::MatrixXd H, Policy pol, std::size_t g,
                                        double percdamp) {
  const Eigen::Index rows = W0.rows(), n = W0.cols();
  Mf Wf = W0;
  for (Eigen::Index i = 0; i < n; ++i) {
    if (H(i, i) == 0.0) {
      H(i, i) = 1.0;
      Wf.col(i).setZero();
    }
  }
  pol.prepare(Wf.data(), static_cast<std::size_t>(rows), static_cast<std::size_t>(n), g);
  const double lambda = percdamp * H.diagonal().mean();
  H.diagonal().array() += lambda;
  Eigen::MatrixXd Hinv = H.ldlt().solve(Eigen::MatrixXd::Identity(n, n));
  // Row j of the eliminated inverse when column j is quantized.
  Eigen::MatrixXd rowsj(n, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    rowsj.row(j) = Hinv.row(j);
    const Eigen::VectorXd cj = Hinv.col(j);
    const Eigen::RowVectorXd rj = Hinv.row(j);
    Hinv -= cj * rj / Hinv(j, j);
  }
  reference_result<Policy> out;
  out.What.resize(rows, n);
  out.codes.resize(static_cast<std::size_t>(rows * n));
  typename Policy::params p{};
  for (Eigen::Index r = 0; r < rows; ++r) {
    Eigen::RowVectorXd w = Wf.row(r).cast<double>();
    for (Eigen::Index j = 0; j < n; ++j) {
      if (static_cast<std::size_t>(j) % g == 0) {
        const Eigen::Index len = std::min<Eigen::Index>(static_cast<Eigen::Index>(g), n - j);
        std::vector<float> grp(static_cast<std::size_t>(len));
        for (Eigen::Index k = 0; k < len; ++k)
          grp[static_cast<std::size_t>(k)] = static_cast<float>(w(j + k));
        p = pol.fit(grp.data(), grp.size(), 1, static_cast<std::size_t>(r));
      }
      const auto code = pol.encode(static_cast<float>(w(j)), p);
      const double q = pol.decode(code, p);
      out.codes[static_cast<std::size_t>(r * n + j)] = code;
      out.What(r, j) = q;
      const double d = rowsj(j, j);
      out.loss += (w(j) - q) * (w(j) - q) / d / 2.0;
      const double err = (w(j) - q) / d;
      for (Eigen::Index k = j + 1; k < n; ++k) w(k) -= err * rowsj(j, k);
    }
  }
  return out;
}

// ½ Σ_rows (w - ŵ)(H + λI)(w - ŵ)ᵀ with dead columns of W zeroed, in double.
double quadratic_loss(Mf W, const Mf& What, Eigen::MatrixXd H, double lambda) {
  for (Eigen::Index i = 0; i < H.rows(); ++i) {
    if (H(i, i) == 0.0) {
      H(i, i) = 1.0;
      W.col(i).setZero();
    }
  }
  H.diagonal().array() += lambda;
  const Md D = W.cast<double>() - What.cast<double>();
  return 0.5 * (D * H * D.transpose()).trace();
}

template <class Policy>
std::size_t count_equal_codes(const lowp::quantized_tensor<Policy>& a,
                              const lowp::quantized_tensor<Policy>& b) {
  std::size_t same = 0;
  for (std::size_t r = 0; r < a.rows(); ++r)
    for (std::size_t c = 0; c < a.cols(); ++c) same += a.code(r, c) == b.code(r, c);
  return same;
}

Mf to_matrix(const std::vector<float>& v, std::size_t rows, std::size_t cols) {
  return Eigen::Map<const Mf>(v.data(), static_cast<Eigen::Index>(rows),
                              static_cast<Eigen::Index>(cols));
}

// H of calibration activations X, through the accumulator in one batch.
Eigen::MatrixXf hessian_of(const Mf& X) {
  lowp::hessian_accumulator acc(static_cast<std::size_t>(X.cols()));
  acc.add_batch(X);
  return acc.hessian();
}

using int4_sym = lowp::absmax<lowp::int4>;

// gptq_options::groups for groups of g columns; g = 0: one group per row.
lowp::granularity groups_of(std::size_t g) {
  return g == 0 ? lowp::granularity::per_channel() : lowp::granularity::per_group(g);
}

// gptq() with `opt` against the unblocked double reference: the same codes up to one
// row (float vs double arithmetic may flip a code sitting within rounding noise of a
// decision boundary, and then the rest of that row differs), the same loss, and the
// loss identity for both.
void check_against_reference(const Mf& W, const Eigen::MatrixXf& H, const lowp::gptq_options& opt) {
  const auto rows = static_cast<std::size_t>(W.rows()), cols = static_cast<std::size_t>(W.cols());
  const std::size_t g = opt.groups.type() == lowp::granularity::kind::per_group
                            ? opt.groups.requested_group_size()
                            : cols;
  const auto res = lowp::gptq(W, H, int4_sym{}, opt);
  const auto ref = reference_gptq(W, H.cast<double>(), int4_sym{}, g, opt.percdamp);
  std::size_t same = 0;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c)
      same += res.quantized.code(r, c) == ref.codes[r * cols + c];
  CAPTURE(same, res.total_loss, ref.loss);
  CHECK(same >= rows * cols - cols);
  CHECK(res.total_loss == Approx(ref.loss).epsilon(2e-3));
  CHECK(res.total_loss ==
        Approx(quadratic_loss(W, res.dequantized, H.cast<double>(), res.damping)).epsilon(1e-3));
  CHECK(ref.loss == Approx(quadratic_loss(W, ref.What.cast<float>(), H.cast<double>(), res.damping))
                        .epsilon(1e-9));
}
using fp4_absmax = lowp::absmax<lowp::float4_e2m1fn>;

}  // namespace

TEST_CASE("hessian_accumulator matches the double definition for any batching", "[gptq][hessian]") {
  const Mf X = calibration(700, 96, 3, 11);
  const Eigen::MatrixXd ref = hessian_reference(X);
  const double scale = ref.cwiseAbs().maxCoeff();

  lowp::hessian_accumulator acc(96);
  const Eigen::Index cuts[] = {0, 1, 38, 300, 301, 700};
  for (std::size_t b = 0; b + 1 < std::size(cuts); ++b) {
    acc.add_batch(X.middleRows(cuts[b], cuts[b + 1] - cuts[b]));
  }
  REQUIRE(acc.tokens() == 700u);
  const double err = (acc.hessian_double() - ref).cwiseAbs().maxCoeff();
  CAPTURE(err, scale);
  // Float dot products of <= 399 terms: relative error well under 1e-5 of max|H|.
  CHECK(err <= 1e-5 * scale);
  // Exactly symmetric.
  CHECK((acc.hessian_double() - acc.hessian_double().transpose()).cwiseAbs().maxCoeff() == 0.0);

  lowp::hessian_accumulator one(96);
  one.add_batch(X);
  CHECK((one.hessian_double() - ref).cwiseAbs().maxCoeff() <= 1e-5 * scale);

  SECTION("bad input") {
    Mf bad = X.topRows(4);
    bad(2, 5) = std::numeric_limits<float>::quiet_NaN();
    REQUIRE_THROWS_AS(acc.add_batch(bad), std::domain_error);
    bad(2, 5) = std::numeric_limits<float>::infinity();
    REQUIRE_THROWS_AS(acc.add_batch(bad), std::domain_error);
    CHECK(acc.tokens() == 700u);  // unchanged
    REQUIRE_THROWS_AS(acc.add_batch(X.leftCols(95)), std::invalid_argument);
    REQUIRE_THROWS_AS(acc.add_batch(X.data(), 0, 96), std::invalid_argument);
    REQUIRE_THROWS_AS(lowp::hessian_accumulator(0), std::invalid_argument);
    lowp::hessian_accumulator empty(4);
    REQUIRE_THROWS_AS(empty.hessian(), std::logic_error);
    REQUIRE_THROWS_AS(empty.hessian_double(), std::logic_error);
    // A non-finite value anywhere, also past the first 4096 values and as the very last.
    Mf many = X.topRows(60);  // 5760 values
    for (const float v :
         {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
          -std::numeric_limits<float>::infinity()}) {
      for (const Eigen::Index at :
           {Eigen::Index{0}, Eigen::Index{4095}, Eigen::Index{4096}, many.size() - 1}) {
        CAPTURE(v, at);
        Mf m = many;
        m.data()[at] = v;
        REQUIRE_THROWS_AS(acc.add_batch(m), std::domain_error);
      }
    }
    CHECK(acc.tokens() == 700u);
  }

  SECTION("reset forgets every batch") {
    acc.reset();
    CHECK(acc.tokens() == 0u);
    REQUIRE_THROWS_AS(acc.hessian(), std::logic_error);
    acc.add_batch(X);
    CHECK((acc.hessian_double() - one.hessian_double()).cwiseAbs().maxCoeff() == 0.0);
  }
}

TEST_CASE("hessian_accumulator on more than 256 features (the blocked symmetric product)",
          "[gptq][hessian]") {
  // 600 features: two column panels of the Gram matrix (512 and 88 wide).
  const Mf X = calibration(300, 600, 5, 13);
  const Eigen::MatrixXd ref = hessian_reference(X);
  const double scale = ref.cwiseAbs().maxCoeff();
  lowp::hessian_accumulator acc(600);
  acc.add_batch(X.topRows(120));
  acc.add_batch(X.bottomRows(180));
  CHECK((acc.hessian_double() - ref).cwiseAbs().maxCoeff() <= 1e-5 * scale);
  CHECK((acc.hessian_double() - acc.hessian_double().transpose()).cwiseAbs().maxCoeff() == 0.0);
}

TEST_CASE("GPTQ agrees with an unblocked double OBS-form reference", "[gptq]") {
  const std::size_t rows = 24, cols = 64;
  const Mf W = student_t_weights(rows, cols, 3);
  const Eigen::MatrixXf H = hessian_of(calibration(256, cols, 2, 4));
  for (const std::size_t g : {std::size_t{0}, std::size_t{16}}) {
    CAPTURE(g);
    lowp::gptq_options opt;
    opt.groups = groups_of(g);
    opt.block_size = 16;
    check_against_reference(W, H, opt);
  }
}

TEST_CASE(
    "GPTQ on 600 columns agrees with the reference (blocked factorization, groups across blocks)",
    "[gptq]") {
  // Over 256 columns the Cholesky is the recursive, threaded one; group 128 = block 128
  // fits groups from one GEMM per block, group 48 with block 128 has groups straddling
  // block ends.
  const std::size_t rows = 12, cols = 600;
  const Mf W = student_t_weights(rows, cols, 8);
  const Eigen::MatrixXf H = hessian_of(calibration(900, cols, 4, 9));
  // {group, block}: group = block; groups straddling blocks; groups longer than a block;
  // per channel with blocks shorter than the row.
  const std::pair<std::size_t, std::size_t> configs[] = {{128, 128}, {48, 128}, {128, 48}, {0, 96}};
  for (const auto& [g, b] : configs) {
    CAPTURE(g, b);
    lowp::gptq_options opt;
    opt.groups = groups_of(g);
    opt.block_size = b;
    check_against_reference(W, H, opt);
  }
}

TEST_CASE("GPTQ's recursive Cholesky equals Eigen's LLT", "[gptq]") {
  // n = 1100: two levels of recursion, trailing updates over more than one 512 panel,
  // triangular solves in several 64-row chunks.
  const Eigen::Index n = 1100;
  std::mt19937 gen(17);
  std::normal_distribution<double> nd;
  Md G(n, n + 40);
  for (Eigen::Index i = 0; i < G.size(); ++i) G.data()[i] = nd(gen);
  const Md A = G * G.transpose() / double(n);
  Md L = A;
  REQUIRE(lowp::detail::cholesky_lower_inplace<Md>(L));
  const Md ref = A.llt().matrixL();
  const Md got = L.triangularView<Eigen::Lower>();
  CHECK((got - ref).cwiseAbs().maxCoeff() <= 1e-10 * ref.cwiseAbs().maxCoeff());

  Md bad = -A;  // negative definite: the first diagonal block fails
  CHECK_FALSE(lowp::detail::cholesky_lower_inplace<Md>(bad));
  Md late = A;  // indefinite only in the last diagonal block
  late(n - 1, n - 1) = -1.0;
  CHECK_FALSE(lowp::detail::cholesky_lower_inplace<Md>(late));
}

TEST_CASE("GPTQ act_order with static groups on 600 columns", "[gptq]") {
  const std::size_t rows = 12, cols = 600;
  const Mf W = student_t_weights(rows, cols, 18);
  const Eigen::MatrixXf H = hessian_of(calibration(900, cols, 4, 19));
  lowp::gptq_options opt;
  opt.groups = groups_of(128);
  opt.act_order = true;
  opt.static_groups = true;
  const auto res = lowp::gptq(W, H, int4_sym{}, opt);
  CHECK(to_matrix(res.quantized.dequantize(), rows, cols) == res.dequantized);
  CHECK(res.total_loss ==
        Approx(quadratic_loss(W, res.dequantized, H.cast<double>(), res.damping)).epsilon(1e-3));
  // Better than round-to-nearest with the same (static) groups, by the GPTQ objective.
  Mf rtn(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  lowp::fake_quantize(int4_sym{}, W.data(), rtn.data(), rows, cols,
                      lowp::granularity::per_group(128));
  CHECK(res.total_loss < quadratic_loss(W, rtn, H.cast<double>(), res.damping));
}

TEST_CASE("GPTQ block size does not change the result", "[gptq]") {
  const std::size_t rows = 32, cols = 192;
  const Mf W = student_t_weights(rows, cols, 5);
  const Eigen::MatrixXf H = hessian_of(calibration(512, cols, 3, 6));

  for (const std::size_t g : {std::size_t{0}, std::size_t{32}, std::size_t{128}, std::size_t{48}}) {
    lowp::gptq_options o1;
    o1.groups = groups_of(g);
    o1.block_size = 1;
    const auto a = lowp::gptq(W, H, int4_sym{}, o1);
    for (const std::size_t b :
         {std::size_t{7}, std::size_t{32}, std::size_t{128}, std::size_t{1000}}) {
      CAPTURE(g, b);
      lowp::gptq_options ob = o1;
      ob.block_size = b;
      const auto c = lowp::gptq(W, H, int4_sym{}, ob);
      CHECK(count_equal_codes(a.quantized, c.quantized) == rows * cols);
      CHECK(c.total_loss == Approx(a.total_loss).epsilon(1e-4));
      for (std::size_t j = 0; j < cols; ++j) {
        CHECK(c.column_losses[j] ==
              Approx(a.column_losses[j]).epsilon(1e-3).margin(1e-9 * a.total_loss));
      }
    }
  }
}

TEST_CASE("GPTQ results are consistent and in the original column order", "[gptq]") {
  const std::size_t rows = 16, cols = 96;
  const Mf W = student_t_weights(rows, cols, 7);
  const Eigen::MatrixXf H = hessian_of(calibration(384, cols, 2, 8));

  SECTION("dequantized == quantized.dequantize(), losses add up") {
    lowp::gptq_options opt;
    opt.groups = groups_of(32);
    const auto res = lowp::gptq(W, H, fp4_absmax{}, opt);
    CHECK(to_matrix(res.quantized.dequantize(), rows, cols) == res.dequantized);
    CHECK(res.quantized.groups_per_row() == 3u);
    CHECK(std::accumulate(res.column_losses.begin(), res.column_losses.end(), 0.0) ==
          res.total_loss);
    CHECK(res.total_loss ==
          Approx(quadratic_loss(W, res.dequantized, H.cast<double>(), res.damping)).epsilon(1e-3));
    CHECK(res.damping == Approx(0.01 * H.diagonal().cast<double>().mean()).epsilon(1e-12));
  }

  SECTION("act_order on permuted inputs gives the permuted result") {
    // Processing order depends only on diag H, so quantizing (W P, Pᵀ H P) with act_order
    // must give the codes of (W, H) with their columns permuted.
    std::vector<Eigen::Index> p(cols);
    std::iota(p.begin(), p.end(), Eigen::Index{0});
    std::mt19937 gen(99);
    std::shuffle(p.begin(), p.end(), gen);
    Mf Wp(W.rows(), W.cols());
    Eigen::MatrixXf Hp(H.rows(), H.cols());
    for (std::size_t j = 0; j < cols; ++j) {
      Wp.col(static_cast<Eigen::Index>(j)) = W.col(p[j]);
      for (std::size_t i = 0; i < cols; ++i)
        Hp(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = H(p[i], p[j]);
    }
    lowp::gptq_options opt;
    opt.act_order = true;
    opt.block_size = 32;
    const auto a = lowp::gptq(W, H, int4_sym{}, opt);
    const auto b = lowp::gptq(Wp, Hp, int4_sym{}, opt);
    std::size_t same = 0;
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t j = 0; j < cols; ++j)
        same += b.quantized.code(r, j) == a.quantized.code(r, static_cast<std::size_t>(p[j]));
    CHECK(same == rows * cols);
    CHECK(b.total_loss == Approx(a.total_loss).epsilon(1e-4));
    for (std::size_t j = 0; j < cols; ++j)
      CHECK(b.column_losses[j] ==
            Approx(a.column_losses[static_cast<std::size_t>(p[j])]).epsilon(1e-3).margin(1e-12));
    // And it is a valid GPTQ result in the original order.
    CHECK(a.total_loss ==
          Approx(quadratic_loss(W, a.dequantized, H.cast<double>(), a.damping)).epsilon(1e-3));
  }

  SECTION("act_order + static groups with a diagonal H is round-to-nearest in place") {
    // Diagonal H: no error propagates, so every weight is rounded alone with the static
    // group's params; any permutation mix-up shows as a mismatch.
    Eigen::MatrixXf D = Eigen::MatrixXf::Zero(cols, cols);
    for (std::size_t i = 0; i < cols; ++i)
      D(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(i)) =
          1.0f + static_cast<float>((i * 37) % cols);
    lowp::gptq_options opt;
    opt.act_order = true;
    opt.static_groups = true;
    opt.groups = groups_of(32);
    const auto res = lowp::gptq(W, D, int4_sym{}, opt);
    const auto rtn =
        lowp::quantize(int4_sym{}, W.data(), rows, cols, lowp::granularity::per_group(32));
    CHECK(count_equal_codes(res.quantized, rtn) == rows * cols);
    for (std::size_t i = 0; i < res.quantized.params().size(); ++i) {
      CHECK(res.quantized.params()[i].scale == rtn.params()[i].scale);
    }
  }
}

TEST_CASE("GPTQ act_order with dynamic groups matches the unblocked reference in act order",
          "[gptq]") {
  // AutoGPTQ's desc_act without static groups: the columns are quantized by descending
  // diag H and the groups are runs of g columns of that order.  The reference: the order
  // computed here (a stable sort), the unblocked OBS-form GPTQ run on W and H permuted by
  // it with groups of consecutive permuted columns, its codes mapped back.
  const std::size_t rows = 16, cols = 96;
  const Mf W = student_t_weights(rows, cols, 27);
  const Eigen::MatrixXf H = hessian_of(calibration(384, cols, 2, 28));
  std::vector<Eigen::Index> order(cols);
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](Eigen::Index a, Eigen::Index b) { return H(a, a) > H(b, b); });
  Mf Wp(W.rows(), W.cols());
  Eigen::MatrixXf Hp(H.rows(), H.cols());
  for (std::size_t j = 0; j < cols; ++j) {
    Wp.col(static_cast<Eigen::Index>(j)) = W.col(order[j]);
    for (std::size_t i = 0; i < cols; ++i)
      Hp(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = H(order[i], order[j]);
  }
  for (const std::size_t g : {std::size_t{32}, std::size_t{40}}) {  // 40: a short last group
    for (const std::size_t block : {std::size_t{128}, std::size_t{24}}) {
      CAPTURE(g, block);
      lowp::gptq_options opt;
      opt.act_order = true;
      opt.groups = groups_of(g);
      opt.block_size = block;
      const auto res = lowp::gptq(W, H, int4_sym{}, opt);
      const auto ref = reference_gptq(Wp, Hp.cast<double>(), int4_sym{}, g, opt.percdamp);
      std::size_t same = 0;
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t j = 0; j < cols; ++j)
          same +=
              res.quantized.code(r, static_cast<std::size_t>(order[j])) == ref.codes[r * cols + j];
      CAPTURE(same, res.total_loss, ref.loss);
      CHECK(same >= rows * cols - cols);
      CHECK(res.total_loss == Approx(ref.loss).epsilon(2e-3));
      // The group index names each column's group in the order, and dequantize() and
      // value() follow it: the same Ŵ as the solver's own.
      REQUIRE(res.quantized.group_index().size() == cols);
      for (std::size_t j = 0; j < cols; ++j)
        CHECK(res.quantized.group_index()[static_cast<std::size_t>(order[j])] == j / g);
      CHECK(to_matrix(res.quantized.dequantize(), rows, cols) == res.dequantized);
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c)
          CHECK(res.quantized.value(r, c) ==
                res.dequantized(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)));
      CHECK(
          res.total_loss ==
          Approx(quadratic_loss(W, res.dequantized, H.cast<double>(), res.damping)).epsilon(1e-3));
    }
  }
  SECTION("static groups and per-channel params keep consecutive groups") {
    lowp::gptq_options opt;
    opt.act_order = true;
    opt.groups = groups_of(32);
    opt.static_groups = true;
    CHECK(lowp::gptq(W, H, int4_sym{}, opt).quantized.group_index().empty());
    opt.static_groups = false;
    opt.groups = groups_of(0);
    CHECK(lowp::gptq(W, H, int4_sym{}, opt).quantized.group_index().empty());
  }
}

TEST_CASE("GPTQ dead columns, singular and indefinite H", "[gptq]") {
  const std::size_t rows = 8, cols = 40;
  const Mf W = student_t_weights(rows, cols, 9);

  SECTION("dead columns are zeroed and quantized to zero") {
    Mf X = calibration(200, cols, 1, 10);
    X.col(3).setZero();
    X.col(17).setZero();
    lowp::hessian_accumulator acc(cols);
    acc.add_batch(X);
    const auto res = lowp::gptq(W, acc.hessian(), int4_sym{});
    REQUIRE(res.dead_columns == std::vector<std::size_t>{3, 17});
    REQUIRE(res.warnings.size() == 1);
    CHECK_THAT(res.warnings[0], Catch::Contains("2 of 40 columns have H_ii = 0"));
    for (std::size_t r = 0; r < rows; ++r) {
      CHECK(res.dequantized(static_cast<Eigen::Index>(r), 3) == 0.0f);
      CHECK(res.dequantized(static_cast<Eigen::Index>(r), 17) == 0.0f);
    }
    CHECK(res.column_losses[3] == 0.0);
    CHECK(res.total_loss ==
          Approx(quadratic_loss(W, res.dequantized, acc.hessian().cast<double>(), res.damping))
              .epsilon(1e-3));
  }

  SECTION("exactly singular H (duplicated feature, fewer tokens than features)") {
    Mf X = calibration(24, cols, 0, 12);
    X.col(5) = X.col(2);
    lowp::hessian_accumulator acc(cols);
    acc.add_batch(X);
    const Eigen::MatrixXf H = acc.hessian();
    const auto res = lowp::gptq(W, H, int4_sym{});
    CHECK(res.damping_retries == 0);
    CHECK(res.warnings.empty());
    CHECK(res.dequantized.allFinite());
    CHECK(res.total_loss ==
          Approx(quadratic_loss(W, res.dequantized, H.cast<double>(), res.damping)).epsilon(1e-3));
  }

  SECTION("no damping on a singular H: one retry with fraction 1e-3") {
    Eigen::MatrixXf H = Eigen::MatrixXf::Ones(2, 2);  // rank 1: Cholesky meets a zero pivot
    const Mf W2 = W.leftCols(2);
    lowp::gptq_options opt;
    opt.percdamp = 0.0;
    const auto res = lowp::gptq(W2, H, int4_sym{}, opt);
    CHECK(res.damping_retries == 1);
    CHECK(res.damping == Approx(1e-3));
    REQUIRE(res.warnings.size() == 1);
    CHECK_THAT(res.warnings[0], Catch::Contains("damping raised 1 time(s)"));
  }

  SECTION("all-zero calibration activations: an all-zero W_hat, and a warning that says so") {
    lowp::hessian_accumulator acc(cols);
    acc.add_batch(Mf::Zero(64, cols));
    const auto res = lowp::gptq(W, acc.hessian(), int4_sym{});
    CHECK(res.dead_columns.size() == cols);
    CHECK(res.dequantized.isZero(0.0f));
    REQUIRE(res.warnings.size() == 1);
    CHECK_THAT(res.warnings[0], Catch::Contains("every column of H is zero"));
  }

  SECTION("indefinite H: retries with 10x damping, then a clear error") {
    Eigen::MatrixXf H = Eigen::MatrixXf::Identity(4, 4);
    H(1, 1) = -0.5f;  // mean diag 0.625; needs λ > 0.5, i.e. fraction 1 (two retries)
    const Mf W4 = W.leftCols(4);
    const auto res = lowp::gptq(W4, H, int4_sym{});
    CHECK(res.damping_retries == 2);
    CHECK(res.damping == Approx(0.625));
    lowp::gptq_options opt;
    opt.max_damping_retries = 1;
    REQUIRE_THROWS_AS(lowp::gptq(W4, H, int4_sym{}, opt), std::domain_error);
  }
}

TEST_CASE("GPTQ rejects bad input with clear errors", "[gptq]") {
  const std::size_t rows = 4, cols = 16;
  Mf W = student_t_weights(rows, cols, 13);
  const Eigen::MatrixXf H = Eigen::MatrixXf::Identity(cols, cols);
  REQUIRE_THROWS_AS(lowp::gptq(W, Eigen::MatrixXf::Identity(15, 15), int4_sym{}),
                    std::invalid_argument);
  REQUIRE_THROWS_AS(lowp::gptq(W, Eigen::MatrixXf::Identity(16, 15), int4_sym{}),
                    std::invalid_argument);
  REQUIRE_THROWS_AS(lowp::gptq(W.data(), 0, cols, H, int4_sym{}), std::invalid_argument);
  lowp::gptq_options opt;
  opt.block_size = 0;
  REQUIRE_THROWS_AS(lowp::gptq(W, H, int4_sym{}, opt), std::invalid_argument);
  opt = {};
  opt.percdamp = -1;
  REQUIRE_THROWS_AS(lowp::gptq(W, H, int4_sym{}, opt), std::invalid_argument);
  Eigen::MatrixXf Hn = H;
  Hn(3, 4) = std::numeric_limits<float>::quiet_NaN();
  REQUIRE_THROWS_AS(lowp::gptq(W, Hn, int4_sym{}), std::domain_error);
  REQUIRE_THROWS_AS(lowp::gptq(W, Eigen::MatrixXf::Zero(cols, cols) - H, int4_sym{}),
                    std::domain_error);
  W(1, 2) = std::numeric_limits<float>::quiet_NaN();
  REQUIRE_THROWS_WITH(lowp::gptq(W, H, int4_sym{}),
                      Catch::StartsWith("lowp::gptq: W contains NaN or Inf") &&
                          Catch::Contains("(NaN at row 1, column 2)"));
  W(1, 2) = -std::numeric_limits<float>::infinity();
  REQUIRE_THROWS_AS(lowp::gptq(W, H, int4_sym{}), std::domain_error);
}

namespace {

template <class Policy>
void check_beats_rtn(const char* name, Policy pol, const Mf& W, const Mf& X,
                     const Eigen::MatrixXf& H, std::size_t g, double max_ratio) {
  const auto rows = static_cast<std::size_t>(W.rows()), cols = static_cast<std::size_t>(W.cols());
  lowp::gptq_options opt;
  opt.groups = groups_of(g);
  const auto res = lowp::gptq(W, H, pol, opt);
  const auto rtn =
      lowp::quantize(pol, W.data(), rows, cols,
                     g == 0 ? lowp::granularity::per_channel() : lowp::granularity::per_group(g));
  const double e_gptq = output_rel_error(W, res.dequantized, X);
  const double e_rtn = output_rel_error(W, to_matrix(rtn.dequantize(), rows, cols), X);
  std::printf("  %-28s g=%-4zu rel. output error  RTN %.3e  GPTQ %.3e  ratio %.3f\n", name, g,
              e_rtn, e_gptq, e_gptq / e_rtn);
  CAPTURE(name, g, e_rtn, e_gptq);
  CHECK(e_gptq < max_ratio * e_rtn);
  CHECK(to_matrix(res.quantized.dequantize(), rows, cols) == res.dequantized);
  CHECK(res.total_loss ==
        Approx(quadratic_loss(W, res.dequantized, H.cast<double>(), res.damping)).epsilon(2e-3));
}

}  // namespace

TEST_CASE("4-bit GPTQ beats round-to-nearest on outlier calibration data", "[gptq][quality]") {
  // 128 x 256 layer, 1024 tokens of correlated activations with 4 outlier channels.
  const Mf W = student_t_weights(128, 256, 21);
  const Mf X = calibration(1024, 256, 4, 22);
  lowp::hessian_accumulator acc(256);
  acc.add_batch(X);
  const Eigen::MatrixXf H = acc.hessian();
  std::printf("GPTQ vs RTN, 128x256 layer, 1024 tokens, 4 outlier channels:\n");
  // The bar: strictly lower error than RTN; measured ratios are in
  // docs/gptq.md.
  check_beats_rtn("INT4 absmax", lowp::absmax<lowp::int4>{}, W, X, H, 128, 1.0);
  check_beats_rtn("FP4 E2M1 absmax", lowp::absmax<lowp::float4_e2m1fn>{}, W, X, H, 128, 1.0);
  check_beats_rtn("INT4 asym minmax", lowp::minmax<lowp::uint4>{}, W, X, H, 128, 1.0);
  check_beats_rtn("INT4 absmax per-channel", lowp::absmax<lowp::int4>{}, W, X, H, 0, 1.0);
  check_beats_rtn("FP4 M1 pow2", lowp::pow2<lowp::float4_e2m1fn>{}, W, X, H, 128, 1.0);
  check_beats_rtn("FP4 M2 pow2_relative", lowp::pow2_relative<lowp::float4_e2m1fn>{}, W, X, H, 32,
                  1.0);
  check_beats_rtn("MXFP4", lowp::mx<lowp::float4_e2m1fn>{}, W, X, H, 32, 1.0);
  check_beats_rtn("INT8 absmax", lowp::absmax<lowp::int8>{}, W, X, H, 0, 1.0);
  check_beats_rtn("FP8 E4M3 absmax", lowp::absmax<lowp::float8_e4m3fn>{}, W, X, H, 0, 1.0);
}

TEST_CASE("GPTQ and the Hessian name the non-finite element they reject", "[gptq][hessian]") {
  const std::size_t rows = 4, cols = 16;
  const Mf W = student_t_weights(rows, cols, 13);
  Eigen::MatrixXf H = Eigen::MatrixXf::Identity(cols, cols);
  H(3, 4) = -std::numeric_limits<float>::infinity();  // column-major: found as row 3, column 4
  CHECK_THROWS_WITH(lowp::gptq(W, H, int4_sym{}),
                    "lowp::gptq: H contains NaN or Inf (-Inf at row 3, column 4)");
  Mf Wt = W;
  Wt(3, 15) = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH(lowp::gptq(Wt, Eigen::MatrixXf::Identity(cols, cols), int4_sym{}),
                    "lowp::gptq: W contains NaN or Inf (+Inf at row 3, column 15)");

  lowp::hessian_accumulator acc(cols);
  Mf X = student_t_weights(5, cols, 14);
  X(4, 7) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH(acc.add_batch(X),
                    "lowp::hessian_accumulator::add_batch: X contains NaN or Inf (NaN at row 4, "
                    "column 7)");
  CHECK(acc.tokens() == 0u);
}

TEST_CASE("GPTQ groups follow quantize()'s rule", "[gptq][contract]") {
  const std::size_t rows = 4, cols = 64;
  const Mf W = student_t_weights(rows, cols, 31);
  const Eigen::MatrixXf H = hessian_of(calibration(256, cols, 2, 32));
  lowp::gptq_options opt;
  // A group longer than the row used to mean "per channel" without a word.
  opt.groups = lowp::granularity::per_group(1000);
  CHECK_THROWS_WITH(lowp::gptq(W, H, int4_sym{}, opt),
                    Catch::StartsWith("lowp::gptq") && Catch::Contains("larger than the row"));
  opt.groups = lowp::granularity::per_group(0);
  CHECK_THROWS_WITH(lowp::gptq(W, H, int4_sym{}, opt), Catch::Contains("group size 0"));
  opt.groups = lowp::granularity::per_tensor();
  CHECK_THROWS_AS(lowp::gptq(W, H, int4_sym{}, opt), std::invalid_argument);
  opt.groups = lowp::granularity::per_block();  // absmax has no block
  CHECK_THROWS_WITH(lowp::gptq(W, H, int4_sym{}, opt), Catch::Contains("block policy"));

  // per_channel and per_group(cols) are the same groups; per_block is the policy's block.
  opt.groups = lowp::granularity::per_channel();
  const auto channel = lowp::gptq(W, H, int4_sym{}, opt);
  opt.groups = lowp::granularity::per_group(cols);
  const auto whole_row = lowp::gptq(W, H, int4_sym{}, opt);
  CHECK(channel.dequantized == whole_row.dequantized);
  opt.groups = lowp::granularity::per_block();
  const auto mx = lowp::gptq(W, H, lowp::mx<lowp::float4_e2m1fn>{}, opt);
  CHECK(mx.quantized.group_size() == 32);
  CHECK(mx.quantized.params().size() == rows * cols / 32);
}

TEST_CASE("GPTQ with M1 on weights near FLT_MAX stays finite", "[gptq][contract]") {
  // ceil(log2(amax / 6)) = 126 at amax ~ 3e38 made the code 4 dequantize to 2^128 = Inf,
  // and gptq() threw "non-finite" on finite W.  The scale is capped at 2^125 now.
  const std::size_t rows = 2, cols = 32;
  Mf W = student_t_weights(rows, cols, 33);
  W.row(0) /= W.row(0).cwiseAbs().maxCoeff();
  W.row(0) *= 3.0e38f;
  REQUIRE(W.allFinite());
  const Eigen::MatrixXf H = Eigen::MatrixXf::Identity(cols, cols);
  const auto res = lowp::gptq(W, H, lowp::m1<lowp::float4_e2m1fn>{});
  CHECK(res.dequantized.allFinite());
  CHECK(res.quantized.group_params(0, 0).scale == std::ldexp(1.0f, 125));
}

TEST_CASE("hessian_accumulator rejects a batch whose X^T X overflows, and keeps H",
          "[gptq][hessian][contract]") {
  const std::size_t cols = 8;
  lowp::hessian_accumulator acc(cols);
  const Mf X = student_t_weights(16, cols, 34);
  acc.add_batch(X);
  const Eigen::MatrixXd before = acc.hessian_double();
  const Mf huge = X / X.cwiseAbs().maxCoeff() * 1e20f;  // finite, but 1e20^2 > FLT_MAX
  REQUIRE(huge.allFinite());
  CHECK_THROWS_WITH(acc.add_batch(huge),
                    Catch::StartsWith("lowp::hessian_accumulator::add_batch: X^T X overflows"));
  CHECK(acc.tokens() == 16u);
  CHECK(acc.hessian_double() == before);  // bit for bit
  CHECK(acc.hessian().allFinite());
  acc.add_batch(X);  // and it still works
  CHECK(acc.tokens() == 32u);
  CHECK(acc.hessian_double().isApprox(before, 1e-12));
}

// ---------------------------------------------------------------------------------------
// The column loop's batches: tiles of rows, one quantize_batch() per column of a tile.
// ---------------------------------------------------------------------------------------

namespace {

/// A group quantizer with the concept's members only, forwarding to P: no
/// quantize_batch(), so gptq() quantizes its batches with encode() and decode() element by
/// element (lowp::quantize_batch's generic path), which is what the policies' own batch
/// members must equal.
template <class P>
struct per_element {
  using format = typename P::format;
  using params = typename P::params;
  using storage_type = typename format::storage_type;
  per_element() : p() {}
  explicit per_element(P policy) : p(std::move(policy)) {}
  P p;
  void prepare(const float* W, std::size_t rows, std::size_t cols, std::size_t group_size) {
    p.prepare(W, rows, cols, group_size);
  }
  params fit(const float* x, std::size_t n, std::ptrdiff_t stride, std::size_t row) const {
    return p.fit(x, n, stride, row);
  }
  storage_type encode(float x, const params& q) { return p.encode(x, q); }
  float decode(storage_type code, const params& q) const { return p.decode(code, q); }
  float fake(float x, const params& q) { return p.fake(x, q); }
  const lowp::element_rounding& rounding_config() const { return p.rounding_config(); }
};
static_assert(!lowp::detail::has_quantize_batch<per_element<lowp::absmax<lowp::int4>>>::value);
static_assert(lowp::detail::has_quantize_batch<lowp::absmax<lowp::int4>>::value);

/// A group's params as exact numbers, field by field (the structs have padding).
template <class P>
std::vector<double> param_fields(const typename P::params& p) {
  if constexpr (std::is_same_v<P, lowp::nvfp4>) {
    return {static_cast<double>(p.block_scale.bits()), p.tensor_scale};
  } else if constexpr (std::is_same_v<P, lowp::m2<typename P::format>>) {
    return {p.scale_max, static_cast<double>(p.shift)};
  } else if constexpr (std::is_same_v<P, lowp::mx<typename P::format>>) {
    return {static_cast<double>(p.scale.bits())};
  } else if constexpr (std::is_same_v<P, lowp::minmax<typename P::format>>) {
    return {p.scale, static_cast<double>(p.zero)};
  } else {
    return {p.scale};
  }
}

/// a and b bit for bit: codes, params, Ŵ, the column losses and their total.
template <class PA, class PB>
void check_identical(const lowp::gptq_result<PA>& a, const lowp::gptq_result<PB>& b,
                     const lowp::gptq_options& opt) {
  using P = PA;
  const std::size_t rows = a.quantized.rows(), cols = a.quantized.cols();
  REQUIRE(b.quantized.rows() == rows);
  REQUIRE(b.quantized.cols() == cols);
  CAPTURE(opt.act_order, opt.static_groups, opt.block_size, opt.groups.requested_group_size());
  std::size_t codes = 0, params = 0, values = 0;
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) {
      codes += a.quantized.code(r, c) != b.quantized.code(r, c);
      values +=
          std::memcmp(&a.dequantized(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)),
                      &b.dequantized(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)),
                      sizeof(float)) != 0;
    }
  REQUIRE(a.quantized.params().size() == b.quantized.params().size());
  for (std::size_t k = 0; k < a.quantized.params().size(); ++k)
    params += param_fields<P>(a.quantized.params()[k]) != param_fields<P>(b.quantized.params()[k]);
  CHECK(codes == 0);
  CHECK(params == 0);
  CHECK(values == 0);
  CHECK(std::memcmp(a.column_losses.data(), b.column_losses.data(),
                    sizeof(double) * a.column_losses.size()) == 0);
  CHECK(std::memcmp(&a.total_loss, &b.total_loss, sizeof(double)) == 0);
}

/// The option sets of the batch tests: groups that do not divide the row, groups that
/// straddle blocks, act_order with dynamic groups (a group index) and with static ones.
std::vector<lowp::gptq_options> batch_option_sets(std::size_t g) {
  std::vector<lowp::gptq_options> sets;
  lowp::gptq_options o;
  o.groups = lowp::granularity::per_group(g);
  sets.push_back(o);  // group = g, block 128
  o.block_size = 40;  // groups straddle the blocks, sub-blocks shorter than 16
  sets.push_back(o);
  o.block_size = 128;
  o.act_order = true;  // dynamic groups in the order
  sets.push_back(o);
  o.static_groups = true;  // static groups with act_order
  sets.push_back(o);
  lowp::gptq_options pc;  // per channel
  pc.act_order = true;
  sets.push_back(pc);
  return sets;
}

template <class P>
void check_batch_path(const P& policy, std::size_t g) {
  // 75 rows: two whole tiles and a partial one; 200 columns: groups of 48 and 32 leave a
  // short last group, blocks of 128 and 40 a short last block.
  const std::size_t rows = 75, cols = 200;
  const Mf W = student_t_weights(rows, cols, 41);
  const Eigen::MatrixXf H = hessian_of(calibration(512, cols, 3, 42));
  for (const lowp::gptq_options& opt : batch_option_sets(g)) {
    CAPTURE(typeid(P).name());
    const auto batch = lowp::gptq(W, H, policy, opt);
    const auto single = lowp::gptq(W, H, per_element<P>(policy), opt);
    check_identical(batch, single, opt);
  }
}

}  // namespace

TEST_CASE("GPTQ's batches equal the per-element path bit for bit, for every policy",
          "[gptq][batch]") {
  using namespace lowp;
  const element_rounding nearest = element_rounding::nearest();
  SECTION("absmax INT4, INT8, GPTQ's symmetric INT4, FP4, FP8 E4M3") {
    check_batch_path(absmax<int4>{}, 48);
    check_batch_path(absmax<int8>{}, 32);
    check_batch_path(absmax<int4>(nearest, int_range::gptq_sym), 48);
    check_batch_path(absmax<float4_e2m1fn>{}, 32);
    check_batch_path(absmax<float8_e4m3fn>{}, 48);
  }
  SECTION("M1 and M2 with FP4 and FP8 E4M3") {
    check_batch_path(m1<float4_e2m1fn>{}, 48);
    check_batch_path(m1<float8_e4m3fn>{}, 32);
    check_batch_path(m2<float4_e2m1fn>{}, 32);
    check_batch_path(m2<float8_e4m3fn>{}, 48);
  }
  SECTION("minmax uint4 and uint8") {
    check_batch_path(minmax<uint4>{}, 48);
    check_batch_path(minmax<uint8>{}, 32);
  }
  SECTION("MXFP4, MXFP8, NVFP4 (their blocks as groups)") {
    check_batch_path(mx<float4_e2m1fn>{}, 32);
    check_batch_path(mx<float8_e4m3fn>{}, 32);
    check_batch_path(nvfp4{}, 16);
  }
  SECTION("stochastic rounding (rows in order, one row per tile) and directed rounding") {
    check_batch_path(absmax<float4_e2m1fn>(element_rounding::stochastic_with_seed(3)), 32);
    check_batch_path(minmax<uint4>(element_rounding::stochastic_with_seed(4)), 48);
    check_batch_path(absmax<int4>(element_rounding::with(rounding::toward_zero)), 48);
  }
}

TEST_CASE("GPTQ rows do not depend on the tile they are quantized in", "[gptq][batch]") {
  // With one block (block_size >= cols) every step of a row is the column loop's, which
  // never mixes rows: a row's result must be the same bits whichever rows share its tile
  // and at whatever position, including alone and in a partial tile.  (Several blocks add
  // Eigen's GEMMs, whose rounding may depend on the matrix's shape.)
  const std::size_t rows = 75, cols = 96;
  const Mf W = student_t_weights(rows, cols, 51);
  const Eigen::MatrixXf H = hessian_of(calibration(384, cols, 2, 52));
  using P = lowp::m2<lowp::float4_e2m1fn>;  // per-row s_max: rows stay independent
  std::vector<lowp::gptq_options> sets = batch_option_sets(40);
  for (lowp::gptq_options& opt : sets) opt.block_size = cols;
  for (const lowp::gptq_options& opt : sets) {
    CAPTURE(opt.act_order, opt.static_groups, opt.groups.requested_group_size());
    const auto all = lowp::gptq(W, H, P{}, opt);
    // The rows reversed: each lands at another position of another tile.
    const Mf Wr = W.colwise().reverse();
    const auto rev = lowp::gptq(Wr, H, P{}, opt);
    const Mf back = rev.dequantized.colwise().reverse();
    CHECK(std::memcmp(back.data(), all.dequantized.data(),
                      sizeof(float) * static_cast<std::size_t>(W.size())) == 0);
    std::size_t codes = 0;
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < cols; ++c)
        codes += rev.quantized.code(rows - 1 - r, c) != all.quantized.code(r, c);
    CHECK(codes == 0);
    // Row subsets: one row alone, and the first 33 (a whole tile and one row).
    for (const std::size_t first : {std::size_t{0}, std::size_t{31}, std::size_t{74}}) {
      const std::size_t n = first == 0 ? 33 : 1;
      const Mf Ws = W.middleRows(static_cast<Eigen::Index>(first), static_cast<Eigen::Index>(n));
      const auto sub = lowp::gptq(Ws, H, P{}, opt);
      CAPTURE(first, n);
      CHECK(std::memcmp(sub.dequantized.data(), all.dequantized.data() + first * cols,
                        sizeof(float) * n * cols) == 0);
    }
  }
}
