import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, rng, runSeed } from '../helpers/reference.ts';
import { subtractInto } from '../../src/gpu/kernels/subtract-store.ts';
import { castToHalfChecked } from '../../src/gpu/kernels/cast.ts';
import { linearCombination } from '../../src/gpu/kernels/linear-combination.ts';
import { floatToHalf, halfToFloat } from '../../src/gpu/context.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import type { Tensor } from '../../src/gpu/tensor.ts';

/** b close to a (a residual that cancels), with every tenth element unrelated. */
function operands(n: number, rand: () => number): [Float32Array, Float32Array] {
  const a = randomArray(n, rand, 3);
  const b = Float32Array.from(a, (v, i) => (i % 10 === 3 ? (rand() * 2 - 1) * 40 : v + (rand() * 2 - 1) * 1e-3 * Math.abs(v)));
  return [a, b];
}

/** The residual path it replaces: float-float (1, −1) combination, then the checked cast or a copy. */
function previousPath(ctx: GpuContext, a: Tensor, b: Tensor, out: Tensor, flags: Tensor): void {
  const difference = linearCombination(ctx, [
    { tensor: a, coef: 1 },
    { tensor: b, coef: -1 },
  ]);
  if (out.dtype === 'f16') castToHalfChecked(ctx, difference, out, flags, 0);
  else ctx.copy(difference, out);
  difference.release();
}

const bytes = async (ctx: GpuContext, t: Tensor) => new Uint8Array(await ctx.readRaw(t)).slice(0, t.byteLength);

describe(`subtractInto: a − b into cache storage (seed ${runSeed})`, () => {
  it('f32: the correctly rounded difference, bit for bit as the float-float combination gave it', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed);
    const flags = ctx.zeros([1], 'u32');
    for (const n of [1, 2, 7, 257, 4099]) {
      const [aData, bData] = operands(n, rand);
      const [a, b] = [ctx.upload(aData, [n]), ctx.upload(bData, [n])];
      const [out, before] = [ctx.empty([n]), ctx.empty([n])];
      subtractInto(ctx, a, b, out, flags, 0);
      previousPath(ctx, a, b, before, flags);
      const ref = Array.from(aData, (v, i) => Math.fround(v - bData[i])); // exact in float64, then rounded once
      expect(Array.from(await ctx.read(out)), `n ${n}`).toEqual(ref);
      expect(await bytes(ctx, out), `n ${n}: same bits as before`).toEqual(await bytes(ctx, before));
      [a, b, out, before].forEach((t) => t.release());
    }
    expect(Array.from(await ctx.read(flags))).toEqual([0]);
    flags.release();
  });

  it('f16: as the checked cast of the difference, odd sizes included, no flag in range', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 1);
    const flags = ctx.zeros([2], 'u32');
    for (const n of [1, 2, 7, 257, 4099]) {
      const [aData, bData] = operands(n, rand);
      const [a, b] = [ctx.upload(aData, [n]), ctx.upload(bData, [n])];
      const [out, before] = [ctx.empty([n], 'f16'), ctx.empty([n], 'f16')];
      subtractInto(ctx, a, b, out, flags, 1);
      previousPath(ctx, a, b, before, flags);
      const got = await ctx.read(out);
      aData.forEach((v, i) => {
        const exact = v - bData[i];
        const ulp = 2 ** (Math.floor(Math.log2(Math.max(Math.abs(exact), 2 ** -14))) - 10);
        // f16 rounding of the f32 difference: within one f16 unit of the float64 value (poison fails).
        expect(Math.abs(got[i] - halfToFloat(floatToHalf(exact))), `n ${n}, element ${i}`).toBeLessThanOrEqual(ulp);
      });
      expect(await bytes(ctx, out), `n ${n}: same bits as before`).toEqual(await bytes(ctx, before));
      [a, b, out, before].forEach((t) => t.release());
    }
    expect(Array.from(await ctx.read(flags))).toEqual([0, 0]);
    flags.release();
  });

  it('f16: raises its flag for differences f16 cannot hold, even of operands it can', async () => {
    const ctx = await testContext();
    const flags = ctx.zeros([4], 'u32');
    const cases: [number[], number[], number][] = [
      [[1, 65504, -3], [0, 0, 1], 0], // in range, the largest included
      [[40000, 1, 2], [-40000, 0, 0], 1], // 80000: past the range
      [[1, 2, 3], [0, NaN, 0], 2], // not finite
      [[1, 2, 3e38], [0, 0, -3e38], 3], // overflows f32 itself
    ];
    for (const [aValues, bValues, flag] of cases) {
      const n = aValues.length;
      const [a, b] = [ctx.upload(Float32Array.from(aValues), [n]), ctx.upload(Float32Array.from(bValues), [n])];
      const out = ctx.empty([n], 'f16');
      subtractInto(ctx, a, b, out, flags, flag);
      if (flag === 0) expect(Array.from(await ctx.read(out))).toEqual([1, 65504, -4]);
      [a, b, out].forEach((t) => t.release());
    }
    expect(Array.from(await ctx.read(flags))).toEqual([0, 1, 1, 1]);
    flags.release();
  });

  it('over the binding limit: in segments (4 KiB cap), identical to one dispatch', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 2);
    const flags = ctx.zeros([1], 'u32');
    const n = 5001;
    const [aData, bData] = operands(n, rand);
    const [a, b] = [ctx.upload(aData, [n]), ctx.upload(bData, [n])];
    for (const dtype of ['f16', 'f32'] as const) {
      const [whole, split] = [ctx.empty([n], dtype), ctx.empty([n], dtype)];
      subtractInto(ctx, a, b, whole, flags, 0);
      const rangesBefore = ctx.rangeBindings.subtract_store ?? 0;
      ctx.setBindingLimit(4096);
      try {
        subtractInto(ctx, a, b, split, flags, 0);
      } finally {
        ctx.setBindingLimit(undefined);
      }
      expect((ctx.rangeBindings.subtract_store ?? 0) - rangesBefore, `${dtype}: segments bound as ranges`).toBeGreaterThan(3);
      expect(await bytes(ctx, split), dtype).toEqual(await bytes(ctx, whole));
      [whole, split].forEach((t) => t.release());
    }
    expect(Array.from(await ctx.read(flags))).toEqual([0]);
    [a, b, flags].forEach((t) => t.release());
  });

  it('refuses wrong dtypes, shapes, flags and aliasing before dispatch', async () => {
    const ctx = await testContext();
    const a = ctx.zeros([4, 3]);
    const flat = ctx.zeros([12]);
    const half = ctx.zeros([4, 3], 'f16');
    const flags = ctx.zeros([2], 'u32');
    expect(() => subtractInto(ctx, half, a, a, flags, 0)).toThrow(/a must be f32/);
    expect(() => subtractInto(ctx, a, flat, half, flags, 0)).toThrow(/same shape/);
    expect(() => subtractInto(ctx, a, a, flags, flags, 0)).toThrow(/out must be f16 or f32/);
    expect(() => subtractInto(ctx, a, a, half, flags, 2)).toThrow(/flag 2 outside/);
    expect(() => subtractInto(ctx, a, a, a, flags, 0)).toThrow(/must not alias/);
    [a, flat, half, flags].forEach((t) => t.release());
  });
});
