"""Procedural captioned clips for the toy text-to-video model.

A clip is one shape (circle / square / triangle) of one colour moving left / right / up / down at
1.8-2.6 px per frame over a plain background, 8 frames of 32x32 RGB, pixels in [-1, 1],
layout [C=3, F=8, H=32, W=32]. Caption: "a {colour} {shape} moving {direction} on a {background} background".

position_condition() gives the clean channels the model sees beside the noisy clip (as Wan2.1's
image-to-video model sees its image latents): x, y and t ramps, so that it knows where and when a pixel is.
"""
import math

import torch

FRAMES, HEIGHT, WIDTH = 8, 32, 32
# Text tokens per prompt (captions have 9 words); the text encoder zero-pads to this length.
TEXT_LEN = 16
SHAPES = ["circle", "square", "triangle"]
# RGB in [0, 1]; saturated, far from both backgrounds and from each other.
COLOURS = {
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 0.8, 0.0),
    "blue": (0.0, 0.2, 1.0),
    "yellow": (1.0, 0.9, 0.0),
    "cyan": (0.0, 0.9, 0.9),
    "magenta": (0.9, 0.0, 0.9),
}
BACKGROUNDS = {"black": (0.0, 0.0, 0.0), "white": (1.0, 1.0, 1.0)}
DIRECTIONS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}  # (dx, dy), y down
COLOUR_NAMES = list(COLOURS)
BG_NAMES = list(BACKGROUNDS)
DIR_NAMES = list(DIRECTIONS)

R_MIN, R_MAX = 3.5, 5.5
SPEED_MIN, SPEED_MAX = 1.8, 2.6


# Channels concatenated to the noisy clip at every step, per condition kind: "position" = x, y, t in [-1, 1];
# "spacetime" adds the products x·t and y·t (where a pixel would be reached by horizontal / vertical motion),
# so that following a direction word is one product (word × channel) instead of three (word × x × t).
CONDITION_CHANNELS = {"position": 3, "spacetime": 5}


def position_condition(kind="position", frames=FRAMES, height=HEIGHT, width=WIDTH):
    """[C, F, H, W]: channel 0 = x (left -1 .. right 1), 1 = y (top -1 .. bottom 1), 2 = t (first -1 .. last 1),
    at pixel (frame) centres: (i + 0.5) / n * 2 - 1; "spacetime" adds 3 = x·t, 4 = y·t.
    The engine computes the same (src/model/condition.ts)."""
    def ramp(n):
        return (torch.arange(n, dtype=torch.float32) + 0.5) / n * 2 - 1
    x = ramp(width).view(1, 1, width).expand(frames, height, width)
    y = ramp(height).view(1, height, 1).expand(frames, height, width)
    t = ramp(frames).view(frames, 1, 1).expand(frames, height, width)
    channels = [x, y, t] + ([x * t, y * t] if kind == "spacetime" else [])
    return torch.stack(channels)


def with_position(x, kind="position"):
    """[B, 3, F, H, W] noisy clips → [B, 3 + C, F, H, W]: the model input of a conditioned model."""
    return torch.cat([x, position_condition(kind)[None].expand(x.shape[0], -1, -1, -1, -1)], 1)


def caption(colour, shape, direction, background):
    return f"a {colour} {shape} moving {direction} on a {background} background"


def vocabulary():
    words = ["a", "moving", "on", "background"] + COLOUR_NAMES + SHAPES + DIR_NAMES + BG_NAMES
    return ["<pad>", "<unk>"] + words


