import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { relativeAttention } from '../../src/gpu/kernels/attention-relative.ts';

/**
 * Float64 reference: each sequence alone, softmax(scale·q·kᵀ + bias[h, pos_j − pos_i + span − 1])·v,
 * the sequences packed one after another in the rows.
 */
function reference(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  bias: Float32Array,
  lengths: number[],
  heads: number,
  headDim: number,
  span: number,
  scale: number,
): Float64Array {
  const width = heads * headDim;
  const total = lengths.reduce((a, b) => a + b, 0);
  const out = new Float64Array(total * width);
  let start = 0;
  for (const length of lengths) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < length; i++) {
        const qi = (start + i) * width + h * headDim;
        const scores = new Float64Array(length);
        let max = -Infinity;
        for (let j = 0; j < length; j++) {
          const kj = (start + j) * width + h * headDim;
          let s = 0;
          for (let c = 0; c < headDim; c++) s += q[qi + c] * k[kj + c];
          scores[j] = scale * s + bias[h * (2 * span - 1) + j - i + span - 1];
          max = Math.max(max, scores[j]);
        }
        let sum = 0;
        for (let j = 0; j < length; j++) sum += scores[j] = Math.exp(scores[j] - max);
        for (let j = 0; j < length; j++) {
          const vj = (start + j) * width + h * headDim;
          for (let c = 0; c < headDim; c++) out[qi + c] += (scores[j] / sum) * v[vj + c];
        }
      }
    }
    start += length;
  }
  return out;
}

function tokenTable(lengths: number[]): Uint32Array {
  const table: number[] = [];
  lengths.forEach((length, s) => {
    for (let p = 0; p < length; p++) table.push(s, p);
  });
  return Uint32Array.from(table);
}

describe(`relativeAttention kernel (seed ${runSeed})`, () => {
  const cases = [
    { lengths: [1], heads: 1, headDim: 1, scale: 1 },
    { lengths: [7, 3], heads: 3, headDim: 5, scale: 1 },
    { lengths: [13, 21], heads: 4, headDim: 8, scale: 1 },
    { lengths: [2, 1, 17], heads: 2, headDim: 67, scale: 0.3 },
  ];
  for (const c of cases) {
    it(`matches float64: lengths ${c.lengths.join('+')}, ${c.heads} heads of ${c.headDim}, scale ${c.scale}`, async () => {
      const ctx = await testContext();
      const rand = rng(runSeed + c.headDim);
      const total = c.lengths.reduce((a, b) => a + b, 0);
      const width = c.heads * c.headDim;
      // A span longer than the longest sequence, as when the bias table is built for a longer batch.
      const span = Math.max(...c.lengths) + 2;
      const q = randomArray(total * width, rand, 0.8);
      const k = randomArray(total * width, rand, 0.8);
      const v = randomArray(total * width, rand);
      const bias = randomArray(c.heads * (2 * span - 1), rand, 3);
      const t = [ctx.upload(q, [total, width]), ctx.upload(k, [total, width]), ctx.upload(v, [total, width])];
      const tb = ctx.upload(bias, [c.heads, 2 * span - 1]);
      const tt = ctx.upload(tokenTable(c.lengths), [total, 2], 'u32');
      const y = relativeAttention(ctx, t[0], t[1], t[2], tb, tt, c.heads, { scale: c.scale });
      const err = relativeError(await ctx.read(y), reference(q, k, v, bias, c.lengths, c.heads, c.headDim, span, c.scale));
      expect(err).toBeLessThan(1e-5);
      [...t, tb, tt, y].forEach((x) => x.release());
    });
  }

  it('refuses wrong shapes, dtypes and aliasing before dispatch', async () => {
    const ctx = await testContext();
    const q = ctx.zeros([5, 8]);
    const tokens = ctx.zeros([5, 2], 'u32');
    const bias = ctx.zeros([2, 9]);
    expect(() => relativeAttention(ctx, q, q, q, bias, tokens, 3)).toThrow(/not a multiple of 3 heads/);
    expect(() => relativeAttention(ctx, q, q, q, ctx.zeros([2, 8]), tokens, 2)).toThrow(/bias must be \[2, 2·span − 1\]/);
    expect(() => relativeAttention(ctx, q, q, q, bias, ctx.zeros([4, 2], 'u32'), 2)).toThrow(/tokens must have shape \[5, 2\]/);
    expect(() => relativeAttention(ctx, q, q, q, bias, q, 2)).toThrow(/tokens must be u32/);
    expect(() => relativeAttention(ctx, q, ctx.zeros([4, 8]), q, bias, tokens, 2)).toThrow(/k must have shape/);
    expect(() => relativeAttention(ctx, q, q, q, bias, tokens, 2, { out: q })).toThrow(/must not alias/);
    expect(() => relativeAttention(ctx, q, q, q, bias, tokens, 2, { scale: NaN })).toThrow(/scale must be finite/);
  });
});
