#!/usr/bin/env python3
"""Independent float64 reference forward pass for llama2.c checkpoints.

An oracle for lowp's C++ llama2.c forward pass. It is written from the
llama2.c sources alone and shares no code with lowp: Python 3 + numpy only.

Sources checked (github.com/karpathy/llama2.c):
  * run.c @ bd182289c596fa6059eb7b3b7c8ccd04b5c90fc3, checkpoint_init_weights()
    (= memory_map_weights() in later revisions) for the legacy layout, and
    transformer() for the forward semantics (RMSNorm eps 1e-5, RoPE recomputed
    on interleaved pairs, grouped-query attention, SwiGLU FFN);
  * export.py @ 09db52c69ec7dd485618f899f854b8183eb0e87b, legacy_export() and
    version1_export() for both on-disk layouts.

Legacy ("version 0") layout: 7 x int32 header (dim, hidden_dim, n_layers,
n_heads, n_kv_heads, vocab_size, seq_len; vocab_size < 0 means an unshared
classifier), then float32: token_embedding[V,D], rms_att[L,D], wq[L,D,D],
wk[L,KV,D], wv[L,KV,D], wo[L,D,D], rms_ffn[L,D], w1[L,H,D], w2[L,D,H],
w3[L,H,D], rms_final[D], freq_cis_real[S,hs/2], freq_cis_imag[S,hs/2]
(ignored), then wcls[V,D] only if unshared.

Version 1 layout (export.py version1_export): uint32 magic 0x616b3432 "ak42",
int32 version = 1, the same 7 x int32 (vocab_size positive), uint8
shared_classifier, zero padding to byte 256, then float32: rms_att[L,D],
rms_ffn[L,D], rms_final[D], token_embedding[V,D], wq[L,D,D], wk[L,KV,D],
wv[L,KV,D], wo[L,D,D], w1[L,H,D], w2[L,D,H], w3[L,H,D], then wcls[V,D] only
if not shared.  (Norms first, then the embedding, then the matrices.)

All matrices are [out, in] row-major: y = W @ x.

CLI:
  reference_llama2c.py MODEL --tokens TOKENS.npy [--out LOGITS.npy]
                       [--check CANDIDATE.npy [--rtol 1e-4]]
TOKENS.npy: integer [batch, T]; LOGITS.npy: float64 [batch, T, vocab], row t
being the logits after reading tokens[0..t].  --check passes when, for every
(b, t) row, max|cand - ref| <= rtol * max|ref row|.
Exit codes: 0 ok, 1 check failed, 2 bad model/input, 77 numpy missing (skip).
"""
import argparse
import math
import struct
import sys

try:
    import numpy as np
except ImportError as exc:  # ctest treats 77 as "skipped" (SKIP_RETURN_CODE)
    print(f"SKIP: numpy cannot be imported ({exc}) by {sys.executable}")
    sys.exit(77)

MAGIC_V1 = 0x616B3432  # "ak42"
V1_HEADER_BYTES = 256


class BadInput(Exception):
    """Malformed checkpoint or token file (exit code 2)."""


