import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { layerNorm, preferredNormPath, type NormPath } from '../../src/gpu/kernels/layer-norm.ts';
import { isSoftwareAdapter } from '../../src/gpu/kernels/software-adapter.ts';
import { Tensor } from '../../src/gpu/tensor.ts';

interface ReferenceOptions {
  eps: number;
  weight?: Float32Array;
  bias?: Float32Array;
  modulation?: { table: Float32Array; shiftRow: number; scaleRow: number };
}

/** Float64 LayerNorm (biased variance), then affine, then modulation, as the kernel defines them. */
function layerNormReference(x: Float32Array, cols: number, o: ReferenceOptions): Float64Array {
  const y = new Float64Array(x.length);
  for (let base = 0; base < x.length; base += cols) {
    let mean = 0;
    for (let c = 0; c < cols; c++) mean += x[base + c];
    mean /= cols;
    let variance = 0;
    for (let c = 0; c < cols; c++) variance += (x[base + c] - mean) ** 2;
    variance /= cols;
    const invStd = 1 / Math.sqrt(variance + o.eps);
    for (let c = 0; c < cols; c++) {
      let v = (x[base + c] - mean) * invStd;
      if (o.weight) v *= o.weight[c];
      if (o.bias) v += o.bias[c];
      if (o.modulation) {
        const { table, shiftRow, scaleRow } = o.modulation;
        v = v * (1 + table[scaleRow * cols + c]) + table[shiftRow * cols + c];
      }
      y[base + c] = v;
    }
  }
  return y;
}

