// benchmarks/bench_model.cpp — the model layer's forward pass (lowp/model/forward.hpp):
// its throughput, the time of its linear layers alone, an Eigen SGEMM of the same shapes
// measured in the same run (the roofline peer), and the peak RSS of a checkpoint loaded
// from disk.  Threads: the argument "threads" sets Eigen::setNbThreads (Eigen's GEMM and
// the attention loop use it; OpenMP build).
//
// Models (argument "model"):
//   0  stories260K, loaded from LOWP_BENCH_MODEL_DIR "/stories260K.bin" (skipped if missing);
//      batch 8 x T 256
//   1  the shapes of stories15M (dim 288, hidden 768, 6 layers, 6 heads, vocab 32000),
//      random weights (fixed seed); batch 4 x T 128
//   2  the shapes of stories110M (dim 768, hidden 2048, 12 layers, 12 heads, vocab 32000),
//      random weights (fixed seed); batch 4 x T 128
//
// Flop counts (nominal): a linear layer [out x in] on t tokens is 2 t in out; "linear"
// counts the seven linear layers of every block and the classifier (tied or not), i.e.
// every product forward() makes through detail::linear_layer.  Attention is not counted.
//
// Counters:
//   BM_EigenSgemm      GFLOP/s of C = A B (column-major MatrixXf, preallocated C) over the
//                      shapes of all the model's linear layers, [tokens x in] x [in x out]
//   BM_LinearLayers    GFLOP/s of detail::linear_layer (Y = X Wᵀ, W row-major [out x in],
//                      as forward() calls it) over every linear layer of the model;
//                      of_SGEMM = this rate / BM_EigenSgemm's rate for the same model and
//                      threads, when that ran earlier in the same process
//   BM_Forward         tokens/s of forward(); GFLOP/s_if_all_linear = the linear flops over
//                      the whole forward time; linear_share = BM_LinearLayers' time per
//                      iteration / this one's, when that ran earlier in the same process
//   BM_PeakRss110M     rss_MB: peak RSS (ru_maxrss from wait4: that child's own, where
//                      getrusage(RUSAGE_CHILDREN) would also count the child that wrote
//                      the file, which holds the whole model in memory) of a child that
//                      loads the 110M-shape checkpoint (llama2.c v0, written once to /tmp)
//                      with load_llama2c and runs forward() on 1 x 16 tokens; file_MB its
//                      size; rss/file their ratio; parent_MB the RSS the child inherits
//                      from this process at fork (included in rss_MB).  MB = 10^6 bytes.
//
// Run: build/<dir>/benchmarks/bench_model --benchmark_min_time=0.3
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Eigen/Dense>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <lowp/model/forward.hpp>
#include <lowp/model/generate.hpp>
#include <lowp/model/llama.hpp>
#include <lowp/model/llama2c.hpp>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#ifndef LOWP_BENCH_MODEL_DIR
#define LOWP_BENCH_MODEL_DIR ""
#endif

