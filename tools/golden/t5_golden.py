#!/usr/bin/env python3
"""Golden vectors for Wan2.1's umT5 text encoder, computed by the original Wan2.1 code
(wan/modules/t5.py, `T5Encoder` as `umt5_xxl(encoder_only=True)` builds it: shared_pos=False, so
every block has its own relative position bias), imported from a checkout given as WAN_SRC;
nothing of it is copied here.

Shims, and only these: the package's `tokenizers` module (needs ftfy/transformers, unused by the
encoder) is replaced by an empty module, and `torch.cuda.current_device` (evaluated as a default
argument when t5.py is imported) returns 'cpu'. The encoder runs as written, in float32 on the CPU.

Each case writes, under OUT_DIR/<case>/:
  wan.safetensors                    weights under Wan's original names (T5Encoder's state_dict)
  hf/config.json, hf/model*.safetensors  the same weights under Hugging Face UMT5EncoderModel names
  inputs.safetensors                 input_ids [2, L] and mask [2, L] (as F32; two prompts, padded)
  outputs.safetensors                output [2, L, dim] (padded rows included: ignore them)
plus OUT_DIR/buckets.json: the bidirectional bucket of every relative position −600…600.

usage: WAN_SRC=DIR python3 t5_golden.py OUT_DIR CASE [CASE ...]
"""
import importlib.util, json, os, sys, types
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors, round_bf16  # noqa: E402

torch.set_num_threads(max(1, os.cpu_count() or 1))

# ---- shims, then import wan/modules/t5.py as a module of a stand-in package ----
torch.cuda.current_device = lambda: 'cpu'
PKG = "wan_t5_golden"
pkg = types.ModuleType(PKG); pkg.__path__ = []
tok = types.ModuleType(PKG + ".tokenizers"); tok.HuggingfaceTokenizer = None
sys.modules.update({PKG: pkg, PKG + ".tokenizers": tok})
spec = importlib.util.spec_from_file_location(PKG + ".t5", os.path.join(os.environ["WAN_SRC"], "wan", "modules", "t5.py"))
t5 = importlib.util.module_from_spec(spec); sys.modules[PKG + ".t5"] = t5; spec.loader.exec_module(t5)

# case: vocab, dim, heads, d_kv, ffn, layers, buckets, max_dist(128 in Wan), lengths, weight dtype, shards
CASES = {
    # 4 heads of 8; prompts of 13 and 21 tokens, the first padded to 21 (log-spaced buckets from offset 8 on)
    "tiny": dict(vocab=97, dim=32, heads=4, d_kv=8, ffn=48, layers=2, buckets=32, lengths=(13, 21), dtype="F32", shards=1),
    # d_kv·heads ≠ dim and odd sizes; offsets past max_distance 128 (the last bucket); HF weights in 2 shards
    "odd": dict(vocab=131, dim=36, heads=6, d_kv=5, ffn=50, layers=3, buckets=32, lengths=(150, 37), dtype="F32", shards=2),
    # weights stored as BF16; the outputs were computed from exactly those values, in float32
    "tiny_bf16": dict(vocab=97, dim=32, heads=4, d_kv=8, ffn=48, layers=2, buckets=32, lengths=(9, 30), dtype="BF16", shards=1),
}


def hf_name(wan_name):
    """Wan's T5Encoder key → Hugging Face UMT5EncoderModel key."""
    if wan_name == "token_embedding.weight": return "shared.weight"
    if wan_name == "norm.weight": return "encoder.final_layer_norm.weight"
    parts = wan_name.split(".")
    assert parts[0] == "blocks", wan_name
    i, rest = parts[1], ".".join(parts[2:])
    table = {
        "norm1.weight": "layer.0.layer_norm.weight",
        "attn.q.weight": "layer.0.SelfAttention.q.weight",
        "attn.k.weight": "layer.0.SelfAttention.k.weight",
        "attn.v.weight": "layer.0.SelfAttention.v.weight",
        "attn.o.weight": "layer.0.SelfAttention.o.weight",
        "pos_embedding.embedding.weight": "layer.0.SelfAttention.relative_attention_bias.weight",
        "norm2.weight": "layer.1.layer_norm.weight",
        "ffn.gate.0.weight": "layer.1.DenseReluDense.wi_0.weight",
        "ffn.fc1.weight": "layer.1.DenseReluDense.wi_1.weight",
        "ffn.fc2.weight": "layer.1.DenseReluDense.wo.weight",
    }
    return f"encoder.block.{i}.{table[rest]}"


