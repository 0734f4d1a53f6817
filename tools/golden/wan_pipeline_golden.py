#!/usr/bin/env python3
"""A tiny random Wan2.1 text-to-video model folder in diffusers layout, and a reference run of the
whole pipeline on it, computed by the upstream code:
  tokenizer   a SentencePiece unigram model trained with Debian's spm_train (tokenizer_golden.py's corpus
              and training), ids made as Wan's HuggingfaceTokenizer(clean='whitespace') makes them
  text        wan/modules/t5.py T5Encoder (umT5 structure), each prompt's rows trimmed to its tokens
  transformer wan/modules/model.py WanModel, context zero-padded to text_len 512 by the model itself
  sampling    diffusers' UniPCMultistepScheduler (flow prediction), classifier-free guidance
              uncond + g·(cond − uncond), from given initial latents, as diffusers' WanPipeline loops
  decode      wan/modules/vae.py WanVAE_.decode with Wan's latent mean/std, clamped to [−1, 1]
The upstream modules are imported from the checkouts in WAN_SRC and DIFFUSERS_SRC (diffusers'
src/diffusers/schedulers folder, as sched_golden.py reads it) under the shims of t5_golden.py, wan_golden.py, vae_golden.py and sched_golden.py,
which this script imports. One more shim: `ftfy` (not packaged by Debian) is the identity, so the
prompts' cleaning here skips ftfy.fix_text; the TypeScript test checks webdit's own tokenizer (which
runs the full cleaning) gives exactly these ids.

usage: WAN_SRC=DIR DIFFUSERS_SRC=DIR /usr/bin/python3 tools/golden/wan_pipeline_golden.py test/golden/wan_pipeline
writes OUT/model/ (the folder) and OUT/io.safetensors (ids, embeddings, initial and final latents, frames).
Needs python3-regex (apt-get install python3-regex) besides python3-torch.
"""
import json, os, random, sys, tempfile, types

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
WAN_SRC = os.environ["WAN_SRC"]
# The wan package's __init__ imports every pipeline (easydict, transformers, ...): stand-in packages
# let wan_golden.py import wan/modules/{attention,model}.py alone.
for name, rel in (("wan", "wan"), ("wan.modules", "wan/modules")):
    stub = types.ModuleType(name); stub.__path__ = [os.path.join(WAN_SRC, rel)]
    sys.modules.setdefault(name, stub)
ftfy = types.ModuleType("ftfy"); ftfy.fix_text = lambda text: text
sys.modules.setdefault("ftfy", ftfy)

import sched_golden  # noqa: E402  (first: it imports diffusers' scheduler from a shim package)
import vae_golden  # noqa: E402
import t5_golden  # noqa: E402
import wan_golden  # noqa: E402
import tokenizer_golden  # noqa: E402
import sentencepiece as spm  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402

PROMPT = "a cat running through the forest under bright sun, cinematic lighting"
# Wan2.1's sample_neg_prompt (wan/configs/shared_config.py), the default unconditional prompt.
sys.path.insert(0, WAN_SRC)
NEGATIVE = {}
exec(open(os.path.join(WAN_SRC, "wan/configs/shared_config.py")).read().replace("from easydict import EasyDict", "EasyDict = lambda: types.SimpleNamespace()"),
     {"types": types, "torch": torch}, NEGATIVE)
NEGATIVE_PROMPT = NEGATIVE["wan_shared_cfg"].sample_neg_prompt
TEXT_LEN = 512
T5 = dict(vocab=None, dim=32, heads=4, d_kv=8, ffn=48, layers=2, buckets=32)
TRANSFORMER = dict(dim=48, ffn_dim=96, num_heads=4, num_layers=2, in_dim=16, out_dim=16, text_dim=T5["dim"], text_len=TEXT_LEN)
VAE_DIM = 4
LATENT = (16, 3, 4, 6)  # C, T, h, w → 9 frames of 32×48
STEPS, GUIDANCE, FLOW_SHIFT = 4, 5.0, 3.0


