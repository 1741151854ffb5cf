// The model layer: llama2.c checkpoints (read, write, every bad header), .npy files, and
// the forward pass's contract (shapes, hooks, activation quantization, weight
// replacement, causality, GQA).  The logits themselves are checked against an independent
// numpy forward pass by tests/model/check_forward.py.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <lowp/model/evaluate.hpp>
#include <lowp/model/forward.hpp>
#include <lowp/model/generate.hpp>
#include <lowp/model/hf_llama.hpp>
#include <lowp/model/llama2c.hpp>
#include <lowp/model/npy.hpp>
#include <lowp/model/safetensors.hpp>
#include <lowp/model/tokens.hpp>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "lowp_test.hpp"
#include "test_model_config.hpp"

namespace lm = lowp::model;

namespace {

#ifndef LOWP_TEST_MODEL_DIR
#define LOWP_TEST_MODEL_DIR ""
#endif
const std::string model_dir = LOWP_TEST_MODEL_DIR;
const std::string stories = model_dir + "/stories260K.bin";

bool file_exists(const std::string& p) {
  return !model_dir.empty() && std::ifstream(p).good();
}

std::string temp_path(const std::string& name) {
  return std::string(LOWP_TEST_WORK_DIR) + "/test_model_" + name;
}

std::vector<char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <class T>
void put(std::vector<char>& b, std::size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof v);
}

// A tiny legacy checkpoint written byte by byte here (not by lowp): dim 8, hidden 12,
// 2 layers, 4 heads, 2 KV heads, vocab 11, seq_len 6, shared or not.  Weights from a
// fixed seed; every float written in the legacy order.
struct tiny_spec {
  std::int32_t dim = 8, hidden = 12, layers = 2, heads = 4, kv_heads = 2, vocab = 11, seq_len = 6;
  bool shared = true;
};

std::vector<char> tiny_checkpoint(const tiny_spec& s, std::uint32_t seed = 7) {
  std::vector<char> b(28);
  const std::int32_t hdr[7] = {
      s.dim, s.hidden, s.layers, s.heads, s.kv_heads, s.shared ? s.vocab : -s.vocab, s.seq_len};
  std::memcpy(b.data(), hdr, sizeof hdr);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  const auto floats = [&](std::size_t n, bool norm = false) {
    for (std::size_t i = 0; i < n; ++i) {
      const float v = norm ? 1.0f + 0.1f * u(rng) : u(rng);
      const auto* p = reinterpret_cast<const char*>(&v);
      b.insert(b.end(), p, p + 4);
    }
  };
  const auto D = static_cast<std::size_t>(s.dim), H = static_cast<std::size_t>(s.hidden);
  const auto L = static_cast<std::size_t>(s.layers), V = static_cast<std::size_t>(s.vocab);
  const std::size_t kv =
      D / static_cast<std::size_t>(s.heads) * static_cast<std::size_t>(s.kv_heads);
  const std::size_t hs = D / static_cast<std::size_t>(s.heads);
  floats(V * D);
  floats(L * D, true);
  floats(L * D * D);
  floats(L * kv * D);
  floats(L * kv * D);
  floats(L * D * D);
  floats(L * D, true);
  floats(L * H * D);
  floats(L * D * H);
  floats(L * H * D);
  floats(D, true);
  floats(2 * static_cast<std::size_t>(s.seq_len) * hs / 2);
  if (!s.shared) floats(V * D);
  return b;
}

lm::llama_model load_tiny(const tiny_spec& s, const std::string& name) {
  const std::string p = temp_path(name);
  write_all(p, tiny_checkpoint(s));
  return lm::load_llama2c(p);
}

