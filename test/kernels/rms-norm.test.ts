import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { rmsNorm } from '../../src/gpu/kernels/rms-norm.ts';
import type { NormPath } from '../../src/gpu/kernels/layer-norm.ts';
import { Tensor } from '../../src/gpu/tensor.ts';

function rmsNormReference(x: Float32Array, weight: Float32Array, eps: number): Float64Array {
  const cols = weight.length;
  const y = new Float64Array(x.length);
  for (let base = 0; base < x.length; base += cols) {
    let squares = 0;
    for (let c = 0; c < cols; c++) squares += x[base + c] ** 2;
    const invRms = 1 / Math.sqrt(squares / cols + eps);
    for (let c = 0; c < cols; c++) y[base + c] = x[base + c] * invRms * weight[c];
  }
  return y;
}

describe(`rmsNorm (seed ${runSeed})`, () => {
  for (const path of ['tree', 'rows'] as NormPath[]) {
    describe(`${path} path`, () => {
      it('matches float64 across the whole last dimension on awkward sizes', async () => {
        const ctx = await testContext();
        const rand = rng(runSeed);
        for (const [rows, cols] of [[1, 1], [3, 7], [5, 257], [2, 1031], [3, 1536], [2, 5120]]) {
          const data = randomArray(rows * cols, rand, 5);
          const weightData = randomArray(cols, rand, 2);
          const x = ctx.upload(data, [rows, cols]);
          const weight = ctx.upload(weightData, [cols]);
          const y = rmsNorm(ctx, x, weight, 1e-6, undefined, { path });
          expect(relativeError(await ctx.read(y), rmsNormReference(data, weightData, 1e-6)), `${rows}×${cols}`).toBeLessThan(1e-5);
          [x, weight, y].forEach((t) => t.release());
        }
      });

      it('handles tiny rows where eps matters, [..., C] inputs and a given out', async () => {
        const ctx = await testContext();
        const rand = rng(runSeed + 1);
        const [a, b, cols] = [2, 3, 96];
        const data = randomArray(a * b * cols, rand, 1e-3);
        const weightData = randomArray(cols, rand, 1);
        const x = ctx.upload(data, [a, b, cols]);
        const weight = ctx.upload(weightData, [cols]);
        const out = ctx.empty([a, b, cols]);
        expect(rmsNorm(ctx, x, weight, 1e-6, out, { path })).toBe(out);
        expect(relativeError(await ctx.read(out), rmsNormReference(data, weightData, 1e-6))).toBeLessThan(1e-5);
        [x, weight, out].forEach((t) => t.release());
      });
    });
  }

  it('reads a buffer that ends mid-chunk on the tree path, and refuses it on the rows path', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 2);
    const data = randomArray(3 * 5, rand, 2); // 60 bytes
    const weightData = randomArray(5, rand, 1);
    const buffer = ctx.device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    ctx.device.queue.writeBuffer(buffer, 0, data as Float32Array<ArrayBuffer>);
    const x = new Tensor(ctx, buffer, [3, 5], 'f32');
    const weight = ctx.upload(weightData, [5]);
    expect(() => rmsNorm(ctx, x, weight, 1e-6, undefined, { path: 'rows' })).toThrow(/x in 16-byte chunks/);
    const y = rmsNorm(ctx, x, weight, 1e-6);
    expect(relativeError(await ctx.read(y), rmsNormReference(data, weightData, 1e-6))).toBeLessThan(1e-5);
    [weight, y].forEach((t) => t.release());
    buffer.destroy();
  });

  it('refuses wrong shapes, dtypes and aliasing before dispatch', async () => {
    const ctx = await testContext();
    const x = ctx.zeros([4, 8]);
    const weight = ctx.zeros([8]);
    const shortWeight = ctx.zeros([4]);
    const ints = ctx.zeros([4, 8], 'u32');
    const wrongOut = ctx.zeros([32]);
    expect(() => rmsNorm(ctx, ints, weight, 1e-6)).toThrow(/x must be f32, got u32/);
    expect(() => rmsNorm(ctx, x, shortWeight, 1e-6)).toThrow(/weight must have shape \[8\]/);
    expect(() => rmsNorm(ctx, x, weight, 1e-6, wrongOut)).toThrow(/same shape/);
    expect(() => rmsNorm(ctx, x, weight, 1e-6, x)).toThrow(/must not alias/);
    expect(() => rmsNorm(ctx, x, weight, -1)).toThrow(/eps/);
    expect(() => rmsNorm(ctx, x, weight, 1e-6, undefined, { path: 'warp' as NormPath })).toThrow(/unknown path "warp"/);
    [x, weight, shortWeight, ints, wrongOut].forEach((t) => t.release());
  });
});
