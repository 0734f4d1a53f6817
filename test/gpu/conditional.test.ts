// Conditional scopes: dispatches (and copies) recorded inside run only where the GPU-side flag is set,
// with no read-back; segments split by flushes, large grids and many dispatches stay correct.
import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { add } from '../../src/gpu/kernels/add.ts';

const F32_ONE = 0x3f800000;
const F32_TWO = 0x40000000;

describe('GpuContext.conditional', () => {
  it('runs the scope whose flag is set and skips the other, without reading back', async () => {
    const ctx = await testContext();
    const flags = ctx.upload(Uint32Array.from([1, 0]), [2], 'u32');
    const a = ctx.zeros([300]);
    const b = ctx.zeros([300]);
    const src = ctx.empty([300]);
    ctx.fill(src, F32_TWO);
    const reads = ctx.readbacks;
    ctx.conditional(flags, 0, () => {
      ctx.fill(a, F32_ONE);
      ctx.copy(src, b, 100 * 4, 0, 200 * 4); // a copy kernel: words 200..299 of b
    });
    ctx.conditional(flags, 1, () => {
      ctx.fill(b, F32_ONE); // skipped
      ctx.copy(src, a); // skipped
    });
    expect(ctx.readbacks).toBe(reads);
    expect([...new Set(await ctx.read(a))]).toEqual([1]);
    const bv = await ctx.read(b);
    expect([...new Set(bv.subarray(0, 200))]).toEqual([0]);
    expect([...new Set(bv.subarray(200))]).toEqual([2]);
    expect(ctx.readbacks).toBe(reads + 2);
    [flags, a, b, src].forEach((t) => t.release());
  });

  // 64 KiB: the smallest cap the scopes' own 64 KiB dispatch table fits under.
  it('copies over the binding limit in runs of words from aligned offsets (64 KiB cap, unaligned ends)', async () => {
    const ctx = await testContext();
    const flags = ctx.upload(Uint32Array.from([1]), [1], 'u32');
    const n = 40_001;
    const src = ctx.upload(Float32Array.from({ length: n }, (_, i) => i + 0.5), [n]);
    const dst = ctx.zeros([n + 7]);
    const before = ctx.rangeBindings.copy ?? 0;
    ctx.setBindingLimit(65536);
    try {
      ctx.conditional(flags, 0, () => ctx.copy(src, dst, (n - 5) * 4, 5 * 4, 9 * 4)); // src words 5.. → dst words 9..
    } finally {
      ctx.setBindingLimit(undefined);
    }
    expect((ctx.rangeBindings.copy ?? 0) - before, 'runs bound as ranges').toBeGreaterThanOrEqual(Math.ceil((n - 5) / 16320));
    const got = await ctx.read(dst);
    const expected = Float32Array.from({ length: n + 7 }, (_, i) => (i >= 9 && i < n + 4 ? i - 4 + 0.5 : 0));
    expect(got).toEqual(expected);
    [flags, src, dst].forEach((t) => t.release());
  });

  it('follows a flag written by earlier GPU work in the same submission', async () => {
    const ctx = await testContext();
    const flags = ctx.zeros([1], 'u32');
    const out = ctx.zeros([5]);
    ctx.fill(flags, 1); // GPU-side decision
    ctx.conditional(flags, 0, () => ctx.fill(out, F32_TWO));
    ctx.fill(flags, 0);
    ctx.conditional(flags, 0, () => ctx.fill(out, F32_ONE)); // now off
    expect([...(await ctx.read(out))]).toEqual([2, 2, 2, 2, 2]);
    [flags, out].forEach((t) => t.release());
  });

  it('stays correct across flushes inside a scope, many dispatches and folded grids', async () => {
    const ctx = await testContext();
    const flags = ctx.upload(Uint32Array.from([0, 1]), [2], 'u32');
    const n = 70_000 * 256 + 3; // more than 65,535 workgroups: a folded x·y grid
    const big = ctx.zeros([n]);
    const acc = ctx.zeros([7]);
    const one = ctx.empty([7]);
    ctx.fill(one, F32_ONE);
    for (const flag of [0, 1]) {
      ctx.conditional(flags, flag, () => {
        ctx.fill(big, F32_TWO);
        for (let i = 0; i < 40; i++) {
          const next = add(ctx, acc, one);
          ctx.copy(next, acc);
          next.release();
          if (i === 20) ctx.flush('test: split the segment');
        }
      });
    }
    const accv = await ctx.read(acc);
    expect([...new Set(accv)]).toEqual([40]); // only the second scope ran
    const bigv = await ctx.read(big);
    expect(bigv[0]).toBe(2);
    expect(bigv[n - 1]).toBe(2);
    [flags, big, acc, one].forEach((t) => t.release());
  });

  it('refuses nesting, reads and asynchronous bodies inside a scope', async () => {
    const ctx = await testContext();
    const flags = ctx.zeros([1], 'u32');
    const t = ctx.zeros([4]);
    expect(() => ctx.conditional(flags, 0, () => ctx.conditional(flags, 0, () => 0))).toThrow(/do not nest/);
    let pending: Promise<unknown> | undefined;
    ctx.conditional(flags, 0, () => {
      pending = ctx.read(t);
      pending.catch(() => undefined);
    });
    await expect(pending).rejects.toThrow(/read inside a conditional scope/);
    expect(() => ctx.conditional(flags, 0, async () => 0)).toThrow(/record synchronously/);
    expect(() => ctx.conditional(flags, 1, () => 0)).toThrow(/flag 1 outside 0\.\.0/);
    expect(() => ctx.conditional(t, 0, () => 0)).toThrow(/flags must be u32/);
    expect(ctx.inConditional).toBe(false);
    [flags, t].forEach((x) => x.release());
  });
});
