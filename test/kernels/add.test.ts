import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { add } from '../../src/gpu/kernels/add.ts';
import { cast } from '../../src/gpu/kernels/cast.ts';

describe(`add (seed ${runSeed})`, () => {
  it('matches float64 on awkward sizes', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed);
    for (const shape of [[1], [257], [3, 1031], [2, 5, 7]]) {
      const n = shape.reduce((p, d) => p * d, 1);
      const aData = randomArray(n, rand, 10);
      const bData = randomArray(n, rand, 0.1);
      const a = ctx.upload(aData, shape);
      const b = ctx.upload(bData, shape);
      const y = add(ctx, a, b);
      expect(y.shape).toEqual(shape);
      const ref = Array.from(aData, (v, i) => v + bData[i]);
      expect(relativeError(await ctx.read(y), ref), `[${shape}]`).toBeLessThan(1e-5);
      [a, b, y].forEach((t) => t.release());
    }
  });

  it('adds an f16 b read in place, odd sizes included, as float64 on its f16 values', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 1);
    for (const n of [1, 3, 257, 4099]) {
      const aData = randomArray(n, rand, 10);
      const a = ctx.upload(aData, [n]);
      const b32 = ctx.upload(randomArray(n, rand, 3), [n]);
      const b16 = cast(ctx, b32, 'f16');
      const bRounded = await ctx.read(b16); // the f16 values, widened exactly
      const y = add(ctx, a, b16);
      const ref = Array.from(aData, (v, i) => v + bRounded[i]);
      expect(relativeError(await ctx.read(y), ref), `n ${n}`).toBeLessThan(1e-6);
      [a, b32, b16, y].forEach((t) => t.release());
    }
  });

  it('writes into a given out', async () => {
    const ctx = await testContext();
    const a = ctx.upload(new Float32Array([1, 2, 3]), [3]);
    const b = ctx.upload(new Float32Array([0.5, -2, 4]), [3]);
    const out = ctx.empty([3]);
    expect(add(ctx, a, b, out)).toBe(out);
    expect(Array.from(await ctx.read(out))).toEqual([1.5, 0, 7]);
    [a, b, out].forEach((t) => t.release());
  });

  it('refuses wrong shapes, dtypes and aliasing before dispatch', async () => {
    const ctx = await testContext();
    const a = ctx.zeros([4, 3]);
    const b = ctx.zeros([3, 4]);
    const ints = ctx.zeros([4, 3], 'i32');
    expect(() => add(ctx, a, b)).toThrow(/same shape/);
    expect(() => add(ctx, a, ints)).toThrow(/b must be f32 or f16, got i32/);
    expect(() => add(ctx, a, a.reshape([4, 3]), a)).toThrow(/must not alias/);
    expect(() => add(ctx, a, a, b)).toThrow(/same shape/);
    [a, b, ints].forEach((t) => t.release());
  });
});
