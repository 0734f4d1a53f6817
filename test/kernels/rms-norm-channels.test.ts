import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { rmsNormChannels } from '../../src/gpu/kernels/rms-norm-channels.ts';
import { softmaxRows } from '../../src/gpu/kernels/softmax.ts';

function normReference(x: Float32Array, gamma: Float32Array, N: number, C: number, P: number, silu: boolean): Float64Array {
  const out = new Float64Array(x.length);
  for (let n = 0; n < N; n++)
    for (let p = 0; p < P; p++) {
      let sq = 0;
      for (let c = 0; c < C; c++) sq += x[(n * C + c) * P + p] ** 2;
      const scale = Math.sqrt(C) / Math.max(Math.sqrt(sq), 1e-12);
      for (let c = 0; c < C; c++) {
        let v = x[(n * C + c) * P + p] * scale * gamma[c];
        if (silu) v = v / (1 + Math.exp(-v));
        out[(n * C + c) * P + p] = v;
      }
    }
  return out;
}

describe(`rmsNormChannels (seed ${runSeed})`, () => {
  for (const [N, C, H, W, silu] of [[1, 7, 3, 5, false], [3, 33, 1, 1, true], [2, 1, 17, 19, true], [1, 96, 4, 3, false]] as const) {
    it(`[${N}, ${C}, ${H}, ${W}]${silu ? ' with SiLU' : ''} matches float64`, async () => {
      const ctx = await testContext();
      const rand = rng(runSeed);
      const xData = randomArray(N * C * H * W, rand, 3);
      const gData = randomArray(C, rand);
      const x = ctx.upload(xData, [N, C, H, W]);
      const gamma = ctx.upload(gData, [C]);
      const y = rmsNormChannels(ctx, x, gamma, { silu });
      const out = await ctx.read(y);
      [x, gamma, y].forEach((t) => t.release());
      expect(relativeError(out, normReference(xData, gData, N, C, H * W, silu))).toBeLessThan(1e-5);
    });
  }

  it('maps an all-zero pixel to zeros (the norm is floored, never a NaN)', async () => {
    const ctx = await testContext();
    const x = ctx.upload(new Float32Array(6), [1, 3, 1, 2]);
    const gamma = ctx.upload(new Float32Array([1, 2, 3]), [3]);
    const y = rmsNormChannels(ctx, x, gamma);
    expect(Array.from(await ctx.read(y))).toEqual([0, 0, 0, 0, 0, 0]);
    [x, gamma, y].forEach((t) => t.release());
  });

  it('refuses a gamma of the wrong size', async () => {
    const ctx = await testContext();
    const x = ctx.zeros([1, 3, 2, 2]);
    const gamma = ctx.zeros([4]);
    expect(() => rmsNormChannels(ctx, x, gamma)).toThrow(/gamma must have shape \[3\]/);
    [x, gamma].forEach((t) => t.release());
  });
});

describe(`softmaxRows (seed ${runSeed})`, () => {
  for (const [rows, cols, scale] of [[1, 1, 1], [5, 257, 0.125], [3, 1000, 2], [17, 15, 1]] as const) {
    it(`[${rows}, ${cols}] scaled by ${scale} matches float64`, async () => {
      const ctx = await testContext();
      const xData = randomArray(rows * cols, rng(runSeed), 10);
      const ref = new Float64Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        let m = -Infinity;
        for (let c = 0; c < cols; c++) m = Math.max(m, scale * xData[r * cols + c]);
        let s = 0;
        for (let c = 0; c < cols; c++) s += Math.exp(scale * xData[r * cols + c] - m);
        for (let c = 0; c < cols; c++) ref[r * cols + c] = Math.exp(scale * xData[r * cols + c] - m) / s;
      }
      const x = ctx.upload(xData, [rows, cols]);
      const y = softmaxRows(ctx, x, scale);
      const out = await ctx.read(y);
      [x, y].forEach((t) => t.release());
      expect(relativeError(out, ref)).toBeLessThan(1e-5);
    });
  }

  it('refuses empty rows and a non-finite scale', async () => {
    const ctx = await testContext();
    const x = ctx.zeros([2, 0]);
    const z = ctx.zeros([2, 3]);
    expect(() => softmaxRows(ctx, x)).toThrow(/empty/);
    expect(() => softmaxRows(ctx, z, NaN)).toThrow(/finite/);
    [x, z].forEach((t) => t.release());
  });
});
