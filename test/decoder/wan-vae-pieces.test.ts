// Spatial pieces: with an artificial binding cap the Wan VAE decoder runs its up path on bands of
// latent rows (or strips of columns) with halos, and must give the same frames as without pieces.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { loadWanVaeFolder } from '../../src/decoder/wan-vae-load.ts';
import { haloLatentRows, largestBytesPerLatentPixel, largestBytesPerLatentRow, planPieces } from '../../src/decoder/wan-vae-plan.ts';
import type { WanVaeDecoder, WanVaeDecodeOptions } from '../../src/decoder/wan-vae.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { WAN21_VAE_CONFIG } from '../../src/decoder/wan-vae-config.ts';
import { GOLDEN, vaeGolden } from '../helpers/wan-vae-golden.ts';

/** The frames of T random latent frames of h × w, whole and in pieces under `cap` (the context's binding limit meanwhile). */
async function wholeAndPieces(ctx: GpuContext, decoder: WanVaeDecoder, [T, h, w]: number[], cap: number, options: WanVaeDecodeOptions = {}) {
  const latents = ctx.upload(randomArray(T * 16 * h * w, rng(runSeed + w)), [T, 16, h, w]);
  const decode = async (opts: WanVaeDecodeOptions) => {
    const frames = await decoder.decode(ctx, latents, opts);
    const out = await ctx.read(frames);
    frames.release();
    return out;
  };
  const whole = await decode({});
  ctx.setBindingLimit(cap);
  try {
    return { whole, pieces: await decode(options) };
  } finally {
    ctx.setBindingLimit(undefined);
    latents.release();
  }
}

describe('Wan VAE decoder in spatial pieces', () => {
  it("Wan2.1's halo is 13 latent rows (98 output rows), and an impossible cap is refused with the numbers", () => {
    expect(haloLatentRows(WAN21_VAE_CONFIG)).toBe(13);
    expect(largestBytesPerLatentPixel(WAN21_VAE_CONFIG)).toBe(64 * 192 * 4); // the last resample's upsampled frame: 192 channels, 8×8 per latent pixel
    const perRow = largestBytesPerLatentRow(WAN21_VAE_CONFIG, 104);
    // 480p at WebGPU's default 128 MiB: 2 bands × 3 strips, the fewest latent pixels read in all.
    const at128 = planPieces(WAN21_VAE_CONFIG, 60, 104, 128 * 2 ** 20);
    expect([at128.bands.map((b) => b.count), at128.strips.map((s) => s.count)]).toEqual([[30, 30], [37, 37, 30]]);
    expect(at128.largestTensorBytes).toBeLessThanOrEqual(128 * 2 ** 20);
    expect(() => planPieces(WAN21_VAE_CONFIG, 60, 104, 34 * 2 ** 20)).toThrow(/a tile of 1 latent pixel with its 13-pixel halo on each cut side needs 34.2 MiB in one tensor, more than this GPU's binding limit/);
    const plan = planPieces(WAN21_VAE_CONFIG, 60, 104, 40 * perRow, { bandRows: 14 });
    expect(plan.bands.map((b) => b.count)).toEqual([14, 14, 14, 14, 4]);
    expect(plan.largestTensorBytes).toBeLessThanOrEqual(40 * perRow);
  });

  it('golden tiny_tall, 1-row bands (5 pieces) and attention in query blocks: the same frames as one piece, and upstream to 1e-4', async () => {
    const ctx = await testContext();
    const decoder = await loadWanVaeFolder(ctx, directoryFolder(join(GOLDEN, 'tiny_tall')));
    const g = await vaeGolden('tiny_tall');
    const [, , h, w] = g.latentShape;
    const cap = (1 + 2 * haloLatentRows(decoder.config)) * largestBytesPerLatentRow(decoder.config, w);
    expect(planPieces(decoder.config, h, w, cap, { bandRows: 1 }).bands.length).toBe(h);
    const latents = ctx.upload(g.latents, g.latentShape);
    const whole = await decoder.decode(ctx, latents);
    // Attention scores in blocks of 4 query rows (of 15) too.
    const pieces = await decoder.decode(ctx, latents, { maxBindingBytes: cap, bandRows: 1, attentionQueryRows: 4 });
    const [a, b] = [await ctx.read(whole), await ctx.read(pieces)];
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(relativeError(b.map((v) => 2 * v - 1), g.frames.map((v) => 2 * v - 1))).toBeLessThan(1e-4);
    [whole, pieces, latents].forEach((t) => t.release());
    decoder.dispose();
  }, 120_000);

  it('31 latent rows in forced bands of 4 under a cap that fits them (cuts with real neighbours above and below): the same frames as one piece', async () => {
    const ctx = await testContext();
    const decoder = await loadWanVaeFolder(ctx, directoryFolder(join(GOLDEN, 'tiny_tall')));
    const [T, h, w] = [2, 31, 1];
    const halo = haloLatentRows(decoder.config);
    const cap = (4 + 2 * halo) * largestBytesPerLatentRow(decoder.config, w);
    const plan = planPieces(decoder.config, h, w, cap, { bandRows: 4 });
    expect(plan.bands.length).toBe(8);
    expect(plan.largestTensorBytes).toBeLessThanOrEqual(cap);
    // Cuts with real rows beyond them, above some bands and below others.
    expect(plan.bands.some((b) => b.inputStart > 0)).toBe(true);
    expect(plan.bands.some((b) => b.inputStart + b.inputCount < h)).toBe(true);
    const latents = ctx.upload(randomArray(T * 16 * h * w, rng(runSeed)), [T, 16, h, w]);
    const whole = await decoder.decode(ctx, latents);
    const pieces = await decoder.decode(ctx, latents, { maxBindingBytes: cap, bandRows: 4 });
    const [a, b] = [await ctx.read(whole), await ctx.read(pieces)];
    expect(a.some(Number.isNaN)).toBe(false);
    expect(Array.from(b)).toEqual(Array.from(a));
    [whole, pieces, latents].forEach((t) => t.release());
    decoder.dispose();
  }, 120_000);

  it('1 × 31 latent pixels over 2 latent frames (carried frames per strip) under a cap: 2 strips cut at their inner side; forced strips of 3 on 1 × 33: inner ones cut on both sides; the whole frames bit for bit', async () => {
    const ctx = await testContext();
    const decoder = await loadWanVaeFolder(ctx, directoryFolder(join(GOLDEN, 'tiny_tall')));
    const halo = haloLatentRows(decoder.config);
    const cap = (4 + 2 * halo) * largestBytesPerLatentPixel(decoder.config);
    const plan = planPieces(decoder.config, 1, 31, cap);
    expect(plan.strips.map((s) => [s.start, s.count, s.inputStart, s.inputCount])).toEqual([
      [0, 17, 0, 30],
      [17, 14, 4, 27],
    ]);
    const capped = await wholeAndPieces(ctx, decoder, [2, 1, 31], cap);
    expect(capped.whole.some(Number.isNaN)).toBe(false);
    expect(new Uint32Array(capped.pieces.buffer)).toEqual(new Uint32Array(capped.whole.buffer));
    const forced = planPieces(decoder.config, 1, 33, cap, { stripColumns: 3 });
    expect(forced.strips.some((s) => s.inputStart > 0 && s.inputStart + s.inputCount < 33)).toBe(true);
    const strips = await wholeAndPieces(ctx, decoder, [1, 1, 33], cap, { stripColumns: 3 });
    expect(new Uint32Array(strips.pieces.buffer)).toEqual(new Uint32Array(strips.whole.buffer));
    decoder.dispose();
  }, 120_000);
});
