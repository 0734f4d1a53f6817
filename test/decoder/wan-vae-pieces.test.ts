// Spatial pieces: with an artificial binding cap the Wan VAE decoder runs its up path on bands of
// latent rows with halos, and must give the same frames as without pieces.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { loadWanVaeFolder } from '../../src/decoder/wan-vae-load.ts';
import { haloLatentRows, largestBytesPerLatentRow, planPieces } from '../../src/decoder/wan-vae-plan.ts';
import { WAN21_VAE_CONFIG } from '../../src/decoder/wan-vae-config.ts';
import { GOLDEN, vaeGolden } from '../helpers/wan-vae-golden.ts';

describe('Wan VAE decoder in spatial pieces', () => {
  it("Wan2.1's halo is 13 latent rows (98 output rows), and an impossible cap is refused with the numbers", () => {
    expect(haloLatentRows(WAN21_VAE_CONFIG)).toBe(13);
    const perRow = largestBytesPerLatentRow(WAN21_VAE_CONFIG, 104);
    expect(() => planPieces(WAN21_VAE_CONFIG, 60, 104, 20 * perRow)).toThrow(/a band of 1 row with its 13-row halo on each side .* passes this GPU's binding limit/);
    const plan = planPieces(WAN21_VAE_CONFIG, 60, 104, 40 * perRow);
    expect(plan.bands.map((b) => b.rows)).toEqual([14, 14, 14, 14, 4]);
    expect(plan.largestTensorBytes).toBeLessThanOrEqual(40 * perRow);
  });

  it('golden tiny_tall, 1-row bands (5 pieces) and attention in query blocks: the same frames as one piece, and upstream to 1e-4', async () => {
    const ctx = await testContext();
    const decoder = await loadWanVaeFolder(ctx, directoryFolder(join(GOLDEN, 'tiny_tall')));
    const g = await vaeGolden('tiny_tall');
    const [, , h, w] = g.latentShape;
    const cap = (1 + 2 * haloLatentRows(decoder.config)) * largestBytesPerLatentRow(decoder.config, w);
    expect(planPieces(decoder.config, h, w, cap, 1).bands.length).toBe(h);
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

  it('31 latent rows under a cap that fits bands of 4 (cuts with real neighbours above and below): the same frames as one piece', async () => {
    const ctx = await testContext();
    const decoder = await loadWanVaeFolder(ctx, directoryFolder(join(GOLDEN, 'tiny_tall')));
    const [T, h, w] = [2, 31, 1];
    const halo = haloLatentRows(decoder.config);
    const cap = (4 + 2 * halo) * largestBytesPerLatentRow(decoder.config, w);
    const plan = planPieces(decoder.config, h, w, cap);
    expect(plan.bands.length).toBe(8);
    // Cuts with real rows beyond them, above some bands and below others.
    expect(plan.bands.some((b) => b.inputRow0 > 0)).toBe(true);
    expect(plan.bands.some((b) => b.inputRow0 + b.inputRows < h)).toBe(true);
    const latents = ctx.upload(randomArray(T * 16 * h * w, rng(runSeed)), [T, 16, h, w]);
    const whole = await decoder.decode(ctx, latents);
    const pieces = await decoder.decode(ctx, latents, { maxBindingBytes: cap });
    const [a, b] = [await ctx.read(whole), await ctx.read(pieces)];
    expect(a.some(Number.isNaN)).toBe(false);
    expect(Array.from(b)).toEqual(Array.from(a));
    [whole, pieces, latents].forEach((t) => t.release());
    decoder.dispose();
  }, 120_000);
});
