// Issue 19, binding limits: the decoders follow the context's binding limit (ctx.bindingLimit). Under an
// artificial cap the Wan VAE decodes in spatial pieces that fit it (the kernels refuse any binding over
// the cap), to the same frames bit for bit.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, rng, runSeed } from '../helpers/reference.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { loadWanVaeFolder } from '../../src/decoder/wan-vae-load.ts';
import { haloLatentRows, largestBytesPerLatentRow, planPieces } from '../../src/decoder/wan-vae-plan.ts';
import { GOLDEN } from '../helpers/wan-vae-golden.ts';

describe('Wan VAE under an artificial binding cap', () => {
  it('31 latent rows (tiny_tall weights), a cap that fits 4 rows and their halos: 2 bands (each cut on one side), every binding under it, the uncapped frames bit for bit', async () => {
    const ctx = await testContext();
    const decoder = await loadWanVaeFolder(ctx, directoryFolder(join(GOLDEN, 'tiny_tall')));
    const [T, h, w] = [2, 31, 1];
    const cap = Math.floor(((4 + 2 * haloLatentRows(decoder.config)) * largestBytesPerLatentRow(decoder.config, w)) / 256) * 256;
    expect(planPieces(decoder.config, h, w, cap).bands.map((b) => [b.count, b.inputCount])).toEqual([[17, 30], [14, 27]]);
    const latents = ctx.upload(randomArray(T * 16 * h * w, rng(runSeed)), [T, 16, h, w]);
    const decode = async () => {
      const frames = await decoder.decode(ctx, latents);
      const out = await ctx.read(frames);
      frames.release();
      return out;
    };
    const whole = await decode();
    expect(whole.some(Number.isNaN)).toBe(false);
    ctx.setBindingLimit(cap);
    let split: Float32Array;
    try {
      split = await decode(); // no maxBindingBytes: the decoder takes the context's limit
    } finally {
      ctx.setBindingLimit(undefined);
    }
    expect(new Uint32Array(split.buffer)).toEqual(new Uint32Array(whole.buffer));
    latents.release();
    decoder.dispose();
  }, 120_000);
});
