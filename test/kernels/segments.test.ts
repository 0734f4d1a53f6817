// Tensors over the binding limit are processed in segments (src/gpu/kernels/segments.ts, matmul-columns.ts):
// with an artificial cap, every segmented kernel must give exactly (bit for bit) the uncapped output.
import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, rng, runSeed } from '../helpers/reference.ts';
import { floatToHalf, type GpuContext } from '../../src/gpu/context.ts';
import type { Tensor } from '../../src/gpu/tensor.ts';
import { matmul, type MatmulPath } from '../../src/gpu/kernels/matmul.ts';
import { attention, type AttentionPath } from '../../src/gpu/kernels/attention.ts';
import { layerNorm } from '../../src/gpu/kernels/layer-norm.ts';
import { rmsNorm } from '../../src/gpu/kernels/rms-norm.ts';
import { rope } from '../../src/gpu/kernels/rope.ts';
import { add } from '../../src/gpu/kernels/add.ts';
import { multiply } from '../../src/gpu/kernels/multiply.ts';
import { unary } from '../../src/gpu/kernels/unary.ts';
import { cast, castToHalfChecked } from '../../src/gpu/kernels/cast.ts';
import { linearCombination } from '../../src/gpu/kernels/linear-combination.ts';
import { patchify, unpatchify, type PatchSize } from '../../src/gpu/kernels/patchify.ts';
import { swapOuter } from '../../src/gpu/kernels/swap-outer.ts';

const seeds = rng(runSeed);

/** Random tensors from a seeded stream: the uncapped and the capped run get the same inputs. */
type Uploader = (shape: number[], dtype?: 'f32' | 'f16') => Tensor;
function uploader(ctx: GpuContext, seed: number): Uploader {
  const rand = rng(seed);
  return (shape, dtype = 'f32') => {
    const values = randomArray(shape.reduce((a, b) => a * b, 1), rand);
    return dtype === 'f16' ? ctx.upload(Uint16Array.from(values, floatToHalf), shape, 'f16') : ctx.upload(values, shape);
  };
}

/** Sub-range bindings by kernels other than the poisoning fill. */
function kernelRanges(ctx: GpuContext): number {
  return Object.entries(ctx.rangeBindings).reduce((sum, [shader, n]) => sum + (shader === 'fill' ? 0 : n), 0);
}

/**
 * Runs `op` uncapped and under `cap` bytes; expects the same bits and no NaN. `bindsRanges`: the capped
 * run must bind sub-ranges (false where the op splits by copies instead, see matmul-columns.ts).
 */
async function expectSameUnderCap(cap: number, op: (ctx: GpuContext, upload: Uploader) => Tensor, bindsRanges = true): Promise<void> {
  const ctx = await testContext();
  const seed = Math.floor(seeds() * 2 ** 31);
  const whole = op(ctx, uploader(ctx, seed));
  const expected = new Uint32Array(await ctx.readRaw(whole), 0, whole.byteLength / 4);
  whole.release();
  const rangesBefore = kernelRanges(ctx);
  ctx.setBindingLimit(cap);
  let segmented: Tensor;
  try {
    segmented = op(ctx, uploader(ctx, seed));
  } finally {
    ctx.setBindingLimit(undefined);
  }
  const got = new Uint32Array(await ctx.readRaw(segmented), 0, segmented.byteLength / 4);
  segmented.release();
  if (bindsRanges) expect(kernelRanges(ctx), 'the cap made the kernel bind sub-ranges').toBeGreaterThan(rangesBefore);
  expect(Array.from(new Float32Array(expected.buffer, 0, expected.length)).some(Number.isNaN), 'uncapped output has NaN').toBe(false);
  expect(got).toEqual(expected);
}

