"""Train the toy Wan2.1 text-to-video model (rectified flow, as Wan's flow schedulers expect).

  nice -n 10 /usr/bin/python3 train/toy/train.py --name main            # new run
  nice -n 10 /usr/bin/python3 train/toy/train.py --name main --resume   # continue from runs/main/checkpoint.pt

Writes train/toy/runs/<name>/: checkpoint.pt (full state, every --save-every steps and on SIGTERM/SIGINT),
ema_<step>.pt (EMA weights only, every --snapshot-every steps), train.log.
"""
import argparse
import copy
import json
import math
import os
import signal
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data  # noqa: E402
from model import TextEncoder, WanTransformer, flops_per_forward  # noqa: E402

TEXT_LEN = data.TEXT_LEN


def make_config(a):
    return {
        "_class_name": "WanTransformer3DModel",
        "_diffusers_version": "0.33.0",
        "patch_size": list(a.patch),
        "num_attention_heads": a.heads,
        "attention_head_dim": a.head_dim,
        "in_channels": 3 + data.CONDITION_CHANNELS.get(a.condition, 0),
        "out_channels": 3,
        "text_dim": a.text_dim,
        "freq_dim": 256,
        "ffn_dim": a.ffn,
        "num_layers": a.layers,
        "cross_attn_norm": True,
        "qk_norm": "rms_norm_across_heads",
        "eps": 1e-06,
        "image_dim": None,
        "added_kv_proj_dim": None,
        "rope_max_seq_len": 1024,
    }


def sample_sigma(B, shift, gen):
    u = torch.rand(B, generator=gen)
    return shift * u / (1 + (shift - 1) * u)


