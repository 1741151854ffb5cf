#!/usr/bin/env python3
"""lowp-ptq end to end on stories260K, against numpy and against itself.

Usage: check_lowp_ptq.py LOWP_PTQ MODEL WORK_DIR

- info: the config and parameter count equal what the file's header gives (read here).
- sample: a [count, length] int32 .npy that starts with BOS, stays in the vocabulary,
  and is the same for the same seed; temperature 0 is the same through every route.
- eval: the perplexity equals the one computed here from the independent numpy forward
  pass (tests/model/reference_llama2c.py) to 1e-4 relative; the model against itself has
  KL 0 and top-1 1; FP8/INT8 activations move KL off 0; a llama2.c .bin token file gives
  the .npy's figures.
- convert: llama2.c v0 -> v1 -> Hugging Face -> v0 gives the same file as v0 directly, and
  each route evaluates to the same perplexity.
- quantize: a report per layer; the packed file evaluates exactly as the fake-quantized
  model; existing outputs, MX with groups of 128, too few calibration tokens are refused.
- paper: both tables' 17 settings, the float one with KL 0.
- outliers: the float model's logits unchanged at every point, the sweep's and the model's
  own figures there, the chart's data written; a factor that is not a power of two refused.
- failures: a token outside the vocabulary, a truncated checkpoint, a bad command line,
  an unwritable output; each exits non-zero with a message naming the file, and leaves no
  output file behind.
Exits 77 (skipped) without numpy.
"""
import json
import os
import struct
import subprocess
import sys

try:
    import numpy as np
except ImportError as e:  # pragma: no cover
    print(f"skipped: numpy is not available ({e})")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model"))
import reference_llama2c as ref  # noqa: E402

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def run(tool, *args, expect=0):
    p = subprocess.run([tool, *args], capture_output=True, text=True)
    if expect is not None and p.returncode != expect:
        print(p.stdout, p.stderr)
        check(False, f"lowp-ptq {' '.join(args)} exited {p.returncode}, expected {expect}")
    return p


def run_json(tool, *args):
    p = run(tool, *args, "--json")
    return json.loads(p.stdout) if p.returncode == 0 else {}


def numpy_ppl(cfg, weights, tokens):
    """exp(mean NLL of tokens[:, 1:]) from the numpy reference's logits, in float64."""
    logits = ref.forward(cfg, weights, tokens).astype(np.float64)  # [batch, T, vocab]
    nll = []
    for b in range(tokens.shape[0]):
        for t in range(tokens.shape[1] - 1):
            row = logits[b, t]
            m = row.max()
            lse = m + np.log(np.exp(row - m).sum())
            nll.append(lse - row[tokens[b, t + 1]])
    return float(np.exp(np.mean(nll)))


