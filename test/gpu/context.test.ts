import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';

const F32_ONE = 0x3f800000;
const F32_TWO = 0x40000000;

describe('GpuContext bind group cache', () => {
  it('reuses one bind group for the same kernel and buffers, each dispatch with its own uniforms', async () => {
    const ctx = await testContext();
    const t = ctx.empty([1000]);
    const first = ctx.empty([1000]);
    ctx.fill(t, F32_ONE);
    const cached = ctx.cachedBindGroups;
    ctx.copy(t, first);
    for (let i = 0; i < 50; i++) ctx.fill(t, i % 2 === 0 ? F32_TWO : F32_ONE); // same buffer, other words
    ctx.fill(t, F32_TWO);
    expect(ctx.cachedBindGroups).toBe(cached); // no new bind group: same pipeline, same buffer
    expect([...new Set(await ctx.read(first))]).toEqual([1]);
    expect([...new Set(await ctx.read(t))]).toEqual([2]);
    [t, first].forEach((x) => x.release());
  });

  it('makes a new bind group for other buffers, and forgets them all when the pool is trimmed', async () => {
    const ctx = await testContext();
    const a = ctx.empty([17]);
    ctx.fill(a, F32_ONE);
    const before = ctx.cachedBindGroups;
    const b = ctx.empty([1 << 16]); // another bucket, so another buffer
    ctx.fill(b, F32_TWO);
    expect(ctx.cachedBindGroups).toBe(before + 1);
    [a, b].forEach((x) => x.release());
    await ctx.sync();
    ctx.trimPool();
    expect(ctx.cachedBindGroups).toBe(0);
    const c = ctx.empty([1 << 16]); // a fresh buffer where b's was destroyed
    ctx.fill(c, F32_TWO);
    expect([...new Set(await ctx.read(c))]).toEqual([2]);
    c.release();
  });
});
