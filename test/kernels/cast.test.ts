import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { cast } from '../../src/gpu/kernels/cast.ts';
import { floatToHalf, halfToFloat } from '../../src/gpu/context.ts';

describe(`cast f32 ↔ f16 (seed ${runSeed})`, () => {
  it('round-trips through f16 as host rounding does, odd counts included', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed);
    for (const n of [1, 2, 7, 1023]) {
      const data = randomArray(n, rand, 50);
      const x = ctx.upload(data, [n]);
      const half = cast(ctx, x, 'f16');
      expect(half.dtype).toBe('f16');
      const back = cast(ctx, half, 'f32');
      const ref = Array.from(data, (v) => halfToFloat(floatToHalf(v)));
      // f16 keeps 11 significant bits; rounding mode may differ from the host's by one unit.
      expect(relativeError(await ctx.read(back), ref)).toBeLessThan(1e-3);
      expect(relativeError(await ctx.read(half), ref)).toBeLessThan(1e-3);
      [x, half, back].forEach((t) => t.release());
    }
  });

  it('refuses other dtypes and mismatched outputs', async () => {
    const ctx = await testContext();
    const ints = ctx.zeros([3], 'u32');
    const x = ctx.zeros([3]);
    const wrong = ctx.zeros([4], 'f16');
    expect(() => cast(ctx, ints, 'f16')).toThrow(/must be f32 or f16/);
    expect(() => cast(ctx, x, 'f16', wrong)).toThrow(/same shape/);
    [ints, x, wrong].forEach((t) => t.release());
  });
});