def main():
    tool, model, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    path = lambda name: os.path.join(work, name)  # noqa: E731
    for name in os.listdir(work):  # a clean start: the checks below look for leftovers
        full = path(name)
        if os.path.isdir(full):
            for f in os.listdir(full):
                os.remove(os.path.join(full, f))
            os.rmdir(full)
        else:
            os.remove(full)

    # info: the header read here, the parameter count from the shapes.
    with open(model, "rb") as f:
        dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack("<7i", f.read(28))
    kv = dim // heads * kv_heads
    params = abs(vocab) * dim + layers * (2 * dim + 2 * dim * dim + 2 * kv * dim + 3 * hidden * dim) + dim
    if vocab < 0:
        params += -vocab * dim
    info = run_json(tool, "info", model)
    c = info.get("config", {})
    check(
        [c.get(k) for k in ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len")]
        == [dim, hidden, layers, heads, kv_heads, abs(vocab), seq_len],
        "info: the config is the file's header",
    )
    check(c.get("parameters") == params, f"info: {c.get('parameters')} parameters, {params} from the shapes")
    check(c.get("rope") == "interleaved" and info.get("format") == "llama2c", "info: llama2.c, interleaved RoPE")

    # sample
    run(tool, "sample", model, "--out", path("ev.npy"), "--count", "6", "--length", "96", "--seed", "1000")
    run(tool, "sample", model, "--out", path("ev2.npy"), "--count", "6", "--length", "96", "--seed", "1000")
    tokens = np.load(path("ev.npy"))
    check(tokens.dtype == np.int32 and tokens.shape == (6, 96), f"sample: int32 [6, 96], got {tokens.dtype} {tokens.shape}")
    check(bool((tokens[:, 0] == 1).all()), "sample: every sequence starts with BOS (1)")
    check(bool(((tokens >= 0) & (tokens < abs(vocab))).all()), "sample: ids in the vocabulary")
    check(np.array_equal(tokens, np.load(path("ev2.npy"))), "sample: the same seed, the same tokens")
    check(len(set(map(tuple, tokens.tolist()))) == 6, "sample: each sequence its own seed")

    # eval against numpy
    cfg, weights = ref.load_checkpoint(model)
    expected = numpy_ppl(cfg, weights, tokens)
    e = run_json(tool, "eval", model, "--tokens", path("ev.npy"), "--reference", model, "--batch", "4")
    got = e.get("ppl", float("nan"))
    check(abs(got - expected) <= 1e-4 * expected, f"eval: PPL {got:.6f}, numpy {expected:.6f}")
    check(e.get("predicted_tokens") == 6 * 95, "eval: 95 predicted tokens per sequence")
    check(abs(np.exp(e.get("mean_nll", 0)) - got) <= 1e-9 * got, "eval: PPL = exp(mean NLL)")
    check(e.get("kl", {}).get("max") == 0 and e.get("top1") == 1, "eval: the model against itself, KL 0, top-1 1")
    for act in ("int8", "fp8_e4m3", "fp8_e5m2"):
        q = run_json(tool, "eval", model, "--tokens", path("ev.npy"), "--reference", model, "--act", act)
        kl = q.get("kl", {})
        check(
            kl.get("mean", 0) > 0 and 0 < q.get("top1", 0) < 1 and kl.get("max", 0) >= kl.get("p99", 1) >= kl.get("median", 2),
            f"eval --act {act}: KL mean {kl.get('mean')}, top-1 {q.get('top1')}",
        )
    # The same tokens as llama2.c's flat uint16 .bin.
    tokens.astype("<u2").tofile(path("ev.bin"))
    b = run_json(tool, "eval", model, "--tokens", path("ev.bin"), "--length", "96")
    check(b.get("ppl") == got, "eval: a .bin token file gives the .npy's PPL")

    # convert: v0 -> v1 -> hf -> v0
    run(tool, "convert", model, path("m.v0.bin"), "--to", "llama2c-v0")
    run(tool, "convert", path("m.v0.bin"), path("m.v1.bin"), "--to", "llama2c-v1")
    run(tool, "convert", path("m.v1.bin"), path("hf"), "--to", "hf")
    run(tool, "convert", path("hf"), path("m.back.bin"), "--to", "llama2c-v0")
    with open(path("m.v0.bin"), "rb") as f1, open(path("m.back.bin"), "rb") as f2:
        check(f1.read() == f2.read(), "convert: v0 -> v1 -> hf -> v0 gives back the same file")
    check(json.load(open(path("hf/config.json")))["hidden_size"] == dim, "convert: config.json has the model's dim")
    for route in ("m.v1.bin", "hf"):
        r = run_json(tool, "eval", path(route), "--tokens", path("ev.npy"))
        check(abs(r.get("ppl", 0) - got) <= 1e-4 * got, f"eval through {route}: PPL {r.get('ppl')}")
    greedy = ("--count", "2", "--length", "64", "--temperature", "0")
    run(tool, "sample", model, "--out", path("g0.npy"), *greedy)
    run(tool, "sample", path("hf"), "--out", path("g1.npy"), *greedy)
    check(np.array_equal(np.load(path("g0.npy")), np.load(path("g1.npy"))), "sample: greedy is the same through hf")

    # quantize: the fake-quantized model and the packed file evaluate the same; a second
    # run refuses existing outputs; a bad scheme leaves nothing behind.
    q = run_json(tool, "quantize", model, path("w4.bin"), "--packed", path("w4.safetensors"), "--wformat", "fp4_e2m1",
                 "--scale", "m2", "--group", "32", "--lorc-rank", "4", "--act", "fp8_e4m3", "--calib-count", "8",
                 "--calib-length", "64")
    check(len(q.get("layers", [])) == 7 * layers, f"quantize: a report per linear layer ({len(q.get('layers', []))})")
    check(all(0 < r["rel_output_error"] < 1 for r in q.get("layers", [])), "quantize: every relative output error in (0, 1)")
    fake = run_json(tool, "eval", path("w4.bin"), "--tokens", path("ev.npy"), "--act", "fp8_e4m3")
    packed = run_json(tool, "eval", path("w4.safetensors"), "--tokens", path("ev.npy"))
    check(packed.get("activations") == "fp8_e4m3", "eval: a packed file's activation format is used")
    check(fake.get("ppl") is not None and fake.get("ppl") == packed.get("ppl"),
          f"eval: the packed file gives the fake-quantized model's PPL ({fake.get('ppl')}, {packed.get('ppl')})")
    # eval --kernel w4a8: the packed layers (M2 FP4, LoRC) through lowp::w4a8_linear on the
    # FP8 codes.  Each layer is within the kernel's bound of the fake-quantized layer
    # (test_quantize_model checks that); across blocks a difference that small can still
    # move an activation across an FP8 rounding boundary, and the flips grow from block to
    # block, as any perturbation of that size does (docs/w4a8.md: a one-ulp change of the
    # fake model's weights moves its PPL by a similar amount).  So the PPLs agree to 2%.
    kern = run_json(tool, "eval", path("w4.safetensors"), "--tokens", path("ev.npy"), "--kernel", "w4a8")
    check(kern.get("kernel") == "w4a8" and kern.get("tokens_per_second", 0) > 0, f"eval --kernel w4a8: {kern}")
    check(kern.get("activations") == "fp8_e4m3", "eval --kernel w4a8: the packed file's activation format")
    check(abs(kern.get("ppl", 0) - packed.get("ppl", 1)) <= 0.02 * packed.get("ppl", 1),
          f"eval --kernel w4a8: PPL {kern.get('ppl')} vs fake-quantized {packed.get('ppl')}")
    port = run_json(tool, "eval", path("w4.safetensors"), "--tokens", path("ev.npy"), "--kernel", "w4a8",
                    "--kernel-path", "portable")
    check(abs(port.get("ppl", 0) - kern.get("ppl", 1)) <= 1e-5 * kern.get("ppl", 1),
          f"eval --kernel w4a8 --kernel-path portable: PPL {port.get('ppl')} vs {kern.get('ppl')}")
    p = run(tool, "eval", model, "--tokens", path("ev.npy"), "--kernel", "w4a8", expect=1)
    check("packed" in p.stderr, f"eval --kernel w4a8 on a float model is refused: {p.stderr.strip()}")
    p = run(tool, "eval", path("w4.safetensors"), "--tokens", path("ev.npy"), "--kernel", "w4a8", "--act", "int8",
            expect=1)
    check("fp8_e4m3" in p.stderr and "int8" in p.stderr,
          f"eval --kernel w4a8 with the wrong activation format is refused: {p.stderr.strip()}")
    p = run(tool, "quantize", model, path("w4.bin"), expect=1)
    check("exists" in p.stderr and "--force" in p.stderr, f"quantize: an existing output is refused: {p.stderr.strip()}")
    p = run(tool, "quantize", model, path("out_mx.bin"), "--packed", path("out_mx.safetensors"), "--scale", "mx", expect=1)
    check("group size 128" in p.stderr, f"quantize: MX with groups of 128 is refused: {p.stderr.strip()}")
    p = run(tool, "quantize", model, path("out_few.bin"), "--calib-count", "1", "--calib-length", "16", expect=1)
    check("fewer than the" in p.stderr, f"quantize: too few calibration tokens: {p.stderr.strip()}")
    # paper: every row of both tables, the float row exact.
    g = run_json(tool, "paper", model, "--seeds", "1", "--calib-count", "4", "--calib-length", "64", "--eval-count", "2",
                 "--eval-length", "64", "--group", "32")
    rows = g.get("rows", [])
    check(len(rows) == 17 and rows[0]["setting"] == "W16A16" and rows[0]["kl"] == [0.0],
          f"paper: 17 settings, the float one with KL 0 ({len(rows)})")

    # outliers: the float model unchanged at every point; its own channels measured; a factor
    # that is not a power of two refused.
    o = run_json(tool, "outliers", model, "--seeds", "1", "--alphas", "1,256", "--channels", "4",
                 "--w4a8-alphas", "256", "--calib-count", "4", "--calib-length", "64", "--eval-count", "2",
                 "--eval-length", "64", "--csv", path("out_outliers.tsv"))
    check(o.get("function_preserved") is True and len(o.get("w16a8", [])) == 6 and len(o.get("w4a8", [])) == 2
          and len(o.get("own_channels", [])) == 4 * cfg["n_layers"],
          f"outliers: the float model kept, 6 W16A8 and 2 W4A8 points, 4 inputs per block ({len(o.get('w16a8', []))})")
    with open(path("out_outliers.tsv")) as f:
        check(len([ln for ln in f if ln[:1].isdigit()]) == 2, "outliers: --csv has a line per alpha")
    os.remove(path("out_outliers.tsv"))
    p = run(tool, "outliers", model, "--alphas", "3", "--seeds", "1", "--eval-count", "2", "--eval-length", "16",
            "--calib-count", "4", "--calib-length", "64", expect=1)
    check("power of two" in p.stderr, f"outliers: alpha 3 is refused: {p.stderr.strip()}")

    # failures
    bad = tokens.copy()
    bad[2, 40] = abs(vocab)
    np.save(path("bad.npy"), bad)
    p = run(tool, "eval", model, "--tokens", path("bad.npy"), expect=1)
    check("bad.npy" in p.stderr and "sequence 2, position 40" in p.stderr, f"a token outside the vocabulary: {p.stderr.strip()}")
    np.save(path("long.npy"), np.ones((1, seq_len + 1), dtype=np.int32))
    p = run(tool, "eval", model, "--tokens", path("long.npy"), expect=1)
    check("long.npy" in p.stderr and "seq_len" in p.stderr, f"a sequence longer than seq_len: {p.stderr.strip()}")
    with open(model, "rb") as f:
        head = f.read(5000)
    with open(path("trunc.bin"), "wb") as f:
        f.write(head)
    p = run(tool, "convert", path("trunc.bin"), path("out.bin"), "--to", "llama2c-v1", expect=1)
    check("trunc.bin" in p.stderr, f"a truncated checkpoint: {p.stderr.strip()}")
    p = run(tool, "convert", path("trunc.bin"), path("outdir"), "--to", "hf", expect=1)
    p = run(tool, "sample", model, "--out", path("nodir/x.npy"), expect=1)
    check("nodir" in p.stderr, f"an output in a missing folder: {p.stderr.strip()}")
    left = sorted(n for n in os.listdir(work) if n.startswith(("out", "nodir")) or n.endswith(".tmp"))
    check(left == [], f"no partial output left behind: {left}")
    p = run(tool, "eval", model, expect=2)
    check("--tokens" in p.stderr, "a missing option: exit 2 and a message")
    p = run(tool, "eval", model, "--tokens", path("ev.npy"), "--act", "fp4", expect=2)
    check("fp4" in p.stderr, "an unknown activation format: exit 2 and a message")

    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