describe(`layerNorm (seed ${runSeed})`, () => {
  for (const path of ['tree', 'rows'] as NormPath[]) {
    describe(`${path} path`, () => {
      it('matches float64 without affine or modulation on awkward sizes', async () => {
        const ctx = await testContext();
        const rand = rng(runSeed);
        for (const [rows, cols] of [[1, 1], [3, 7], [2, 256], [5, 257], [1, 1031], [2, 5120]]) {
          const data = randomArray(rows * cols, rand, 3);
          const x = ctx.upload(data, [rows, cols]);
          const y = layerNorm(ctx, x, { eps: 1e-6, path });
          expect(relativeError(await ctx.read(y), layerNormReference(data, cols, { eps: 1e-6 })), `${rows}×${cols}`).toBeLessThan(1e-5);
          x.release();
          y.release();
        }
      });

      it('keeps f32 accuracy on rows with a large mean (1000 + noise)', async () => {
        const ctx = await testContext();
        const rand = rng(runSeed + 1);
        for (const [rows, cols, noise] of [[3, 5120, 1], [4, 1536, 0.05], [2, 257, 1]]) {
          const data = randomArray(rows * cols, rand, noise).map((v) => 1000 + v);
          const x = ctx.upload(data, [rows, cols]);
          const y = layerNorm(ctx, x, { eps: 1e-6, path });
          expect(relativeError(await ctx.read(y), layerNormReference(data, cols, { eps: 1e-6 })), `${rows}×${cols} ±${noise}`).toBeLessThan(1e-5);
          x.release();
          y.release();
        }
      });

      it('applies affine weight and bias, alone and together, over [..., C] inputs', async () => {
        const ctx = await testContext();
        const rand = rng(runSeed + 2);
        const [a, b, cols] = [2, 3, 263];
        const data = randomArray(a * b * cols, rand, 2);
        const weightData = randomArray(cols, rand, 1.5);
        const biasData = randomArray(cols, rand, 0.5);
        const x = ctx.upload(data, [a, b, cols]);
        const weight = ctx.upload(weightData, [cols]);
        const bias = ctx.upload(biasData, [cols]);
        for (const affine of [{ weight }, { bias }, { weight, bias }]) {
          const y = layerNorm(ctx, x, { eps: 1e-5, ...affine, path });
          expect(y.shape).toEqual([a, b, cols]);
          const ref = layerNormReference(data, cols, {
            eps: 1e-5,
            weight: affine.weight && weightData,
            bias: 'bias' in affine ? biasData : undefined,
          });
          expect(relativeError(await ctx.read(y), ref), Object.keys(affine).join('+')).toBeLessThan(1e-5);
          y.release();
        }
        [x, weight, bias].forEach((t) => t.release());
      });

      it('fuses adaLN modulation from chosen table rows, with and without affine', async () => {
        const ctx = await testContext();
        const rand = rng(runSeed + 3);
        const [rows, cols, tableRows] = [17, 129, 6];
        const data = randomArray(rows * cols, rand, 4);
        const tableData = randomArray(tableRows * cols, rand, 0.7);
        const weightData = randomArray(cols, rand, 1);
        const biasData = randomArray(cols, rand, 1);
        const x = ctx.upload(data, [rows, cols]);
        const table = ctx.upload(tableData, [1, tableRows, cols]); // Wan's [1, 6, dim] layout
        const weight = ctx.upload(weightData, [cols]);
        const bias = ctx.upload(biasData, [cols]);
        for (const [shiftRow, scaleRow] of [[0, 1], [3, 4], [5, 2]]) {
          const modulation = { table, shiftRow, scaleRow };
          const y = layerNorm(ctx, x, { eps: 1e-6, modulation, path });
          const ref = layerNormReference(data, cols, { eps: 1e-6, modulation: { table: tableData, shiftRow, scaleRow } });
          expect(relativeError(await ctx.read(y), ref), `rows ${shiftRow}/${scaleRow}`).toBeLessThan(1e-5);
          y.release();
        }
        const out = ctx.empty([rows, cols]);
        const returned = layerNorm(ctx, x, { eps: 1e-6, weight, bias, modulation: { table, shiftRow: 0, scaleRow: 1 }, out, path });
        expect(returned).toBe(out);
        const ref = layerNormReference(data, cols, {
          eps: 1e-6,
          weight: weightData,
          bias: biasData,
          modulation: { table: tableData, shiftRow: 0, scaleRow: 1 },
        });
        expect(relativeError(await ctx.read(out), ref)).toBeLessThan(1e-5);
        [x, table, weight, bias, out].forEach((t) => t.release());
      });
    });
  }

  it('takes the adapter\'s preferred path by default', async () => {
    const ctx = await testContext();
    expect(preferredNormPath(ctx)).toBe(isSoftwareAdapter(ctx) ? 'rows' : 'tree');
    const rand = rng(runSeed + 4);
    const data = randomArray(6 * 40, rand, 2);
    const x = ctx.upload(data, [6, 40]);
    const y = layerNorm(ctx, x, { eps: 1e-6 });
    expect(relativeError(await ctx.read(y), layerNormReference(data, 40, { eps: 1e-6 }))).toBeLessThan(1e-5);
    [x, y].forEach((t) => t.release());
  });

  it('reads a buffer that ends mid-chunk on the tree path, and refuses it on the rows path', async () => {
    const ctx = await testContext();
    const data = randomArray(3 * 5, rng(runSeed + 5), 2); // 60 bytes
    const buffer = ctx.device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    ctx.device.queue.writeBuffer(buffer, 0, data as Float32Array<ArrayBuffer>);
    const x = new Tensor(ctx, buffer, [3, 5], 'f32');
    expect(() => layerNorm(ctx, x, { eps: 1e-6, path: 'rows' })).toThrow(/x in 16-byte chunks/);
    const y = layerNorm(ctx, x, { eps: 1e-6 });
    expect(relativeError(await ctx.read(y), layerNormReference(data, 5, { eps: 1e-6 }))).toBeLessThan(1e-5);
    y.release();
    buffer.destroy();
  });

  it('refuses wrong shapes, dtypes, rows and aliasing before dispatch', async () => {
    const ctx = await testContext();
    const x = ctx.zeros([4, 8]);
    const ints = ctx.zeros([4, 8], 'u32');
    const shortWeight = ctx.zeros([7]);
    const table = ctx.zeros([6, 8]);
    const narrowTable = ctx.zeros([6, 7]);
    const wrongOut = ctx.zeros([8, 4]);
    expect(() => layerNorm(ctx, ints, { eps: 1e-6 })).toThrow(/x must be f32, got u32/);
    expect(() => layerNorm(ctx, x, { eps: 1e-6, weight: shortWeight })).toThrow(/weight must have shape \[8\]/);
    expect(() => layerNorm(ctx, x, { eps: 1e-6, bias: shortWeight })).toThrow(/bias must have shape \[8\]/);
    expect(() => layerNorm(ctx, x, { eps: 1e-6, modulation: { table: narrowTable, shiftRow: 0, scaleRow: 1 } })).toThrow(/table must be \[R, 8\]/);
    expect(() => layerNorm(ctx, x, { eps: 1e-6, modulation: { table, shiftRow: 6, scaleRow: 1 } })).toThrow(/shiftRow 6 is outside/);
    expect(() => layerNorm(ctx, x, { eps: 1e-6, modulation: { table, shiftRow: 0, scaleRow: -1 } })).toThrow(/scaleRow -1 is outside/);
    expect(() => layerNorm(ctx, x, { eps: 1e-6, out: wrongOut })).toThrow(/same shape/);
    expect(() => layerNorm(ctx, x, { eps: 1e-6, out: x })).toThrow(/must not alias/);
    expect(() => layerNorm(ctx, x, { eps: Number.NaN })).toThrow(/eps/);
    expect(() => layerNorm(ctx, x, { eps: 1e-6, path: 'warp' as NormPath })).toThrow(/unknown path "warp"/);
    [x, ints, shortWeight, table, narrowTable, wrongOut].forEach((t) => t.release());
  });
});
