// The model layer's read path, where mmap is not available: this program is built with
// LOWP_MODEL_HAS_MMAP=0, so mapped_file reads files into memory (the path taken on
// systems without POSIX).  Its own program, since mapped_file differs between the two.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <lowp/model/forward.hpp>
#include <lowp/model/llama2c.hpp>
#include <lowp/model/npy.hpp>
#include <string>
#include <vector>

#include "lowp_test.hpp"

static_assert(LOWP_MODEL_HAS_MMAP == 0, "this test is built with LOWP_MODEL_HAS_MMAP=0");

namespace lm = lowp::model;

namespace {
const std::string model_dir = LOWP_TEST_MODEL_DIR;
std::string temp_path(const std::string& name) {
  return std::string(LOWP_TEST_WORK_DIR) + "/test_model_read_" + name;
}
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const lm::file_error& e) {
    return e.what();
  }
  return "(no file_error)";
}
}  // namespace

TEST_CASE("read path: files are read whole, and the same errors name the file", "[model][quick]") {
  // An .npy written by lowp and read back through the read path.
  const std::string npy = temp_path("a.npy");
  const std::int32_t v[6] = {1, -2, 3, 40000, 5, 6};
  lm::write_npy(npy, lm::npy_dtype::i4, {2, 3}, v);
  const lm::npy_array a = lm::read_npy(npy);
  CHECK(a.shape == std::vector<std::size_t>{2, 3});
  CHECK(a.to_int32() == std::vector<std::int32_t>(v, v + 6));
  // Missing, a folder, empty, truncated.
  CHECK(error_of([&] {
          (void)lm::read_npy(temp_path("missing.npy"));
        }).find("missing.npy: No such file") != std::string::npos);
  std::filesystem::create_directories(temp_path("dir"));
  CHECK(error_of([&] { (void)lm::load_llama2c(temp_path("dir")); }).find("not a regular file") !=
        std::string::npos);
  std::ofstream(temp_path("empty.bin"), std::ios::binary).flush();
  CHECK(error_of([&] { (void)lm::load_llama2c(temp_path("empty.bin")); }).find("empty.bin") !=
        std::string::npos);
}

TEST_CASE("read path: stories260K loads with the bytes of the file", "[model][quick]") {
  const std::string path = model_dir + "/stories260K.bin";
  if (model_dir.empty() || !std::ifstream(path).good())
    LOWP_SKIP("no stories260K.bin: set LOWP_MODEL_DIR");
  const lm::llama_model m = lm::load_llama2c(path);
  // The embedding is the floats right after the 28-byte header (read here with ifstream).
  std::ifstream in(path, std::ios::binary);
  std::vector<float> embedding(m.embedding.size());
  in.seekg(28);
  in.read(reinterpret_cast<char*>(embedding.data()),
          static_cast<std::streamsize>(embedding.size() * 4));
  REQUIRE(in.good());
  CHECK(std::memcmp(embedding.data(), m.embedding.data, embedding.size() * 4) == 0);
  const std::int32_t tokens[4] = {1, 100, 200, 300};
  const lowp::row_major_matrixf logits = lm::forward(m, tokens, 1, 4);
  CHECK(logits.rows() == 4);
  CHECK(logits.allFinite());
  // Truncated by one byte.
  std::vector<char> bytes(static_cast<std::size_t>(std::filesystem::file_size(path)) - 1);
  in.seekg(0);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  std::ofstream(temp_path("short.bin"), std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  CHECK(error_of([&] {
          (void)lm::load_llama2c(temp_path("short.bin"));
        }).find("short.bin: the header implies") != std::string::npos);
}
