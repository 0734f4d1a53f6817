import { describe, expect, it, vi } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, rng, runSeed } from '../helpers/reference.ts';
import { maxAbs, relativeL1, relativeL1AndStore } from '../../src/gpu/kernels/reduce.ts';
import { cast, castToHalfChecked } from '../../src/gpu/kernels/cast.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import type { Tensor } from '../../src/gpu/tensor.ts';

function l1Sums(a: Float32Array, b: Float32Array): [number, number] {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += Math.abs(a[i] - b[i]);
    norm += Math.abs(b[i]);
  }
  return [diff, norm];
}

function maxAbsReference(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

const relative = (out: number, ref: number) => Math.abs(out - ref) / Math.abs(ref);
const bytes = async (ctx: GpuContext, t: Tensor) => new Uint8Array(await ctx.readRaw(t)).slice(0, t.byteLength);

describe(`reductions (seed ${runSeed})`, () => {
  it('relativeL1 writes both sums into the slot on awkward sizes', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed);
    const sizes = [1, 2, 255, 257, 4097, 65537];
    const out = ctx.empty([2 * sizes.length]);
    const refs: [number, number][] = [];
    sizes.forEach((n, slot) => {
      const aData = randomArray(n, rand, 2);
      const bData = Float32Array.from(aData, (v) => v + (rand() * 2 - 1) * 0.1);
      const [a, b] = [ctx.upload(aData, [n]), ctx.upload(bData, [n])];
      relativeL1(ctx, a, b, out, slot);
      refs.push(l1Sums(aData, bData));
      a.release();
      b.release();
    });
    const sums = await ctx.read(out);
    sizes.forEach((n, slot) => {
      expect(relative(sums[2 * slot], refs[slot][0]), `Σ|a − b|, n ${n}`).toBeLessThan(1e-5);
      expect(relative(sums[2 * slot + 1], refs[slot][1]), `Σ|b|, n ${n}`).toBeLessThan(1e-5);
    });
    out.release();
  });

  it('relativeL1 reads an f16 b in place (cached features) as float64 on its f16 values', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 2);
    const sizes = [1, 3, 257, 65537];
    const out = ctx.empty([2 * sizes.length]);
    const refs: [number, number][] = [];
    for (const [slot, n] of sizes.entries()) {
      const aData = randomArray(n, rand, 2);
      const a = ctx.upload(aData, [n]);
      const b32 = ctx.upload(Float32Array.from(aData, (v) => v + (rand() * 2 - 1) * 0.1), [n]);
      const b16 = cast(ctx, b32, 'f16');
      relativeL1(ctx, a, b16, out, slot);
      refs.push(l1Sums(aData, await ctx.read(b16)));
      [a, b32, b16].forEach((t) => t.release());
    }
    const sums = await ctx.read(out);
    sizes.forEach((n, slot) => {
      expect(relative(sums[2 * slot], refs[slot][0]), `Σ|a − b|, n ${n}`).toBeLessThan(1e-5);
      expect(relative(sums[2 * slot + 1], refs[slot][1]), `Σ|b|, n ${n}`).toBeLessThan(1e-5);
    });
    out.release();
  });

  it('relativeL1 and maxAbs stay within 1e-5 of float64 on 3·10^6 elements', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 1);
    const n = 3_000_017;
    // A common offset makes every |b| term alike: the case where a plain running f32 sum drifts most.
    const bData = Float32Array.from(randomArray(n, rand, 0.5), (v) => 3 + v);
    const aData = Float32Array.from(bData, (v) => v + (rand() * 2 - 1) * 1e-3);
    aData[1_234_567] = -17.25; // one outlier for the maximum
    const [a, b] = [ctx.upload(aData, [n]), ctx.upload(bData, [n])];
    const sums = ctx.empty([2]);
    const maxima = ctx.empty([1]);
    relativeL1(ctx, a, b, sums, 0);
    maxAbs(ctx, a, maxima, 0);
    const [diff, norm] = l1Sums(aData, bData);
    const got = await ctx.read(sums);
    expect(relative(got[0], diff)).toBeLessThan(1e-5);
    expect(relative(got[1], norm)).toBeLessThan(1e-5);
    expect((await ctx.read(maxima))[0]).toBe(17.25);
    [a, b, sums, maxima].forEach((t) => t.release());
  });

  it('fills many slots from consecutive calls before one read, leaving other slots untouched', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 2);
    const slots = 7;
    const sums = ctx.empty([2 * slots]); // poisoned with NaN by the test context
    const maxima = ctx.empty([slots]);
    const refs = new Map<number, { l1: [number, number]; max: number }>();
    for (const slot of [5, 0, 3, 6, 1]) {
      const n = 1000 + 97 * slot;
      const aData = randomArray(n, rand, slot + 1);
      const bData = randomArray(n, rand, 1);
      const [a, b] = [ctx.upload(aData, [n]), ctx.upload(bData, [n])];
      relativeL1(ctx, a, b, sums, slot);
      maxAbs(ctx, a, maxima, slot);
      refs.set(slot, { l1: l1Sums(aData, bData), max: maxAbsReference(aData) });
      a.release();
      b.release();
    }
    const [gotSums, gotMax] = [await ctx.read(sums), await ctx.read(maxima)];
    for (let slot = 0; slot < slots; slot++) {
      const ref = refs.get(slot);
      if (!ref) {
        expect(Number.isNaN(gotSums[2 * slot]) && Number.isNaN(gotSums[2 * slot + 1]), `slot ${slot} untouched`).toBe(true);
        expect(Number.isNaN(gotMax[slot]), `max slot ${slot} untouched`).toBe(true);
        continue;
      }
      expect(relative(gotSums[2 * slot], ref.l1[0]), `slot ${slot}`).toBeLessThan(1e-5);
      expect(relative(gotSums[2 * slot + 1], ref.l1[1]), `slot ${slot}`).toBeLessThan(1e-5);
      expect(gotMax[slot], `max slot ${slot}`).toBe(ref.max);
    }
    [sums, maxima].forEach((t) => t.release());
  });

  it('maxAbs is exact on awkward sizes, sees negative maxima, and reports a NaN', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 3);
    const sizes = [1, 3, 257, 65537];
    const maxima = ctx.empty([sizes.length + 1]);
    const refs = sizes.map((n, slot) => {
      const data = randomArray(n, rand, 100);
      data[Math.floor(rand() * n)] = -250.5;
      const a = ctx.upload(data, [n]);
      maxAbs(ctx, a, maxima, slot);
      a.release();
      return maxAbsReference(data);
    });
    const withNaN = Float32Array.from(randomArray(5000, rand), (v, i) => (i === 4321 ? Number.NaN : v));
    const a = ctx.upload(withNaN, [5000]);
    maxAbs(ctx, a, maxima, sizes.length);
    const got = await ctx.read(maxima);
    expect(Array.from(got.subarray(0, sizes.length))).toEqual(refs);
    expect(got[sizes.length]).toBeNaN();
    [a, maxima].forEach((t) => t.release());
  });

  it('over the binding limit: both reductions in segments (4 KiB cap), f32 and f16 b, against float64', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 4);
    const sizes = [257, 4097, 30001]; // 1, 5 and 34 segments of 896 elements (f16 b: aligned in 128s)
    const sums = ctx.empty([4 * sizes.length]);
    const maxima = ctx.empty([sizes.length]);
    const refs: { l1: [number, number]; l1Half: [number, number]; max: number }[] = [];
    const rangesBefore = ctx.rangeBindings.reduce_l1 ?? 0;
    for (const [slot, n] of sizes.entries()) {
      const aData = randomArray(n, rand, 2);
      aData[Math.floor(rand() * n)] = -40.5;
      const a = ctx.upload(aData, [n]);
      const b = ctx.upload(Float32Array.from(aData, (v) => v + (rand() * 2 - 1) * 0.1), [n]);
      const b16 = cast(ctx, b, 'f16');
      ctx.setBindingLimit(4096);
      try {
        relativeL1(ctx, a, b, sums, 2 * slot);
        relativeL1(ctx, a, b16, sums, 2 * slot + 1);
        maxAbs(ctx, a, maxima, slot);
      } finally {
        ctx.setBindingLimit(undefined);
      }
      refs.push({ l1: l1Sums(aData, await ctx.read(b)), l1Half: l1Sums(aData, await ctx.read(b16)), max: maxAbsReference(aData) });
      [a, b, b16].forEach((t) => t.release());
    }
    expect((ctx.rangeBindings.reduce_l1 ?? 0) - rangesBefore, 'segments bound as ranges').toBeGreaterThan(2 * 40);
    const [gotSums, gotMax] = [await ctx.read(sums), await ctx.read(maxima)];
    sizes.forEach((n, slot) => {
      const { l1, l1Half, max } = refs[slot];
      expect(relative(gotSums[4 * slot], l1[0]), `Σ|a − b|, n ${n}`).toBeLessThan(1e-5);
      expect(relative(gotSums[4 * slot + 1], l1[1]), `Σ|b|, n ${n}`).toBeLessThan(1e-5);
      expect(relative(gotSums[4 * slot + 2], l1Half[0]), `Σ|a − b16|, n ${n}`).toBeLessThan(1e-5);
      expect(relative(gotSums[4 * slot + 3], l1Half[1]), `Σ|b16|, n ${n}`).toBeLessThan(1e-5);
      expect(gotMax[slot], `max, n ${n}`).toBe(max);
    });
    [sums, maxima].forEach((t) => t.release());
  });

  it('relativeL1AndStore measures against the stored features, then stores a over them (f32 and f16, odd sizes, segments)', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 5);
    const sizes = [1, 2, 3, 255, 257, 4097, 65537];
    const flags = ctx.zeros([2], 'u32');
    const sums = ctx.empty([4 * sizes.length]); // fused, f32 and f16 stored
    const plain = ctx.empty([2 * sizes.length]); // relativeL1 on the f32 stored, before the store
    const refs: { f32: [number, number]; f16: [number, number] }[] = [];
    for (const [slot, n] of sizes.entries()) {
      const aData = randomArray(n, rand, 2);
      const a = ctx.upload(aData, [n]);
      const stored = ctx.upload(Float32Array.from(aData, (v) => v + (rand() * 2 - 1) * 0.1), [n]);
      const stored16 = cast(ctx, stored, 'f16');
      refs.push({ f32: l1Sums(aData, await ctx.read(stored)), f16: l1Sums(aData, await ctx.read(stored16)) });
      relativeL1(ctx, a, stored, plain, slot);
      const segmented = n === 4097; // 4 KiB cap: 5 segments
      if (segmented) ctx.setBindingLimit(4096);
      try {
        relativeL1AndStore(ctx, a, stored, sums, 2 * slot, flags, 0);
        relativeL1AndStore(ctx, a, stored16, sums, 2 * slot + 1, flags, 1);
      } finally {
        ctx.setBindingLimit(undefined);
      }
      const checked = ctx.empty([n], 'f16');
      castToHalfChecked(ctx, a, checked, flags, 0);
      expect(await bytes(ctx, stored), `n ${n}: f32 stored is a`).toEqual(new Uint8Array(aData.buffer));
      expect(await bytes(ctx, stored16), `n ${n}: f16 stored as the checked cast stores it`).toEqual(await bytes(ctx, checked));
      [a, stored, stored16, checked].forEach((t) => t.release());
    }
    const [got, gotPlain] = [await ctx.read(sums), await ctx.read(plain)];
    sizes.forEach((n, slot) => {
      const { f32, f16 } = refs[slot];
      expect(relative(got[4 * slot], f32[0]), `Σ|a − b|, n ${n}`).toBeLessThan(1e-5);
      expect(relative(got[4 * slot + 1], f32[1]), `Σ|b|, n ${n}`).toBeLessThan(1e-5);
      expect(relative(got[4 * slot + 2], f16[0]), `Σ|a − b16|, n ${n}`).toBeLessThan(1e-5);
      expect(relative(got[4 * slot + 3], f16[1]), `Σ|b16|, n ${n}`).toBeLessThan(1e-5);
      // f32: reduce_l1.wgsl's order, so relativeL1's very sums (unsegmented).
      if (n !== 4097) expect([got[4 * slot], got[4 * slot + 1]], `n ${n}: as relativeL1`).toEqual([gotPlain[2 * slot], gotPlain[2 * slot + 1]]);
    });
    expect(Array.from(await ctx.read(flags))).toEqual([0, 0]);
    [flags, sums, plain].forEach((t) => t.release());
  });

  it('relativeL1AndStore raises its flag when an f16 store cannot hold a value, and only then', async () => {
    const ctx = await testContext();
    const flags = ctx.zeros([4], 'u32');
    const sums = ctx.empty([8]);
    const cases: [number[], number][] = [
      [[1, 65504, -65504], 0],
      [[1, 70000, 3], 1],
      [[1, 2, Number.NaN], 2],
      [[1, 2, 3, 4, 5, Number.POSITIVE_INFINITY, 7], 3],
    ];
    for (const [values, flag] of cases) {
      const a = ctx.upload(Float32Array.from(values), [values.length]);
      const stored = ctx.zeros([values.length], 'f16');
      relativeL1AndStore(ctx, a, stored, sums, flag, flags, flag);
      if (flag === 0) expect(Array.from(await ctx.read(stored))).toEqual(values);
      [a, stored].forEach((t) => t.release());
    }
    expect(Array.from(await ctx.read(flags))).toEqual([0, 1, 1, 1]);
    expect((await ctx.read(sums)).subarray(0, 2)).toEqual(Float32Array.from([1 + 65504 + 65504, 0]));
    [flags, sums].forEach((t) => t.release());
  });

  it('skips the final pass where one workgroup does it all, writing the slot itself', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 6);
    const out = ctx.empty([8]);
    const flags = ctx.zeros([1], 'u32');
    const dispatch = vi.spyOn(ctx, 'dispatch');
    // (fill: the test context poisons each new scratch tensor)
    const shaders = () => dispatch.mock.calls.splice(0).map(([kernel]) => kernel.shader).filter((s) => s !== 'fill');
    const refs: [number, number][] = [];
    try {
      for (const [slot, n, fused, expected] of [
        [0, 16384, false, ['reduce_l1']], // 64 per thread: one workgroup
        [1, 16385, false, ['reduce_l1', 'reduce_l1']],
        [2, 32768, true, ['reduce_l1_store']], // 128 per thread: one workgroup
        [3, 32769, true, ['reduce_l1_store', 'reduce_l1']],
      ] as const) {
        const aData = randomArray(n, rand, 2);
        const bData = Float32Array.from(aData, (v) => v + (rand() * 2 - 1) * 0.1);
        const [a, b] = [ctx.upload(aData, [n]), ctx.upload(bData, [n])];
        shaders();
        if (fused) relativeL1AndStore(ctx, a, b, out, slot, flags, 0);
        else relativeL1(ctx, a, b, out, slot);
        expect(shaders(), `n ${n}`).toEqual(expected);
        refs.push(l1Sums(aData, bData));
        [a, b].forEach((t) => t.release());
      }
    } finally {
      dispatch.mockRestore();
    }
    const got = await ctx.read(out);
    refs.forEach(([diff, norm], slot) => {
      expect(relative(got[2 * slot], diff), `slot ${slot}`).toBeLessThan(1e-5);
      expect(relative(got[2 * slot + 1], norm), `slot ${slot}`).toBeLessThan(1e-5);
    });
    [out, flags].forEach((t) => t.release());
  });

  it('leaves no scratch tensors alive', async () => {
    const ctx = await testContext();
    const a = ctx.zeros([5000]);
    const out = ctx.zeros([2]);
    const live = ctx.liveTensors;
    relativeL1(ctx, a, a, out, 0);
    maxAbs(ctx, a, out, 1);
    const [stored, flags] = [ctx.zeros([5000]), ctx.zeros([1], 'u32')];
    relativeL1AndStore(ctx, a, stored, out, 0, flags, 0);
    [stored, flags].forEach((t) => t.release());
    expect(ctx.liveTensors).toBe(live);
    expect(Array.from(await ctx.read(out))).toEqual([0, 0]);
    [a, out].forEach((t) => t.release());
  });

  it('refuses wrong shapes, dtypes, slots and aliasing before dispatch', async () => {
    const ctx = await testContext();
    const a = ctx.zeros([4, 3]);
    const b = ctx.zeros([12]);
    const ints = ctx.zeros([4, 3], 'u32');
    const out = ctx.zeros([6]);
    const out2d = ctx.zeros([3, 2]);
    expect(() => relativeL1(ctx, a, b, out, 0)).toThrow(/same shape/);
    expect(() => relativeL1(ctx, a, ints, out, 0)).toThrow(/b must be f32 or f16, got u32/);
    expect(() => relativeL1(ctx, a, a, out, 3)).toThrow(/slot 3 does not fit out \[6\]/);
    expect(() => relativeL1(ctx, a, a, out, 1.5)).toThrow(/slot 1.5/);
    expect(() => relativeL1(ctx, a, a, out2d, 0)).toThrow(/rank 1/);
    expect(() => relativeL1(ctx, b, b, b, 0)).toThrow(/must not alias/);
    expect(() => maxAbs(ctx, ints, out, 0)).toThrow(/a must be f32, got u32/);
    expect(() => maxAbs(ctx, a, out, 6)).toThrow(/slot 6 does not fit/);
    expect(() => maxAbs(ctx, a, out, -1)).toThrow(/slot -1/);
    expect(() => maxAbs(ctx, b, b, 0)).toThrow(/must not alias/);
    const flags = ctx.zeros([2], 'u32');
    const copy = ctx.zeros([12]);
    expect(() => relativeL1AndStore(ctx, a, b, out, 0, flags, 0)).toThrow(/same shape/);
    expect(() => relativeL1AndStore(ctx, b, copy, out, 0, flags, 2)).toThrow(/flag 2 outside/);
    expect(() => relativeL1AndStore(ctx, b, copy, out, 0, out, 0)).toThrow(/flags must be u32/);
    expect(() => relativeL1AndStore(ctx, b, b, out, 0, flags, 0)).toThrow(/distinct buffers/);
    expect(() => relativeL1AndStore(ctx, b, copy, out, 3, flags, 0)).toThrow(/slot 3 does not fit/);
    [flags, copy].forEach((t) => t.release());
    [a, b, ints, out, out2d].forEach((t) => t.release());
  });
});
