import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { unary, type UnaryOp } from '../../src/gpu/kernels/unary.ts';

const REFERENCE: Record<UnaryOp, (x: number) => number> = {
  silu: (x) => x / (1 + Math.exp(-x)),
  gelu_tanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  relu: (x) => Math.max(x, 0),
  tanh_clamp3: (x) => 3 * Math.tanh(x / 3),
  clamp01: (x) => Math.min(Math.max(x, 0), 1),
};

describe(`unary kernels (seed ${runSeed})`, () => {
  for (const op of Object.keys(REFERENCE) as UnaryOp[]) {
    it(`${op} matches float64 on odd sizes and large arguments`, async () => {
      const ctx = await testContext();
      const rand = rng(runSeed);
      for (const n of [1, 257, 1031]) {
        // A lone element is judged on its own relative error: keep it where exp() is accurate to 1e-5.
        const data = randomArray(n, rand, n === 1 ? 4 : 8);
        if (n > 1) data.set([120, -120, 1e4, -1e4].slice(0, Math.min(4, n)));
        const x = ctx.upload(data, [n]);
        const y = unary(ctx, op, x);
        const out = await ctx.read(y);
        expect(relativeError(out, Array.from(data, REFERENCE[op]))).toBeLessThan(1e-5);
        x.release();
        y.release();
      }
    });
  }

  it('gelu_tanh keeps its relative accuracy where the output is tiny (negative inputs)', async () => {
    const ctx = await testContext();
    // GELU from −4e-3 down to −1.5e-6; further out WGSL's exp() itself may be off by (3 + 2|x|) ulp.
    const data = Float32Array.from({ length: 21 }, (_, i) => -3 - i * 0.1);
    const x = ctx.upload(data, [data.length]);
    const y = unary(ctx, 'gelu_tanh', x);
    const out = await ctx.read(y);
    data.forEach((v, i) => {
      const ref = REFERENCE.gelu_tanh(v);
      expect(Math.abs(out[i] - ref) / Math.abs(ref), `x = ${v}`).toBeLessThan(1e-5);
    });
    x.release();
    y.release();
  });

  it('refuses a wrong dtype or shape before dispatch', async () => {
    const ctx = await testContext();
    const x = ctx.zeros([4, 3]);
    const wrong = ctx.zeros([12]);
    const ints = ctx.zeros([4, 3], 'u32');
    expect(() => unary(ctx, 'silu', x, wrong)).toThrow(/same shape/);
    expect(() => unary(ctx, 'silu', ints)).toThrow(/must be f32, got u32/);
    [x, wrong, ints].forEach((t) => t.release());
  });
});
