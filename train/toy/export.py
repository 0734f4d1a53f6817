"""Export a training checkpoint (its EMA weights) to public/models/toy/ for the webdit engine.

  /usr/bin/python3 train/toy/export.py [train/toy/runs/main/checkpoint.pt] [--out public/models/toy]
      [--eval-json eval.json]   # optional: eval.py output to quote in the README

Writes model_index.json, transformer/{config.json, diffusion_pytorch_model.safetensors},
text_encoder/{config.json, model.safetensors, vocab.json}, scheduler/scheduler_config.json,
reference.safetensors (one prompt's encoder_hidden_states and one transformer forward, for engine tests),
README.md.
"""
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import data  # noqa: E402
import st  # noqa: E402
from model import TextEncoder, WanTransformer, flops_per_forward  # noqa: E402

TEXT_LEN = data.TEXT_LEN
STEPS, GUIDANCE, SHIFT = 20, 3.0, 3.0

UNIPC = {
    "_class_name": "UniPCMultistepScheduler", "_diffusers_version": "0.33.0",
    "num_train_timesteps": 1000, "beta_start": 0.0001, "beta_end": 0.02, "beta_schedule": "linear",
    "trained_betas": None, "solver_order": 2, "prediction_type": "flow_prediction", "thresholding": False,
    "dynamic_thresholding_ratio": 0.995, "sample_max_value": 1.0, "predict_x0": True, "solver_type": "bh2",
    "lower_order_final": True, "disable_corrector": [], "solver_p": None, "use_karras_sigmas": False,
    "use_exponential_sigmas": False, "use_beta_sigmas": False, "use_flow_sigmas": True, "flow_shift": SHIFT,
    "timestep_spacing": "linspace", "steps_offset": 0, "final_sigmas_type": "zero", "rescale_betas_zero_snr": False,
    "use_dynamic_shifting": False, "time_shift_type": "exponential",
}
EULER = {
    "_class_name": "FlowMatchEulerDiscreteScheduler", "_diffusers_version": "0.33.0",
    "num_train_timesteps": 1000, "shift": SHIFT, "use_dynamic_shifting": False, "base_shift": 0.5, "max_shift": 1.15,
    "base_image_seq_len": 256, "max_image_seq_len": 4096, "invert_sigmas": False, "shift_terminal": None,
    "use_karras_sigmas": False, "use_exponential_sigmas": False, "use_beta_sigmas": False,
    "time_shift_type": "exponential", "stochastic_sampling": False,
}

