import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { attention, preferredAttentionPath, type AttentionPath } from '../../src/gpu/kernels/attention.ts';
import { isSoftwareAdapter } from '../../src/gpu/kernels/software-adapter.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { Tensor } from '../../src/gpu/tensor.ts';

/** Float64 softmax(Q·Kᵀ/√d)·V per head; q [Lq, H·d], k and v [Lk, H·d], heads packed in the columns. */
function attentionReference(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  queries: number,
  keys: number,
  heads: number,
  headDim: number,
): Float64Array {
  const width = heads * headDim;
  const out = new Float64Array(queries * width);
  const scores = new Float64Array(keys);
  const scale = 1 / Math.sqrt(headDim);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < queries; i++) {
      const qi = i * width + h * headDim;
      let max = -Infinity;
      for (let j = 0; j < keys; j++) {
        const kj = j * width + h * headDim;
        let s = 0;
        for (let c = 0; c < headDim; c++) s += q[qi + c] * k[kj + c];
        scores[j] = s * scale;
        max = Math.max(max, scores[j]);
      }
      let sum = 0;
      for (let j = 0; j < keys; j++) sum += scores[j] = Math.exp(scores[j] - max);
      for (let j = 0; j < keys; j++) {
        const p = scores[j] / sum;
        const vj = j * width + h * headDim;
        for (let c = 0; c < headDim; c++) out[qi + c] += p * v[vj + c];
      }
    }
  }
  return out;
}

interface Case {
  queries: number;
  keys: number;
  heads: number;
  headDim: number;
  /** Magnitude of q and k values: large values make sharp softmaxes and test the running max. */
  qkScale?: number;
}

/** Every path, each test forcing one: 'direct-subgroups' only runs where the device has subgroups. */
const PATHS: AttentionPath[] = ['tiled', 'direct', 'direct-subgroups'];

function runs(ctx: GpuContext, path: AttentionPath): boolean {
  return path !== 'direct-subgroups' || ctx.features.has('subgroups');
}

async function checkCase(seed: number, { queries, keys, heads, headDim, qkScale = 1 }: Case, path?: AttentionPath): Promise<void> {
  const ctx = await testContext();
  const rand = rng(seed);
  const width = heads * headDim;
  const q = randomArray(queries * width, rand, qkScale);
  const k = randomArray(keys * width, rand, qkScale);
  const v = randomArray(keys * width, rand);
  const tq = ctx.upload(q, [queries, width]);
  const tk = ctx.upload(k, [keys, width]);
  const tv = ctx.upload(v, [keys, width]);
  const ty = attention(ctx, tq, tk, tv, heads, undefined, { path });
  const out = await ctx.read(ty);
  const err = relativeError(out, attentionReference(q, k, v, queries, keys, heads, headDim));
  expect(err, `${path ?? 'default'} path: Lq=${queries} Lk=${keys} H=${heads} d=${headDim} ×${qkScale}`).toBeLessThan(1e-5);
  [tq, tk, tv, ty].forEach((t) => t.release());
}