def make_case(out_dir, name, c):
    torch.manual_seed(17 + len(name))
    model = t5.T5Encoder(vocab=c["vocab"], dim=c["dim"], dim_attn=c["heads"] * c["d_kv"], dim_ffn=c["ffn"],
                         num_heads=c["heads"], num_layers=c["layers"], num_buckets=c["buckets"],
                         shared_pos=False, dropout=0.1).eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("norm1.weight") or n.endswith("norm2.weight") or n == "norm.weight":
                p.copy_(1 + 0.2 * torch.randn_like(p))  # init leaves them at 1, which would hide a missing norm weight
            elif "pos_embedding" in n:
                p.mul_(40.0)  # a bias large enough to matter against the q·k scores
            if c["dtype"] == "BF16":
                p.copy_(round_bf16(p))
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}

    L = max(c["lengths"])
    g = torch.Generator().manual_seed(5)
    ids = torch.randint(0, c["vocab"], (2, L), generator=g)
    mask = torch.zeros(2, L, dtype=torch.long)
    for b, n in enumerate(c["lengths"]):
        mask[b, :n] = 1
        ids[b, n:] = 0  # the pad id
    with torch.no_grad():
        out = model(ids, mask)

    d = os.path.join(out_dir, name); os.makedirs(os.path.join(d, "hf"), exist_ok=True)
    write_safetensors(os.path.join(d, "wan.safetensors"), state, dtype=c["dtype"])
    hf = {hf_name(k): v for k, v in state.items()}
    names = list(hf)
    if c["shards"] == 1:
        write_safetensors(os.path.join(d, "hf", "model.safetensors"), hf, dtype=c["dtype"])
    else:
        per = (len(names) + c["shards"] - 1) // c["shards"]
        weight_map = {}
        for s in range(c["shards"]):
            shard = f"model-{s + 1:05d}-of-{c['shards']:05d}.safetensors"
            part = {n: hf[n] for n in names[s * per:(s + 1) * per]}
            write_safetensors(os.path.join(d, "hf", shard), part, dtype=c["dtype"])
            weight_map.update({n: shard for n in part})
        with open(os.path.join(d, "hf", "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=1)
    config = {
        "architectures": ["UMT5EncoderModel"], "model_type": "umt5", "d_model": c["dim"], "d_kv": c["d_kv"],
        "d_ff": c["ffn"], "num_layers": c["layers"], "num_heads": c["heads"],
        "relative_attention_num_buckets": c["buckets"], "relative_attention_max_distance": 128,
        "feed_forward_proj": "gated-gelu", "vocab_size": c["vocab"], "layer_norm_epsilon": 1e-6,
        "is_encoder_decoder": True, "pad_token_id": 0, "eos_token_id": 1, "torch_dtype": "float32" if c["dtype"] == "F32" else "bfloat16",
    }
    with open(os.path.join(d, "hf", "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    write_safetensors(os.path.join(d, "inputs.safetensors"), {"input_ids": ids.numpy(), "mask": mask.numpy()})
    write_safetensors(os.path.join(d, "outputs.safetensors"), {"output": out.numpy()})
    print(f"{name}: ids {list(ids.shape)}, output {list(out.shape)}, |out| mean {out.abs().mean():.3f}")


def write_buckets(out_dir):
    rel = torch.arange(-600, 601)
    emb = t5.T5RelativeEmbedding(32, 1, bidirectional=True)
    buckets = emb._relative_position_bucket(rel)
    with open(os.path.join(out_dir, "buckets.json"), "w") as f:
        json.dump({"num_buckets": 32, "max_distance": emb.max_dist, "first_offset": -600, "buckets": buckets.tolist()}, f)


if __name__ == "__main__":
    out_dir, cases = sys.argv[1], sys.argv[2:]
    os.makedirs(out_dir, exist_ok=True)
    write_buckets(out_dir)
    for name in cases:
        make_case(out_dir, name, CASES[name])
