import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { coefficientParts, linearCombination } from '../../src/gpu/kernels/linear-combination.ts';

const f32 = Math.fround;

function combinationReference(data: Float32Array[], coefs: number[]): Float64Array {
  const y = new Float64Array(data[0].length);
  data.forEach((d, t) => d.forEach((v, i) => (y[i] += coefs[t] * v)));
  return y;
}

/** The same sum done naively in f32 (coefficients rounded, every operation rounded). */
function plainF32Combination(data: Float32Array[], coefs: number[]): Float32Array {
  const y = new Float32Array(data[0].length);
  data.forEach((d, t) => d.forEach((v, i) => (y[i] = f32(y[i] + f32(f32(coefs[t]) * v)))));
  return y;
}

describe(`linearCombination (seed ${runSeed})`, () => {
  it('matches float64 for 1 to 4 terms on awkward sizes', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed);
    for (let count = 1; count <= 4; count++) {
      for (const n of [1, 263, 1031]) {
        const data = Array.from({ length: count }, () => randomArray(n, rand, 4));
        const coefs = Array.from({ length: count }, () => (rand() * 2 - 1) * 3);
        const tensors = data.map((d) => ctx.upload(d, [n]));
        const y = linearCombination(ctx, tensors.map((tensor, i) => ({ tensor, coef: coefs[i] })));
        expect(relativeError(await ctx.read(y), combinationReference(data, coefs)), `${count} terms, n ${n}`).toBeLessThan(1e-5);
        [...tensors, y].forEach((t) => t.release());
      }
    }
  });

  it('stays within 1e-6 where the terms cancel and plain f32 does not', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 1);
    const n = 4099;
    // Coefficients with many significant digits; z is chosen so the result is ~1% of the terms.
    const coefs = [1 / 3, -2 / 7, 0.6180339887498949];
    const x = randomArray(n, rand, 1);
    const y = randomArray(n, rand, 1);
    const target = randomArray(n, rand, 0.01);
    const z = Float32Array.from(target, (t, i) => (t - coefs[0] * x[i] - coefs[1] * y[i]) / coefs[2]);
    const data = [x, y, z];
    const ref = combinationReference(data, coefs);
    expect(relativeError(plainF32Combination(data, coefs), ref)).toBeGreaterThan(1e-6);

    const tensors = data.map((d) => ctx.upload(d, [n]));
    const out = linearCombination(ctx, tensors.map((tensor, i) => ({ tensor, coef: coefs[i] })));
    expect(relativeError(await ctx.read(out), ref)).toBeLessThan(1e-6);
    [...tensors, out].forEach((t) => t.release());
  });

  it('forms only products that are exact in f32, so a compiler fusing them into FMAs changes nothing', () => {
    const rand = rng(runSeed + 3);
    const bits = new Float32Array(1);
    const words = new Uint32Array(bits.buffer);
    const highHalf = (v: number) => {
      bits[0] = v;
      words[0] &= 0xfffff000; // as the shader splits each value
      return bits[0];
    };
    const coefs = [1 / 3, -2 / 7, 0.6180339887498949, 1 - 5, 5, 1e-3, -0.9999999, 123456.789, 2 ** -30 / 3];
    for (let k = 0; k < 50; k++) coefs.push((rand() * 2 - 1) * 10 ** (rand() * 8 - 4));
    for (const coef of coefs) {
      const [c1, c2, c3] = coefficientParts(coef);
      expect(Math.abs(c1 + c2 + c3 - coef)).toBeLessThanOrEqual(Math.abs(coef) * 2 ** -46);
      for (let k = 0; k < 200; k++) {
        const v = f32((rand() * 2 - 1) * 10 ** (rand() * 8 - 4));
        const high = highHalf(v);
        const low = v - high;
        expect(f32(low)).toBe(low);
        for (const product of [c1 * high, c1 * low, c2 * high, c2 * low]) expect(f32(product)).toBe(product);
      }
    }
  });

  it('computes classifier-free guidance uncond + g·(cond − uncond) as two terms', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 2);
    const n = 1537;
    const g = 5;
    const uncond = randomArray(n, rand, 1);
    const cond = Float32Array.from(uncond, (u) => u + (rand() * 2 - 1) * 1e-3);
    const [u, c] = [ctx.upload(uncond, [n]), ctx.upload(cond, [n])];
    const out = ctx.empty([n]);
    expect(linearCombination(ctx, [{ tensor: u, coef: 1 - g }, { tensor: c, coef: g }], out)).toBe(out);
    const ref = Array.from(uncond, (v, i) => v + g * (cond[i] - v));
    expect(relativeError(await ctx.read(out), ref)).toBeLessThan(1e-6);
    [u, c, out].forEach((t) => t.release());
  });

  it('refuses bad term counts, shapes, dtypes, coefficients and aliasing before dispatch', async () => {
    const ctx = await testContext();
    const a = ctx.zeros([5]);
    const b = ctx.zeros([5]);
    const wrong = ctx.zeros([6]);
    const ints = ctx.zeros([5], 'u32');
    const term = (tensor = a, coef = 1) => ({ tensor, coef });
    expect(() => linearCombination(ctx, [])).toThrow(/1 to 4 terms, got 0/);
    expect(() => linearCombination(ctx, [term(), term(), term(), term(), term()])).toThrow(/1 to 4 terms, got 5/);
    expect(() => linearCombination(ctx, [term(), term(wrong)])).toThrow(/same shape/);
    expect(() => linearCombination(ctx, [term(), term(ints)])).toThrow(/term 1 must be f32, got u32/);
    expect(() => linearCombination(ctx, [term(), term(b, Number.NaN)])).toThrow(/coefficient 1 must be a finite f32/);
    expect(() => linearCombination(ctx, [term(), term(b, 1e39)])).toThrow(/coefficient 1 must be a finite f32/);
    expect(() => linearCombination(ctx, [term(), term(b)], wrong)).toThrow(/same shape/);
    expect(() => linearCombination(ctx, [term(), term(b)], b)).toThrow(/must not alias an input \(it aliases term 1\)/);
    [a, b, wrong, ints].forEach((t) => t.release());
  });
});