template <class F>
void require_file_error(F&& f, const std::string& needle) {
  try {
    f();
    FAIL("no lowp::model::file_error, expected one containing: " << needle);
  } catch (const lm::file_error& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find(needle) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("load_llama2c reads a checkpoint written byte by byte, tensor for tensor",
          "[model][quick]") {
  for (const bool shared : {true, false}) {
    tiny_spec s;
    s.shared = shared;
    const std::vector<char> bytes = tiny_checkpoint(s);
    const std::string p = temp_path(shared ? "tiny_shared.bin" : "tiny_unshared.bin");
    write_all(p, bytes);
    const lm::llama_model m = lm::load_llama2c(p);
    CHECK(m.config.dim == 8);
    CHECK(m.config.kv_dim() == 4);
    CHECK(m.config.head_size() == 2);
    CHECK(m.config.shared_classifier == shared);
    CHECK(m.blocks.size() == 2);
    // Spot checks at offsets computed here: the embedding starts at byte 28; wq of block
    // 1 after embedding (88), rms_att (16) and block 0's wq (64) floats.
    float v;
    std::memcpy(&v, bytes.data() + 28, 4);
    CHECK(m.embedding.data[0] == v);
    std::memcpy(&v, bytes.data() + 28 + 4 * (88 + 16 + 64), 4);
    CHECK(m.blocks[1].wq.data[0] == v);
    // The classifier is the last tensor when not shared.
    std::memcpy(&v, bytes.data() + bytes.size() - 4, 4);
    if (shared) {
      CHECK(m.classifier.data == m.embedding.data);
    } else {
      CHECK(m.classifier.data[m.classifier.size() - 1] == v);
    }
    CHECK(m.parameter_count() ==
          88 + 2 * (8 + 8 + 64 + 32 + 32 + 64 + 3 * 96) + 8 + (shared ? 0 : 88));
  }
}

TEST_CASE("save_llama2c round-trips v0 and v1, and v0 reproduces the file but its RoPE tables",
          "[model][quick]") {
  for (const bool shared : {true, false}) {
    tiny_spec s;
    s.shared = shared;
    const std::vector<char> original = tiny_checkpoint(s);
    const std::string p = temp_path("rt_in.bin");
    write_all(p, original);
    const lm::llama_model m = lm::load_llama2c(p);
    for (const auto version : {lm::llama2c_version::v0, lm::llama2c_version::v1}) {
      const std::string q = temp_path("rt_out.bin");
      lm::save_llama2c(m, q, version);
      CHECK(lm::llama2c_file_version(q) == version);
      const lm::llama_model r = lm::load_llama2c(q);
      CHECK(r.config.shared_classifier == shared);
      for (std::size_t b = 0; b < 2; ++b) {
        for (const lm::linear l : lm::all_linears) {
          const auto& x = m.blocks[b].weight(l);
          const auto& y = r.blocks[b].weight(l);
          REQUIRE(x.size() == y.size());
          CHECK(std::memcmp(x.data, y.data, 4 * x.size()) == 0);
        }
      }
      CHECK(std::memcmp(m.embedding.data, r.embedding.data, 4 * m.embedding.size()) == 0);
      CHECK(std::memcmp(m.classifier.data, r.classifier.data, 4 * m.classifier.size()) == 0);
      if (version == lm::llama2c_version::v0) {
        const std::vector<char> written = read_all(q);
        REQUIRE(written.size() == original.size());
        // Byte for byte up to the RoPE tables (ours are recomputed; run.c skips them).
        const std::size_t tables = 4 * 2 * 6 * 1, tail = shared ? 0 : 4 * 88;
        const std::size_t end = original.size() - tables - tail;
        CHECK(std::memcmp(written.data(), original.data(), end) == 0);
        CHECK(std::memcmp(written.data() + end + tables, original.data() + end + tables, tail) ==
              0);
      } else {
        const std::vector<char> written = read_all(q);
        CHECK(written.size() == 256 + original.size() - 28 - 4 * 2 * 6);
      }
    }
  }
}

TEST_CASE("load_llama2c rejects every malformed checkpoint with the file and the reason",
          "[model][quick]") {
  const std::string p = temp_path("bad.bin");
  const auto expect = [&](const std::vector<char>& bytes, const std::string& needle) {
    write_all(p, bytes);
    INFO(needle);
    require_file_error([&] { (void)lm::load_llama2c(p); }, needle);
  };
  const std::vector<char> good = tiny_checkpoint({});
  SECTION("missing and truncated") {
    require_file_error([&] { (void)lm::load_llama2c(temp_path("does_not_exist.bin")); },
                       "does_not_exist.bin");
    expect(std::vector<char>(good.begin(), good.begin() + 20), "truncated header");
    expect(std::vector<char>(good.begin(), good.end() - 1), "truncated");
    std::vector<char> longer = good;
    longer.push_back(0);
    expect(longer, "the header implies");
  }
  SECTION("zero, negative and inconsistent dims") {
    std::vector<char> b = good;
    put<std::int32_t>(b, 0, 0);
    expect(b, "dim = 0");
    b = good;
    put<std::int32_t>(b, 8, -2);
    expect(b, "n_layers = -2");
    b = good;
    put<std::int32_t>(b, 12, 3);  // 3 heads do not divide dim 8
    expect(b, "does not divide dim");
    b = good;
    put<std::int32_t>(b, 16, 3);  // 3 KV heads do not divide 4 heads
    expect(b, "does not divide n_heads");
    b = good;
    put<std::int32_t>(b, 0, 1 << 30);  // sizes that would overflow
    expect(b, "too large");
    b = good;
    put<std::int32_t>(b, 24, 100000);  // seq_len: the tables no longer fit
    expect(b, "truncated");
  }
  SECTION("NaN and Inf weights") {
    std::vector<char> b = good;
    put<float>(b, 28 + 4 * 5, std::numeric_limits<float>::quiet_NaN());
    expect(b, "token_embedding holds NaN at element 5");
    b = good;
    put<float>(b, 28 + 4 * (88 + 16 + 3), std::numeric_limits<float>::infinity());
    expect(b, "layers.0.q_proj holds Inf at element 3");
  }
  SECTION("version-1 headers") {
    const lm::llama_model m = lm::load_llama2c([&] {
      write_all(p, good);
      return p;
    }());
    const std::string q = temp_path("bad_v1.bin");
    lm::save_llama2c(m, q, lm::llama2c_version::v1);
    const std::vector<char> v1 = read_all(q);
    std::vector<char> b = v1;
    put<std::int32_t>(b, 4, 2);
    expect(b, "version 2");
    b = v1;
    b[36] = 7;
    expect(b, "shared_classifier flag is 7");
    b = v1;
    put<std::int32_t>(b, 8 + 20, -11);  // v1 has no negative vocab_size
    expect(b, "vocab_size = -11");
    expect(std::vector<char>(v1.begin(), v1.begin() + 100), "truncated version-1 header");
  }
}

TEST_CASE("save_llama2c refuses what llama2.c cannot hold, and leaves no partial file",
          "[model][quick]") {
  lm::llama_model m = load_tiny({}, "save_in.bin");
  const std::string q = temp_path("save_out.bin");
  std::remove(q.c_str());
  m.config.rope = lm::rope_style::half;
  CHECK_THROWS_AS(lm::save_llama2c(m, q), std::invalid_argument);
  m.config.rope = lm::rope_style::interleaved;
  m.config.rope_theta = 500000.0f;
  CHECK_THROWS_AS(lm::save_llama2c(m, q), std::invalid_argument);
  CHECK_FALSE(std::ifstream(q).good());
  CHECK_FALSE(std::ifstream(q + ".tmp").good());
  m.config.rope_theta = 10000.0f;
  // A folder that does not exist: the temporary file cannot be created.
  CHECK_THROWS_AS(lm::save_llama2c(m, temp_path("no_such_dir/x.bin")), lm::file_error);
}

TEST_CASE("npy: write then read every dtype, and numpy's own bytes", "[model][quick]") {
  const std::string p = temp_path("a.npy");
  const std::vector<float> f = {1.5f, -2.0f, 0.0f, 3.25f, 1e-3f, -7.0f};
  lm::write_npy(p, lm::npy_dtype::f4, {2, 3}, f.data());
  lm::npy_array a = lm::read_npy(p);
  CHECK(a.shape == std::vector<std::size_t>{2, 3});
  CHECK(a.to_float() == f);
  // The bytes numpy 1.24 writes for np.save(p, np.array([[1, 2, 3]], dtype='<i4')): the
  // header is padded to 64 bytes; checked here against a literal, not against lowp.
  const char numpy_header[] =
      "\x93NUMPY\x01\x00\x76\x00{'descr': '<i4', 'fortran_order': False, 'shape': (1, 3), }";
  std::vector<char> bytes(numpy_header, numpy_header + sizeof numpy_header - 1);
  bytes.resize(127, ' ');
  bytes.push_back('\n');
  for (std::int32_t v : {1, 2, 3}) {
    const auto* q = reinterpret_cast<const char*>(&v);
    bytes.insert(bytes.end(), q, q + 4);
  }
  write_all(p, bytes);
  a = lm::read_npy(p);
  CHECK(a.dtype == lm::npy_dtype::i4);
  CHECK(a.to_int32() == std::vector<std::int32_t>{1, 2, 3});
  lm::write_npy(p, lm::npy_dtype::i4, {1, 3}, a.bytes.data());
  CHECK(read_all(p) == bytes);  // lowp writes what numpy writes
  // float16 and uint16.
  const std::uint16_t halves[3] = {0x3c00, 0xc000, 0x7bff};  // 1, -2, 65504
  lm::write_npy(p, lm::npy_dtype::f2, {3}, halves);
  CHECK(lm::read_npy(p).to_float() == std::vector<float>{1.0f, -2.0f, 65504.0f});
  lm::write_npy(p, lm::npy_dtype::u2, {3}, halves);
  CHECK(lm::read_npy(p).to_int32() == std::vector<std::int32_t>{0x3c00, 0xc000, 0x7bff});
  lm::write_npy(p, lm::npy_dtype::f4, {2, 3}, f.data());
  CHECK_THROWS_AS(lm::read_npy(p).to_int32(), std::invalid_argument);
}

TEST_CASE("npy: every unsupported or malformed file gets a clear error", "[model][quick]") {
  const std::string p = temp_path("bad.npy");
  const std::vector<float> f = {1.0f, 2.0f};
  lm::write_npy(p, lm::npy_dtype::f4, {2}, f.data());
  const std::vector<char> good = read_all(p);
  // A version-1 file with header h (its length field set to fit) and good's 8 data bytes.
  const auto with_header = [&](std::string h) {
    h += '\n';
    std::vector<char> b(good.begin(), good.begin() + 8);
    b.push_back(static_cast<char>(h.size() & 0xff));
    b.push_back(static_cast<char>(h.size() >> 8));
    b.insert(b.end(), h.begin(), h.end());
    b.insert(b.end(), good.end() - 8, good.end());
    return b;
  };
  const auto expect = [&](const std::vector<char>& b, const std::string& needle) {
    write_all(p, b);
    INFO(needle);
    require_file_error([&] { (void)lm::read_npy(p); }, needle);
  };
  expect(with_header("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }"), "'>f4'");
  expect(with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"), "'<f8'");
  expect(with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }"), "Fortran");
  expect(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"),
         "needs 12 bytes");
  expect(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"), "non-negative");
  expect(with_header("{'descr': '<f4', 'fortran_order': False, }"), "lacks");
  expect(with_header("{'descr': '<f4' 'fortran_order': False, 'shape': (2,), }"), "expected ','");
  expect(with_header(
             "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }"),
         "overflows");
  expect(std::vector<char>(good.begin(), good.begin() + 30), "truncated header");
  std::vector<char> b = good;
  b[6] = 4;
  expect(b, "format version 4");
  b = good;
  b[0] = 'X';
  expect(b, "not a .npy file");
}

TEST_CASE("forward: shapes, token and length errors, causality", "[model][quick]") {
  const lm::llama_model m = load_tiny({}, "fwd.bin");
  const std::vector<std::int32_t> toks = {1, 5, 10, 0, 3, 3, 2, 9, 4, 7, 7, 1};
  const lowp::row_major_matrixf logits = lm::forward(m, toks.data(), 2, 6);
  CHECK(logits.rows() == 12);
  CHECK(logits.cols() == 11);
  CHECK(logits.allFinite());
  // Causal: the first 3 positions alone give the same logits as within the longer run.
  const lowp::row_major_matrixf prefix = lm::forward(m, toks.data(), 1, 3);
  CHECK((prefix - logits.topRows(3)).cwiseAbs().maxCoeff() <= 1e-5f);
  // Sequences are independent: the second one alone.
  const lowp::row_major_matrixf second = lm::forward(m, toks.data() + 6, 1, 6);
  CHECK((second - logits.bottomRows(6)).cwiseAbs().maxCoeff() <= 1e-5f);
  std::vector<std::int32_t> bad = toks;
  bad[8] = 11;
  CHECK_THROWS_WITH(lm::forward(m, bad.data(), 2, 6),
                    Catch::Contains("token id 11 at sequence 1, position 2"));
  bad[8] = -1;
  CHECK_THROWS_AS(lm::forward(m, bad.data(), 2, 6), std::invalid_argument);
  const std::vector<std::int32_t> longer(7, 1);
  CHECK_THROWS_WITH(lm::forward(m, longer.data(), 1, 7),
                    Catch::Contains("longer than the model's seq_len 6"));
  CHECK_THROWS_AS(lm::forward(m, toks.data(), 0, 6), std::invalid_argument);
}

TEST_CASE("forward: hooks see every linear input and output; replace() changes one layer",
          "[model][quick]") {
  lm::llama_model m = load_tiny({}, "hooks.bin");
  const std::vector<std::int32_t> toks = {1, 5, 10, 0, 3, 3};
  std::vector<std::string> seen;
  lm::forward_options opt;
  opt.on_input = [&](std::size_t b, lm::linear_input which, const lowp::row_major_matrixf& X) {
    const Eigen::Index want = which == lm::linear_input::down ? 12 : 8;
    CHECK(X.rows() == 6);
    CHECK(X.cols() == want);
    seen.push_back("in" + std::to_string(b) + ":" + std::to_string(static_cast<int>(which)));
  };
  opt.on_output = [&](std::size_t b, lm::linear l, const lowp::row_major_matrixf& Y) {
    CHECK(Y.cols() == static_cast<Eigen::Index>(m.blocks[b].weight(l).rows));
    seen.push_back(std::string("out") + std::to_string(b) + ":" + lm::linear_name(l));
  };
  const lowp::row_major_matrixf before = lm::forward(m, toks.data(), 1, 6, opt);
  REQUIRE(seen.size() == 2 * (4 + 7));
  CHECK(seen[0] == "in0:0");
  CHECK(seen[1] == "out0:q_proj");
  CHECK(seen.back() == "out1:down_proj");
  // Replacing a weight with itself changes nothing; with zeros, the logits.
  std::vector<float> same(m.blocks[1].wo.data, m.blocks[1].wo.data + m.blocks[1].wo.size());
  m.replace(1, lm::linear::o, same.data());
  CHECK(lm::forward(m, toks.data(), 1, 6) == before);
  const std::vector<float> zeros(same.size(), 0.0f);
  m.replace(1, lm::linear::o, zeros.data());
  CHECK(lm::forward(m, toks.data(), 1, 6) != before);
  CHECK_THROWS_AS(m.replace(2, lm::linear::o, zeros.data()), std::out_of_range);
}

TEST_CASE("forward: activation quantization changes the linear inputs as the format says",
          "[model][quick]") {
  const lm::llama_model m = load_tiny({}, "act.bin");
  const std::vector<std::int32_t> toks = {1, 5, 10, 0, 3, 3};
  const lowp::row_major_matrixf ref = lm::forward(m, toks.data(), 1, 6);
  std::vector<float> errors;
  for (const auto f : {lm::activation_format::int8, lm::activation_format::fp8_e4m3,
                       lm::activation_format::fp8_e5m2}) {
    lm::forward_options opt;
    opt.activations = f;
    bool on_grid = true;
    opt.on_input = [&](std::size_t, lm::linear_input, const lowp::row_major_matrixf& X) {
      // Per token, absmax: every value over the row's scale is a code of the format.
      for (Eigen::Index t = 0; t < X.rows(); ++t) {
        const float amax = X.row(t).cwiseAbs().maxCoeff();
        if (amax == 0.0f) continue;
        for (Eigen::Index j = 0; j < X.cols(); ++j) {
          const float x = X(t, j);
          float scale, q;
          if (f == lm::activation_format::int8) {
            scale = amax / 127.0f;
            q = x / scale;
            on_grid &= std::fabs(q - std::nearbyint(q)) <= 1e-3f;
          } else {
            const float maxv = f == lm::activation_format::fp8_e4m3 ? 448.0f : 57344.0f;
            scale = amax / maxv;
            q = x / scale;
            const int mant = f == lm::activation_format::fp8_e4m3 ? 3 : 2;
            // q has at most `mant` fraction bits above its leading bit (normal range).
            if (std::fabs(q) >= (f == lm::activation_format::fp8_e4m3 ? 0.015625f : 6.1035e-5f)) {
              int e;
              const float frac = std::frexp(std::fabs(q), &e);
              const float steps = std::ldexp(frac, mant + 1);
              on_grid &= std::fabs(steps - std::nearbyint(steps)) <= 1e-3f;
            }
          }
        }
      }
    };
    const lowp::row_major_matrixf got = lm::forward(m, toks.data(), 1, 6, opt);
    INFO(lm::activation_format_name(f));
    CHECK(on_grid);
    CHECK(got != ref);
    errors.push_back((got - ref).squaredNorm());
  }
  // Without outliers, the finer grid errs less: INT8 (255 levels over the row's range),
  // then E4M3 (3 mantissa bits), then E5M2 (2 bits).
  CHECK(errors[0] < errors[1]);
  CHECK(errors[1] < errors[2]);
}

TEST_CASE("forward: the same bits on one thread and two; its GEMMs are timed", "[model][quick]") {
  // Large enough for the row-wise steps and the attention heads to be split over threads
  // (parallel_rows needs 2^15 elements of work): 8 sequences of 64 tokens, dim 64; rows of
  // 96 (SwiGLU) do not fill a 64-element chunk evenly.
  const lm::llama_config c = lowp_test::small_llama_config(300, 64);
  const lm::llama_model m = lm::random_model(c, 7);
  std::vector<std::int32_t> toks(8 * 64);
  for (std::size_t i = 0; i < toks.size(); ++i) toks[i] = static_cast<std::int32_t>(i * 37 % 300);
  const int threads = Eigen::nbThreads();
  for (const auto f : {lm::activation_format::none, lm::activation_format::fp8_e4m3,
                       lm::activation_format::int8}) {
    lm::forward_options opt;
    opt.activations = f;
    Eigen::setNbThreads(1);
    const lowp::row_major_matrixf one = lm::forward(m, toks.data(), 8, 64, opt);
    Eigen::setNbThreads(2);
    double gemm = 0;
    opt.gemm_seconds = &gemm;
    const lowp::row_major_matrixf two = lm::forward(m, toks.data(), 8, 64, opt);
    INFO(lm::activation_format_name(f));
    CHECK(one == two);
    CHECK(gemm > 0);
  }
  Eigen::setNbThreads(threads);
}

TEST_CASE("forward: RoPE conventions give the same model on their own weights", "[model][quick]") {
  // Hugging Face's layout: within each head of q and k, the rows of the interleaved pairs'
  // first elements come first, then the second elements (convert_llama_weights_to_hf's
  // permute).  The permutation is done here, not by lowp.
  tiny_spec spec;  // head size 4: two pairs per head, so the conventions differ
  spec.heads = 2;
  spec.kv_heads = 1;
  lm::llama_model m = load_tiny(spec, "rope.bin");
  const std::vector<std::int32_t> toks = {1, 5, 10, 0, 3, 3};
  const lowp::row_major_matrixf ref = lm::forward(m, toks.data(), 1, 6);
  const std::size_t hs = m.config.head_size();
  for (std::size_t b = 0; b < m.blocks.size(); ++b) {
    for (const lm::linear l : {lm::linear::q, lm::linear::k}) {
      const lm::tensor_ref& w = m.blocks[b].weight(l);
      std::vector<float> perm(w.size());
      for (std::size_t r = 0; r < w.rows; ++r) {
        const std::size_t head = r / hs, i = r % hs;
        const std::size_t src = head * hs + (i < hs / 2 ? 2 * i : 2 * (i - hs / 2) + 1);
        std::copy(w.data + src * w.cols, w.data + (src + 1) * w.cols, perm.data() + r * w.cols);
      }
      m.replace(b, l, perm.data());
    }
  }
  m.config.rope = lm::rope_style::half;
  const lowp::row_major_matrixf got = lm::forward(m, toks.data(), 1, 6);
  CHECK((got - ref).cwiseAbs().maxCoeff() <= 1e-5f * ref.cwiseAbs().maxCoeff());
  m.config.rope = lm::rope_style::interleaved;  // the wrong convention for these weights
  CHECK((lm::forward(m, toks.data(), 1, 6) - ref).cwiseAbs().maxCoeff() > 1e-3f);
}

TEST_CASE("stories260K loads by mapping and gives finite logits", "[model][quick]") {
  if (!file_exists(stories)) LOWP_SKIP("no stories260K.bin: set LOWP_MODEL_DIR");
  const lm::llama_model m = lm::load_llama2c(stories);
  CHECK(m.config.dim == 64);
  CHECK(m.config.hidden_dim == 172);
  CHECK(m.config.n_layers == 5);
  CHECK(m.config.n_heads == 8);
  CHECK(m.config.n_kv_heads == 4);
  CHECK(m.config.vocab_size == 512);
  CHECK(m.config.seq_len == 512);
  CHECK(m.config.shared_classifier);
  const std::vector<std::int32_t> toks = {1, 461, 461, 401};
  CHECK(lm::forward(m, toks.data(), 1, 4).allFinite());
}

TEST_CASE("decoder: token by token with the KV cache gives the batched forward's logits",
          "[model][quick]") {
  const lm::llama_model m = load_tiny({}, "dec.bin");
  const std::vector<std::int32_t> toks = {1, 5, 10, 0, 3, 3};
  const lowp::row_major_matrixf ref = lm::forward(m, toks.data(), 1, 6);
  lm::decoder dec(m);
  for (std::size_t t = 0; t < 6; ++t) {
    const Eigen::VectorXf got = dec.feed(toks[t]);
    CHECK((got.transpose() - ref.row(static_cast<Eigen::Index>(t))).cwiseAbs().maxCoeff() <= 1e-5f);
  }
  CHECK(dec.position() == 6);
  CHECK_THROWS_AS(dec.feed(1), std::invalid_argument);  // past seq_len
  dec.reset();
  const lowp::row_major_matrixf two = dec.feed(toks.data(), 2);  // a prompt at once, then one more
  const Eigen::VectorXf third = dec.feed(toks[2]);
  CHECK((two - ref.topRows(2)).cwiseAbs().maxCoeff() <= 1e-5f);
  CHECK((third.transpose() - ref.row(2)).cwiseAbs().maxCoeff() <= 1e-5f);
}

TEST_CASE("sampling: greedy is the argmax, seeds reproduce, top-p keeps the nucleus",
          "[model][quick]") {
  Eigen::VectorXf logits(4);
  logits << 0.0f, 2.0f, 1.0f, 2.0f;  // a tie: the first maximum, as run.c
  CHECK(lm::sampler({0.0f, 1.0f, 1})(logits) == 1);
  // p = softmax: about 0.06, 0.42, 0.16, 0.42.  top_p = 0.5: the nucleus is {1, 3}
  // (stable order on the tie), so token 0 and 2 never come.
  lm::sampler nucleus({1.0f, 0.5f, 42});
  int counts[4] = {0, 0, 0, 0};
  for (int i = 0; i < 2000; ++i) ++counts[nucleus(logits)];
  CHECK(counts[0] == 0);
  CHECK(counts[2] == 0);
  CHECK(counts[1] > 800);
  CHECK(counts[3] > 800);
  // The full distribution: token 0 comes at about 6% (a 2000-draw test; 5 sigma ~ 2.7%).
  lm::sampler all({1.0f, 1.0f, 7});
  int zero = 0;
  for (int i = 0; i < 2000; ++i) zero += all(logits) == 0 ? 1 : 0;
  const double p0 = 1.0 / (1.0 + 2.0 * std::exp(2.0) + std::exp(1.0));
  CHECK(std::fabs(zero / 2000.0 - p0) < 5 * std::sqrt(p0 * (1 - p0) / 2000.0));
  lm::sampler a({0.8f, 0.9f, 3}), b({0.8f, 0.9f, 3});
  for (int i = 0; i < 50; ++i) CHECK(a(logits) == b(logits));
  CHECK_THROWS_AS(lm::sampler({-1.0f, 1.0f, 1}), std::invalid_argument);
  CHECK_THROWS_AS(lm::sampler({1.0f, 0.0f, 1}), std::invalid_argument);
}

TEST_CASE("token_scores: perplexity, KL and top-1 equal hand computations", "[model][quick]") {
  // One sequence of 3 tokens over a vocabulary of 3: positions 0 and 1 predict tokens 1
  // and 2.  Logits are ln of chosen probabilities (plus a constant, which softmax ignores).
  const double ln2 = std::log(2.0);
  lowp::row_major_matrixf logits(3, 3), ref(3, 3);
  const auto ln = [](double v) { return static_cast<float>(std::log(v)); };
  logits << ln(0.5), ln(0.25), ln(0.25),                    // p(token 1) = 1/4: NLL ln 4
      ln(0.125) + 3.0f, ln(0.125) + 3.0f, ln(0.75) + 3.0f,  // p(token 2) = 3/4: NLL ln 4/3
      0.0f, 0.0f, 0.0f;                                     // the last position predicts nothing
  ref << ln(0.25), ln(0.5), ln(0.25),  // KL = 1/4 ln(1/2) + 1/2 ln 2 + 0 = ln2 / 4; argmax differs
      ln(0.125), ln(0.125), ln(0.75),  // the same distribution: KL 0, argmax agrees
      0.0f, 0.0f, 0.0f;
  const std::int32_t toks[3] = {0, 1, 2};
  lm::token_scores s;
  s.add(logits, toks, 1, 3, &ref);
  const lm::perplexity_result p = s.perplexity();
  const double nll0 = 2 * ln2, nll1 = std::log(4.0 / 3.0), mean = (nll0 + nll1) / 2;
  CHECK(p.tokens == 2);
  CHECK(p.mean_nll == Approx(mean).epsilon(1e-6));
  CHECK(p.ppl == Approx(std::exp(mean)).epsilon(1e-6));
  // Two values: the standard error of their mean is |a - b| / 2.
  CHECK(p.mean_nll_stderr == Approx(std::fabs(nll0 - nll1) / 2).epsilon(1e-6));
  const lm::kl_result k = s.kl();
  CHECK(k.tokens == 2);
  CHECK(k.mean == Approx(ln2 / 8).epsilon(1e-5));
  CHECK(k.max == Approx(ln2 / 4).epsilon(1e-5));
  CHECK(k.median == Approx(ln2 / 8).epsilon(1e-5));
  CHECK(k.p99 == Approx(0.99 * ln2 / 4).epsilon(1e-5));  // interpolated: 0.99 of the way
  CHECK(k.top1 == 0.5);
  const std::int32_t bad[3] = {0, 3, 2};
  CHECK_THROWS_AS(s.add(logits, bad, 1, 3), std::invalid_argument);
  CHECK_THROWS_AS(lm::token_scores().perplexity(), std::logic_error);
}

TEST_CASE("evaluate: a model against itself has KL 0 and top-1 1; batching changes nothing",
          "[model][quick]") {
  const lm::llama_model m = load_tiny({}, "eval.bin");
  const std::vector<std::int32_t> toks = lm::sample_sequences(m, 5, 6, {1.0f, 1.0f, 11});
  lm::evaluate_options o;
  o.batch = 2;
  const lm::token_scores a = lm::evaluate(m, toks.data(), 5, 6, o, &m);
  CHECK(a.kl().mean == 0.0);
  CHECK(a.kl().top1 == 1.0);
  o.batch = 5;
  const lm::token_scores b = lm::evaluate(m, toks.data(), 5, 6, o);
  CHECK(b.perplexity().mean_nll == Approx(a.perplexity().mean_nll).epsilon(1e-6));
  o.model.activations = lm::activation_format::int8;
  const lm::token_scores c = lm::evaluate(m, toks.data(), 5, 6, o, &m);
  CHECK(c.kl().mean > 0.0);
}

TEST_CASE("stories260K: decoding, greedy sampling and every file route agree", "[model][quick]") {
  if (!file_exists(stories)) LOWP_SKIP("no stories260K.bin: set LOWP_MODEL_DIR");
  const lm::llama_model m = lm::load_llama2c(stories);
  const lm::sampler_options greedy{0.0f, 1.0f, 1};
  const std::vector<std::int32_t> g = lm::sample_sequences(m, 1, 40, greedy);
  CHECK(g == lm::sample_sequences(m, 1, 40, greedy));  // deterministic
  for (const auto version : {lm::llama2c_version::v0, lm::llama2c_version::v1}) {
    const std::string q = temp_path("stories_copy.bin");
    lm::save_llama2c(m, q, version);
    CHECK(lm::sample_sequences(lm::load_llama2c(q), 1, 40, greedy) == g);
  }
  // The decoder's logits along the greedy sequence equal the batched forward's.
  const lowp::row_major_matrixf batched = lm::forward(m, g.data(), 1, 40);
  lm::decoder dec(m);
  float worst = 0.0f;
  for (std::size_t t = 0; t < 40; ++t) {
    const Eigen::VectorXf l = dec.feed(g[t]);
    const float scale = batched.row(static_cast<Eigen::Index>(t)).cwiseAbs().maxCoeff();
    worst = std::max(
        worst,
        (l.transpose() - batched.row(static_cast<Eigen::Index>(t))).cwiseAbs().maxCoeff() / scale);
  }
  CHECK(worst <= 1e-5f);
  // Sampled sequences at temperature 1 score a perplexity in the tens under the model.
  const std::vector<std::int32_t> data = lm::sample_sequences(m, 4, 64, {1.0f, 1.0f, 1000});
  const double ppl = lm::evaluate(m, data.data(), 4, 64).perplexity().ppl;
  CHECK(ppl > 1.0);
  CHECK(ppl < 100.0);
}

TEST_CASE("model edge cases: save checks blocks, bos is checked, replace frees, cache grows",
          "[model][quick]") {
  lm::llama_model m = load_tiny({}, "edge.bin");
  const std::string q = temp_path("edge_out.bin");
  m.config.norm_eps = 1e-6f;  // llama2.c cannot store another epsilon
  CHECK_THROWS_AS(lm::save_llama2c(m, q), std::invalid_argument);
  m.config.norm_eps = 1e-5f;
  m.blocks.pop_back();  // fewer blocks than the config says: an error, not a read past the end
  CHECK_THROWS_AS(lm::save_llama2c(m, q), std::invalid_argument);
  lm::llama_model full = load_tiny({}, "edge2.bin");
  CHECK_THROWS_AS(lm::sample_sequences(full, 1, 1, {0.0f, 1.0f, 1}, 11), std::invalid_argument);
  // The KV cache grows with the positions fed, not with seq_len.
  lm::kv_cache cache(full.config);
  CHECK(cache.k[0].rows() == 0);
  lm::decoder dec(full);
  (void)dec.feed(1);
  (void)dec.feed(2);
  CHECK(dec.position() == 2);
}

// ---------------------------------------------------------------------------------------
// safetensors and Hugging Face LLaMA folders
// ---------------------------------------------------------------------------------------

namespace {

// A safetensors file written byte by byte here: 8-byte length, JSON, data.
std::vector<char> st_bytes(const std::string& json, const std::vector<char>& data) {
  std::vector<char> b(8 + json.size() + data.size());
  const std::uint64_t n = json.size();
  std::memcpy(b.data(), &n, 8);
  std::memcpy(b.data() + 8, json.data(), json.size());
  if (!data.empty()) std::memcpy(b.data() + 8 + json.size(), data.data(), data.size());
  return b;
}

std::vector<char> floats_bytes(const std::vector<float>& v) {
  std::vector<char> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

}  // namespace

TEST_CASE("safetensors: a file written byte by byte reads back; lowp's writer reads in",
          "[model][quick]") {
  const std::string p = temp_path("a.safetensors");
  const std::vector<float> a = {1.0f, -2.0f, 3.5f, 0.25f, 8.0f, -0.5f};
  const std::uint16_t h[2] = {0x3c00, 0x4000};  // F16 1, 2
  std::vector<char> data = floats_bytes(a);
  data.resize(28);
  std::memcpy(data.data() + 24, h, 4);
  write_all(
      p,
      st_bytes(
          R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
          R"("h":{"dtype":"F16","shape":[2],"data_offsets":[24,28]}})",
          data));
  const lm::safetensors_file f(p);
  CHECK(f.metadata().at("format") == "pt");
  REQUIRE(f.tensors().size() == 2);
  const lm::safetensors_tensor& w = f.at("w");
  CHECK(w.shape == std::vector<std::size_t>{2, 3});
  CHECK(std::memcmp(w.data, a.data(), 24) == 0);
  CHECK(f.at("h").dtype == lm::safetensors_dtype::F16);
  CHECK_THROWS_AS(f.at("missing"), lm::file_error);
  // lowp's writer: read back by the reader, F32 data 8-byte aligned in the file.
  const std::string q = temp_path("b.safetensors");
  lm::write_safetensors(q,
                        {{"x", lm::safetensors_dtype::F32, {3, 2}, a.data()},
                         {"y", lm::safetensors_dtype::F16, {2}, h}},
                        {{"k", "v"}});
  const lm::safetensors_file g(q);
  CHECK(g.metadata().at("k") == "v");
  CHECK(std::memcmp(g.at("x").data, a.data(), 24) == 0);
  CHECK(g.at("y").shape == std::vector<std::size_t>{2});
  std::uint64_t n;
  const std::vector<char> bytes = read_all(q);
  std::memcpy(&n, bytes.data(), 8);
  CHECK(n % 8 == 0);
  CHECK_THROWS_AS(lm::write_safetensors(q, {{"x", lm::safetensors_dtype::F32, {1}, a.data()},
                                            {"x", lm::safetensors_dtype::F32, {1}, a.data()}}),
                  std::invalid_argument);
}

TEST_CASE("safetensors: every malformed header gets a clear error", "[model][quick]") {
  const std::string p = temp_path("bad.safetensors");
  const std::vector<char> d8 = floats_bytes({1.0f, 2.0f});
  const auto expect = [&](const std::vector<char>& b, const std::string& needle) {
    write_all(p, b);
    INFO(needle);
    require_file_error([&] { (void)lm::safetensors_file(p); }, needle);
  };
  expect(std::vector<char>(5, 0), "no header length");
  expect(st_bytes("{", d8), "not valid JSON");
  expect(st_bytes("[1]", d8), "not a JSON object");
  std::vector<char> long_header = st_bytes("{}", d8);
  long_header[0] = 100;
  expect(long_header, "past the end");
  expect(st_bytes(R"({"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", d8), "dtype F64");
  expect(st_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", d8),
         "outside the data");
  expect(st_bytes(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", d8),
         "8 bytes for a F32 shape of 3");
  expect(st_bytes(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", d8),
         "non-negative");
  expect(st_bytes(R"({"w":{"dtype":"F32","shape":[2]}})", d8),
         "needs dtype, shape and data_offsets");
  expect(
      st_bytes(
          R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"v":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
          d8),
      "overlap");
  expect(st_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", d8), "hole");
  expect(st_bytes(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", d8),
         "hole in the data at byte 0");
}

TEST_CASE(
    "Hugging Face folders: stories260K converted with the permutation done here gives the same "
    "logits",
    "[model][quick]") {
  if (!file_exists(stories)) LOWP_SKIP("no stories260K.bin: set LOWP_MODEL_DIR");
  const lm::llama_model m = lm::load_llama2c(stories);
  const lm::llama_config& c = m.config;
  // The conversion, written here and not by lowp: Hugging Face names, q/k rows of each
  // head reordered so that RoPE's pairs (2i, 2i+1) become (i, i + hs/2), F32.
  const std::string dir = temp_path("hf");
  std::filesystem::create_directories(dir);
  std::vector<std::vector<float>> keep;
  std::vector<lm::safetensors_entry> entries;
  const auto add = [&](const std::string& name, const lm::tensor_ref& t, bool vector,
                       bool permute) {
    keep.emplace_back(t.data, t.data + t.size());
    if (permute) {
      const std::size_t hs = c.head_size();
      for (std::size_t r = 0; r < t.rows; ++r) {
        const std::size_t head = r / hs, i = r % hs;
        const std::size_t src = head * hs + (i < hs / 2 ? 2 * i : 2 * (i - hs / 2) + 1);
        std::copy(t.data + src * t.cols, t.data + (src + 1) * t.cols,
                  keep.back().data() + r * t.cols);
      }
    }
    entries.push_back(
        {name, lm::safetensors_dtype::F32,
         vector ? std::vector<std::size_t>{t.size()} : std::vector<std::size_t>{t.rows, t.cols},
         keep.back().data()});
  };
  keep.reserve(64);
  add("model.embed_tokens.weight", m.embedding, false, false);
  for (std::size_t b = 0; b < m.blocks.size(); ++b) {
    const std::string l = "model.layers." + std::to_string(b) + ".";
    const lm::llama_block& k = m.blocks[b];
    add(l + "input_layernorm.weight", k.attention_norm, true, false);
    add(l + "post_attention_layernorm.weight", k.ffn_norm, true, false);
    add(l + "self_attn.q_proj.weight", k.wq, false, true);
    add(l + "self_attn.k_proj.weight", k.wk, false, true);
    add(l + "self_attn.v_proj.weight", k.wv, false, false);
    add(l + "self_attn.o_proj.weight", k.wo, false, false);
    add(l + "mlp.gate_proj.weight", k.w_gate, false, false);
    add(l + "mlp.up_proj.weight", k.w_up, false, false);
    add(l + "mlp.down_proj.weight", k.w_down, false, false);
  }
  add("model.norm.weight", m.final_norm, true, false);
  lm::write_safetensors(dir + "/model.safetensors", entries);
  std::ofstream(dir + "/config.json")
      << R"({"hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 5, "num_attention_heads": 8,)"
      << R"( "num_key_value_heads": 4, "vocab_size": 512, "max_position_embeddings": 512, "rope_theta": 10000.0,)"
      << R"( "rms_norm_eps": 1e-05, "tie_word_embeddings": true})";
  const lm::llama_model hf = lm::load_hf_llama(dir);
  CHECK(hf.config.rope == lm::rope_style::half);
  const std::vector<std::int32_t> toks = lm::sample_sequences(m, 2, 48, {1.0f, 1.0f, 5});
  const lowp::row_major_matrixf a = lm::forward(m, toks.data(), 2, 48);
  const lowp::row_major_matrixf b = lm::forward(hf, toks.data(), 2, 48);
  CHECK((a - b).cwiseAbs().maxCoeff() <= 1e-5f * a.cwiseAbs().maxCoeff());
  // Greedy sampling is the same through this route too.
  const lm::sampler_options greedy{0.0f, 1.0f, 1};
  CHECK(lm::sample_sequences(hf, 1, 40, greedy) == lm::sample_sequences(m, 1, 40, greedy));
  // lowp's own writer (which permutes the same way) round-trips, and so does F16.
  const std::string dir2 = temp_path("hf2");
  std::filesystem::create_directories(dir2);
  lm::save_hf_llama(m, dir2);
  const lm::llama_model hf2 = lm::load_hf_llama(dir2);
  CHECK(lm::forward(hf2, toks.data(), 2, 48) == b);
  // A shape that disagrees with config.json, and a missing tensor.
  std::ofstream(dir + "/config.json")
      << R"({"hidden_size": 64, "intermediate_size": 170, "num_hidden_layers": 5, "num_attention_heads": 8,)"
      << R"( "num_key_value_heads": 4, "vocab_size": 512, "max_position_embeddings": 512,)"
      << R"( "tie_word_embeddings": true})";
  require_file_error([&] { (void)lm::load_hf_llama(dir); }, "config.json gives [170, 64]");
  std::ofstream(dir + "/config.json")
      << R"({"hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 5, "num_attention_heads": 8,)"
      << R"( "num_key_value_heads": 4, "vocab_size": 512, "max_position_embeddings": 512})";  // untied
  require_file_error([&] { (void)lm::load_hf_llama(dir); }, "missing tensor lm_head.weight");
  std::ofstream(dir + "/config.json") << R"({"hidden_size": "64"})";
  require_file_error([&] { (void)lm::load_hf_llama(dir); },
                     "hidden_size is missing or not a non-negative integer");
  std::ofstream(dir + "/config.json") << R"({"hidden_size": 64,)";
  require_file_error([&] { (void)lm::load_hf_llama(dir); }, "malformed JSON");
}

TEST_CASE("Hugging Face folders: sharded through the index, BF16 and F16 shards, NaN refused",
          "[model][quick]") {
  if (!file_exists(stories)) LOWP_SKIP("no stories260K.bin: set LOWP_MODEL_DIR");
  const lm::llama_model m = lm::load_llama2c(stories);
  const std::string single = temp_path("hf_single");
  std::filesystem::create_directories(single);
  lm::save_hf_llama(m, single);
  const lm::safetensors_file whole(single + "/model.safetensors");
  // Two shards: blocks 0-2 and the embedding in F32 as they are; blocks 3-4 and the final
  // norm in BF16, made here by truncation (the top half of each float's bits), so that
  // the value loaded must be exactly the truncated float; the final norm in F16, made
  // here for its values (normal in F16) by truncating the mantissa.
  const std::string dir = temp_path("hf_sharded");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(single + "/config.json", dir + "/config.json");
  std::vector<lm::safetensors_entry> first, second;
  std::vector<std::vector<std::uint16_t>> halves;
  halves.reserve(whole.tensors().size());
  std::map<std::string, std::vector<float>> expected;  // what each 16-bit tensor must load as
  std::string weight_map;
  for (const auto& [name, t] : whole.tensors()) {
    const bool late =
        name.rfind("model.layers.3.", 0) == 0 || name.rfind("model.layers.4.", 0) == 0;
    const bool f16 = name == "model.norm.weight";
    const std::size_t n = t.bytes / 4;
    const auto* f = reinterpret_cast<const float*>(t.data);
    if (late || f16) {
      halves.emplace_back(n);
      std::vector<float>& want = expected[name];
      want.resize(n);
      for (std::size_t i = 0; i < n; ++i) {
        std::uint32_t u;
        std::memcpy(&u, f + i, 4);
        if (f16) {
          const int e = static_cast<int>((u >> 23) & 0xff) - 127;
          REQUIRE((e >= -14 && e <= 15));  // normal in F16
          const std::uint32_t mant = (u >> 13) & 0x3ff;
          halves.back()[i] = static_cast<std::uint16_t>(
              (u >> 16 & 0x8000) | static_cast<std::uint32_t>(e + 15) << 10 | mant);
          want[i] =
              std::ldexp(1.0f + static_cast<float>(mant) / 1024.0f, e) * ((u >> 31) ? -1.0f : 1.0f);
        } else {
          halves.back()[i] = static_cast<std::uint16_t>(u >> 16);
          const std::uint32_t back = u & 0xffff0000u;
          std::memcpy(&want[i], &back, 4);
        }
      }
      second.push_back({name, f16 ? lm::safetensors_dtype::F16 : lm::safetensors_dtype::BF16,
                        t.shape, halves.back().data()});
    } else {
      first.push_back({name, lm::safetensors_dtype::F32, t.shape, t.data});
    }
    weight_map += std::string(weight_map.empty() ? "" : ",") + "\"" + name + "\": \"model-0000" +
                  (late || f16 ? "2" : "1") + "-of-00002.safetensors\"";
  }
  lm::write_safetensors(dir + "/model-00001-of-00002.safetensors", first);
  lm::write_safetensors(dir + "/model-00002-of-00002.safetensors", second);
  std::ofstream(dir + "/model.safetensors.index.json")
      << R"({"metadata": {"total_size": 0}, "weight_map": {)" << weight_map << "}}";
  const lm::llama_model hf = lm::load_hf_llama(dir);
  const lm::llama_model ref = lm::load_hf_llama(single);
  // The F32 shard: bit for bit; the 16-bit ones: the values made above.
  CHECK(std::memcmp(hf.embedding.data, ref.embedding.data, ref.embedding.size() * 4) == 0);
  CHECK(std::memcmp(hf.blocks[1].wq.data, ref.blocks[1].wq.data, ref.blocks[1].wq.size() * 4) == 0);
  const auto equals = [&](const lm::tensor_ref& t, const std::string& name) {
    const std::vector<float>& want = expected.at(name);
    return t.size() == want.size() && std::memcmp(t.data, want.data(), want.size() * 4) == 0;
  };
  CHECK(equals(hf.blocks[3].w_down, "model.layers.3.mlp.down_proj.weight"));
  CHECK(equals(hf.blocks[4].wk, "model.layers.4.self_attn.k_proj.weight"));
  CHECK(equals(hf.blocks[4].ffn_norm, "model.layers.4.post_attention_layernorm.weight"));
  CHECK(equals(hf.final_norm, "model.norm.weight"));
  // The same tokens give close logits (BF16 weights in two layers).
  const std::vector<std::int32_t> toks = lm::sample_sequences(m, 1, 32, {1.0f, 1.0f, 9});
  const lowp::row_major_matrixf a = lm::forward(ref, toks.data(), 1, 32);
  const lowp::row_major_matrixf b = lm::forward(hf, toks.data(), 1, 32);
  CHECK((a - b).cwiseAbs().maxCoeff() <= 0.05f * a.cwiseAbs().maxCoeff());
  CHECK((a - b).cwiseAbs().maxCoeff() > 0.0f);

  // Bad shards: a tensor the index does not name, a shard the index names that is
  // missing, a shard path outside the folder, and NaN in a weight.
  std::ofstream(dir + "/model.safetensors.index.json")
      << R"({"weight_map": {"model.embed_tokens.weight": "model-00001-of-00002.safetensors"}})";
  require_file_error([&] { (void)lm::load_hf_llama(dir); },
                     "missing tensor model.layers.0.input_layernorm.weight");
  std::ofstream(dir + "/model.safetensors.index.json")
      << R"({"weight_map": {"model.embed_tokens.weight": "model-00003-of-00003.safetensors"}})";
  require_file_error([&] { (void)lm::load_hf_llama(dir); }, "model-00003-of-00003.safetensors");
  std::ofstream(dir + "/model.safetensors.index.json")
      << R"({"weight_map": {"model.embed_tokens.weight": "../model.safetensors"}})";
  require_file_error([&] { (void)lm::load_hf_llama(dir); }, "is not a file in the folder");
  std::ofstream(dir + "/model.safetensors.index.json") << R"({"weights": {}})";
  require_file_error([&] { (void)lm::load_hf_llama(dir); }, "no weight_map object");
  std::ofstream(dir + "/model.safetensors.index.json")
      << R"({"metadata": {"total_size": 0}, "weight_map": {)" << weight_map << "}}";
  std::vector<float> poisoned(
      reinterpret_cast<const float*>(whole.at("model.layers.1.mlp.up_proj.weight").data),
      reinterpret_cast<const float*>(whole.at("model.layers.1.mlp.up_proj.weight").data) +
          whole.at("model.layers.1.mlp.up_proj.weight").bytes / 4);
  poisoned[77] = std::numeric_limits<float>::quiet_NaN();
  for (lm::safetensors_entry& e : first) {
    if (e.name == "model.layers.1.mlp.up_proj.weight") e.data = poisoned.data();
  }
  lm::write_safetensors(dir + "/model-00001-of-00002.safetensors", first);
  require_file_error([&] { (void)lm::load_hf_llama(dir); },
                     "layers.1.up_proj holds NaN at element 77");
}

TEST_CASE("token files: .npy and llama2.c .bin read the same ids; bad ones are named",
          "[model][quick]") {
  // 3 x 5 ids written byte by byte: a uint16 .bin (a flat stream, 2 ids left over) and
  // an int32 .npy built here.
  const std::vector<std::uint16_t> ids = {1, 20, 300, 4000, 50000, 1, 2,  3, 4,
                                          5, 1,  9,   8,    7,     6, 11, 12};
  const std::string bin = temp_path("tokens.bin");
  std::vector<char> b(ids.size() * 2);
  std::memcpy(b.data(), ids.data(), b.size());
  write_all(bin, b);
  const lm::token_batch t = lm::read_tokens(bin, 5);
  CHECK(t.count == 3);
  CHECK(t.length == 5);
  CHECK(t.ids == std::vector<std::int32_t>(ids.begin(), ids.begin() + 15));
  const std::string npy = temp_path("tokens.npy");
  lm::write_tokens(npy, t);
  const lm::token_batch u = lm::read_tokens(npy, 0);
  CHECK((u.count == 3 && u.length == 5 && u.ids == t.ids));
  CHECK(lm::read_tokens(npy, 5).ids == t.ids);
  require_file_error([&] { (void)lm::read_tokens(npy, 4); }, "sequences of 5 tokens, 4 asked for");
  CHECK_THROWS_AS(lm::read_tokens(bin, 0), std::invalid_argument);
  require_file_error([&] { (void)lm::read_tokens(bin, 18); },
                     "17 tokens, fewer than one sequence of 18");
  write_all(bin, std::vector<char>(7, 0));
  require_file_error([&] { (void)lm::read_tokens(bin, 1); }, "size 7 is odd");
  const float f[2] = {1.0f, 2.0f};
  lm::write_npy(npy, lm::npy_dtype::f4, {2}, f);
  require_file_error([&] { (void)lm::read_tokens(npy, 1); }, "not int32 or uint16");
  require_file_error([&] { (void)lm::read_tokens(temp_path("no_such_tokens.npy"), 1); },
                     "no_such_tokens.npy");

  // check_tokens: against a model's vocabulary and seq_len.
  lm::llama_config c;
  c.vocab_size = 4001;
  c.seq_len = 5;
  require_file_error(
      [&] { lm::check_tokens(t, c, "x.bin"); },
      "x.bin: token id 50000 at sequence 0, position 4 is outside the vocabulary [0, 4001)");
  c.vocab_size = 50001;
  CHECK_NOTHROW(lm::check_tokens(t, c, "x.bin"));
  lm::token_batch negative = t;
  negative.ids[7] = -1;
  require_file_error([&] { lm::check_tokens(negative, c, "x.npy"); },
                     "token id -1 at sequence 1, position 2");
  c.seq_len = 4;
  require_file_error([&] { lm::check_tokens(t, c, "x.bin"); }, "longer than the model's seq_len 4");
}