describe(`segmented kernels equal unsegmented ones bit for bit (seed ${runSeed})`, () => {
  // Odd widths (rows of 148 and 180 bytes) align only every 64 rows; widths of 36 and 44 every 16.
  const matmulCases: { path: MatmulPath; M: number; K: number; N: number; cap: number }[] = [
    { path: 'direct', M: 150, K: 37, N: 45, cap: 12288 },
    { path: 'staged', M: 36, K: 36, N: 44, cap: 4096 },
  ];
  for (const { path, M, K, N, cap } of matmulCases) {
    it(`matmul along tokens (${path}): x [${M}, ${K}] with bias, gelu, gate row and residual, ${cap} B cap`, async () => {
      await expectSameUnderCap(cap, (ctx, upload) => {
        const [x, w, bias, gate, residual] = [upload([M, K]), upload([N, K]), upload([N]), upload([3, N]), upload([M, N])];
        const y = matmul(ctx, x, w, { bias, gate, gateRow: 2, residual, activation: 'gelu_tanh', path });
        [x, w, bias, gate, residual].forEach((t) => t.release());
        return y;
      });
    });
  }

  it('matmul along output columns: f16 w [331, 37] over a 12 KiB cap (x over it too)', async () => {
    await expectSameUnderCap(12288, (ctx, upload) => {
      const w = upload([331, 37], 'f16');
      const [x, bias, gate, residual] = [upload([3, 50, 37]), upload([331]), upload([2, 331]), upload([3, 50, 331])];
      const y = matmul(ctx, x, w, { bias, gate, gateRow: 1, residual, activation: 'silu' });
      [x, w, bias, gate, residual].forEach((t) => t.release());
      return y;
    });
  });

  it('matmul along output columns, vector path (2 rows): f32 w [97, 29] over a 2 KiB cap', async () => {
    await expectSameUnderCap(2048, (ctx, upload) => {
      const [x, w] = [upload([2, 29]), upload([97, 29])];
      expect(w.byteLength).toBeGreaterThan(2048); // unsplit, binding w would fail
      const y = matmul(ctx, x, w);
      [x, w].forEach((t) => t.release());
      return y;
    }, false);
  });

  for (const path of ['tiled', 'direct', 'direct-subgroups'] as AttentionPath[]) {
    it(`attention along query blocks (${path}): q [20, 2·20], k and v [5, 40], 2 KiB cap`, async (t) => {
      const ctx = await testContext();
      if (path === 'direct-subgroups' && !ctx.features.has('subgroups')) t.skip();
      await expectSameUnderCap(2048, (c, upload) => {
        const [q, k, v] = [upload([20, 40]), upload([5, 40]), upload([5, 40])];
        const y = attention(c, q, k, v, 2, undefined, { path });
        [q, k, v].forEach((x) => x.release());
        return y;
      });
    });
  }

  for (const path of ['tiled', 'direct', 'direct-subgroups'] as AttentionPath[]) {
    it(`attention along head groups when k and v are over the cap (${path}): q [36, 3·12], k and v [30, 36], 4 KiB cap`, async (t) => {
      const ctx = await testContext();
      if (path === 'direct-subgroups' && !ctx.features.has('subgroups')) t.skip();
      await expectSameUnderCap(4096, (c, upload) => {
        const [q, k, v] = [upload([36, 36]), upload([30, 36]), upload([30, 36])];
        expect(k.byteLength).toBeGreaterThan(4096); // unsplit, binding k would fail
        const y = attention(c, q, k, v, 3, undefined, { path });
        [q, k, v].forEach((x) => x.release());
        return y;
      });
    });
  }

  for (const path of ['rows', 'tree'] as const) {
    it(`layerNorm (${path}) with weight, bias and modulation, and rmsNorm, x [150, 43], 11 KiB cap`, async () => {
      await expectSameUnderCap(11264, (ctx, upload) => {
        const [x, weight, bias, table] = [upload([150, 43]), upload([43]), upload([43]), upload([4, 43])];
        const ln = layerNorm(ctx, x, { eps: 1e-6, weight, bias, modulation: { table, shiftRow: 3, scaleRow: 1 }, path });
        const y = rmsNorm(ctx, ln, weight, 1e-6, undefined, { path });
        [x, weight, bias, table, ln].forEach((t) => t.release());
        return y;
      });
    });
  }

  it('rope along tokens: x [150, 2·14] with its tables, 7.25 KiB cap', async () => {
    await expectSameUnderCap(7424, (ctx, upload) => {
      const [x, cos, sin] = [upload([150, 28]), upload([150, 7]), upload([150, 7])];
      const y = rope(ctx, x, cos, sin, 2);
      [x, cos, sin].forEach((t) => t.release());
      return y;
    });
  });

  it('add (f16 b), multiply and unary along elements: 1001 values, 1 KiB cap', async () => {
    await expectSameUnderCap(1024, (ctx, upload) => {
      const a = upload([7, 11, 13]);
      const b = upload([7, 11, 13], 'f16');
      const c = upload([7, 11, 13]);
      const sum = add(ctx, a, b);
      const product = multiply(ctx, sum, c);
      const y = unary(ctx, 'gelu_tanh', product);
      [a, b, c, sum, product].forEach((t) => t.release());
      return y;
    });
  });
});

describe(`segmented elementwise kernels (seed ${runSeed})`, () => {
  it('cast f32→f16→f32 and a 3-term linearCombination along elements: 1001 values, 1 KiB cap', async () => {
    await expectSameUnderCap(1024, (ctx, upload) => {
      const [a, b, c] = [upload([1001]), upload([1001]), upload([1001])];
      const half = cast(ctx, a, 'f16');
      const wide = cast(ctx, half, 'f32');
      const y = linearCombination(ctx, [{ tensor: wide, coef: 0.7 }, { tensor: b, coef: -1.3 }, { tensor: c, coef: 1 / 3 }]);
      [a, b, c, half, wide].forEach((t) => t.release());
      return y;
    });
  });
});

