import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { cast, castToHalfChecked } from '../../src/gpu/kernels/cast.ts';
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

describe('checked f32 → f16 cast', () => {
  it('converts as cast does and raises its flag only for values f16 cannot hold', async () => {
    const ctx = await testContext();
    const flags = ctx.zeros([3], 'u32');
    const cases: [number[], number][] = [
      [[1, -2.5, 65504, -65504, 0.001], 0], // in range
      [[1, 70000, 3], 1], // past the f16 range
      [[NaN, 1, 2], 2], // not finite
    ];
    for (const [values, flag] of cases) {
      const x = ctx.upload(Float32Array.from(values), [values.length]);
      const out = ctx.empty([values.length], 'f16');
      castToHalfChecked(ctx, x, out, flags, flag);
      const plain = cast(ctx, x, 'f16');
      if (flag === 0) expect(Array.from(await ctx.read(out))).toEqual(Array.from(await ctx.read(plain)));
      [x, out, plain].forEach((t) => t.release());
    }
    expect(Array.from(await ctx.read(flags))).toEqual([0, 1, 1]);
    expect(() => castToHalfChecked(ctx, flags, flags, flags, 0)).toThrow(/must be f32/);
    flags.release();
  });
});
