#!/usr/bin/env python3
"""Checks that clang++ -O2 vectorizes every LOWP_SIMD_LOOP in lowp's headers.

LOWP_SIMD_LOOP (config.hpp) asks for `omp simd` on loops that GCC's -O2 cost model would
leave scalar.  GCC vectorizes them in the test build; this check covers clang, whose
-O2 the CI's clang job no longer builds (it runs at -O1 under the sanitizers, where clang
vectorizes nothing).  It compiles a few translation units that instantiate every such
loop, with -Werror=pass-failed (clang's error when it cannot vectorize an `omp simd`
loop) and -Rpass=loop-vectorize, and fails when

  - a compile fails (a loop that clang could not vectorize, or any other error);
  - a LOWP_SIMD_LOOP line is in no "vectorized loop" remark: either it was not vectorized
    or no unit instantiates it (then add one to UNITS).

Usage: check_vectorized.py [repository root]   (default: the parent of this script's folder)
Environment: CXX (default clang++).
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
# Between them these instantiate every LOWP_SIMD_LOOP (bulk, exact quotients, scales,
# quantize); about a minute of compiling.
UNITS = ["tests/test_quant_policies.cpp", "benchmarks/bench_quantize.cpp"]
REMARK = re.compile(r"^(\S+\.hpp):(\d+):\d+: remark: vectorized loop")


def simd_loops():
    loops = set()
    for header in sorted((ROOT / "include").rglob("*.hpp")):
        for number, line in enumerate(header.read_text().splitlines(), start=1):
            if line.strip() == "LOWP_SIMD_LOOP":
                loops.add((header.resolve(), number))
    return loops


def eigen_include():
    try:
        flags = subprocess.run(["pkg-config", "--cflags-only-I", "eigen3"], check=True,
                               capture_output=True, text=True).stdout.split()
        return [f for f in flags if f.startswith("-I")]
    except (OSError, subprocess.CalledProcessError):
        return ["-I/usr/include/eigen3"]


def main():
    cxx = os.environ.get("CXX", "clang++")
    if shutil.which(cxx) is None:
        print(f"check_vectorized: {cxx} not found")
        return 1
    loops = simd_loops()
    if not loops:
        print("check_vectorized: no LOWP_SIMD_LOOP found under include/")
        return 1
    vectorized = set()
    for unit in UNITS:
        command = [cxx, "-std=c++20", "-O2", "-fopenmp", "-Werror=pass-failed",
                   "-Rpass=loop-vectorize", "-I", str(ROOT / "include"), "-I",
                   str(ROOT / "tests"), *eigen_include(), "-c", str(ROOT / unit), "-o",
                   os.devnull]
        result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        if result.returncode != 0:
            print(f"check_vectorized: {unit} does not compile with {cxx} -O2:")
            print("\n".join(line for line in result.stderr.splitlines()
                            if "remark:" not in line)[-4000:])
            return 1
        for line in result.stderr.splitlines():
            match = REMARK.match(line)
            if match:
                path = (ROOT / match.group(1)).resolve()
                vectorized.add((path, int(match.group(2))))
    missing = sorted(loops - vectorized)
    for path, number in missing:
        print(f"check_vectorized: {path.relative_to(ROOT.resolve())}:{number}: "
              f"LOWP_SIMD_LOOP not vectorized by {cxx} -O2 in {', '.join(UNITS)}")
    if missing:
        return 1
    print(f"{cxx} -O2 vectorizes all {len(loops)} LOWP_SIMD_LOOP loops "
          f"({', '.join(UNITS)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
