"""The native anchor for webdit's GPU numbers: a Wan2.1-1.3B-shaped transformer forward in PyTorch.

Same layout as bench/wan-shaped-model.ts (dim 1,536, 12 heads of 128, FFN 8,960, 30 blocks, patch 1×2×2,
text 512×4,096, pixel space: 3 channels in and out), random bf16 weights, CFG as one batch of two
(cond, uncond), attention by torch's scaled_dot_product_attention. Written from the architecture's
description for timing only: its outputs mean nothing, but its FLOPs and memory traffic are Wan's.

  python3 bench/gpu_anchor.py torch --tokens 2304,16384 --out torch.json       # step times + kernel TFLOP/s
  python3 bench/gpu_anchor.py torch --tiny --device cpu --out t.json            # the CPU self-test's sizes
  python3 bench/gpu_anchor.py merge --torch t.json --webdit-dir DIR --out all.json

`merge` joins the PyTorch JSON with the webdit runs bench/gpu-anchor.sh leaves in DIR (info-*.json,
step-*.json, kernels-*.json) and writes the ratios and the 832×480×81 estimate into one JSON.
"""

import argparse
import glob
import json
import math
import os
import sys
import time

WAN_1_3B = dict(dim=1536, heads=12, ffn=8960, layers=30, text_len=512, text_dim=4096, freq_dim=256, channels=3)
TINY = dict(dim=64, heads=2, ffn=160, layers=2, text_len=16, text_dim=32, freq_dim=16, channels=3)
# 832×480×81 through Wan's VAE (8× spatial, 4× temporal) and patch 1×2×2: 21 × 30 × 52 tokens.
VIDEO_480P_TOKENS = 21 * 30 * 52


