import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { multiply } from '../../src/gpu/kernels/multiply.ts';

describe(`multiply kernel (seed ${runSeed})`, () => {
  it('matches float64 on awkward sizes', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed);
    for (const n of [1, 3, 257, 1031]) {
      const a = randomArray(n, rand, 2);
      const b = randomArray(n, rand, 2);
      const ta = ctx.upload(a, [n]);
      const tb = ctx.upload(b, [n]);
      const y = multiply(ctx, ta, tb);
      expect(relativeError(await ctx.read(y), Array.from(a, (x, i) => x * b[i]))).toBeLessThan(1e-7);
      [ta, tb, y].forEach((t) => t.release());
    }
  });

  it('refuses wrong shapes, dtypes and aliasing before dispatch', async () => {
    const ctx = await testContext();
    const a = ctx.zeros([4, 3]);
    expect(() => multiply(ctx, a, ctx.zeros([3, 4]))).toThrow(/same shape/);
    expect(() => multiply(ctx, a, ctx.zeros([4, 3], 'u32'))).toThrow(/b must be f32/);
    expect(() => multiply(ctx, a, ctx.zeros([4, 3]), a)).toThrow(/must not alias/);
  });
});
