// f16 activations (template flag F16: tensors hold WGSL f16, arithmetic in f32, one rounding per
// output). Runs where the adapter has `shader-f16` (a GPU, with Dawn's toggles on NVIDIA); SwiftShader
// has none, so there only the refusal and the template checks run and the rest is reported skipped.
// Expected error against float64 on the f16 inputs: one f16 rounding, ≤ 2⁻¹¹ relative per element,
// so ‖out − ref‖/‖ref‖ ≤ 6e-4 (plus f32 arithmetic, ~1e-6).
import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { floatToHalf, halfToFloat } from '../../src/gpu/context.ts';
import { shaderSource } from '../../src/gpu/shaders.ts';
import { specialiseShader } from '../../src/gpu/shader-template.ts';
import { parseShaderLayout } from '../../src/gpu/shader-layout.ts';
import { add } from '../../src/gpu/kernels/add.ts';
import { unary, type UnaryOp } from '../../src/gpu/kernels/unary.ts';
import { rmsNorm } from '../../src/gpu/kernels/rms-norm.ts';
import { layerNorm } from '../../src/gpu/kernels/layer-norm.ts';
import { matmul } from '../../src/gpu/kernels/matmul.ts';

const ctx = await testContext();
const hasF16 = ctx.features.has('shader-f16');
const NO_F16 = 'the adapter has no shader-f16 (SwiftShader; on NVIDIA Dawn needs vulkan_enable_f16_on_nvidia)';
const F16_TOLERANCE = 6e-4;

/** Values rounded to f16, as an f16 tensor and as the float64 reference sees them. */
function halfTensor(values: Float32Array, shape: number[]) {
  const bits = Uint16Array.from(values, floatToHalf);
  return { tensor: ctx.upload(bits, shape, 'f16'), exact: Array.from(bits, halfToFloat) };
}

const UNARY_REFERENCE: Record<UnaryOp, (v: number) => number> = {
  silu: (v) => v / (1 + Math.exp(-v)),
  gelu_tanh: (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))),
  relu: (v) => Math.max(v, 0),
  tanh_clamp3: (v) => 3 * Math.tanh(v / 3),
  clamp01: (v) => Math.min(Math.max(v, 0), 1),
};