def attention(q, k, v):
    """q, k, v [B, H, L, d] → [B, H, L, d]; SDPA where torch has it (2.0+), else the plain product."""
    import torch
    import torch.nn.functional as F
    if hasattr(F, 'scaled_dot_product_attention'):
        return F.scaled_dot_product_attention(q, k, v)
    scores = torch.matmul(q, k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
    return torch.matmul(scores.softmax(-1), v)


def build_model(cfg, device, dtype, seed=0):
    """Random weights for every tensor the forward uses, keyed like Wan's checkpoints."""
    import torch
    gen = torch.Generator(device='cpu').manual_seed(seed)
    d, f, t = cfg['dim'], cfg['ffn'], cfg['text_dim']

    def w(*shape, std=None):
        std = std if std is not None else 1 / math.sqrt(shape[-1])
        return (torch.randn(*shape, generator=gen) * std).to(device=device, dtype=dtype)

    p = {
        'patch': w(d, cfg['channels'] * 4), 'patch_b': w(d, std=0.02),
        'text1': w(d, t), 'text1_b': w(d, std=0.02), 'text2': w(d, d), 'text2_b': w(d, std=0.02),
        'time1': w(d, cfg['freq_dim']), 'time1_b': w(d, std=0.02), 'time2': w(d, d), 'time2_b': w(d, std=0.02),
        'time_proj': w(6 * d, d), 'time_proj_b': w(6 * d, std=0.02),
        'head': w(cfg['channels'] * 4, d), 'head_b': w(cfg['channels'] * 4, std=0.02), 'head_table': w(2, d, std=0.1),
        'blocks': [],
    }
    for _ in range(cfg['layers']):
        b = {'table': w(6, d, std=0.1)}
        for name in ('q', 'k', 'v', 'o', 'cq', 'ck', 'cv', 'co'):
            b[name], b[name + '_b'] = w(d, d), w(d, std=0.02)
        for name in ('norm_q', 'norm_k', 'norm_cq', 'norm_ck', 'norm3'):
            b[name] = 1 + w(d, std=0.1)
        b['norm3_b'] = w(d, std=0.02)
        b['ffn1'], b['ffn1_b'], b['ffn2'], b['ffn2_b'] = w(f, d), w(f, std=0.02), w(d, f), w(d, std=0.02)
        p['blocks'].append(b)
    return p


def rope_tables(grid, head_dim, device):
    """cos, sin [L, d/2] for Wan's 3-D RoPE: the head's pairs split between frame, height and width."""
    import torch
    half = head_dim // 2
    parts = [half - 2 * (half // 3), half // 3, half // 3]
    angles = []
    for axis, (n, pairs) in enumerate(zip(grid, parts)):
        inv = 1.0 / (10000 ** (torch.arange(pairs, dtype=torch.float64) * 2 / (2 * pairs)))
        a = torch.arange(n, dtype=torch.float64)[:, None] * inv[None]
        shape = [1, 1, 1, pairs]
        shape[axis] = n
        angles.append(a.reshape(shape).expand(*grid, pairs))
    a = torch.cat(angles, -1).reshape(-1, half)
    return a.cos().float().to(device), a.sin().float().to(device)


def forward(p, cfg, x, context, timestep, rope):
    """x [B, L, 3·4] patches, context [B, text_len, text_dim], timestep [B] → [B, L, 3·4]."""
    import torch
    import torch.nn.functional as F
    d, h = cfg['dim'], cfg['heads']
    hd = d // h
    B, L, _ = x.shape
    cos, sin = rope

    def linear(a, name, blk=p):
        return F.linear(a, blk[name], blk[name + '_b'])

    def rms(a, weight):
        af = a.float()
        return (af * torch.rsqrt(af.pow(2).mean(-1, keepdim=True) + 1e-6)).to(a.dtype) * weight

    def rotate(a):  # a [B, L, H, d]: rotate each pair (2i, 2i+1)
        a2 = a.float().reshape(B, a.shape[1], h, hd // 2, 2)
        re, im = a2[..., 0], a2[..., 1]
        c, s = cos[None, :, None], sin[None, :, None]
        return torch.stack((re * c - im * s, re * s + im * c), -1).flatten(3).to(a.dtype)

    def heads(a):
        return a.reshape(B, a.shape[1], h, hd)

    def attend(q, k, v):
        o = attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return o.transpose(1, 2).reshape(B, -1, d)

    freqs = torch.exp(-math.log(10000) * torch.arange(cfg['freq_dim'] // 2, device=x.device, dtype=torch.float32) / (cfg['freq_dim'] // 2))
    tf = timestep.float()[:, None] * freqs[None]
    t_emb = torch.cat((tf.cos(), tf.sin()), -1).to(x.dtype)
    e = linear(F.silu(linear(t_emb, 'time1')), 'time2')
    e6 = linear(F.silu(e), 'time_proj').reshape(B, 6, d)
    ctx = linear(F.gelu(linear(context, 'text1'), approximate='tanh'), 'text2')
    hidden = linear(x, 'patch')
    for blk in p['blocks']:
        mod = (blk['table'][None] + e6).float()
        shift1, scale1, gate1, shift2, scale2, gate2 = [m[:, None] for m in mod.unbind(1)]
        n = (F.layer_norm(hidden.float(), (d,), eps=1e-6) * (1 + scale1) + shift1).to(x.dtype)
        q = rotate(heads(rms(linear(n, 'q', blk), blk['norm_q'])))
        k = rotate(heads(rms(linear(n, 'k', blk), blk['norm_k'])))
        v = heads(linear(n, 'v', blk))
        hidden = (hidden.float() + linear(attend(q, k, v), 'o', blk).float() * gate1).to(x.dtype)
        n = F.layer_norm(hidden, (d,), blk['norm3'], blk['norm3_b'], eps=1e-6)
        q = heads(rms(linear(n, 'cq', blk), blk['norm_cq']))
        k = heads(rms(linear(ctx, 'ck', blk), blk['norm_ck']))
        v = heads(linear(ctx, 'cv', blk))
        hidden = hidden + linear(attend(q, k, v), 'co', blk)
        n = (F.layer_norm(hidden.float(), (d,), eps=1e-6) * (1 + scale2) + shift2).to(x.dtype)
        ff = linear(F.gelu(linear(n, 'ffn1', blk), approximate='tanh'), 'ffn2', blk)
        hidden = (hidden.float() + ff.float() * gate2).to(x.dtype)
    shift, scale = (p['head_table'][None] + e[:, None]).float().unbind(1)
    out = F.layer_norm(hidden.float(), (d,), eps=1e-6) * (1 + scale[:, None]) + shift[:, None]
    return linear(out.to(x.dtype), 'head')


def grid_for(tokens):
    """A (frames, height/2, width/2) patch grid with `tokens` cells, as the webdit runs use."""
    known = {2304: (3, 24, 32), 16384: (16, 32, 32), 96: (3, 4, 8), 256: (4, 8, 8)}
    if tokens not in known:
        raise SystemExit(f'--tokens: {tokens} has no grid here; known: {sorted(known)}')
    return known[tokens]


def synchronize(device):
    import torch
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def timed(fn, device, min_seconds, min_reps=3):
    """Median seconds of `fn` after one warm-up, repeated until min_seconds have passed."""
    fn()
    synchronize(device)
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2], len(times)


def run_torch(args):
    import torch
    device = args.device
    dtype = {'bf16': torch.bfloat16, 'f16': torch.float16, 'f32': torch.float32}[args.dtype]
    cfg = TINY if args.tiny else WAN_1_3B
    torch.manual_seed(0)
    p = build_model(cfg, device, dtype)
    result = {
        'torch': torch.__version__,
        'device': torch.cuda.get_device_name() if device.startswith('cuda') else 'cpu',
        'dtype': args.dtype,
        'config': cfg,
        'cfg_batch': 'cond and uncond as one batch of 2',
        'sdpa': hasattr(torch.nn.functional, 'scaled_dot_product_attention'),
        'steps': [],
        'kernels': {'matmul': [], 'attention': []},
    }
    with torch.no_grad():
        for tokens in args.tokens:
            grid = grid_for(tokens)
            x = torch.randn(2, tokens, cfg['channels'] * 4, device=device, dtype=dtype)
            context = torch.randn(2, cfg['text_len'], cfg['text_dim'], device=device, dtype=dtype) * 0.35
            timestep = torch.tensor([500.0, 500.0], device=device)
            rope = rope_tables(grid, cfg['dim'] // cfg['heads'], device)
            out = forward(p, cfg, x, context, timestep, rope)
            if not torch.isfinite(out.float()).all():
                raise SystemExit(f'the forward at {tokens} tokens gave non-finite values')
            seconds, reps = timed(lambda: forward(p, cfg, x, context, timestep, rope), device, args.min_seconds)
            result['steps'].append({'tokens': tokens, 'grid': grid, 'secondsPerStep': seconds, 'reps': reps})
            d, f = cfg['dim'], cfg['ffn']
            for n, k in ((d, d), (f, d), (d, f), (6 * d, d)):
                a = torch.randn(tokens, k, device=device, dtype=dtype)
                b = torch.randn(n, k, device=device, dtype=dtype)
                s, _ = timed(lambda: torch.nn.functional.linear(a, b), device, args.min_seconds / 4)
                result['kernels']['matmul'].append({'M': tokens, 'N': n, 'K': k, 'seconds': s, 'tflops': 2 * tokens * n * k / s / 1e12})
            h = cfg['heads']
            q, kk, v = (torch.randn(1, h, tokens, d // h, device=device, dtype=dtype) for _ in range(3))
            s, _ = timed(lambda: attention(q, kk, v), device, args.min_seconds / 4)
            result['kernels']['attention'].append({'tokens': tokens, 'heads': h, 'headDim': d // h, 'seconds': s, 'tflops': 4 * tokens * tokens * d / s / 1e12})
    with open(args.out, 'w') as fh:
        json.dump(result, fh, indent=2)
    print(json.dumps({'torch': result['device'], 'steps': result['steps']}))


def load_json(path):
    with open(path) as fh:
        return json.load(fh)


def run_merge(args):
    """One JSON: PyTorch's numbers, each webdit configuration's, the ratios and the 480p×81 estimate."""
    native = load_json(args.torch)
    native_steps = {s['tokens']: s['secondsPerStep'] for s in native['steps']}
    configurations = []
    for info_path in sorted(glob.glob(os.path.join(args.webdit_dir, 'info-*.json'))):
        name = os.path.basename(info_path)[len('info-'):-len('.json')]
        entry = {'name': name, 'info': load_json(info_path), 'steps': [], 'kernels': None}
        for step_path in sorted(glob.glob(os.path.join(args.webdit_dir, f'step-{name}-*.json'))):
            step = load_json(step_path)
            if 'error' in step:
                entry['steps'].append(step)
                continue
            tokens, per_step = step['tokens'], step['secondsPerStep']
            row = {'tokens': tokens, 'steps': step['steps'], 'secondsPerStep': per_step, 'stepMs': step['stepMs'],
                   'kernelPaths': step['kernelPaths']}
            if tokens in native_steps:
                row['torchSecondsPerStep'] = native_steps[tokens]
                row['speedOfTorch'] = native_steps[tokens] / per_step
            entry['steps'].append(row)
        kernels = os.path.join(args.webdit_dir, f'kernels-{name}.json')
        if os.path.exists(kernels):
            entry['kernels'] = load_json(kernels)
        entry['estimate480p81'] = estimate_480p(entry['steps'], native_steps)
        configurations.append(entry)
    meta = os.path.join(args.webdit_dir, 'meta.json')
    merged = {'meta': load_json(meta) if os.path.exists(meta) else None, 'torch': native, 'webdit': configurations,
              'estimateMethod': ESTIMATE_METHOD}
    if native['config'] != WAN_1_3B:
        merged['selfTest'] = 'PyTorch ran the tiny model, webdit the 1.3B layout: the ratios and estimates mean nothing'
    with open(args.out, 'w') as fh:
        json.dump(merged, fh, indent=2)
    summary = [{'name': c['name'], 'steps': c['steps'], 'estimate480p81': c['estimate480p81']} for c in configurations]
    print(json.dumps(summary, indent=2))


ESTIMATE_METHOD = (
    'step time at 32,760 tokens (832×480×81 through the VAE and patch 1×2×2) = the largest measured size\'s seconds per '
    'FLOP × the FLOPs at 32,760 (linear layers and attention, which grows as L²); 50 steps; BWCache at an assumed 2.0× '
    '(arXiv 2509.13789 reports about that for Wan2.1; random weights cannot measure it). '
    'speedOfTorch = PyTorch seconds per step / webdit seconds per step (1 = as fast as native)')


def forward_flops(tokens, cfg=WAN_1_3B):
    """FLOPs of one Wan-1.3B forward per CFG branch: linear layers and attention."""
    d, f, n = cfg['dim'], cfg['ffn'], cfg['layers']
    linear = 2 * tokens * (4 * d * d + 2 * d * d + 2 * d * f) + 2 * cfg['text_len'] * 2 * d * d
    attn = 4 * tokens * tokens * d + 4 * tokens * cfg['text_len'] * d
    return n * linear, n * attn


def estimate_480p(steps, native_steps):
    """Seconds for 50 steps at 832×480×81, scaling the largest measured size by FLOPs."""
    steps = [s for s in steps if 'error' not in s]
    if not steps:
        return None
    largest = max(steps, key=lambda s: s['tokens'])
    lin, att = forward_flops(largest['tokens'])
    lin_big, att_big = forward_flops(VIDEO_480P_TOKENS)
    # Time split between linear and attention in proportion to FLOPs at the measured size.
    per_flop = largest['secondsPerStep'] / (lin + att)
    seconds_per_step = per_flop * (lin_big + att_big)
    speedup = 2.0
    estimate = {'tokens': VIDEO_480P_TOKENS, 'secondsPerStep': seconds_per_step, 'seconds50Steps': 50 * seconds_per_step,
                'seconds50StepsBwcache': 50 * seconds_per_step / speedup, 'bwcacheSpeedupUsed': speedup}
    if largest['tokens'] in native_steps:
        native_per_flop = native_steps[largest['tokens']] / (lin + att)
        estimate['torchSeconds50Steps'] = 50 * native_per_flop * (lin_big + att_big)
    return estimate


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    t = sub.add_parser('torch')
    t.add_argument('--tokens', default='2304,16384', type=lambda s: [int(v) for v in s.split(',')])
    t.add_argument('--device', default='cuda')
    t.add_argument('--dtype', default='bf16', choices=['bf16', 'f16', 'f32'])
    t.add_argument('--tiny', action='store_true', help='a 2-block, 64-wide model (CPU self-test)')
    t.add_argument('--min-seconds', type=float, default=2.0)
    t.add_argument('--out', required=True)
    m = sub.add_parser('merge')
    m.add_argument('--torch', required=True)
    m.add_argument('--webdit-dir', required=True)
    m.add_argument('--out', required=True)
    args = parser.parse_args(argv)
    if args.command == 'torch':
        run_torch(args)
    else:
        run_merge(args)


if __name__ == '__main__':
    main(sys.argv[1:])