README = """# webdit toy text-to-video model

A tiny **Wan2.1 transformer** (`WanTransformer3DModel`, the exact Wan2.1 maths and diffusers key names) trained
from scratch on procedural clips, so that the webdit engine has a real, small text-to-video model to run.
It works in **pixel space**: 3 channels out, no VAE (decoder = identity: `frames = clamp((x + 1) / 2, 0, 1)`).
{condition_text}
- Clip: 8 frames × 32 × 32 RGB; latent = pixels in [−1, 1], layout [C=3, F=8, H=32, W=32].
- Transformer: patch {patch}, {heads} head(s) × {head_dim} = width {dim}, {layers} blocks, ffn {ffn}, text_dim {text_dim},
  {tokens} tokens; {params:,} parameters (F32, {size_mb:.1f} MB); {gflop:.3f} GFLOP per forward pass
  (2 × multiply-adds of the matmuls; a clip = {steps} steps × 2 (CFG) = {passes} passes ≈ {clip_gflop:.1f} GFLOP).
- {training}; weights are the EMA of the training weights.
- Sampling defaults: {steps} steps, guidance {guidance}, shift {shift}, scheduler `{sched_class}`
  (`scheduler/scheduler_config.json`), negative prompt = the empty string.

## What it can draw
Prompts of the form **"a {{colour}} {{shape}} moving {{direction}} on a {{background}} background"** with
colour ∈ {colours}; shape ∈ {shapes}; direction ∈ {directions}; background ∈ {backgrounds}.
One shape of radius 3.5–5.5 px moving 1.8–2.6 px per frame. Anything else (other words, two shapes, other
colours, other sizes) is out of distribution: unknown words map to `<unk>`, which it never saw in training.

{eval_section}

## Text encoder (reimplemented by the JS engine; must be exact)
No T5: a learned word embedding plus a learned position embedding, fed to the transformer's own text embedder.
1. Tokenise: lowercase the prompt; split on every run of characters that are not `a`–`z` (regex `[^a-z]+`);
   drop empty strings. So `"A Red-circle!"` → `["a", "red", "circle"]`.
2. Map each word to its index in `text_encoder/vocab.json` (a JSON list; index 0 = `"<pad>"`, 1 = `"<unk>"`);
   a word not in the list → 1 (`<unk>`). Keep at most `text_len` = {text_len} ids (truncate the rest).
3. `encoder_hidden_states` is a [text_len, text_dim] = [{text_len}, {text_dim}] float32 matrix:
   row i = `token_embedding.weight[id_i] + position_embedding.weight[i]` for i < n (n = number of ids);
   rows n … text_len−1 are **all zeros** (Wan's zero padding; the transformer's text embedder then maps them
   to a constant row, and nothing is masked).
4. The empty prompt (n = 0) gives an all-zero matrix: this is the unconditional / negative prompt used for
   classifier-free guidance (trained with 10% caption dropout to exactly this).
Weights: `text_encoder/model.safetensors` holds `token_embedding.weight` [V, text_dim] and
`position_embedding.weight` [text_len, text_dim] (F32).

## Sampling (as diffusers' WanPipeline)
x ~ N(0, 1) of shape [1, 3, 8, 32, 32]; for each scheduler timestep t: v_c = T(x̂, t, E(prompt)), v_u = T(x̂, t, E("")),
with x̂ = x{condition_cat},
v = v_u + g·(v_c − v_u); x = scheduler.step(v, t, x). Output frames = clamp((x + 1)/2, 0, 1), RGB, frame-major.
The transformer receives the scheduler's timestep as is (UniPC: integer timesteps, e.g. 999, 989, …).

`reference.safetensors` pins one forward pass for engine tests: `encoder_hidden_states` [1, {text_len}, {text_dim}]
(the text encoder's output for the prompt in `__metadata__.prompt`), `hidden_states` [1, {in_channels}, 8, 32, 32] (the
transformer's whole input{condition_ref}), `timestep` [1],
`output` [1, 3, 8, 32, 32] (computed in float32 on the CPU by train/toy/model.py).

## Where it came from / how to retrain
Trained on the CPU with `train/toy/` in this repository (data.py: procedural clips; model.py: the Wan2.1
transformer, checked against the upstream goldens by check_golden.py; train.py: rectified flow with
σ = shift(u, 3), u ~ U(0, 1), x_t = (1 − σ)·x₀ + σ·ε, t = 1000·σ, target ε − x₀, MSE; AdamW, EMA).
See `train/toy/README.md` for the commands. No external data or weights were used.
"""


def load_ckpt(path):
    s = torch.load(path, map_location="cpu")
    cfg = s["config"]
    model = WanTransformer(cfg)
    model.load_state_dict(s["ema_model"])
    te = TextEncoder(data.vocabulary(), TEXT_LEN, cfg["text_dim"])
    te.load_state_dict(s["ema_text_encoder"])
    return model.eval(), te.eval(), cfg, s