describe(`f16 activations (seed ${runSeed})`, () => {
  it('each F16 variant is the f32 kernel with f16 storage: same bindings and uniforms, f16 enabled', () => {
    for (const name of ['unary', 'add', 'rms_norm', 'layer_norm', 'matmul']) {
      const f32 = specialiseShader(shaderSource(name), [], name);
      const f16 = specialiseShader(shaderSource(name), ['F16'], name);
      expect(f16).toMatch(/^enable f16;$/m);
      expect(f16).toMatch(/^alias act = f16;$/m);
      expect(f32).not.toMatch(/enable f16/);
      expect(parseShaderLayout(f16, name)).toEqual(parseShaderLayout(f32, name));
    }
  });

  it.skipIf(hasF16)(`refuses f16 tensors with a clear error where the adapter lacks shader-f16`, () => {
    const x = ctx.upload(new Uint16Array(4), [4], 'f16');
    const w = ctx.upload(new Float32Array(4).fill(1), [4]);
    expect(() => unary(ctx, 'silu', x)).toThrow(/f16 activations need the 'shader-f16' feature/);
    expect(() => add(ctx, x, x)).toThrow(/shader-f16/);
    expect(() => rmsNorm(ctx, x, w, 1e-6)).toThrow(/shader-f16/);
    expect(() => layerNorm(ctx, x, { eps: 1e-6 })).toThrow(/shader-f16/);
    expect(() => matmul(ctx, x.reshape([1, 4]), w.reshape([1, 4]))).toThrow(/shader-f16/);
    [x, w].forEach((t) => t.release());
  });

  it('refuses mixed f32 and f16 activations before dispatch', () => {
    const a = ctx.upload(new Float32Array(4), [4]);
    const h = ctx.empty([4], 'f16');
    expect(() => unary(ctx, 'relu', a, h)).toThrow(/out must be f32, got f16/);
    [a, h].forEach((t) => t.release());
  });

  it.skipIf(!hasF16)(`unary ops on f16 match float64 within ${F16_TOLERANCE} (${NO_F16})`, async () => {
    const rand = rng(runSeed);
    for (const op of Object.keys(UNARY_REFERENCE) as UnaryOp[]) {
      for (const n of [1, 3, 257, 4099]) {
        const { tensor: x, exact } = halfTensor(randomArray(n, rand, 6), [n]);
        const y = unary(ctx, op, x);
        expect(y.dtype).toBe('f16');
        expect(relativeError(await ctx.read(y), exact.map(UNARY_REFERENCE[op])), `${op} n ${n}`).toBeLessThan(F16_TOLERANCE);
        [x, y].forEach((t) => t.release());
      }
    }
  });

  it.skipIf(!hasF16)(`add on f16 (b f32 or f16) matches float64 within ${F16_TOLERANCE} (${NO_F16})`, async () => {
    const rand = rng(runSeed + 1);
    for (const n of [1, 5, 1031]) {
      const { tensor: a, exact: aRef } = halfTensor(randomArray(n, rand, 10), [n]);
      const { tensor: b16, exact: bRef } = halfTensor(randomArray(n, rand, 3), [n]);
      const bData = randomArray(n, rand, 3);
      const b32 = ctx.upload(bData, [n]);
      const y16 = add(ctx, a, b16);
      const y32 = add(ctx, a, b32);
      expect(relativeError(await ctx.read(y16), aRef.map((v, i) => v + bRef[i])), `n ${n}`).toBeLessThan(F16_TOLERANCE);
      expect(relativeError(await ctx.read(y32), aRef.map((v, i) => v + bData[i])), `n ${n}`).toBeLessThan(F16_TOLERANCE);
      [a, b16, b32, y16, y32].forEach((t) => t.release());
    }
  });

  it.skipIf(!hasF16)(`rmsNorm on f16 matches float64 within ${F16_TOLERANCE} (${NO_F16})`, async () => {
    const rand = rng(runSeed + 2);
    for (const [rows, cols] of [[1, 1], [3, 17], [5, 1536]]) {
      const { tensor: x, exact } = halfTensor(randomArray(rows * cols, rand, 4), [rows, cols]);
      const wData = randomArray(cols, rand, 1);
      const w = ctx.upload(wData, [cols]);
      const y = rmsNorm(ctx, x, w, 1e-6);
      const ref: number[] = [];
      for (let r = 0; r < rows; r++) {
        const row = exact.slice(r * cols, (r + 1) * cols);
        const inv = 1 / Math.sqrt(row.reduce((s, v) => s + v * v, 0) / cols + 1e-6);
        row.forEach((v, c) => ref.push(v * inv * wData[c]));
      }
      expect(relativeError(await ctx.read(y), ref), `[${rows}, ${cols}]`).toBeLessThan(F16_TOLERANCE);
      [x, w, y].forEach((t) => t.release());
    }
  });

  it.skipIf(!hasF16)(`layerNorm on f16 with weight, bias and adaLN modulation matches float64 within ${F16_TOLERANCE} (${NO_F16})`, async () => {
    const rand = rng(runSeed + 3);
    for (const [rows, cols] of [[1, 1], [3, 17], [5, 1536]]) {
      const { tensor: x, exact } = halfTensor(randomArray(rows * cols, rand, 4), [rows, cols]);
      const [wData, bData] = [randomArray(cols, rand, 1), randomArray(cols, rand, 0.1)];
      const tableData = randomArray(2 * cols, rand, 0.5);
      const [weight, bias, table] = [ctx.upload(wData, [cols]), ctx.upload(bData, [cols]), ctx.upload(tableData, [2, cols])];
      const y = layerNorm(ctx, x, { eps: 1e-6, weight, bias, modulation: { table, shiftRow: 0, scaleRow: 1 } });
      expect(y.dtype).toBe('f16');
      const ref: number[] = [];
      for (let r = 0; r < rows; r++) {
        const row = exact.slice(r * cols, (r + 1) * cols);
        const mean = row.reduce((s, v) => s + v, 0) / cols;
        const inv = 1 / Math.sqrt(row.reduce((s, v) => s + (v - mean) ** 2, 0) / cols + 1e-6);
        row.forEach((v, c) => ref.push(((v - mean) * inv * wData[c] + bData[c]) * (1 + tableData[cols + c]) + tableData[c]));
      }
      expect(relativeError(await ctx.read(y), ref), `[${rows}, ${cols}]`).toBeLessThan(F16_TOLERANCE);
      [x, weight, bias, table, y].forEach((t) => t.release());
    }
  });

  it.skipIf(!hasF16)(`matmul with f16 x matches float64 on the f16 values within 1e-5, every path and weight type (${NO_F16})`, async () => {
    const rand = rng(runSeed + 4);
    for (const path of ['staged', 'direct', 'vector'] as const) {
      for (const [M, N, K] of [[3, 5, 7], [4, 67, 16], [33, 70, 40]]) {
        if (path === 'vector' && M > 4) continue;
        const { tensor: x, exact: xs } = halfTensor(randomArray(M * K, rand, 1), [M, K]);
        const wData = randomArray(N * K, rand, 1 / Math.sqrt(K));
        const bias = ctx.upload(randomArray(N, rand, 0.1), [N]);
        const biasData = await ctx.read(bias);
        for (const [type, w] of [['f32', ctx.upload(wData, [N, K])], ['f16', halfTensor(wData, [N, K]).tensor]] as const) {
          const ws = type === 'f32' ? Array.from(wData) : Array.from(await ctx.read(w));
          const y = matmul(ctx, x, w, { bias, path });
          const ref: number[] = [];
          for (let m = 0; m < M; m++) {
            for (let n = 0; n < N; n++) {
              let s = biasData[n];
              for (let k = 0; k < K; k++) s += xs[m * K + k] * ws[n * K + k];
              ref.push(s);
            }
          }
          expect(relativeError(await ctx.read(y), ref), `${path} ${type} [${M}, ${K}]·[${N}, ${K}]ᵀ`).toBeLessThan(1e-5);
          [w, y].forEach((t) => t.release());
        }
        [x, bias].forEach((t) => t.release());
      }
    }
  });
});
