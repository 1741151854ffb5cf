#!/usr/bin/env bash
# Compile time of a program that uses GPTQ and LoRC (examples/w4a8_pipeline.cpp), with the
# solvers header-only and in their compiled mode (LOWP_SOLVERS_COMPILED), plus the one-off
# cost of the library itself (src/solvers.cpp).  Flags: the release preset's (-O2 -g and
# the warnings), with OpenMP, as CMake passes them.  Wall-clock seconds of one compiler
# process each, run one after another; run it on an idle machine.
#
# Usage: benchmarks/compile_time.sh [compiler]   (default c++); from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
CXX="${1:-c++}"
EIGEN="$(pkg-config --cflags-only-I eigen3 2>/dev/null | sed 's/-I/-isystem /' || true)"
[ -n "$EIGEN" ] || EIGEN="-isystem /usr/include/eigen3"
FLAGS="-std=c++17 -Iinclude $EIGEN -O2 -g -Wall -Wextra -Wconversion -Wshadow -Wpedantic -fopenmp"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

seconds() {  # seconds <label> <compiler arguments...>
  local label="$1"
  shift
  local t0 t1
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  "$CXX" $FLAGS "$@"
  t1=$(date +%s.%N)
  printf '%-58s %7.1f s\n' "$label" "$(echo "$t1 - $t0" | bc)"
}

echo "$("$CXX" --version | head -1); $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
seconds "w4a8_pipeline.cpp, header-only" -c examples/w4a8_pipeline.cpp -o "$OUT/ho.o"
seconds "w4a8_pipeline.cpp, compiled mode (LOWP_SOLVERS_COMPILED)" \
  -DLOWP_SOLVERS_COMPILED -c examples/w4a8_pipeline.cpp -o "$OUT/c.o"
seconds "src/solvers.cpp (lowp::solvers_compiled, once)" \
  -DLOWP_SOLVERS_COMPILED -DLOWP_SOLVERS_SOURCE -c src/solvers.cpp -o "$OUT/solvers.o"
# The two programs must print the same thing.
"$CXX" -fopenmp "$OUT/ho.o" -o "$OUT/ho"
"$CXX" -fopenmp "$OUT/c.o" "$OUT/solvers.o" -o "$OUT/c"
if [ "$("$OUT/ho")" = "$("$OUT/c")" ]; then
  echo "both programs print the same results"
else
  echo "the header-only and the compiled-mode programs differ" >&2
  exit 1
fi
