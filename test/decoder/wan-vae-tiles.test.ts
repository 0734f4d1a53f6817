// Issue 19: the Wan VAE's up path in 2-D tiles (bands of latent rows × strips of columns, each with its
// halo on every cut side). Under an artificial binding cap (the kernels refuse any binding over it) the
// tiled decode gives the unsegmented frames bit for bit.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, rng, runSeed } from '../helpers/reference.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { loadWanVaeFolder } from '../../src/decoder/wan-vae-load.ts';
import type { WanVaeDecoder, WanVaeDecodeOptions } from '../../src/decoder/wan-vae.ts';
import { haloLatentRows, largestBytesPerLatentPixel, planPieces, type PiecePlan } from '../../src/decoder/wan-vae-plan.ts';
import { GOLDEN } from '../helpers/wan-vae-golden.ts';

/** The frames of T random latent frames of h × w, whole and in pieces under `cap` (a binding limit of the context). */
async function wholeAndPieces(decoder: WanVaeDecoder, [T, h, w]: number[], cap: number, options: WanVaeDecodeOptions = {}) {
  const ctx = await testContext();
  const latents = ctx.upload(randomArray(T * 16 * h * w, rng(runSeed + h * 1000 + w)), [T, 16, h, w]);
  const decode = async (opts: WanVaeDecodeOptions) => {
    const frames = await decoder.decode(ctx, latents, opts);
    const out = await ctx.read(frames);
    frames.release();
    return out;
  };
  const whole = await decode({});
  ctx.setBindingLimit(cap);
  let pieces: Float32Array;
  try {
    pieces = await decode(options);
  } finally {
    ctx.setBindingLimit(undefined);
  }
  latents.release();
  return { whole, pieces };
}

const tileSizes = (p: PiecePlan) => p.tiles.map((t) => `${t.rows.inputCount}×${t.cols.inputCount}`);

describe('Wan VAE decoder in 2-D tiles', () => {
  it('29 × 31 latent pixels (tiny_tall weights), a cap that fits neither the frame nor full-width bands: 2 × 2 tiles cut on both axes, every binding under the cap, the whole frame bit for bit', async () => {
    const ctx = await testContext();
    const decoder = await loadWanVaeFolder(ctx, directoryFolder(join(GOLDEN, 'tiny_tall')));
    const [T, h, w] = [1, 29, 31];
    const halo = haloLatentRows(decoder.config);
    const perPixel = largestBytesPerLatentPixel(decoder.config);
    const cap = (15 + halo) * (16 + halo) * perPixel;
    expect(h * w * perPixel).toBeGreaterThan(cap);
    const plan = planPieces(decoder.config, h, w, cap);
    expect([plan.bands.length, plan.strips.length]).toEqual([2, 2]);
    expect(tileSizes(plan)).toEqual(['28×29', '28×29', '27×29', '27×29'].map((s, i) => (i % 2 ? s.replace('29', '28') : s)));
    expect(plan.largestTensorBytes).toBeLessThanOrEqual(cap);
    // Every tile reads less than the frame along both axes: its cuts see zeros where neighbours were.
    expect(plan.tiles.every((t) => t.rows.inputCount < h && t.cols.inputCount < w)).toBe(true);
    const { whole, pieces } = await wholeAndPieces(decoder, [T, h, w], cap);
    expect(whole.some(Number.isNaN)).toBe(false);
    expect(new Uint32Array(pieces.buffer)).toEqual(new Uint32Array(whole.buffer));
    decoder.dispose();
  }, 120_000);

  it('refuses forced pieces that pass the cap, and a cap no tile fits, with the numbers', async () => {
    const ctx = await testContext();
    const decoder = await loadWanVaeFolder(ctx, directoryFolder(join(GOLDEN, 'tiny_tall')));
    const perPixel = largestBytesPerLatentPixel(decoder.config);
    expect(() => planPieces(decoder.config, 29, 31, 100 * perPixel, { stripColumns: 9 })).toThrow(/tiles of 29×9 latent pixels need [\d.]+ MiB in one tensor, more than this GPU's binding limit/);
    expect(() => planPieces(decoder.config, 29, 31, 100 * perPixel)).toThrow(/a tile of 1 latent pixel with its 13-pixel halo on each cut side needs/);
    expect(() => planPieces(decoder.config, 29, 31, Number.NaN)).toThrow(/binding limit must be a positive number/);
    expect(() => planPieces(decoder.config, 29, 31, 1e9, { stripColumns: 0 })).toThrow(/stripColumns must be a positive integer/);
    decoder.dispose();
  });
});
