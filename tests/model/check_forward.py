#!/usr/bin/env python3
"""lowp's forward pass against the independent numpy one (reference_llama2c.py).

Usage: check_forward.py MODEL_LOGITS_PROGRAM MODEL WORK_DIR

Samples token sequences (fixed seed, the model's full seq_len included so that RoPE is
checked at every position), runs the C++ program by every route (the file as it is;
written back as llama2.c version 0 and version 1 and read again; and converted here, with
numpy alone, to a Hugging Face safetensors folder with rotate-half q/k rows), and requires each
route's logits to match the numpy reference to 1e-4 relative per row.  Exits 77 (skipped)
without numpy.
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_llama2c as ref  # noqa: E402


def write_hf_folder(cfg, weights, folder):
    """The checkpoint as a Hugging Face LLaMA folder, written here with numpy alone:
    config.json and one F32 model.safetensors (an 8-byte little-endian header length, the
    JSON header, the data), q/k rows of each head permuted from llama2.c's interleaved
    RoPE pairs (2i, 2i+1) to rotate-half's (i, i + hs/2), as Hugging Face's
    convert_llama_weights_to_hf.py does."""
    os.makedirs(folder, exist_ok=True)
    hs = cfg["head_size"]
    order = np.concatenate([np.arange(0, hs, 2), np.arange(1, hs, 2)])  # new row j <- old row order[j]

    def permute(w):
        heads = w.shape[0] // hs
        return w.reshape(heads, hs, -1)[:, order, :].reshape(w.shape)

    tensors = [("model.embed_tokens.weight", weights["token_embedding"])]
    for layer in range(cfg["n_layers"]):
        p = f"model.layers.{layer}."
        tensors += [
            (p + "input_layernorm.weight", weights["rms_att"][layer]),
            (p + "self_attn.q_proj.weight", permute(weights["wq"][layer])),
            (p + "self_attn.k_proj.weight", permute(weights["wk"][layer])),
            (p + "self_attn.v_proj.weight", weights["wv"][layer]),
            (p + "self_attn.o_proj.weight", weights["wo"][layer]),
            (p + "post_attention_layernorm.weight", weights["rms_ffn"][layer]),
            (p + "mlp.gate_proj.weight", weights["w1"][layer]),
            (p + "mlp.down_proj.weight", weights["w2"][layer]),
            (p + "mlp.up_proj.weight", weights["w3"][layer]),
        ]
    tensors.append(("model.norm.weight", weights["rms_final"]))
    if not cfg["shared"]:
        tensors.append(("lm_head.weight", weights["wcls"]))
    header, blobs, offset = {}, [], 0
    for name, w in tensors:
        data = np.ascontiguousarray(w, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(w.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    config = {
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": cfg["dim"],
        "intermediate_size": cfg["hidden_dim"],
        "num_hidden_layers": cfg["n_layers"],
        "num_attention_heads": cfg["n_heads"],
        "num_key_value_heads": cfg["n_kv_heads"],
        "vocab_size": cfg["vocab_size"],
        "max_position_embeddings": cfg["seq_len"],
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "tie_word_embeddings": cfg["shared"],
    }
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)


def main():
    program, model, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    cfg, weights = ref.load_checkpoint(model)
    hf_folder = os.path.join(work, "hf_numpy")
    write_hf_folder(cfg, weights, hf_folder)
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
        # The file as it is, written back by lowp as v0 / v1, and the Hugging Face folder
        # written above (safetensors, rotate-half RoPE).
        for route in ("direct", "v0", "v1", "hf"):
            out = os.path.join(work, f"logits_{name}_{route}.npy")
            source, how = (hf_folder, "direct") if route == "hf" else (model, route)
            subprocess.run([program, source, tok_path, out, "--route", how, "--work", work], check=True)
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
