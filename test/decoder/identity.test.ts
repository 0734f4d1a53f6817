import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { IdentityDecoder } from '../../src/decoder/identity.ts';

describe(`IdentityDecoder (seed ${runSeed})`, () => {
  it('maps [−1, 1] samples to frames (x + 1)/2 clamped to [0, 1], shape unchanged', async () => {
    const ctx = await testContext();
    const decoder = new IdentityDecoder();
    expect([decoder.temporalScale, decoder.spatialScale, decoder.latentChannels]).toEqual([1, 1, 3]);
    const before = ctx.liveTensors;
    for (const shape of [
      [1, 3, 1, 1],
      [2, 3, 5, 7],
      [3, 3, 17, 1],
    ]) {
      const data = randomArray(shape.reduce((a, b) => a * b), rng(runSeed), 1.5);
      const latents = ctx.upload(data, shape);
      const frames = await decoder.decode(ctx, latents);
      expect(frames.shape).toEqual(shape);
      const out = await ctx.read(frames);
      const ref = Array.from(data, (v) => Math.min(Math.max((v + 1) / 2, 0), 1));
      expect(relativeError(out, ref)).toBeLessThan(1e-7);
      expect(Math.min(...out)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...out)).toBeLessThanOrEqual(1);
      latents.release();
      frames.release();
    }
    decoder.dispose();
    expect(ctx.liveTensors).toBe(before);
  });

  it('refuses latents that are not [T, 3, H, W] f32, and a model that is not RGB', async () => {
    const ctx = await testContext();
    const decoder = new IdentityDecoder(3);
    const four = ctx.zeros([2, 4, 3, 3]);
    const flat = ctx.zeros([2, 3, 9]);
    const ints = ctx.zeros([2, 3, 3, 3], 'u32');
    await expect(decoder.decode(ctx, four)).rejects.toThrow(/latents must be \[T, 3, H, W\], got \[2, 4, 3, 3\]/);
    await expect(decoder.decode(ctx, flat)).rejects.toThrow(/latents must have rank 4/);
    await expect(decoder.decode(ctx, ints)).rejects.toThrow(/latents must be f32, got u32/);
    expect(() => new IdentityDecoder(16)).toThrow(/must produce 3 channels/);
    const aborted = AbortSignal.abort(new Error('cancelled'));
    await expect(decoder.decode(ctx, four, { signal: aborted })).rejects.toThrow('cancelled');
    [four, flat, ints].forEach((t) => t.release());
    decoder.dispose();
  });
});