def build(cfg, text_dim):
    model = WanTransformer(cfg).init_weights()
    te = TextEncoder(data.vocabulary(), TEXT_LEN, text_dim)
    return model, te


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--name", default="main")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--init", default="", help="start from this checkpoint's weights and EMA (fresh optimiser, step 0)")
    p.add_argument("--condition", choices=["none", "position", "spacetime"], default="none",
                   help="clean channels concatenated to the noisy clip: data.position_condition (x, y, t ramps; spacetime adds x·t, y·t)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr-frac", type=float, default=0.1)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--decay-steps", type=int, default=12000, help="cosine decay length; LR stays at the floor after")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--shift", type=float, default=3.0, help="sigma = shift*u/(1+(shift-1)u), u ~ U(0,1)")
    p.add_argument("--cfg-drop", type=float, default=0.1)
    p.add_argument("--max-steps", type=int, default=10 ** 9)
    p.add_argument("--save-every", type=int, default=100)
    p.add_argument("--snapshot-every", type=int, default=500)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--threads", type=int, default=1,
                   help="1 is ~10x faster than 2 on this shared 2-core machine under nice (OpenMP threads stall)")
    p.add_argument("--bench", type=int, default=0, help="time N steps and exit (no files written)")
    # model size
    p.add_argument("--patch", type=int, nargs=3, default=[2, 4, 4])
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--head-dim", type=int, default=64)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--ffn", type=int, default=256)
    p.add_argument("--text-dim", type=int, default=32)
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    run_dir = os.path.join(HERE, "runs", a.name)
    ckpt_path = os.path.join(run_dir, "checkpoint.pt")
    state = None
    init = None
    if a.resume or a.init:
        state = torch.load(ckpt_path if a.resume else a.init, map_location="cpu")
        saved = state["args"]
        for k in ["patch", "heads", "head_dim", "layers", "ffn", "text_dim"]:  # model shape from the checkpoint
            setattr(a, k, saved[k])
        # a model keeps the channels it was trained with; --init may grow them (position → spacetime)
        if a.resume or data.CONDITION_CHANNELS.get(a.condition, 0) < data.CONDITION_CHANNELS.get(saved.get("condition"), 0):
            a.condition = saved.get("condition", "none")
        if not a.resume:
            init, state = state, None
    cfg = make_config(a)
    torch.manual_seed(a.seed)
    model, te = build(cfg, a.text_dim)
    params = list(model.parameters()) + list(te.parameters())
    opt = torch.optim.AdamW(params, lr=a.lr, betas=(0.9, 0.99), weight_decay=a.weight_decay)
    ema_model, ema_te = copy.deepcopy(model), copy.deepcopy(te)
    for q in list(ema_model.parameters()) + list(ema_te.parameters()):
        q.requires_grad_(False)
    gen = torch.Generator().manual_seed(a.seed + 1)
    step = 0
    if state is not None:
        model.load_state_dict(state["model"])
        te.load_state_dict(state["text_encoder"])
        ema_model.load_state_dict(state["ema_model"])
        ema_te.load_state_dict(state["ema_text_encoder"])
        opt.load_state_dict(state["opt"])
        gen.set_state(state["gen"])
        torch.set_rng_state(state["torch_rng"])
        step = state["step"]
    if init is not None:
        # A model gaining condition channels: the new input channels of the patch embedding keep their fresh
        # random initialisation (zeros would leave the rest of the network no position signal to learn from).
        # An EMA-only snapshot (ema_XXXXXX.pt) starts both the weights and their EMA from the EMA weights.
        fresh = model.patch_embedding.weight.detach().clone()
        for target, key in [(model, "model"), (ema_model, "ema_model")]:
            weights = dict(init.get(key, init["ema_model"]))
            old = weights["patch_embedding.weight"]
            if old.shape != fresh.shape:
                grown = fresh.clone()
                grown[:, :old.shape[1]] = old
                weights["patch_embedding.weight"] = grown
            target.load_state_dict(weights)
        te.load_state_dict(init.get("text_encoder", init["ema_text_encoder"]))
        ema_te.load_state_dict(init["ema_text_encoder"])
    nparam = sum(q.numel() for q in model.parameters())
    gflop = flops_per_forward(cfg, data.FRAMES, data.HEIGHT, data.WIDTH, TEXT_LEN) / 1e9

    log_f = None
    if not a.bench:
        os.makedirs(run_dir, exist_ok=True)
        log_f = open(os.path.join(run_dir, "train.log"), "a")
        json.dump(cfg, open(os.path.join(run_dir, "config.json"), "w"), indent=2)

    def log(msg):
        line = time.strftime("%Y-%m-%d %H:%M:%S ") + msg
        print(line, flush=True)
        if log_f:
            log_f.write(line + "\n")
            log_f.flush()

    log(f"{'resume' if state else 'start'} step {step}; params {nparam} (+text {sum(q.numel() for q in te.parameters())}); "
        f"{gflop:.3f} GFLOP/forward; args {vars(a)}")

    def save():
        tmp = ckpt_path + ".tmp"
        torch.save({"model": model.state_dict(), "text_encoder": te.state_dict(),
                    "ema_model": ema_model.state_dict(), "ema_text_encoder": ema_te.state_dict(),
                    "opt": opt.state_dict(), "gen": gen.get_state(), "torch_rng": torch.get_rng_state(),
                    "step": step, "args": vars(a), "config": cfg}, tmp)
        os.replace(tmp, ckpt_path)

    def snapshot():
        path = os.path.join(run_dir, f"ema_{step:06d}.pt")
        torch.save({"ema_model": ema_model.state_dict(), "ema_text_encoder": ema_te.state_dict(),
                    "step": step, "args": vars(a), "config": cfg}, path + ".tmp")
        os.replace(path + ".tmp", path)

    stop = {"flag": False}

    def on_signal(signum, frame):
        stop["flag"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    ema_params = list(ema_model.parameters()) + list(ema_te.parameters())
    loss_acc, n_acc, t_last, step_last = 0.0, 0, time.time(), step
    t_bench = None
    while step < a.max_steps and not stop["flag"]:
        # learning rate: linear warm-up, cosine to min_lr_frac over decay_steps, then flat
        if step < a.warmup:
            lr = a.lr * (step + 1) / a.warmup
        else:
            prog = min(1.0, (step - a.warmup) / max(1, a.decay_steps - a.warmup))
            lr = a.lr * (a.min_lr_frac + (1 - a.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * prog)))
        for g in opt.param_groups:
            g["lr"] = lr
        x0, caps, _ = data.sample_batch(a.batch, gen)
        drop = torch.rand(a.batch, generator=gen) < a.cfg_drop
        caps = ["" if d else c for c, d in zip(caps, drop.tolist())]
        sigma = sample_sigma(a.batch, a.shift, gen)
        eps = torch.randn(x0.shape, generator=gen)
        s = sigma.view(-1, 1, 1, 1, 1)
        xt = (1 - s) * x0 + s * eps
        target = eps - x0
        ctx = te(caps)
        if a.condition != "none":
            xt = data.with_position(xt, a.condition)
        pred = model(xt, sigma * 1000, ctx)
        loss = F.mse_loss(pred, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        decay = min(a.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema_params, params):
                pe.mul_(decay).add_(pm.detach(), alpha=1 - decay)
        loss_acc += loss.item()
        n_acc += 1
        if a.bench:
            if step - step_last == 2:
                t_bench = time.time(); c_bench = time.process_time()
            if step - step_last >= a.bench + 2:
                dt = (time.time() - t_bench) / a.bench
                print(f"BENCH cpu {(time.process_time() - c_bench) / a.bench:.3f} s/step wall {dt:.3f} s/step batch {a.batch} gflop {gflop:.3f} params {nparam}")
                return
            continue
        if step % a.log_every == 0:
            now = time.time()
            log(f"step {step} loss {loss_acc / n_acc:.5f} lr {lr:.2e} {(step - step_last) / (now - t_last):.3f} steps/s")
            loss_acc, n_acc, t_last, step_last = 0.0, 0, now, step
        if step % a.save_every == 0:
            save()
        if step % a.snapshot_every == 0:
            snapshot()
    if not a.bench:
        save()
        log(f"stopped at step {step}; checkpoint saved")


if __name__ == "__main__":
    main()
