"""Sample clips from a checkpoint with the shipped scheduler + CFG and judge them automatically.

  nice -n 10 /usr/bin/python3 train/toy/eval.py train/toy/runs/main/checkpoint.pt   # or ema_XXXXXX.pt, or public/models/toy
Prints JSON: colour accuracy (dominant non-background colour = prompt colour) and motion accuracy
(direction of the centroid motion of non-background pixels = prompt direction) over --n prompts.
"""
import argparse
import json
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data  # noqa: E402
import sched  # noqa: E402
import st  # noqa: E402
from export import GUIDANCE, SHIFT, STEPS, load_ckpt  # noqa: E402
from model import TextEncoder, WanTransformer  # noqa: E402

TEXT_LEN = data.TEXT_LEN


def load_any(path):
    """Returns (transformer, text encoder) with EMA weights from a .pt checkpoint or an exported folder."""
    if os.path.isdir(path):
        cfg = json.load(open(os.path.join(path, "transformer", "config.json")))
        w, _ = st.load(os.path.join(path, "transformer", "diffusion_pytorch_model.safetensors"))
        model = WanTransformer(cfg)
        model.load_state_dict({k: v.float() for k, v in w.items()})
        tcfg = json.load(open(os.path.join(path, "text_encoder", "config.json")))
        vocab = json.load(open(os.path.join(path, "text_encoder", "vocab.json")))
        tw, _ = st.load(os.path.join(path, "text_encoder", "model.safetensors"))
        te = TextEncoder(vocab, tcfg["text_len"], tcfg["text_dim"])
        te.load_state_dict({k: v.float() for k, v in tw.items()})
    else:
        model, te, _, _ = load_ckpt(path)
    return model.eval(), te.eval()


def with_condition(model, x):
    """The model's input: the noisy clip, plus the position condition when the model takes one."""
    extra = model.patch_embedding.in_channels - x.shape[1]
    if extra == 0:
        return x
    kinds = [k for k, n in data.CONDITION_CHANNELS.items() if n == extra]
    assert kinds, f"model takes {extra} extra channels"
    return data.with_position(x, kinds[0])


@torch.no_grad()
def sample(model, te, prompts, seeds, steps=STEPS, guidance=GUIDANCE, shift=SHIFT, kind="unipc", negative=""):
    """Returns frames in [0, 1], [B, 3, F, H, W]. Noise from torch.Generator per seed (float32 randn)."""
    B = len(prompts)
    x = torch.stack([torch.randn(3, data.FRAMES, data.HEIGHT, data.WIDTH,
                                 generator=torch.Generator().manual_seed(int(s))) for s in seeds])
    cond = te(prompts)
    unc = te([negative] * B)
    sch = sched.make(kind, steps, shift)
    for t in sch.timesteps:
        tt = torch.full((B,), float(t))
        if guidance > 1:
            v = model(with_condition(model, torch.cat([x, x])), torch.cat([tt, tt]), torch.cat([cond, unc]))
            vc, vu = v[:B], v[B:]
            v = vu + guidance * (vc - vu)
        else:
            v = model(with_condition(model, x), tt, cond)
        x = sch.step(v.double(), x.double()).float()
    return ((x + 1) / 2).clamp(0, 1)


def judge(frames, colour, background, thresh=0.35, min_px=3, min_move=3.0):
    """frames [3, F, H, W] in [0, 1]. Returns (colour name or None, direction name or None)."""
    bg = torch.tensor(data.BACKGROUNDS[background]).view(3, 1, 1, 1)
    diff = (frames - bg).abs().amax(0)  # [F, H, W]
    mask = diff > thresh
    pal = torch.tensor([data.COLOURS[n] for n in data.COLOUR_NAMES])  # [K, 3]
    got_colour = None
    if mask.sum() >= min_px:
        px = frames.permute(1, 2, 3, 0)[mask]  # [N, 3]
        nearest = torch.cdist(px, pal).argmin(1)
        got_colour = data.COLOUR_NAMES[torch.bincount(nearest, minlength=len(pal)).argmax().item()]
    ys, xs = torch.meshgrid(torch.arange(data.HEIGHT).float(), torch.arange(data.WIDTH).float(), indexing="ij")
    cents = []
    for f in range(frames.shape[1]):
        m = mask[f].float()
        n = m.sum()
        if n >= min_px:
            cents.append((f, (m * xs).sum() / n, (m * ys).sum() / n))
    got_dir = None
    if len(cents) >= 4:
        t = torch.tensor([c[0] for c in cents]).float()
        cx = torch.tensor([c[1] for c in cents])
        cy = torch.tensor([c[2] for c in cents])
        tc = t - t.mean()
        span = data.FRAMES - 1
        vx = (tc * (cx - cx.mean())).sum() / (tc * tc).sum() * span  # fitted displacement over the clip
        vy = (tc * (cy - cy.mean())).sum() / (tc * tc).sum() * span
        if max(abs(vx), abs(vy)) >= min_move:
            got_dir = ("right" if vx > 0 else "left") if abs(vx) >= abs(vy) else ("down" if vy > 0 else "up")
    return got_colour, got_dir


