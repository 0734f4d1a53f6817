"""Wan2.1 transformer (exact math of Wan-Video/Wan2.1 wan/modules/model.py, diffusers key names) and the
toy text encoder.

Every Linear is evaluated as a 1x1 conv1d on channel-first tokens [B, C, L] and attention as grouped
1x1 convolutions: Debian's torch routes Linear/bmm to a slow reference BLAS, but convolutions to oneDNN.
The parameters are ordinary nn.Linear weights ([out, in]) so the state dict has diffusers' names/shapes.
"""
import math
import re

import torch
import torch.nn as nn
import torch.nn.functional as F


# dilation has no effect on a 1x1 convolution, but it makes torch 1.13 choose oneDNN: for undilated 1x1
# convolutions with batch < 16 on one thread it falls back to its slow reference GEMM (~10x slower).
_DIL = 2


def lin(x, m):
    """nn.Linear m applied to channel-first x [B, Cin, L] -> [B, Cout, L]."""
    return F.conv1d(x, m.weight.unsqueeze(-1), m.bias, dilation=_DIL)


def layer_norm_cf(x, eps, weight=None, bias=None):
    """LayerNorm over the channel dim of [B, C, L] (biased variance, like nn.LayerNorm)."""
    return F.layer_norm(x.transpose(1, 2), (x.shape[1],), weight, bias, eps).transpose(1, 2)


def gelu_tanh(x):
    return F.gelu(x, approximate="tanh")


class RMSNormAcrossHeads(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):  # [B, C, L], normalise over all C channels
        return x * torch.rsqrt((x * x).mean(1, keepdim=True) + self.eps) * self.weight.view(1, -1, 1)


class AffineLN(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        return layer_norm_cf(x, self.eps, self.weight, self.bias)


def attention_cf(q, k, v, heads):
    """softmax(q k^T / sqrt(d)) v per head, channel-first. q [B, D, Lq], k/v [B, D, Lk] -> [B, D, Lq].
    Written as grouped 1x1 convolutions whose weights are the keys / values."""
    B, D, Lq = q.shape
    Lk = k.shape[2]
    hd = D // heads
    G = B * heads
    q = q * (1.0 / math.sqrt(hd))
    kw = k.reshape(G, hd, Lk).transpose(1, 2).reshape(G * Lk, hd, 1)
    st = F.conv1d(q.reshape(1, G * hd, Lq), kw, groups=G, dilation=_DIL)  # [1, G*Lk, Lq]: scores transposed
    p = torch.softmax(st.view(G, Lk, Lq), dim=1)
    vw = v.reshape(G * hd, Lk, 1)
    o = F.conv1d(p.view(1, G * Lk, Lq), vw, groups=G, dilation=_DIL)  # [1, G*hd, Lq]
    return o.view(B, D, Lq)


def rope_apply_cf(x, cos, sin, heads):
    """Interleaved-pair rotary embedding. x [B, D, L] (D = heads*hd), cos/sin [hd/2, L]."""
    B, D, L = x.shape
    hd = D // heads
    x = x.view(B, heads, hd // 2, 2, L)
    x0, x1 = x[:, :, :, 0], x[:, :, :, 1]
    o0 = x0 * cos - x1 * sin
    o1 = x0 * sin + x1 * cos
    return torch.stack([o0, o1], 3).view(B, D, L)


def rope_tables(head_dim, f, h, w, theta=10000.0):
    """cos/sin [head_dim/2, f*h*w] for grid (f, h, w), computed in float64 like the reference."""
    d = head_dim
    bands = [d - 4 * (d // 6), 2 * (d // 6), 2 * (d // 6)]
    grids = torch.meshgrid(torch.arange(f), torch.arange(h), torch.arange(w), indexing="ij")
    angles = []
    for b, pos in zip(bands, grids):
        freqs = 1.0 / torch.pow(torch.tensor(theta, dtype=torch.float64),
                                torch.arange(0, b, 2, dtype=torch.float64) / b)  # b/2
        angles.append(pos.reshape(1, -1).double() * freqs[:, None])
    ang = torch.cat(angles, 0)  # [d/2, L]
    return torch.cos(ang).float(), torch.sin(ang).float()


def sinusoidal_embedding(freq_dim, t):
    """[cos | sin], float64 like the reference. t: [B] -> [B, freq_dim] float32."""
    half = freq_dim // 2
    pos = t.double()
    freqs = torch.pow(torch.tensor(10000.0, dtype=torch.float64), -torch.arange(half, dtype=torch.float64) / half)
    s = torch.outer(pos, freqs)
    return torch.cat([torch.cos(s), torch.sin(s)], 1).float()


class Attention(nn.Module):
    def __init__(self, dim, heads, eps):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(dim, dim)
        self.to_v = nn.Linear(dim, dim)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim)])
        self.norm_q = RMSNormAcrossHeads(dim, eps)
        self.norm_k = RMSNormAcrossHeads(dim, eps)

    def forward(self, x, src, rope=None):
        q = self.norm_q(lin(x, self.to_q))
        k = self.norm_k(lin(src, self.to_k))
        v = lin(src, self.to_v)
        if rope is not None:
            q = rope_apply_cf(q, rope[0], rope[1], self.heads)
            k = rope_apply_cf(k, rope[0], rope[1], self.heads)
        return lin(attention_cf(q, k, v, self.heads), self.to_out[0])


class GELUProj(nn.Module):
    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out)


