#!/usr/bin/env python3
"""lowp's forward pass against the independent numpy one (reference_llama2c.py).

Usage: check_forward.py MODEL_LOGITS_PROGRAM MODEL WORK_DIR

Samples token sequences (fixed seed, the model's full seq_len included so that RoPE is
checked at every position), runs the C++ program by every route (the file as it is, and
written back as llama2.c version 0 and version 1 and read again), and requires each
route's logits to match the numpy reference to 1e-4 relative per row.  Exits 77 (skipped)
without numpy.
"""
import os
import subprocess
import sys

try:
    import numpy as np
except ImportError as e:  # pragma: no cover
    print(f"skipped: numpy is not available ({e})")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_llama2c as ref  # noqa: E402


def main():
    program, model, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    cfg, weights = ref.load_checkpoint(model)
    rng = np.random.default_rng(20261130)
    cases = {
        "batch3_T37": rng.integers(0, cfg["vocab_size"], size=(3, 37)).astype(np.int32),
        "full_seq_len": rng.integers(0, cfg["vocab_size"], size=(1, cfg["seq_len"])).astype(np.int32),
    }
    failed = False
    for name, tokens in cases.items():
        tok_path = os.path.join(work, f"tokens_{name}.npy")
        np.save(tok_path, tokens)
        expected = ref.forward(cfg, weights, tokens)
        for route in ("direct", "v0", "v1"):
            out = os.path.join(work, f"logits_{name}_{route}.npy")
            subprocess.run([program, model, tok_path, out, "--route", route, "--work", work], check=True)
            got = np.load(out).astype(np.float64)
            if got.shape != expected.shape:
                print(f"{name}/{route}: shape {got.shape}, expected {expected.shape}")
                failed = True
                continue
            err = np.abs(got - expected).max(axis=-1)
            scale = np.abs(expected).max(axis=-1)
            ratio = (err / scale).max()
            print(f"{name}/{route}: worst row error / row max = {ratio:.3e}")
            if not ratio <= 1e-4:
                failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
