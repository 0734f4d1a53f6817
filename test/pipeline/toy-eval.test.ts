import { describe, expect, it } from 'vitest';
import { TOY_PALETTE, defaultToyPrompts, judgeToyClip, parseToyCaption, toyCaption, type ToyPrompt } from '../../src/pipeline/toy-eval.ts';

/** Renders a clip like train/toy/data.py (hard edges), frames [8, 3, 32, 32] in [0, 1]. */
function render(p: ToyPrompt, speed = 2): Float32Array {
  const F = 8, H = 32, W = 32;
  const out = new Float32Array(F * 3 * H * W);
  const d = { left: [-1, 0], right: [1, 0], up: [0, -1], down: [0, 1] }[p.direction as 'left']!;
  const col = TOY_PALETTE.colours[p.colour];
  const bg = TOY_PALETTE.backgrounds[p.background];
  const r = 4.5;
  for (let t = 0; t < F; t++) {
    const cx = 16 - d[0] * speed * 3.5 + d[0] * speed * t;
    const cy = 16 - d[1] * speed * 3.5 + d[1] * speed * t;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const dx = x + 0.5 - cx, dy = y + 0.5 - cy;
        const inside =
          p.shape === 'circle' ? dx * dx + dy * dy <= r * r : p.shape === 'square' ? Math.abs(dx) <= r * 0.85 && Math.abs(dy) <= r * 0.85 : dy >= -r * 1.25 && dy <= r * 0.75 && Math.abs(dx) <= ((dy + r * 1.25) / (r * 2)) * r * 1.375;
        for (let c = 0; c < 3; c++) out[((t * 3 + c) * H + y) * W + x] = inside ? col[c] : bg[c];
      }
  }
  return out;
}

describe('toy clip judge', () => {
  it('reads colour, motion and shape from rendered clips of every prompt in the default set', () => {
    for (const p of defaultToyPrompts()) {
      const j = judgeToyClip(render(p), [8, 3, 32, 32], TOY_PALETTE.backgrounds[p.background]);
      expect(j.colour, toyCaption(p)).toBe(p.colour);
      expect(j.direction, toyCaption(p)).toBe(p.direction);
      expect(j.shape, toyCaption(p)).toBe(p.shape);
    }
  });

  it('a still shape has no direction; an empty clip no colour', () => {
    const p: ToyPrompt = { colour: 'red', shape: 'circle', direction: 'left', background: 'black' };
    expect(judgeToyClip(render(p, 0), [8, 3, 32, 32], [0, 0, 0]).direction).toBeNull();
    const empty = judgeToyClip(new Float32Array(8 * 3 * 32 * 32), [8, 3, 32, 32], [0, 0, 0]);
    expect(empty.colour).toBeNull();
    expect(empty.coverage).toBe(0);
  });

  it('the default set covers every colour and direction; captions round-trip', () => {
    const set = defaultToyPrompts();
    expect(new Set(set.map((p) => p.colour)).size).toBe(6);
    expect(new Set(set.map((p) => p.direction)).size).toBe(4);
    expect(new Set(set.map((p) => p.background)).size).toBe(2);
    for (const p of set) expect(parseToyCaption(toyCaption(p))).toEqual(p);
    expect(parseToyCaption('a purple circle moving left on a black background')).toBeUndefined();
  });
});
