import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { rope } from '../../src/gpu/kernels/rope.ts';
import { ropeBandFrequencies, ropeTables } from '../../src/model/rope-tables.ts';

/** Float64 rotation of interleaved pairs, heads packed in the columns: x [L, heads·d], tables [L, d/2]. */
function ropeReference(x: ArrayLike<number>, cos: ArrayLike<number>, sin: ArrayLike<number>, tokens: number, heads: number, headDim: number): Float64Array {
  const half = headDim / 2;
  const out = new Float64Array(tokens * heads * headDim);
  for (let l = 0; l < tokens; l++)
    for (let h = 0; h < heads; h++)
      for (let j = 0; j < half; j++) {
        const i = (l * heads + h) * headDim + 2 * j;
        const c = cos[l * half + j];
        const s = sin[l * half + j];
        out[i] = x[i] * c - x[i + 1] * s;
        out[i + 1] = x[i] * s + x[i + 1] * c;
      }
  return out;
}

describe(`rope kernel (seed ${runSeed})`, () => {
  it('matches float64 on random tables of awkward sizes', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed);
    for (const [tokens, heads, headDim] of [[1, 1, 2], [37, 3, 12], [131, 2, 20], [5, 4, 128], [257, 1, 6]]) {
      const x = randomArray(tokens * heads * headDim, rand, 3);
      const cos = randomArray((tokens * headDim) / 2, rand);
      const sin = randomArray((tokens * headDim) / 2, rand);
      const tx = ctx.upload(x, [tokens, heads * headDim]);
      const tc = ctx.upload(cos, [tokens, headDim / 2]);
      const ts = ctx.upload(sin, [tokens, headDim / 2]);
      const ty = rope(ctx, tx, tc, ts, heads);
      const out = await ctx.read(ty);
      expect(relativeError(out, ropeReference(x, cos, sin, tokens, heads, headDim)), `L=${tokens} H=${heads} d=${headDim}`).toBeLessThan(1e-5);
      [tx, tc, ts, ty].forEach((t) => t.release());
    }
  });

  it("rotates by Wan's 3-D angles: token (f, h, w), pair j of band b turns by position·θ^(−2j/b)", async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 1);
    const [F, H, W, heads, headDim] = [2, 3, 5, 2, 128];
    const tokens = F * H * W;
    const half = headDim / 2;
    const tables = ropeTables(headDim, F, H, W);
    // Angles straight from the definition, in float64, independent of the table code.
    const [tPairs, hPairs] = ropeBandFrequencies(headDim);
    const cos = new Float64Array(tokens * half);
    const sin = new Float64Array(tokens * half);
    for (let f = 0; f < F; f++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) {
          const l = (f * H + h) * W + w;
          for (let j = 0; j < half; j++) {
            const [position, index, band] =
              j < tPairs ? [f, j, 2 * tPairs] : j < tPairs + hPairs ? [h, j - tPairs, 2 * hPairs] : [w, j - tPairs - hPairs, 2 * (half - tPairs - hPairs)];
            const angle = position / Math.pow(10000, (2 * index) / band);
            cos[l * half + j] = Math.cos(angle);
            sin[l * half + j] = Math.sin(angle);
          }
        }
    const x = randomArray(tokens * heads * headDim, rand, 2);
    const tx = ctx.upload(x, [tokens, heads * headDim]);
    const tc = ctx.upload(tables.cos, [tokens, half]);
    const ts = ctx.upload(tables.sin, [tokens, half]);
    const out = await ctx.read(rope(ctx, tx, tc, ts, heads));
    expect(relativeError(out, ropeReference(x, cos, sin, tokens, heads, headDim))).toBeLessThan(1e-5);
    [tx, tc, ts].forEach((t) => t.release());
  });

  it('writes into a given output tensor', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 2);
    const x = randomArray(3 * 8, rand);
    const cos = randomArray(3 * 4, rand);
    const sin = randomArray(3 * 4, rand);
    const tx = ctx.upload(x, [3, 8]);
    const tc = ctx.upload(cos, [3, 4]);
    const ts = ctx.upload(sin, [3, 4]);
    const ty = ctx.empty([3, 8]);
    expect(rope(ctx, tx, tc, ts, 1, ty)).toBe(ty);
    expect(relativeError(await ctx.read(ty), ropeReference(x, cos, sin, 3, 1, 8))).toBeLessThan(1e-5);
    [tx, tc, ts, ty].forEach((t) => t.release());
  });

  it('refuses bad shapes and dtypes before dispatch', async () => {
    const ctx = await testContext();
    const x = ctx.zeros([4, 24]);
    const cos = ctx.zeros([4, 6]);
    const sin = ctx.zeros([4, 6]);
    const out = ctx.empty([4, 24]);
    const rank3 = ctx.zeros([4, 2, 12]);
    const tallSin = ctx.zeros([5, 6]);
    const intCos = ctx.zeros([4, 6], 'u32');
    const halfX = ctx.zeros([4, 24], 'f16');
    const narrowOut = ctx.empty([4, 12]);
    expect(() => rope(ctx, rank3, cos, sin, 2)).toThrow(/rank 2/);
    expect(() => rope(ctx, x, cos, sin, 5)).toThrow(/not a multiple of 5 heads/);
    expect(() => rope(ctx, x, cos, sin, 0)).toThrow(/positive integer/);
    expect(() => rope(ctx, x, cos, sin, 8)).toThrow(/head size 3 must be even/);
    expect(() => rope(ctx, x, cos, sin, 1, out)).toThrow(/cos must have shape \[4, 12\]/);
    expect(() => rope(ctx, x, cos, tallSin, 2, out)).toThrow(/sin must have shape \[4, 6\]/);
    expect(() => rope(ctx, x, intCos, sin, 2, out)).toThrow(/cos must be f32, got u32/);
    expect(() => rope(ctx, halfX, cos, sin, 2)).toThrow(/x must be f32, got f16/);
    expect(() => rope(ctx, x, cos, sin, 2, narrowOut)).toThrow(/out must have shape \[4, 24\]/);
    expect(() => rope(ctx, x, cos, sin, 2, x)).toThrow(/another tensor than x/);
    // Nothing was dispatched into `out`: it still holds the test context's NaN poison.
    expect((await ctx.read(out)).every(Number.isNaN)).toBe(true);
    [x, cos, sin, out, rank3, tallSin, intCos, halfX, narrowOut].forEach((t) => t.release());
  });
});