describe(`attention kernel (seed ${runSeed})`, () => {
  const cases: Case[] = [
    { queries: 1, keys: 1, heads: 1, headDim: 12 },
    { queries: 37, keys: 131, heads: 3, headDim: 20 },
    { queries: 1, keys: 131, heads: 2, headDim: 64 },
    { queries: 65, keys: 49, heads: 3, headDim: 64 },
    { queries: 131, keys: 1, heads: 4, headDim: 12 },
    { queries: 33, keys: 17, heads: 2, headDim: 128 },
    { queries: 129, keys: 37, heads: 2, headDim: 20 },
    { queries: 67, keys: 33, heads: 2, headDim: 72 },
    { queries: 5, keys: 29, heads: 2, headDim: 15 },
    { queries: 9, keys: 19, heads: 1, headDim: 256 },
  ];
  for (const path of PATHS) {
    describe(`${path} path`, () => {
      for (const c of cases) {
        it(`matches float64 for Lq=${c.queries} Lk=${c.keys} heads=${c.heads} d=${c.headDim}`, async (t) => {
          if (!runs(await testContext(), path)) t.skip();
          await checkCase(runSeed, c, path);
        });
      }

      it('keeps a sharp softmax accurate (q and k scaled ×10: logits of ±100)', async (t) => {
        if (!runs(await testContext(), path)) t.skip();
        await checkCase(runSeed + 1, { queries: 37, keys: 53, heads: 2, headDim: 64, qkScale: 10 }, path);
        await checkCase(runSeed + 2, { queries: 33, keys: 131, heads: 1, headDim: 128, qkScale: 10 }, path);
        await checkCase(runSeed + 3, { queries: 17, keys: 41, heads: 3, headDim: 12, qkScale: 10 }, path);
      });

      it('crosses many key tiles and query blocks (Lq = Lk = 600)', async (t) => {
        if (!runs(await testContext(), path)) t.skip();
        await checkCase(runSeed + 4, { queries: 600, keys: 600, heads: 1, headDim: 64, qkScale: 2 }, path);
      });
    });
  }

  it('takes the adapter\'s preferred path by default', async () => {
    const ctx = await testContext();
    const expected = !isSoftwareAdapter(ctx) ? 'tiled' : ctx.features.has('subgroups') ? 'direct-subgroups' : 'direct';
    expect(preferredAttentionPath(ctx)).toBe(expected);
    await checkCase(runSeed + 6, { queries: 19, keys: 23, heads: 2, headDim: 16 });
  });

  it('writes into a given output tensor', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 5);
    const [queries, keys, heads, headDim] = [7, 11, 2, 12];
    const q = randomArray(queries * heads * headDim, rand);
    const k = randomArray(keys * heads * headDim, rand);
    const v = randomArray(keys * heads * headDim, rand);
    const tq = ctx.upload(q, [queries, heads * headDim]);
    const tk = ctx.upload(k, [keys, heads * headDim]);
    const tv = ctx.upload(v, [keys, heads * headDim]);
    const ref = attentionReference(q, k, v, queries, keys, heads, headDim);
    for (const path of PATHS.filter((p) => runs(ctx, p))) {
      const ty = ctx.empty([queries, heads * headDim]);
      expect(attention(ctx, tq, tk, tv, heads, ty, { path })).toBe(ty);
      expect(relativeError(await ctx.read(ty), ref), path).toBeLessThan(1e-5);
      ty.release();
    }
    [tq, tk, tv].forEach((t) => t.release());
  });

  it('reads buffers that end mid-chunk on the tiled path, and refuses them on the direct ones', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 7);
    const [queries, keys, heads, headDim] = [3, 5, 1, 5]; // 15 and 25 values: 60 and 100 bytes
    const data = [queries, keys, keys].map((rows) => randomArray(rows * headDim, rand));
    const [tq, tk, tv] = data.map((d, i) => {
      const buffer = ctx.device.createBuffer({ size: d.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
      ctx.device.queue.writeBuffer(buffer, 0, d as Float32Array<ArrayBuffer>);
      return new Tensor(ctx, buffer, [[queries, keys, keys][i], headDim], 'f32');
    });
    expect(() => attention(ctx, tq, tk, tv, heads, undefined, { path: 'direct' })).toThrow(/multiple of 16 bytes/);
    const y = attention(ctx, tq, tk, tv, heads);
    expect(relativeError(await ctx.read(y), attentionReference(data[0], data[1], data[2], queries, keys, heads, headDim))).toBeLessThan(1e-5);
    y.release();
    [tq, tk, tv].forEach((t) => t.buffer.destroy());
  });

  it('returns an empty [0, width] output when there are no queries', async () => {
    const ctx = await testContext();
    const q = ctx.zeros([0, 24]);
    const k = ctx.zeros([3, 24]);
    const y = attention(ctx, q, k, k, 2);
    expect(y.shape).toEqual([0, 24]);
    [q, k, y].forEach((t) => t.release());
  });

  it('refuses bad shapes and dtypes before dispatch', async () => {
    const ctx = await testContext();
    const q = ctx.zeros([5, 24]);
    const k = ctx.zeros([7, 24]);
    const v = ctx.zeros([7, 24]);
    const out = ctx.empty([5, 24]);
    const bad = {
      rank3: ctx.zeros([7, 2, 12]),
      shortV: ctx.zeros([6, 24]),
      narrowK: ctx.zeros([7, 12]),
      halfK: ctx.zeros([7, 24], 'f16'),
      intQ: ctx.zeros([5, 24], 'u32'),
      wideOut: ctx.empty([5, 48]),
      noKeys: ctx.zeros([0, 24]),
      bigHeadQ: ctx.zeros([1, 264]),
      bigHeadK: ctx.zeros([1, 264]),
      noColumns: ctx.zeros([3, 0]),
    };
    expect(() => attention(ctx, q, bad.rank3, v, 2, out)).toThrow(/k must have rank 2/);
    expect(() => attention(ctx, q, k, bad.shortV, 2, out)).toThrow(/v must have shape \[7, 24\], got \[6, 24\]/);
    expect(() => attention(ctx, q, bad.narrowK, v, 2, out)).toThrow(/k must have shape \[7, 24\]/);
    expect(() => attention(ctx, q, bad.halfK, v, 2, out)).toThrow(/k must be f32, got f16/);
    expect(() => attention(ctx, bad.intQ, k, v, 2, out)).toThrow(/q must be f32, got u32/);
    expect(() => attention(ctx, q, k, v, 5, out)).toThrow(/not a multiple of 5 heads/);
    expect(() => attention(ctx, q, k, v, 1.5, out)).toThrow(/positive integer/);
    expect(() => attention(ctx, q, k, v, 2, bad.wideOut)).toThrow(/out must have shape \[5, 24\]/);
    expect(() => attention(ctx, q, bad.noKeys, bad.noKeys, 2, out)).toThrow(/no keys/);
    expect(() => attention(ctx, bad.bigHeadQ, bad.bigHeadK, bad.bigHeadK, 1)).toThrow(/head size 264 exceeds/);
    expect(() => attention(ctx, bad.noColumns, bad.noColumns, bad.noColumns, 1)).toThrow(/no columns/);
    expect(() => attention(ctx, q, k, v, 2, q)).toThrow(/another tensor than q, k and v/);
    expect(() => attention(ctx, q, k, v, 2, out, { path: 'staged' as AttentionPath })).toThrow(/unknown path "staged"/);
    if (!ctx.features.has('subgroups')) {
      expect(() => attention(ctx, q, k, v, 2, out, { path: 'direct-subgroups' })).toThrow(/needs the 'subgroups' feature/);
    }
    // Nothing was dispatched into `out`: it still holds the test context's NaN poison.
    expect((await ctx.read(out)).every(Number.isNaN)).toBe(true);
    [q, k, v, out, ...Object.values(bad)].forEach((t) => t.release());
  });
});
