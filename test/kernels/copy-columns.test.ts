import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, rng, runSeed } from '../helpers/reference.ts';
import { copyColumns } from '../../src/gpu/kernels/copy-columns.ts';

describe(`copyColumns (seed ${runSeed})`, () => {
  it('copies a block of columns between matrices of odd widths and leaves the other columns alone, also split under a cap', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed);
    const [rows, inWidth, outWidth] = [53, 17, 11];
    const x = randomArray(rows * inWidth, rand);
    const before = randomArray(rows * outWidth, rand);
    const expected = Float32Array.from(before);
    for (let r = 0; r < rows; r++) for (let c = 0; c < 5; c++) expected[r * outWidth + 4 + c] = x[r * inWidth + 9 + c];
    for (const cap of [undefined, 1024]) {
      const tx = ctx.upload(x, [rows, inWidth]);
      const out = ctx.upload(before, [rows, outWidth]);
      ctx.setBindingLimit(cap);
      try {
        copyColumns(ctx, tx, { start: 9, count: 5 }, out, { start: 4, count: 5 });
      } finally {
        ctx.setBindingLimit(undefined);
      }
      expect(await ctx.read(out), `cap ${cap}`).toEqual(expected);
      tx.release();
      out.release();
    }
  });

  it('refuses blocks outside a row, mismatched counts and row counts', async () => {
    const ctx = await testContext();
    const x = ctx.zeros([4, 6]);
    const out = ctx.zeros([4, 3]);
    const other = ctx.zeros([5, 3]);
    expect(() => copyColumns(ctx, x, { start: 4, count: 3 }, out, { start: 0, count: 3 })).toThrow(/columns from \[4, 7\) lie outside a row of 6/);
    expect(() => copyColumns(ctx, x, { start: 0, count: 2 }, out, { start: 0, count: 3 })).toThrow(/copying 2 columns into 3/);
    expect(() => copyColumns(ctx, x, { start: 0, count: 2 }, other, { start: 0, count: 2 })).toThrow(/different row counts/);
    [x, out, other].forEach((t) => t.release());
  });
});