def render(shape_idx, colour_idx, dir_idx, bg_idx, radius, speed, start, ss=2):
    """Render a batch of clips. All arguments are 1-D tensors of length B (start: [B, 2] = (x0, y0) of
    the centre at frame 0). ss: supersampling factor for anti-aliased edges. Returns [B, 3, F, H, W] in [-1, 1]."""
    B = shape_idx.shape[0]
    d = torch.tensor([DIRECTIONS[n] for n in DIR_NAMES])[dir_idx]  # [B, 2]
    t = torch.arange(FRAMES, dtype=torch.float32)
    cx = start[:, 0:1] + d[:, 0:1] * speed[:, None] * t  # [B, F]
    cy = start[:, 1:2] + d[:, 1:2] * speed[:, None] * t
    # pixel sample positions (centres of ss x ss sub-pixels)
    g = (torch.arange(HEIGHT * ss, dtype=torch.float32) + 0.5) / ss
    px = g.view(1, 1, 1, -1)
    py = g.view(1, 1, -1, 1)
    dx = px - cx[:, :, None, None]  # [B, F, 1, W*ss]
    dy = py - cy[:, :, None, None]  # [B, F, H*ss, 1]
    r = radius.view(B, 1, 1, 1)
    circle = dx * dx + dy * dy <= r * r
    sq_r = r * 0.85  # similar area to the circle
    square = (dx.abs() <= sq_r) & (dy.abs() <= sq_r)
    # upward-pointing equilateral-ish triangle inscribed around the centre
    tr = r * 1.25
    top = -tr
    bottom = tr * 0.6
    halfw = (dy - top) / (bottom - top) * tr * 1.1  # width grows from apex to base
    triangle = (dy >= top) & (dy <= bottom) & (dx.abs() <= halfw)
    s = shape_idx.view(B, 1, 1, 1)
    mask = torch.where(s == 0, circle, torch.where(s == 1, square, triangle)).float()
    if ss > 1:
        mask = torch.nn.functional.avg_pool2d(mask.view(B * FRAMES, 1, HEIGHT * ss, WIDTH * ss), ss)
        mask = mask.view(B, FRAMES, HEIGHT, WIDTH)
    col = torch.tensor([COLOURS[n] for n in COLOUR_NAMES])[colour_idx]  # [B, 3]
    bg = torch.tensor([BACKGROUNDS[n] for n in BG_NAMES])[bg_idx]
    m = mask[:, None]  # [B, 1, F, H, W]
    img = bg[:, :, None, None, None] * (1 - m) + col[:, :, None, None, None] * m
    return img * 2 - 1


def sample_batch(B, gen=None):
    """Random clips. Returns (video [B,3,F,H,W], captions list, attrs dict of index tensors)."""
    shape_idx = torch.randint(len(SHAPES), (B,), generator=gen)
    colour_idx = torch.randint(len(COLOURS), (B,), generator=gen)
    dir_idx = torch.randint(len(DIRECTIONS), (B,), generator=gen)
    bg_idx = torch.randint(len(BACKGROUNDS), (B,), generator=gen)
    u = torch.rand(B, 4, generator=gen)
    radius = R_MIN + (R_MAX - R_MIN) * u[:, 0]
    speed = SPEED_MIN + (SPEED_MAX - SPEED_MIN) * u[:, 1]
    travel = speed * (FRAMES - 1)
    margin = radius * 1.3  # triangle extends a bit beyond r
    d = torch.tensor([DIRECTIONS[n] for n in DIR_NAMES])[dir_idx]
    # along the motion axis: start so that the shape stays inside over the whole clip
    lo = margin
    hi = WIDTH - margin - travel
    along = lo + (hi - lo) * u[:, 2]  # position of the trailing end
    across = margin + (WIDTH - 2 * margin) * u[:, 3]
    pos_along = torch.where((d.sum(1) > 0), along, WIDTH - along)  # moving negative: start from the far side
    horiz = d[:, 0] != 0
    x0 = torch.where(horiz, pos_along, across)
    y0 = torch.where(horiz, across, pos_along)
    start = torch.stack([x0, y0], 1)
    video = render(shape_idx, colour_idx, dir_idx, bg_idx, radius, speed, start)
    caps = [caption(COLOUR_NAMES[c], SHAPES[s], DIR_NAMES[k], BG_NAMES[b])
            for s, c, k, b in zip(shape_idx.tolist(), colour_idx.tolist(), dir_idx.tolist(), bg_idx.tolist())]
    attrs = {"shape": shape_idx, "colour": colour_idx, "direction": dir_idx, "background": bg_idx}
    return video, caps, attrs


if __name__ == "__main__":
    import sys
    torch.manual_seed(0)
    v, caps, _ = sample_batch(8)
    print(v.shape, v.min().item(), v.max().item())
    for c in caps:
        print(c)
    if len(sys.argv) > 1:  # write a PPM contact sheet: rows = clips, columns = frames
        out = ((v + 1) / 2).clamp(0, 1)
        B = v.shape[0]
        sheet = out.permute(0, 3, 2, 4, 1).reshape(B * HEIGHT, FRAMES * WIDTH, 3)
        sheet = (sheet * 255).round().byte().numpy()
        with open(sys.argv[1], "wb") as f:
            f.write(b"P6 %d %d 255\n" % (sheet.shape[1], sheet.shape[0]))
            f.write(sheet.tobytes())