describe(`patchify and unpatchify in tiles: the video by channels, the tokens by frames (seed ${runSeed})`, () => {
  const cases: { video: [number, number, number, number]; patch: PatchSize }[] = [
    { video: [5, 4, 8, 8], patch: [1, 2, 2] }, // 5 channel × 4 frame tiles
    { video: [3, 6, 8, 8], patch: [2, 2, 2] }, // 3 × 3, each frame tile 2 frames
  ];
  for (const { video: shape, patch } of cases) {
    it(`video [${shape.join(', ')}], patch [${patch.join(', ')}], 2 KiB cap`, async () => {
      const [channels, frames, height, width] = shape;
      const grid = [frames / patch[0], height / patch[1], width / patch[2]] as const;
      await expectSameUnderCap(2048, (ctx, upload) => {
        const video = upload(shape);
        const tokens = patchify(ctx, video, patch);
        const back = unpatchify(ctx, tokens, { channels, grid, patch });
        const y = ctx.empty([tokens.size + back.size]);
        ctx.copy(tokens, y);
        ctx.copy(back, y, back.byteLength, 0, tokens.byteLength);
        [video, tokens, back].forEach((t) => t.release());
        return y;
      });
    });
  }
});

describe('swapOuter in tiles: x by its outer rows, out by its own', () => {
  it('latents [5, 4, 8, 8] → [4, 5, 8, 8], 2 KiB cap (5 × 4 tiles)', async () => {
    await expectSameUnderCap(2048, (ctx, upload) => {
      const x = upload([5, 4, 8, 8]);
      const y = swapOuter(ctx, x);
      x.release();
      return y;
    });
  });
});

describe('the cache\'s checked f16 store in segments', () => {
  it('castToHalfChecked along elements: 1001 values (one past f16 range), 1 KiB cap, output and flag', async () => {
    await expectSameUnderCap(1024, (ctx, upload) => {
      const x = upload([1001]);
      ctx.fill(x, 0x47800000); // 65536: beyond ±65504, everywhere
      const values = upload([1001]);
      const flags = ctx.zeros([2], 'u32');
      const half = ctx.empty([1001], 'f16');
      castToHalfChecked(ctx, values, half, flags, 0); // in range: flag 0 stays 0
      const over = ctx.empty([1001], 'f16');
      castToHalfChecked(ctx, x, over, flags, 1);
      const y = ctx.empty([Math.ceil(half.size / 2) + 2]);
      ctx.copy(half, y, Math.ceil(half.byteLength / 4) * 4);
      ctx.copy(flags, y, 8, 0, Math.ceil(half.byteLength / 4) * 4);
      [x, values, flags, half, over].forEach((t) => t.release());
      return y;
    });
  });
});

describe('the binding limit', () => {
  it('is the adapter limit the device was asked for, and an artificial cap must be a multiple of 256 within it', async () => {
    const ctx = await testContext();
    expect(ctx.bindingLimit).toBe(ctx.limits.maxStorageBufferBindingSize);
    expect(() => ctx.setBindingLimit(1000)).toThrow(/multiple of 256/);
    expect(() => ctx.setBindingLimit(ctx.limits.maxStorageBufferBindingSize + 256)).toThrow(/multiple of 256/);
    ctx.setBindingLimit(4096);
    expect(ctx.bindingLimit).toBe(4096);
    ctx.setBindingLimit(undefined);
    expect(ctx.bindingLimit).toBe(ctx.limits.maxStorageBufferBindingSize);
  });

  it('can be capped when the context is made (createNodeContext({ bindingLimit }))', async () => {
    const { createNodeContext } = await import('../../src/gpu/node.ts');
    const capped = await createNodeContext({ bindingLimit: 8192 });
    try {
      expect(capped.bindingLimit).toBe(8192);
      expect(capped.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    } finally {
      capped.destroy();
    }
  });

  it('refuses clearly what cannot be split: one head of keys over the cap, a weight whose rows do not fit', async () => {
    const ctx = await testContext();
    const upload = uploader(ctx, 1);
    const [q, k, v] = [upload([8, 64]), upload([40, 64]), upload([40, 64])];
    const [x, w] = [upload([4, 600]), upload([5, 600])];
    ctx.setBindingLimit(4096);
    try {
      expect(() => attention(ctx, q, k, v, 2)).toThrow(/attention: one head of 40 keys × 32 \(5120 bytes\) exceeds the binding limit 4096/);
      expect(() => matmul(ctx, x, w)).toThrow(/w \[5, 600\] f32 cannot be split into segments of output columns under the binding limit 4096/);
    } finally {
      ctx.setBindingLimit(undefined);
      [q, k, v, x, w].forEach((t) => t.release());
    }
  });
});