def make_tokenizer(out):
    rand = random.Random(tokenizer_golden.SEED)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            for _ in range(4000):
                f.write(tokenizer_golden.corpus_sentence(rand) + "\n")
        tokenizer_golden.train(corpus, os.path.join(tmp, "spiece"), [
            "--vocab_size=1000", "--normalization_rule_name=nmt_nfkc", "--byte_fallback=true", "--character_coverage=0.98"])
        os.makedirs(os.path.join(out, "tokenizer"), exist_ok=True)
        with open(os.path.join(tmp, "spiece.model"), "rb") as src, open(os.path.join(out, "tokenizer", "spiece.model"), "wb") as dst:
            dst.write(src.read())
    sp = spm.SentencePieceProcessor(model_file=os.path.join(out, "tokenizer", "spiece.model"))
    clean = tokenizer_golden.load_upstream_cleaning()
    encode = lambda text: tokenizer_golden.hf_encode(sp, clean(text))[:TEXT_LEN - 1] + [sp.piece_to_id("</s>")]
    return sp.get_piece_size(), encode


def random_init(model, scale_pos=False):
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.ndim == 1 and "norm" in n: p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif "modulation" in n: p.copy_(0.3 * torch.randn_like(p))
            elif n.endswith("bias"): p.copy_(0.1 * torch.randn_like(p))
            elif scale_pos and "pos_embedding" in n: p.mul_(10.0)
            else: p.copy_(torch.randn_like(p) / p[0].numel() ** 0.5)


