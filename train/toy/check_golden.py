"""Check model.WanTransformer against the golden vectors computed with the upstream Wan2.1 code.
Usage: /usr/bin/python3 train/toy/check_golden.py [golden_dir]   (default test/golden/wan)"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from model import WanTransformer  # noqa: E402


def rel(a, b):
    return ((a - b).norm() / b.norm()).item()


def check(case_dir):
    cfg = json.load(open(os.path.join(case_dir, "config.json")))
    weights, _ = st.load(os.path.join(case_dir, "diffusion_pytorch_model.safetensors"))
    inputs, meta = st.load(os.path.join(case_dir, "inputs.safetensors"))
    outputs, _ = st.load(os.path.join(case_dir, "outputs.safetensors"))
    model = WanTransformer(cfg)
    missing, unexpected = model.load_state_dict(weights, strict=True), None
    text_len = int(meta["text_len"])
    ctx = inputs["encoder_hidden_states"]
    ctx = torch.cat([ctx, ctx.new_zeros(ctx.shape[0], text_len - ctx.shape[1], ctx.shape[2])], 1)
    with torch.no_grad():
        out, inter = model(inputs["hidden_states"], inputs["timestep"], ctx, return_intermediates=True)
    errs = {"output": rel(out, outputs["output"])}
    for k, v in inter.items():
        errs[k] = rel(v, outputs[k])
    worst = max(errs.values())
    ok = worst <= 1e-4 and all(e == e for e in errs.values())
    print(f"{os.path.basename(case_dir)}: {'OK' if ok else 'FAIL'}  worst rel err {worst:.2e}  output {errs['output']:.2e}")
    if not ok:
        for k, e in errs.items():
            print(f"   {k}: {e:.3e}")
    return ok


if __name__ == "__main__":
    root = sys.argv[1] if len(sys.argv) > 1 else "test/golden/wan"
    results = [check(os.path.join(root, c)) for c in ["tiny", "head128", "tiny_bf16"]
               if os.path.isdir(os.path.join(root, c))]
    sys.exit(0 if all(results) else 1)