class FeedForward(nn.Module):
    def __init__(self, dim, ffn_dim):
        super().__init__()
        self.net = nn.ModuleList([GELUProj(dim, ffn_dim), nn.Identity(), nn.Linear(ffn_dim, dim)])

    def forward(self, x):
        return lin(gelu_tanh(lin(x, self.net[0].proj)), self.net[2])


class Block(nn.Module):
    def __init__(self, dim, ffn_dim, heads, eps):
        super().__init__()
        self.eps = eps
        self.attn1 = Attention(dim, heads, eps)
        self.norm2 = AffineLN(dim, eps)  # the original's norm3: affine LN before cross-attention
        self.attn2 = Attention(dim, heads, eps)
        self.ffn = FeedForward(dim, ffn_dim)
        self.scale_shift_table = nn.Parameter(torch.randn(1, 6, dim) / dim ** 0.5)

    def forward(self, x, context, e6, rope):
        # e6: [B, 6, dim] timestep_proj; chunks as [B, dim, 1]
        e = (self.scale_shift_table + e6).unsqueeze(-1)
        shift, scale, gate, c_shift, c_scale, c_gate = [e[:, i] for i in range(6)]
        h = torch.addcmul(shift, layer_norm_cf(x, self.eps), 1 + scale)
        x = torch.addcmul(x, gate, self.attn1(h, h, rope))
        x = x + self.attn2(self.norm2(x), context)
        h = torch.addcmul(c_shift, layer_norm_cf(x, self.eps), 1 + c_scale)
        x = torch.addcmul(x, c_gate, self.ffn(h))
        return x


class TimestepMLP(nn.Module):
    def __init__(self, din, dim):
        super().__init__()
        self.linear_1 = nn.Linear(din, dim)
        self.linear_2 = nn.Linear(dim, dim)


class ConditionEmbedder(nn.Module):
    def __init__(self, dim, freq_dim, text_dim):
        super().__init__()
        self.time_embedder = TimestepMLP(freq_dim, dim)
        self.time_proj = nn.Linear(dim, 6 * dim)
        self.text_embedder = TimestepMLP(text_dim, dim)


class WanTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = dict(cfg)
        dim = cfg["num_attention_heads"] * cfg["attention_head_dim"]
        self.dim = dim
        self.heads = cfg["num_attention_heads"]
        self.head_dim = cfg["attention_head_dim"]
        self.patch = tuple(cfg["patch_size"])
        self.freq_dim = cfg["freq_dim"]
        self.eps = cfg["eps"]
        self.out_channels = cfg["out_channels"]
        self.patch_embedding = nn.Conv3d(cfg["in_channels"], dim, self.patch, stride=self.patch)
        self.condition_embedder = ConditionEmbedder(dim, cfg["freq_dim"], cfg["text_dim"])
        self.blocks = nn.ModuleList([Block(dim, cfg["ffn_dim"], self.heads, self.eps)
                                     for _ in range(cfg["num_layers"])])
        self.scale_shift_table = nn.Parameter(torch.randn(1, 2, dim) / dim ** 0.5)
        self.proj_out = nn.Linear(dim, cfg["out_channels"] * math.prod(self.patch))
        self._rope_cache = {}

    def init_weights(self):
        """Wan's initialisation: xavier-uniform Linear, normal(0.02) embedders, zero output head."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.xavier_uniform_(self.patch_embedding.weight.flatten(1))
        for m in [self.condition_embedder.text_embedder, self.condition_embedder.time_embedder]:
            nn.init.normal_(m.linear_1.weight, std=0.02)
            nn.init.normal_(m.linear_2.weight, std=0.02)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)
        return self

    def rope(self, f, h, w, device):
        key = (f, h, w)
        if key not in self._rope_cache:
            self._rope_cache[key] = rope_tables(self.head_dim, f, h, w)
        c, s = self._rope_cache[key]
        return c.to(device), s.to(device)

    def forward(self, hidden_states, timestep, encoder_hidden_states, return_intermediates=False):
        """hidden_states [B, C, F, H, W]; timestep [B] (0..1000); encoder_hidden_states [B, text_len, text_dim]
        (already zero-padded to text_len). Returns [B, C_out, F, H, W]."""
        B, C, Fr, H, W = hidden_states.shape
        pt, ph, pw = self.patch
        f, h, w = Fr // pt, H // ph, W // pw
        inter = {}
        x = self.patch_embedding(hidden_states).flatten(2)  # [B, dim, L], token = f*h*w + ...
        ce = self.condition_embedder
        emb = sinusoidal_embedding(self.freq_dim, timestep)  # [B, 256]
        temb = F.linear(F.silu(F.linear(emb, ce.time_embedder.linear_1.weight, ce.time_embedder.linear_1.bias)),
                        ce.time_embedder.linear_2.weight, ce.time_embedder.linear_2.bias)  # [B, dim]
        tproj = F.linear(F.silu(temb), ce.time_proj.weight, ce.time_proj.bias).view(B, 6, self.dim)
        ctx = encoder_hidden_states.transpose(1, 2)  # [B, text_dim, Lt]
        ctx = lin(gelu_tanh(lin(ctx, ce.text_embedder.linear_1)), ce.text_embedder.linear_2)  # [B, dim, Lt]
        if return_intermediates:
            inter.update(patch_embedding=x[0].T, temb=temb[0], timestep_proj=tproj[0], context=ctx[0].T)
        rope = self.rope(f, h, w, x.device)
        for i, blk in enumerate(self.blocks):
            x = blk(x, ctx, tproj, rope)
            if return_intermediates:
                inter[f"block_{i}"] = x[0].T
        e = (self.scale_shift_table + temb.unsqueeze(1)).unsqueeze(-1)  # [B, 2, dim, 1]
        x = layer_norm_cf(x, self.eps) * (1 + e[:, 1]) + e[:, 0]
        x = lin(x, self.proj_out)  # [B, pt*ph*pw*C, L]
        if return_intermediates:
            inter["head"] = x[0].T
        x = x.view(B, pt, ph, pw, self.out_channels, f, h, w)
        x = x.permute(0, 4, 5, 1, 6, 2, 7, 3).reshape(B, self.out_channels, Fr, H, W)
        if return_intermediates:
            return x, inter
        return x


def flops_per_forward(cfg, frames, height, width, text_len):
    """Multiply-adds x 2 of one forward pass (batch 1), matmuls only."""
    dim = cfg["num_attention_heads"] * cfg["attention_head_dim"]
    pt, ph, pw = cfg["patch_size"]
    L = (frames // pt) * (height // ph) * (width // pw)
    P = pt * ph * pw
    macs = L * P * cfg["in_channels"] * dim  # patch embedding
    macs += 256 * dim + dim * dim + dim * 6 * dim  # time
    macs += text_len * (cfg["text_dim"] * dim + dim * dim)  # text embedder
    per_block = (4 * L * dim * dim + 2 * L * L * dim  # self-attention
                 + 2 * L * dim * dim + 2 * text_len * dim * dim + 2 * L * text_len * dim  # cross-attention
                 + 2 * L * dim * cfg["ffn_dim"])  # ffn
    macs += cfg["num_layers"] * per_block
    macs += L * dim * P * cfg["out_channels"]
    return 2 * macs


# ---------------------------------------------------------------- text encoder
def tokenize(text, vocab_index, text_len):
    """lowercase, split on non-letters, map to ids (unknown -> 1), truncate to text_len."""
    words = [w for w in re.split(r"[^a-z]+", text.lower()) if w]
    return [vocab_index.get(w, 1) for w in words][:text_len]


class TextEncoder(nn.Module):
    """encoder_hidden_states[i] = token_embedding[id_i] + position_embedding[i] for i < n, zero rows after."""

    def __init__(self, vocab, text_len, text_dim):
        super().__init__()
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.text_len = text_len
        self.token_embedding = nn.Embedding(len(vocab), text_dim)
        self.position_embedding = nn.Embedding(text_len, text_dim)
        nn.init.normal_(self.token_embedding.weight, std=1.0)
        nn.init.normal_(self.position_embedding.weight, std=0.3)

    def forward(self, texts):
        B = len(texts)
        ids = torch.zeros(B, self.text_len, dtype=torch.long)
        mask = torch.zeros(B, self.text_len, 1)
        for b, t in enumerate(texts):
            tok = tokenize(t, self.index, self.text_len)
            ids[b, :len(tok)] = torch.tensor(tok, dtype=torch.long)
            mask[b, :len(tok)] = 1
        e = self.token_embedding(ids) + self.position_embedding.weight.unsqueeze(0)
        return e * mask
