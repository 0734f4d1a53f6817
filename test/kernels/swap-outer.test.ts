import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, rng, runSeed } from '../helpers/reference.ts';
import { swapOuter } from '../../src/gpu/kernels/swap-outer.ts';

describe(`swapOuter (seed ${runSeed})`, () => {
  it('swaps the outer two dimensions exactly', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed);
    for (const shape of [[1, 1], [3, 5, 7], [16, 1, 2, 3], [2, 9, 1]]) {
      const [a, b, ...rest] = shape;
      const r = rest.reduce((p, d) => p * d, 1);
      const data = randomArray(a * b * r, rand);
      const x = ctx.upload(data, shape);
      const y = swapOuter(ctx, x);
      expect(y.shape).toEqual([b, a, ...rest]);
      const out = await ctx.read(y);
      const ref = new Float32Array(data.length);
      for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) for (let k = 0; k < r; k++) ref[(j * a + i) * r + k] = data[(i * b + j) * r + k];
      expect(Array.from(out)).toEqual(Array.from(ref));
      x.release();
      y.release();
    }
  });

  it('refuses rank 1 and non-f32', async () => {
    const ctx = await testContext();
    const v = ctx.zeros([4]);
    const u = ctx.zeros([2, 2], 'u32');
    expect(() => swapOuter(ctx, v)).toThrow(/rank ≥ 2/);
    expect(() => swapOuter(ctx, u)).toThrow(/must be f32/);
    v.release();
    u.release();
  });
});
