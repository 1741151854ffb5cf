# benchmarks/quantize.cmake — quantizing whole matrices (issue 5): packed FP4 with M2
# scales and FP8 per token, in bytes/s of float input next to memcpy.
lowp_add_benchmark(bench_quantize SOURCES bench_quantize.cpp)