def load_checkpoint(path):
    """Returns (cfg dict, weights dict of float64 arrays)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 28:
        raise BadInput(f"{path}: {len(blob)} bytes, too short for a header")
    (magic,) = struct.unpack_from("<I", blob, 0)
    if magic == MAGIC_V1:
        if len(blob) < V1_HEADER_BYTES:
            raise BadInput(f"{path}: v1 magic but shorter than its 256-byte header")
        (version,) = struct.unpack_from("<i", blob, 4)
        if version != 1:
            raise BadInput(f"{path}: export version {version} unsupported (only 0 and 1)")
        params = struct.unpack_from("<7i", blob, 8)
        shared_flag = blob[36]
        if shared_flag not in (0, 1):
            raise BadInput(f"{path}: shared_classifier flag is {shared_flag}, not 0/1")
        shared, offset, fmt = bool(shared_flag), V1_HEADER_BYTES, "v1"
        if params[5] <= 0:
            raise BadInput(f"{path}: v1 vocab_size must be positive, got {params[5]}")
    else:
        params = struct.unpack_from("<7i", blob, 0)
        shared, offset, fmt = params[5] > 0, 28, "legacy"
    dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len = params
    vocab = abs(vocab)
    names = ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len")
    for name, val in zip(names, (dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len)):
        if val <= 0:
            raise BadInput(f"{path}: header {name} = {val} is not positive")
    if dim % n_heads or n_heads % n_kv_heads or (dim // n_heads) % 2:
        raise BadInput(f"{path}: dim {dim}, n_heads {n_heads}, n_kv_heads {n_kv_heads}"
                       " do not give an even head_size and integer GQA groups")
    hs = dim // n_heads
    kv_dim = dim * n_kv_heads // n_heads
    L, D, H, V, S = n_layers, dim, hidden, vocab, seq_len
    mats = [("wq", (L, D, D)), ("wk", (L, kv_dim, D)), ("wv", (L, kv_dim, D)),
            ("wo", (L, D, D)), ("w1", (L, H, D)), ("w2", (L, D, H)), ("w3", (L, H, D))]
    if fmt == "legacy":
        order = ([("token_embedding", (V, D)), ("rms_att", (L, D))] + mats[:4]
                 + [("rms_ffn", (L, D))] + mats[4:]
                 + [("rms_final", (D,)), ("freq_cis_real", (S, hs // 2)),
                    ("freq_cis_imag", (S, hs // 2))])
    else:
        order = ([("rms_att", (L, D)), ("rms_ffn", (L, D)), ("rms_final", (D,)),
                  ("token_embedding", (V, D))] + mats)
    if not shared:
        order.append(("wcls", (V, D)))
    n_floats = sum(math.prod(shape) for _, shape in order)
    expected = offset + 4 * n_floats
    if len(blob) != expected:
        raise BadInput(f"{path}: {fmt} header {params} (shared={shared}) implies "
                       f"{expected} bytes, file has {len(blob)}")
    flat = np.frombuffer(blob, dtype="<f4", count=n_floats, offset=offset)
    weights, pos = {}, 0
    for name, shape in order:
        n = math.prod(shape)
        weights[name] = flat[pos:pos + n].reshape(shape).astype(np.float64)
        pos += n
    weights.pop("freq_cis_real", None)  # legacy RoPE tables: recomputed instead
    weights.pop("freq_cis_imag", None)
    if shared:
        weights["wcls"] = weights["token_embedding"]
    cfg = dict(format=fmt, dim=D, hidden_dim=H, n_layers=L, n_heads=n_heads,
               n_kv_heads=n_kv_heads, vocab_size=V, seq_len=S, shared=shared,
               head_size=hs, kv_dim=kv_dim)
    return cfg, weights


def rmsnorm(x, w):
    return w * x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-5)


def rope(vec, cos, sin):
    """Rotates interleaved pairs (vec[..., 2j], vec[..., 2j+1]); vec is [B, T, n]."""
    v = vec.reshape(vec.shape[:-1] + (-1, 2))
    v0, v1 = v[..., 0], v[..., 1]
    out = np.stack((v0 * cos - v1 * sin, v0 * sin + v1 * cos), axis=-1)
    return out.reshape(vec.shape)


def forward(cfg, w, tokens):
    """tokens: integer [B, T] -> float64 logits [B, T, vocab], causal."""
    B, T = tokens.shape
    D, hs = cfg["dim"], cfg["head_size"]
    nh, nkv, kv_dim = cfg["n_heads"], cfg["n_kv_heads"], cfg["kv_dim"]
    kv_mul = nh // nkv
    # RoPE as in run.c: for element pair i (even), freq = 10000^-((i % hs) / hs)
    i = np.arange(0, D, 2)
    freq = 1.0 / np.power(10000.0, (i % hs) / hs)
    angle = np.arange(T, dtype=np.float64)[:, None] * freq[None, :]  # [T, D/2]
    cos, sin = np.cos(angle), np.sin(angle)
    kcos, ksin = cos[:, :kv_dim // 2], sin[:, :kv_dim // 2]
    future = np.triu(np.ones((T, T), dtype=bool), k=1)  # t' > t is masked
    x = w["token_embedding"][tokens]  # [B, T, D]
    for l in range(cfg["n_layers"]):
        xb = rmsnorm(x, w["rms_att"][l])
        q = rope(xb @ w["wq"][l].T, cos, sin)
        k = rope(xb @ w["wk"][l].T, kcos, ksin)
        v = xb @ w["wv"][l].T
        q = q.reshape(B, T, nh, hs).transpose(0, 2, 1, 3)  # [B, nh, T, hs]
        # query head h reads kv head h // kv_mul
        k = np.repeat(k.reshape(B, T, nkv, hs), kv_mul, axis=2).transpose(0, 2, 1, 3)
        v = np.repeat(v.reshape(B, T, nkv, hs), kv_mul, axis=2).transpose(0, 2, 1, 3)
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hs)  # [B, nh, T, T]
        scores = np.where(future, -np.inf, scores)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        att = scores / scores.sum(axis=-1, keepdims=True)
        out = (att @ v).transpose(0, 2, 1, 3).reshape(B, T, D)
        x = x + out @ w["wo"][l].T
        xb = rmsnorm(x, w["rms_ffn"][l])
        h1 = xb @ w["w1"][l].T
        h3 = xb @ w["w3"][l].T
        x = x + (h1 / (1.0 + np.exp(-h1)) * h3) @ w["w2"][l].T
    x = rmsnorm(x, w["rms_final"])
    return x @ w["wcls"].T


def load_tokens(path, cfg):
    tokens = np.load(path)
    if tokens.ndim != 2 or not np.issubdtype(tokens.dtype, np.integer):
        raise BadInput(f"{path}: need an integer [batch, T] array, got "
                       f"{tokens.dtype} {tokens.shape}")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= cfg["vocab_size"]):
        raise BadInput(f"{path}: token ids outside [0, {cfg['vocab_size']})")
    if tokens.shape[1] > cfg["seq_len"]:
        raise BadInput(f"{path}: T = {tokens.shape[1]} exceeds seq_len {cfg['seq_len']}")
    return tokens.astype(np.int64)


def check(ref, cand_path, rtol):
    """Per-row relative check; returns the process exit code."""
    cand = np.load(cand_path)
    if cand.shape != ref.shape:
        print(f"FAIL: candidate shape {cand.shape} != reference shape {ref.shape}")
        return 1
    if ref.size == 0:
        print("OK: empty arrays")
        return 0
    diff = np.abs(cand.astype(np.float64) - ref)
    diff = np.where(np.isfinite(diff), diff, np.inf)  # NaN/inf in candidate fails
    scale = np.abs(ref).max(axis=-1)  # [B, T]
    ratio = diff.max(axis=-1) / np.maximum(scale, np.finfo(np.float64).tiny)
    b, t = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    j = int(np.argmax(diff[b, t]))
    worst = ratio[b, t]
    where = (f"batch {b}, pos {t}, vocab {j}: cand {float(cand[b, t, j]):.9g}"
             f" ref {ref[b, t, j]:.9g}, row max|ref| {scale[b, t]:.6g}")
    n_bad = int(np.count_nonzero(~(ratio <= rtol)))
    if n_bad:
        print(f"FAIL: {n_bad}/{ratio.size} rows exceed rtol {rtol:g}; worst "
              f"max|cand-ref|/max|ref row| = {worst:.3e} at {where}")
        return 1
    print(f"OK: worst max|cand-ref|/max|ref row| = {worst:.3e} <= rtol {rtol:g} "
          f"({ratio.size} rows; at {where})")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="llama2.c checkpoint (.bin, legacy or v1)")
    ap.add_argument("--tokens", required=True, help="int [batch, T] .npy")
    ap.add_argument("--out", help="write float64 [batch, T, vocab] logits here (.npy)")
    ap.add_argument("--check", metavar="CANDIDATE", help="logits .npy to compare")
    ap.add_argument("--rtol", type=float, default=1e-4,
                    help="per-row tolerance relative to max|ref row| (default 1e-4)")
    args = ap.parse_args(argv)
    if not args.out and not args.check:
        ap.error("nothing to do: give --out and/or --check")
    try:
        cfg, weights = load_checkpoint(args.model)
        tokens = load_tokens(args.tokens, cfg)
    except (BadInput, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ref = forward(cfg, weights, tokens)
    if args.out:
        np.save(args.out, ref)
    if args.check:
        try:
            return check(ref, args.check, args.rtol)
        except (OSError, ValueError) as exc:
            print(f"error: cannot read candidate: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
