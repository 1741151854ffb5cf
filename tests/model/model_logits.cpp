// model_logits: the logits of a llama2.c checkpoint (or a Hugging Face folder) on the token
// sequences of a .npy file, written as float32 [batch, T, vocab] .npy, for
// tests/model/check_forward.py to compare with its independent numpy forward pass.
//
//   model_logits MODEL TOKENS.npy OUT.npy [--route direct|v0|v1] [--work DIR]
//
// --route v0 / v1: the model is first written by save_llama2c() in that version (into
// DIR) and read back, so the logits also test the writer and the other reader.
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <lowp/model/forward.hpp>
#include <lowp/model/hf_llama.hpp>
#include <lowp/model/llama2c.hpp>
#include <lowp/model/npy.hpp>
#include <string>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(
        stderr,
        "usage: model_logits MODEL TOKENS.npy OUT.npy [--route direct|v0|v1] [--work DIR]\n");
    return 2;
  }
  std::string route = "direct", work = ".";
  for (int i = 4; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--route") == 0) route = argv[i + 1];
    if (std::strcmp(argv[i], "--work") == 0) work = argv[i + 1];
  }
  try {
    namespace lm = lowp::model;
    lm::llama_model m = std::filesystem::is_directory(argv[1]) ? lm::load_hf_llama(argv[1])
                                                               : lm::load_llama2c(argv[1]);
    if (route == "v0" || route == "v1") {
      const std::string copy = work + "/model_" + route + ".bin";
      lm::save_llama2c(m, copy, route == "v0" ? lm::llama2c_version::v0 : lm::llama2c_version::v1);
      if (lm::llama2c_file_version(copy) !=
          (route == "v0" ? lm::llama2c_version::v0 : lm::llama2c_version::v1)) {
        std::fprintf(stderr, "model_logits: %s was not written as %s\n", copy.c_str(),
                     route.c_str());
        return 1;
      }
      m = lm::load_llama2c(copy);
    } else if (route != "direct") {
      std::fprintf(stderr, "model_logits: unknown route %s\n", route.c_str());
      return 2;
    }
    const lm::npy_array tokens = lm::read_npy(argv[2]);
    if (tokens.shape.size() != 2) {
      std::fprintf(stderr, "model_logits: TOKENS must be [batch, T]\n");
      return 2;
    }
    const std::vector<std::int32_t> ids = tokens.to_int32();
    const std::size_t batch = tokens.shape[0], T = tokens.shape[1];
    const lowp::row_major_matrixf logits = lm::forward(m, ids.data(), batch, T);
    lm::write_npy(argv[3], lm::npy_dtype::f4, {batch, T, m.config.vocab_size}, logits.data());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