def main(root):
    out = os.path.join(root, "model")
    torch.manual_seed(19)
    vocab, encode = make_tokenizer(out)
    ids = [encode(PROMPT), encode(NEGATIVE_PROMPT)]

    # ---- umT5 ----
    text = t5_golden.t5.T5Encoder(vocab=vocab, dim=T5["dim"], dim_attn=T5["heads"] * T5["d_kv"], dim_ffn=T5["ffn"],
                                  num_heads=T5["heads"], num_layers=T5["layers"], num_buckets=T5["buckets"],
                                  shared_pos=False, dropout=0.0).eval()
    random_init(text, scale_pos=True)
    L = max(len(s) for s in ids)
    batch = torch.zeros(2, L, dtype=torch.long); mask = torch.zeros(2, L, dtype=torch.long)
    for b, s in enumerate(ids):
        batch[b, :len(s)] = torch.tensor(s); mask[b, :len(s)] = 1
    with torch.no_grad():
        hidden = text(batch, mask)
    context = [hidden[b, :len(s)] for b, s in enumerate(ids)]  # trimmed; the transformer zero-pads to text_len

    # ---- transformer ----
    model = wan_golden.wm.WanModel(model_type="t2v", patch_size=(1, 2, 2), freq_dim=256, qk_norm=True,
                                   cross_attn_norm=True, eps=1e-6, **TRANSFORMER).eval()
    random_init(model)

    # ---- VAE ----
    vae = vae_golden.vae.WanVAE_(dim=VAE_DIM, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                                 temperal_downsample=[False, True, True], dropout=0.0).eval()
    with torch.no_grad():
        for n, p in vae.named_parameters():
            if n.endswith("gamma"): p.copy_(1 + 0.2 * torch.randn_like(p))
            elif p.dim() == 1: p.copy_(0.1 * torch.randn_like(p))
            else: p.copy_(torch.randn_like(p) / p[0].numel() ** 0.5)
        vae.decoder.head[2].weight.mul_(0.3)  # frames mostly inside (−1, 1): the clamp hides little

    # ---- sampling, as diffusers' WanPipeline loops ----
    sched = sched_golden.unipc.UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                                         num_train_timesteps=1000, flow_shift=FLOW_SHIFT)
    sched.set_timesteps(STEPS)
    initial = torch.randn(*LATENT)
    x = initial.clone()
    c, t_, h, w = LATENT
    seq_len = t_ * (h // 2) * (w // 2)
    with torch.no_grad():
        for t in sched.timesteps:
            tt = torch.tensor([float(t)])
            cond = model([x], tt, [context[0]], seq_len)[0]
            uncond = model([x], tt, [context[1]], seq_len)[0]
            x = sched.step(uncond + GUIDANCE * (cond - uncond), t, x[None], return_dict=False)[0][0]
        mean, std = torch.tensor(vae_golden.MEAN), torch.tensor(vae_golden.STD)
        frames = vae.decode(x[None], [mean, 1.0 / std]).float().clamp_(-1, 1)

    # ---- the folder ----
    def sub(*p):
        d = os.path.join(out, *p[:-1]); os.makedirs(d, exist_ok=True); return os.path.join(d, p[-1])
    def dump(path, obj):
        with open(path, "w") as f: json.dump(obj, f, indent=2); f.write("\n")
    dump(sub("model_index.json"), {
        "_class_name": "WanPipeline", "_diffusers_version": "0.33.0",
        "tokenizer": ["transformers", "T5TokenizerFast"], "text_encoder": ["transformers", "UMT5EncoderModel"],
        "transformer": ["diffusers", "WanTransformer3DModel"], "vae": ["diffusers", "AutoencoderKLWan"],
        "scheduler": ["diffusers", "UniPCMultistepScheduler"]})
    state = {k: v.numpy().copy() for k, v in text.state_dict().items()}
    write_safetensors(sub("text_encoder", "model.safetensors"), {t5_golden.hf_name(k): v for k, v in state.items()})
    dump(sub("text_encoder", "config.json"), {
        "architectures": ["UMT5EncoderModel"], "model_type": "umt5", "d_model": T5["dim"], "d_kv": T5["d_kv"],
        "d_ff": T5["ffn"], "num_layers": T5["layers"], "num_heads": T5["heads"],
        "relative_attention_num_buckets": T5["buckets"], "relative_attention_max_distance": 128,
        "feed_forward_proj": "gated-gelu", "vocab_size": vocab, "layer_norm_epsilon": 1e-6,
        "is_encoder_decoder": True, "pad_token_id": 0, "eos_token_id": 1, "torch_dtype": "float32"})
    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    write_safetensors(sub("transformer", "diffusion_pytorch_model.safetensors"), {wan_golden.diffusers_key(k): v for k, v in sd.items()})
    config = wan_golden.config_json(TRANSFORMER); config["rope_max_seq_len"] = 1024
    dump(sub("transformer", "config.json"), config)
    vsd = {k: v.numpy() for k, v in vae.state_dict().items() if k.startswith("decoder.") or k.startswith("conv2.")}
    write_safetensors(sub("vae", "diffusion_pytorch_model.safetensors"), {vae_golden.diffusers_key(k): v for k, v in vsd.items()})
    dump(sub("vae", "config.json"), {
        "_class_name": "AutoencoderKLWan", "base_dim": VAE_DIM, "z_dim": 16, "dim_mult": [1, 2, 4, 4], "num_res_blocks": 2,
        "attn_scales": [], "temperal_downsample": [False, True, True], "dropout": 0.0,
        "latents_mean": vae_golden.MEAN, "latents_std": vae_golden.STD})
    dump(sub("scheduler", "scheduler_config.json"), {"_class_name": "UniPCMultistepScheduler",
         **{k: v for k, v in vars(sched.config).items() if isinstance(v, (int, float, str, bool, type(None)))}})

    pad = lambda e: torch.cat([e, e.new_zeros(TEXT_LEN - e.shape[0], e.shape[1])])[None].numpy()
    write_safetensors(os.path.join(root, "io.safetensors"), {
        "input_ids": torch.tensor(ids[0], dtype=torch.float32).numpy(),
        "negative_input_ids": torch.tensor(ids[1], dtype=torch.float32).numpy(),
        "prompt_embeds": pad(context[0]), "negative_prompt_embeds": pad(context[1]),
        "latents": initial.numpy(), "final_latents": x.numpy(),
        "frames": frames[0].permute(1, 0, 2, 3).contiguous().numpy(),
    }, meta={"prompt": PROMPT, "negative_prompt": NEGATIVE_PROMPT, "steps": str(STEPS), "guidance": str(GUIDANCE),
             "frames": str(frames.shape[2]), "height": str(frames.shape[3]), "width": str(frames.shape[4]),
             "layout": "latents/final_latents [C,T,h,w]; frames [F,3,H,W] in [-1,1] (clamped); embeds [1,512,d]"})
    print("vocab", vocab, "tokens", [len(s) for s in ids], "frames", tuple(frames.shape),
          "saturated", float((frames.abs() >= 1).float().mean()), "std", float(frames.std()))


if __name__ == "__main__":
    main(sys.argv[1])
