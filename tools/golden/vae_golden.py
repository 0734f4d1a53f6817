#!/usr/bin/env python3
"""Golden vectors for the Wan2.1 VAE decoder: wan/modules/vae.py's WanVAE_.decode (chunked by latent
frame with its feature cache, then clamped to [-1, 1] as WanVAE.decode does), imported from a checkout
given as WAN_SRC (nothing of it is copied), on tiny random configs with Wan2.1's structure
(dim_mult [1, 2, 4, 4], 2 residual blocks, temporal upsampling [True, True, False], z_dim 16, Wan's
latent mean and std). Weights are saved under the original keys (as in wan_2.1_vae.safetensors) and
under diffusers' AutoencoderKLWan keys with a vae/config.json.

usage: WAN_SRC=DIR python3 vae_golden.py OUT_DIR CASE [CASE ...]
"""
import importlib.util, json, math, os, sys, types
import torch
import torch.nn.functional as F

torch.set_num_threads(max(1, os.cpu_count() or 1))

# ---- shims -----------------------------------------------------------------
# einops is not in Debian's python3-torch set: vae.py uses two rearrange patterns only.
def rearrange(x, pattern, **kw):
    if pattern.replace(" ", "") == "bcthw->(bt)chw":
        b, c, t, h, w = x.shape
        return x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
    if pattern.replace(" ", "") == "(bt)chw->bcthw":
        t = kw["t"]; bt, c, h, w = x.shape
        return x.reshape(bt // t, t, c, h, w).permute(0, 2, 1, 3, 4)
    raise ValueError(pattern)
ein = types.ModuleType("einops"); ein.rearrange = rearrange; sys.modules["einops"] = ein

# torch 1.13 has no F.scaled_dot_product_attention: exact attention, softmax in float64.
def exact_sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False):
    assert attn_mask is None and not is_causal
    qq, kk, vv = (t.to(torch.float64) for t in (q, k, v))
    s = (qq @ kk.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    return (torch.softmax(s, dim=-1) @ vv).to(q.dtype)
F.scaled_dot_product_attention = exact_sdpa

spec = importlib.util.spec_from_file_location("wan_vae", os.path.join(os.environ["WAN_SRC"], "wan/modules/vae.py"))
vae = importlib.util.module_from_spec(spec); spec.loader.exec_module(vae)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

MEAN = [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
        0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921]
STD = [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
       3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160]

CASES = {  # name: (base width, latent T, h, w, seed)
    "tiny": (8, 3, 3, 5, 1),
    "tiny_tall": (4, 4, 5, 3, 2),
}

# ---- diffusers AutoencoderKLWan key names, written from the decoder's structure ----
RES = {"residual.0.gamma": "norm1.gamma", "residual.2.weight": "conv1.weight", "residual.2.bias": "conv1.bias",
       "residual.3.gamma": "norm2.gamma", "residual.6.weight": "conv2.weight", "residual.6.bias": "conv2.bias",
       "shortcut.weight": "conv_shortcut.weight", "shortcut.bias": "conv_shortcut.bias"}

def diffusers_key(k, num_res_blocks=2, stages=4):
    p = k.split(".")
    if k.startswith("conv2."): return "post_quant_conv." + p[1]
    if k.startswith("decoder.conv1."): return "decoder.conv_in." + p[2]
    if k.startswith("decoder.head.0."): return "decoder.norm_out.gamma"
    if k.startswith("decoder.head.2."): return "decoder.conv_out." + p[3]
    if k.startswith("decoder.middle."):
        i, rest = int(p[2]), ".".join(p[3:])
        if i == 1: return "decoder.mid_block.attentions.0." + rest
        return f"decoder.mid_block.resnets.{i // 2}.{RES[rest]}"
    if k.startswith("decoder.upsamples."):
        i, rest = int(p[2]), ".".join(p[3:])
        per = num_res_blocks + 2  # residual blocks, then one resample (none after the last stage)
        s, j = divmod(i, per)
        if j == num_res_blocks + 1: return f"decoder.up_blocks.{s}.upsamplers.0.{rest}"
        return f"decoder.up_blocks.{s}.resnets.{j}.{RES[rest]}"
    raise KeyError(k)

def run(out_dir, name):
    dim, T, h, w, seed = CASES[name]
    torch.manual_seed(seed)
    cfg = dict(dim=dim, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
               temperal_downsample=[False, True, True], dropout=0.0)
    m = vae.WanVAE_(**cfg).eval()
    with torch.no_grad():
        for pn, p in m.named_parameters():
            if pn.endswith("gamma"): p.copy_(1 + 0.2 * torch.randn_like(p))
            elif p.dim() == 1: p.copy_(0.1 * torch.randn_like(p))
            else: p.copy_(torch.randn_like(p) / p[0].numel() ** 0.5)
        # keep the frames mostly inside (-1, 1), so the final clamp hides no error
        m.decoder.head[2].weight.mul_(0.3)
    mean, std = torch.tensor(MEAN), torch.tensor(STD)
    z = torch.randn(1, 16, T, h, w)
    with torch.no_grad():
        frames = m.decode(z, [mean, 1.0 / std]).float().clamp_(-1, 1)
    assert frames.shape == (1, 3, 1 + 4 * (T - 1), 8 * h, 8 * w), frames.shape
    d = os.path.join(out_dir, name); os.makedirs(os.path.join(d, "vae"), exist_ok=True)
    sd = {k: v.numpy() for k, v in m.state_dict().items() if k.startswith("decoder.") or k.startswith("conv2.")}
    write_safetensors(os.path.join(d, "wan_2.1_vae.safetensors"), sd)
    write_safetensors(os.path.join(d, "vae", "diffusion_pytorch_model.safetensors"), {diffusers_key(k): v for k, v in sd.items()})
    config = {"_class_name": "AutoencoderKLWan", "base_dim": dim, "z_dim": 16, "dim_mult": [1, 2, 4, 4],
              "num_res_blocks": 2, "attn_scales": [], "temperal_downsample": [False, True, True], "dropout": 0.0,
              "latents_mean": MEAN, "latents_std": STD}
    with open(os.path.join(d, "vae", "config.json"), "w") as f: json.dump(config, f, indent=2); f.write("\n")
    write_safetensors(os.path.join(d, "io.safetensors"), {"latents": z.numpy(), "frames": frames.numpy()},
                      meta={"layout": "NCTHW", "latents": "normalized Wan latents [1,16,T,h,w] as the pipeline samples them",
                            "frames": "WanVAE.decode output [1,3,F,H,W], clamped to [-1,1]"})
    sat = float((frames.abs() >= 1).float().mean())
    print(name, "params", sum(v.size for v in sd.values()), "saturated", sat, "latents", tuple(z.shape),
          "frames", tuple(frames.shape), "std", float(frames.std()))

if __name__ == "__main__":
    for n in sys.argv[2:]:
        run(sys.argv[1], n)
