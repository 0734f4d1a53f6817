import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { upsampleNearest2x } from '../../src/gpu/kernels/upsample.ts';

function reference(x: Float32Array, [N, C, H, W]: number[]): Float64Array {
  const out = new Float64Array(N * C * 4 * H * W);
  for (let p = 0; p < N * C; p++)
    for (let y = 0; y < 2 * H; y++)
      for (let x2 = 0; x2 < 2 * W; x2++) out[(p * 2 * H + y) * 2 * W + x2] = x[(p * H + (y >> 1)) * W + (x2 >> 1)];
  return out;
}

describe(`upsampleNearest2x (seed ${runSeed})`, () => {
  for (const shape of [
    [1, 1, 1, 1],
    [2, 3, 5, 7],
    [1, 17, 1, 13],
    [3, 2, 11, 1],
  ]) {
    it(`[${shape}] matches the reference`, async () => {
      const ctx = await testContext();
      const data = randomArray(shape.reduce((a, b) => a * b), rng(runSeed));
      const x = ctx.upload(data, shape);
      const y = upsampleNearest2x(ctx, x);
      expect(y.shape).toEqual([shape[0], shape[1], 2 * shape[2], 2 * shape[3]]);
      const out = await ctx.read(y);
      expect(relativeError(out, reference(data, shape))).toBe(0);
      x.release();
      y.release();
    });
  }

  it('refuses bad inputs before dispatch', async () => {
    const ctx = await testContext();
    const x = ctx.zeros([1, 2, 3, 4]);
    const flat = ctx.zeros([24]);
    const ints = ctx.zeros([1, 2, 3, 4], 'i32');
    const wrongOut = ctx.zeros([1, 2, 6, 7]);
    expect(() => upsampleNearest2x(ctx, flat)).toThrow(/x must have rank 4/);
    expect(() => upsampleNearest2x(ctx, ints)).toThrow(/x must be f32, got i32/);
    expect(() => upsampleNearest2x(ctx, x, wrongOut)).toThrow(/out must have shape \[1, 2, 6, 8\]/);
    [x, flat, ints, wrongOut].forEach((t) => t.release());
  });
});