def main():
    p = argparse.ArgumentParser()
    p.add_argument("checkpoint", nargs="?", default=os.path.join(HERE, "runs", "main", "checkpoint.pt"))
    p.add_argument("--out", default=os.path.join(ROOT, "public", "models", "toy"))
    p.add_argument("--scheduler", choices=["unipc", "euler"], default="unipc")
    p.add_argument("--guidance", type=float, default=GUIDANCE)
    p.add_argument("--steps", type=int, default=STEPS)
    p.add_argument("--eval-json", default="", help="eval.py output to quote in the README")
    p.add_argument("--init-note", default="", help="what a fine-tune started from, for the README (default: its --init path)")
    a = p.parse_args()
    torch.set_num_threads(1)
    model, te, cfg, s = load_ckpt(a.checkpoint)
    step = s.get("step")
    args = s.get("args", {})
    out = a.out
    for sub in ["transformer", "text_encoder", "scheduler"]:
        os.makedirs(os.path.join(out, sub), exist_ok=True)

    # transformer
    cfg = {k: v for k, v in cfg.items()}
    json.dump(cfg, open(os.path.join(out, "transformer", "config.json"), "w"), indent=2)
    sd = {k: v.float().contiguous() for k, v in model.state_dict().items()}
    st.save(os.path.join(out, "transformer", "diffusion_pytorch_model.safetensors"), sd,
            metadata={"format": "pt", "source": "webdit train/toy", "step": step})
    # text encoder
    vocab = te.vocab
    tcfg = {"_class_name": "WebditToyTextEncoder", "text_len": TEXT_LEN, "text_dim": cfg["text_dim"],
            "vocab_size": len(vocab), "lowercase": True, "split_regex": "[^a-z]+", "pad_id": 0, "unk_id": 1,
            "padding": "zero rows after the last token (no masking)",
            "embedding": "row i = token_embedding.weight[id_i] + position_embedding.weight[i] for i < n"}
    json.dump(tcfg, open(os.path.join(out, "text_encoder", "config.json"), "w"), indent=2)
    json.dump(vocab, open(os.path.join(out, "text_encoder", "vocab.json"), "w"))
    st.save(os.path.join(out, "text_encoder", "model.safetensors"),
            {"token_embedding.weight": te.token_embedding.weight.detach(),
             "position_embedding.weight": te.position_embedding.weight.detach()}, metadata={"format": "pt"})
    # scheduler
    sched_cfg = UNIPC if a.scheduler == "unipc" else EULER
    json.dump(sched_cfg, open(os.path.join(out, "scheduler", "scheduler_config.json"), "w"), indent=2)
    # pipeline index
    index = {
        "_class_name": "webdit-toy", "class": "webdit-toy", "_webdit_version": "0.1.0",
        "text_len": TEXT_LEN, "text_dim": cfg["text_dim"], "frames": data.FRAMES, "height": data.HEIGHT,
        "width": data.WIDTH, "channels": 3, "layout": "CFHW", "pixel_range": [-1, 1], "decoder": "identity",
        "default_steps": a.steps, "guidance": a.guidance, "shift": SHIFT, "negative_prompt": "",
        "transformer": "transformer", "text_encoder": "text_encoder", "scheduler": "scheduler",
        "scheduler_class": sched_cfg["_class_name"], "trained_steps": step,
        "prompt_template": "a {colour} {shape} moving {direction} on a {background} background",
        "colours": data.COLOUR_NAMES, "shapes": data.SHAPES, "directions": data.DIR_NAMES,
        "backgrounds": data.BG_NAMES,
    }
    condition = args.get("condition", "none")
    conditioned = condition != "none"
    assert cfg["in_channels"] == cfg["out_channels"] + data.CONDITION_CHANNELS.get(condition, 0), condition
    if conditioned:
        index["condition"] = condition
    json.dump(index, open(os.path.join(out, "model_index.json"), "w"), indent=2)
    # reference forward pass for engine tests
    prompt = "a red circle moving right on a black background"
    with torch.no_grad():
        ehs = te([prompt])
        hs = torch.randn(1, 3, data.FRAMES, data.HEIGHT, data.WIDTH, generator=torch.Generator().manual_seed(0))
        if conditioned:
            hs = data.with_position(hs, condition)
        t = torch.tensor([999.0])
        o = model(hs, t, ehs)
    st.save(os.path.join(out, "reference.safetensors"),
            {"encoder_hidden_states": ehs, "hidden_states": hs, "timestep": t, "output": o},
            metadata={"prompt": prompt, "text_len": TEXT_LEN})
    # README
    eval_section = "## Evaluation\nNot evaluated yet (run train/toy/eval.py)."
    if a.eval_json and os.path.exists(a.eval_json):
        ev = json.load(open(a.eval_json))
        eval_section = (
            "## Evaluation (train/toy/eval.py)\n"
            f"{ev['n']} prompts (one seed each), {ev['steps']} {ev['scheduler']} steps, guidance {ev['guidance']}, "
            f"judged automatically: dominant non-background colour = prompt colour in **{ev['colour_acc']:.0%}**, "
            f"centroid motion direction = prompt direction in **{ev['motion_acc']:.0%}** "
            f"(both: {ev['both_acc']:.0%}; chance for direction is 25%). Per direction: "
            + ", ".join(f"{k} {v:.0%}" for k, v in ev["per_direction"].items()) + ". Shape is not judged.")
        if ev["motion_acc"] < 0.6 and not conditioned:
            eval_section += (
                "\n\n**Limitation at this checkpoint:** the direction word is not followed yet (motion accuracy near chance),"
                " and shapes come out rough (blocky 4×4-patch fragments, some flicker between frame pairs). Colour and"
                " background are followed. Diagnosis: swapping left/right in the prompt changes the predicted velocity by"
                " ~1% of what swapping the colour does, at every noise level; Wan's only positional signal is RoPE"
                " (relative), so the model must learn a cross-frame, direction-dependent attention pattern, which is slow."
                " Longer training (train.py --resume) is the fix being tried.")
    dim = cfg["num_attention_heads"] * cfg["attention_head_dim"]
    pt, ph, pw = cfg["patch_size"]
    gflop = flops_per_forward(cfg, data.FRAMES, data.HEIGHT, data.WIDTH, TEXT_LEN) / 1e9
    nparam = sum(v.numel() for v in sd.values())
    readme = README.format(
        patch=tuple(cfg["patch_size"]), heads=cfg["num_attention_heads"], head_dim=cfg["attention_head_dim"], dim=dim,
        layers=cfg["num_layers"], ffn=cfg["ffn_dim"], text_dim=cfg["text_dim"],
        tokens=(data.FRAMES // pt) * (data.HEIGHT // ph) * (data.WIDTH // pw), params=nparam,
        size_mb=nparam * 4 / 1e6, gflop=gflop, steps=a.steps, passes=2 * a.steps, clip_gflop=2 * a.steps * gflop,
        training=(f"Fine-tuned for {step} optimiser steps (batch {args.get('batch')}) from {a.init_note or args.get('init')}"
                  " (the whole lineage: train/toy/README.md)" if a.init_note or args.get("init")
                  else f"Trained for {step} optimiser steps (batch {args.get('batch')})"), guidance=a.guidance, shift=SHIFT, sched_class=sched_cfg["_class_name"],
        colours=", ".join(data.COLOUR_NAMES), shapes=", ".join(data.SHAPES), directions=", ".join(data.DIR_NAMES),
        backgrounds=", ".join(data.BG_NAMES), eval_section=eval_section, text_len=TEXT_LEN,
        in_channels=cfg["in_channels"],
        condition_text=(
            f"\nThe transformer also takes a **{condition} condition** (`\"condition\": \"{condition}\"` in model_index.json):\n"
            f"{data.CONDITION_CHANNELS[condition]} clean channels concatenated after the 3 noisy ones at every step, as Wan2.1's"
            " image-to-video model takes its\n"
            "image latents — channel 3 = x, 4 = y, 5 = t, each `(i + 0.5) / n * 2 - 1` at pixel (frame) i of n (−1 left /\n"
            "top / first … 1 right / bottom / last)"
            + (", 6 = x·t, 7 = y·t" if condition == "spacetime" else "") +
            ". The Wan transformer has no absolute position (RoPE is relative), and\n"
            "a direction word means nothing without one.\n" if conditioned else ""),
        condition_cat=(f" concatenated with the {condition} condition [1, {data.CONDITION_CHANNELS.get(condition, 0)}, 8, 32, 32]"
                       " along C" if conditioned else ""),
        condition_ref=f": the noisy clip, then the {condition} condition" if conditioned else "")
    open(os.path.join(out, "README.md"), "w").write(readme)
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(out) for f in fs)
    print(f"exported step {step} to {out} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