namespace {

namespace lm = lowp::model;
using Mf = lowp::row_major_matrixf;

enum model_id : int { stories260k = 0, shape15m = 1, shape110m = 2 };
constexpr int model_count = 3;

struct model_case {
  const char* name;
  std::size_t batch, T;
};
constexpr model_case cases[model_count] = {
    {"stories260K", 8, 256}, {"stories15M-shape", 4, 128}, {"stories110M-shape", 4, 128}};

lm::llama_config synthetic_config(int id) {
  lm::llama_config c;
  const bool big = id == shape110m;
  c.dim = big ? 768 : 288;
  c.hidden_dim = big ? 2048 : 768;
  c.n_layers = big ? 12 : 6;
  c.n_heads = c.n_kv_heads = big ? 12 : 6;
  c.vocab_size = 32000;
  c.seq_len = big ? 1024 : 256;
  c.shared_classifier = true;
  return c;
}

// Random weights with a fixed seed (lowp::model::random_model: matrices uniform in
// ±1/sqrt(in), norms 1 ± 0.1), the classifier tied to the embedding (as in stories15M/110M).
lm::llama_model make_synthetic(int id, unsigned seed) {
  return lm::random_model(synthetic_config(id), seed);
}

// The model of `id`, built or loaded once per process; nullptr (and why) when stories260K
// cannot be loaded.
const lm::llama_model* get_model(int id, std::string* why) {
  static std::unique_ptr<lm::llama_model> models[model_count];
  static std::string errors[model_count];
  if (!models[id] && errors[id].empty()) {
    try {
      models[id] = std::make_unique<lm::llama_model>(
          id == stories260k
              ? lm::load_llama2c(std::string(LOWP_BENCH_MODEL_DIR) + "/stories260K.bin")
              : make_synthetic(id, 1234u + static_cast<unsigned>(id)));
    } catch (const std::exception& e) {
      errors[id] = e.what();
    }
  }
  if (!models[id] && why != nullptr) *why = errors[id];
  return models[id].get();
}

// batch x T token ids, uniform over the vocabulary, fixed seed.
std::vector<std::int32_t> random_tokens(std::size_t n, std::size_t vocab, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<std::int32_t> u(0, static_cast<std::int32_t>(vocab) - 1);
  std::vector<std::int32_t> t(n);
  for (auto& x : t) x = u(gen);
  return t;
}

template <class M>
M random_matrix(std::size_t rows, std::size_t cols, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  M A(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  for (Eigen::Index i = 0; i < A.size(); ++i) A.data()[i] = u(gen);
  return A;
}

// The flops of all the linear layers (blocks and classifier) on `tokens` tokens.
double linear_flops(const lm::llama_model& m, std::size_t tokens) {
  double params = static_cast<double>(m.classifier.size());
  for (const lm::llama_block& b : m.blocks) {
    for (lm::linear l : lm::all_linears) params += static_cast<double>(b.weight(l).size());
  }
  return 2.0 * params * static_cast<double>(tokens);
}

// Seconds per iteration measured by the families that run before others read them, keyed
// by {model, threads}.
std::map<std::pair<int, int>, double> sgemm_seconds, linear_seconds;

// Common start: threads, model (or skip), a label.  nullptr: skipped.
const lm::llama_model* setup(benchmark::State& state) {
  Eigen::setNbThreads(static_cast<int>(state.range(1)));
  const int id = static_cast<int>(state.range(0));
  std::string why;
  const lm::llama_model* m = get_model(id, &why);
  if (m == nullptr) {
    state.SkipWithError(("cannot load " + std::string(cases[id].name) + ": " + why).c_str());
    return nullptr;
  }
  state.SetLabel(std::string(cases[id].name) + " " + std::to_string(cases[id].batch) + "x" +
                 std::to_string(cases[id].T));
  return m;
}

using clock_type = std::chrono::steady_clock;
double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

void BM_EigenSgemm(benchmark::State& state) {
  const lm::llama_model* m = setup(state);
  if (m == nullptr) return;
  const model_case& mc = cases[state.range(0)];
  const std::size_t tokens = mc.batch * mc.T;
  // One A per input width, one B and C per distinct [in x out] shape, each product made as
  // many times as the model has layers of that shape.
  std::map<std::size_t, Eigen::MatrixXf> A;
  struct product {
    Eigen::MatrixXf B, C;
    int count = 0;
  };
  std::map<std::pair<std::size_t, std::size_t>, product> shapes;
  unsigned seed = 100;
  const auto add = [&](const lm::tensor_ref& W) {
    if (A.find(W.cols) == A.end())
      A[W.cols] = random_matrix<Eigen::MatrixXf>(tokens, W.cols, ++seed);
    product& p = shapes[{W.cols, W.rows}];
    if (p.count++ == 0) {
      p.B = random_matrix<Eigen::MatrixXf>(W.cols, W.rows, ++seed) / std::sqrt(float(W.cols));
      p.C.resize(static_cast<Eigen::Index>(tokens), static_cast<Eigen::Index>(W.rows));
    }
  };
  for (const lm::llama_block& b : m->blocks) {
    for (lm::linear l : lm::all_linears) add(b.weight(l));
  }
  add(m->classifier);
  const auto t0 = clock_type::now();
  for (auto _ : state) {
    for (auto& [shape, p] : shapes) {
      const Eigen::MatrixXf& a = A[shape.first];
      for (int i = 0; i < p.count; ++i) {
        p.C.noalias() = a * p.B;
        benchmark::DoNotOptimize(p.C.data());
      }
    }
  }
  sgemm_seconds[{static_cast<int>(state.range(0)), static_cast<int>(state.range(1))}] =
      seconds_since(t0) / static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] =
      benchmark::Counter(linear_flops(*m, tokens), benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
}

void BM_LinearLayers(benchmark::State& state) {
  const lm::llama_model* m = setup(state);
  if (m == nullptr) return;
  const model_case& mc = cases[state.range(0)];
  const std::size_t tokens = mc.batch * mc.T;
  const lm::llama_config& c = m->config;
  // The inputs forward() gives the layers: tokens x dim (q/k/v, o, gate/up, classifier) and
  // tokens x hidden (down), row-major.
  const Mf X_dim = random_matrix<Mf>(tokens, c.dim, 201);
  const Mf X_hidden = random_matrix<Mf>(tokens, c.hidden_dim, 202);
  const auto t0 = clock_type::now();
  for (auto _ : state) {
    for (const lm::llama_block& b : m->blocks) {
      for (lm::linear l : lm::all_linears) {
        const Mf Y =
            lm::detail::linear_layer(l == lm::linear::down ? X_hidden : X_dim, b.weight(l));
        benchmark::DoNotOptimize(Y.data());
      }
    }
    const Mf logits = lm::detail::linear_layer(X_dim, m->classifier);
    benchmark::DoNotOptimize(logits.data());
  }
  const double per_iteration = seconds_since(t0) / static_cast<double>(state.iterations());
  const std::pair<int, int> key{static_cast<int>(state.range(0)), static_cast<int>(state.range(1))};
  linear_seconds[key] = per_iteration;
  const double flops = linear_flops(*m, tokens);
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  if (const auto it = sgemm_seconds.find(key); it != sgemm_seconds.end()) {
    state.counters["of_SGEMM"] = it->second / per_iteration;  // same flops: rate ratio
  }
}

void BM_Forward(benchmark::State& state) {
  const lm::llama_model* m = setup(state);
  if (m == nullptr) return;
  const model_case& mc = cases[state.range(0)];
  const std::size_t tokens = mc.batch * mc.T;
  const std::vector<std::int32_t> ids = random_tokens(tokens, m->config.vocab_size, 301);
  const auto t0 = clock_type::now();
  for (auto _ : state) {
    const Mf logits = lm::forward(*m, ids.data(), mc.batch, mc.T);
    benchmark::DoNotOptimize(logits.data());
  }
  const double per_iteration = seconds_since(t0) / static_cast<double>(state.iterations());
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens),
                                                  benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s_if_all_linear"] =
      benchmark::Counter(linear_flops(*m, tokens), benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
  const std::pair<int, int> key{static_cast<int>(state.range(0)), static_cast<int>(state.range(1))};
  if (const auto it = linear_seconds.find(key); it != linear_seconds.end()) {
    state.counters["linear_share"] = it->second / per_iteration;
  }
}

// The resident set of this process now, in bytes (/proc/self/statm), or 0.
double current_rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  double pages_total = 0, pages_resident = 0;
  if (!(statm >> pages_total >> pages_resident)) return 0;
  return pages_resident * static_cast<double>(sysconf(_SC_PAGESIZE));
}

// Runs f in a child process; its exit status, and its own rusage in *ru.
template <class F>
int in_child(F&& f, rusage* ru) {
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int rc = 0;
    try {
      rc = f();
    } catch (...) {
      rc = 3;
    }
    _exit(rc);  // no atexit handlers, no flush of the parent's buffered output
  }
  int status = 0;
  rusage own{};
  if (wait4(pid, &status, 0, &own) != pid) return -1;
  if (ru != nullptr) *ru = own;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void BM_PeakRss110M(benchmark::State& state) {
  // The checkpoint is written by a child too, so that this process never holds the model
  // (a forked child's RSS counts the pages it inherits).
  char path[] = "/tmp/lowp_bench_model_110m_XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) {
    state.SkipWithError("mkstemp failed");
    return;
  }
  close(fd);
  const int written = in_child(
      [&] {
        Eigen::setNbThreads(1);
        lm::save_llama2c(make_synthetic(shape110m, 1234u + shape110m), path,
                         lm::llama2c_version::v0);
        return 0;
      },
      nullptr);
  // Its 440 MB of dirty pages are written back now rather than while the next benchmarks
  // run (the kernel's writeback takes CPU from them).
  if (const int wfd = open(path, O_RDONLY); wfd >= 0) {
    fdatasync(wfd);
    close(wfd);
  }
  struct stat st {};
  if (written != 0 || stat(path, &st) != 0) {
    std::remove(path);
    state.SkipWithError("writing the 110M-shape checkpoint failed");
    return;
  }
  const double file_bytes = static_cast<double>(st.st_size);
  double rss_bytes = 0, parent_bytes = 0;
  int loaded = 0;
  for (auto _ : state) {
    parent_bytes = current_rss_bytes();
    rusage ru{};
    loaded = in_child(
        [&] {
          Eigen::setNbThreads(1);  // no OpenMP team in a forked child
          const lm::llama_model m = lm::load_llama2c(std::string(path));
          const std::vector<std::int32_t> ids = random_tokens(16, m.config.vocab_size, 401);
          const Mf logits = lm::forward(m, ids.data(), 1, 16);
          benchmark::DoNotOptimize(logits.data());
          return std::isfinite(logits(0, 0)) ? 0 : 4;
        },
        &ru);
    rss_bytes = static_cast<double>(ru.ru_maxrss) * 1024.0;  // Linux: KiB
  }
  std::remove(path);
  if (loaded != 0) {
    state.SkipWithError(("the loading child failed with status " + std::to_string(loaded)).c_str());
    return;
  }
  state.counters["rss_MB"] = rss_bytes / 1e6;
  state.counters["file_MB"] = file_bytes / 1e6;
  state.counters["rss/file"] = rss_bytes / file_bytes;
  state.counters["parent_MB"] = parent_bytes / 1e6;
}

}  // namespace

// First, while this process holds no model (the child inherits its resident pages).
BENCHMARK(BM_PeakRss110M)->Iterations(1)->Unit(benchmark::kMillisecond);
// {model, threads}; the SGEMM peer runs before the linear layers and those before the
// forward pass, which read their times.
void model_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"model", "threads"});
  for (const int id : {stories260k, shape15m, shape110m}) {
    for (const int threads : {1, 2}) b->Args({id, threads});
  }
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}
BENCHMARK(BM_EigenSgemm)->Apply(model_args);
BENCHMARK(BM_LinearLayers)->Apply(model_args);
BENCHMARK(BM_Forward)->Apply(model_args);

BENCHMARK_MAIN();