@torch.no_grad()
def sensitivity(model, te, B=16, seed=3):
    """How much the prediction depends on the direction word vs the colour word: rms of v(caption) - v(caption with
    the direction flipped / the colour changed) on noised real clips, per sigma."""
    g = torch.Generator().manual_seed(seed)
    x0, caps, _ = data.sample_batch(B, g)
    eps = torch.randn(x0.shape, generator=g)
    flip = {"left": "right", "right": "left", "up": "down", "down": "up"}
    names = data.COLOUR_NAMES
    cols = dict(zip(names, names[1:] + names[:1]))
    caps_d = [" ".join(flip.get(w, w) for w in c.split()) for c in caps]
    caps_c = [" ".join(cols.get(w, w) for w in c.split()) for c in caps]
    out = {}
    for s in [0.3, 0.6, 0.8, 0.9, 0.97, 1.0]:
        xt = with_condition(model, (1 - s) * x0 + s * eps)
        t = torch.full((B,), s * 1000)
        v = model(xt, t, te(caps))
        out[str(s)] = {"direction": round((v - model(xt, t, te(caps_d))).pow(2).mean().sqrt().item(), 5),
                       "colour": round((v - model(xt, t, te(caps_c))).pow(2).mean().sqrt().item(), 5)}
    return out


def prompt_set(n, seed=1234):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        c = data.COLOUR_NAMES[torch.randint(len(data.COLOUR_NAMES), (1,), generator=g).item()]
        s = data.SHAPES[torch.randint(len(data.SHAPES), (1,), generator=g).item()]
        d = data.DIR_NAMES[i % len(data.DIR_NAMES)]
        b = data.BG_NAMES[(i // len(data.DIR_NAMES)) % len(data.BG_NAMES)]
        out.append((c, s, d, b))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("checkpoint", nargs="?", default=os.path.join(HERE, "runs", "main", "checkpoint.pt"))
    p.add_argument("--n", type=int, default=32)
    p.add_argument("--steps", type=int, default=STEPS)
    p.add_argument("--guidance", type=float, default=GUIDANCE)
    p.add_argument("--shift", type=float, default=SHIFT)
    p.add_argument("--scheduler", choices=["unipc", "euler"], default="unipc")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="1 is ~10x faster than 2 on this shared 2-core machine under nice (OpenMP threads stall)")
    p.add_argument("--sheet", default="", help="write a PPM contact sheet of the samples here")
    p.add_argument("--truth", action="store_true", help="judge ground-truth clips instead (tests the judge)")
    p.add_argument("--sensitivity", action="store_true",
                   help="also report how much the prediction changes when the direction / colour word is swapped")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    prompts = prompt_set(a.n)
    caps = [data.caption(*q) for q in prompts]
    t0 = time.time()
    step = None
    if a.truth:
        g = torch.Generator().manual_seed(a.seed)
        vids, caps2, attrs = data.sample_batch(a.n, g)
        frames = (vids + 1) / 2
        prompts = [(data.COLOUR_NAMES[c], data.SHAPES[s], data.DIR_NAMES[d], data.BG_NAMES[b]) for c, s, d, b in
                   zip(attrs["colour"].tolist(), attrs["shape"].tolist(), attrs["direction"].tolist(), attrs["background"].tolist())]
        caps = caps2
    else:
        model, te = load_any(a.checkpoint)
        if not os.path.isdir(a.checkpoint):
            step = torch.load(a.checkpoint, map_location="cpu").get("step")
        frames = sample(model, te, caps, [a.seed + i for i in range(a.n)], a.steps, a.guidance, a.shift, a.scheduler)
    res = []
    for (c, s, d, b), fr in zip(prompts, frames):
        gc, gd = judge(fr, c, b)
        res.append({"colour": c, "shape": s, "direction": d, "background": b, "got_colour": gc, "got_direction": gd})
    n = len(res)
    out = {
        "checkpoint": a.checkpoint, "step": step, "scheduler": a.scheduler, "steps": a.steps, "guidance": a.guidance,
        "shift": a.shift, "n": n,
        "colour_acc": sum(r["got_colour"] == r["colour"] for r in res) / n,
        "motion_acc": sum(r["got_direction"] == r["direction"] for r in res) / n,
        "both_acc": sum(r["got_colour"] == r["colour"] and r["got_direction"] == r["direction"] for r in res) / n,
        "moving_frac": sum(r["got_direction"] is not None for r in res) / n,
        "seconds": round(time.time() - t0, 1),
        "per_direction": {d: sum(r["got_direction"] == d for r in res if r["direction"] == d) /
                          max(1, sum(r["direction"] == d for r in res)) for d in data.DIR_NAMES},
        # prompted direction -> how often each direction (or none: no clear motion) was judged
        "confusion": {d: {str(g): sum(r["got_direction"] == g for r in res if r["direction"] == d)
                          for g in data.DIR_NAMES + [None]} for d in data.DIR_NAMES},
        "failures": [f"{data.caption(r['colour'], r['shape'], r['direction'], r['background'])} -> "
                     f"{r['got_colour']}/{r['got_direction']}" for r in res
                     if r["got_colour"] != r["colour"] or r["got_direction"] != r["direction"]][:12],
    }
    if a.sensitivity and not a.truth:
        out["sensitivity_rms"] = sensitivity(model, te)
    print(json.dumps(out, indent=1))
    if a.sheet:
        B = frames.shape[0]
        sheet = frames.permute(0, 3, 2, 4, 1).reshape(B * data.HEIGHT, data.FRAMES * data.WIDTH, 3)
        sheet = (sheet * 255).round().byte().numpy()
        with open(a.sheet, "wb") as f:
            f.write(b"P6 %d %d 255\n" % (sheet.shape[1], sheet.shape[0]))
            f.write(sheet.tobytes())


if __name__ == "__main__":
    main()
