// The matrix-unit kernels (matmul, attention). They run where the adapter offers a usable subgroup-matrix configuration (a GPU
// with Dawn's allow_unsafe_apis, and vulkan_enable_f16_on_nvidia on NVIDIA); SwiftShader has none, so
// there only the refusal and the template checks run and the float64 comparison is reported skipped.
import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { floatToHalf, halfToFloat } from '../../src/gpu/context.ts';
import { shaderSource } from '../../src/gpu/shaders.ts';
import { specialiseShader } from '../../src/gpu/shader-template.ts';
import { parseShaderLayout } from '../../src/gpu/shader-layout.ts';
import { matmulSubgroupMatrix, subgroupMatrixSupport } from '../../src/gpu/kernels/matmul-subgroup-matrix.ts';
import { attentionSubgroupMatrix } from '../../src/gpu/kernels/attention-subgroup-matrix.ts';

const ctx = await testContext();
const support = subgroupMatrixSupport(ctx);
const available = !('reason' in support);
const SKIP_REASON = 'reason' in support ? support.reason : '';
// Products of f16 values are exact in f32: only the f32 sums err.
const TOLERANCE = 1e-4;

function halfTensor(values: Float32Array, shape: number[]) {
  const bits = Uint16Array.from(values, floatToHalf);
  return { tensor: ctx.upload(bits, shape, 'f16'), exact: Array.from(bits, halfToFloat) };
}

describe(`matmul on subgroup matrices (seed ${runSeed})`, () => {
  it('both sides (8 and 16) specialise to the same bindings, in the load/store form the pinned Dawn takes', () => {
    const source = shaderSource('matmul_subgroup_matrix');
    const side16 = specialiseShader(source, [], 'matmul_subgroup_matrix');
    const side8 = specialiseShader(source, ['SIDE8'], 'matmul_subgroup_matrix');
    expect(side16).toMatch(/const SIDE: u32 = 16u;/);
    expect(side8).toMatch(/const SIDE: u32 = 8u;/);
    expect(parseShaderLayout(side8, 'm').bindings.map((b) => b.name)).toEqual(['x', 'w', 'bias', 'out', 'params']);
    expect(parseShaderLayout(side16, 'm')).toEqual(parseShaderLayout(side8, 'm'));
    // webgpu 0.6.2's Tint: the layout is a template argument (row_major/col_major), no bool argument.
    expect(source).toMatch(/subgroupMatrixLoad<Left, row_major>\(&xTile, kk, BLOCK\)/);
    expect(source).not.toMatch(/subgroupMatrixLoad<[^>]+>>\([^)]*(true|false)/);
  });

  it.skipIf(available)('refuses with the reason where the adapter has no usable configuration', () => {
    const x = ctx.upload(new Uint16Array(6), [2, 3], 'f16');
    const w = ctx.upload(new Uint16Array(12), [4, 3], 'f16');
    expect(() => matmulSubgroupMatrix(ctx, x, w)).toThrow(/matrix units unavailable: /);
    [x, w].forEach((t) => t.release());
  });

  it('refuses f32 inputs and mismatched K before dispatch', () => {
    const x32 = ctx.upload(new Float32Array(6), [2, 3]);
    const x = ctx.upload(new Uint16Array(6), [2, 3], 'f16');
    const w = ctx.upload(new Uint16Array(8), [4, 2], 'f16');
    expect(() => matmulSubgroupMatrix(ctx, x32, w)).toThrow(/x must be f16, got f32/);
    expect(() => matmulSubgroupMatrix(ctx, x, w)).toThrow(/disagree on K \(3 vs 2\)/);
    [x32, x, w].forEach((t) => t.release());
  });

  it.skipIf(!available)(`matches float64 on f16 inputs within ${TOLERANCE}, edge tiles and bias included (${SKIP_REASON})`, async () => {
    const rand = rng(runSeed);
    for (const [M, N, K] of [[1, 1, 1], [5, 7, 3], [33, 17, 40], [64, 96, 128], [130, 70, 259]]) {
      const { tensor: x, exact: xs } = halfTensor(randomArray(M * K, rand, 1), [M, K]);
      const { tensor: w, exact: ws } = halfTensor(randomArray(N * K, rand, 1 / Math.sqrt(K)), [N, K]);
      const biasData = randomArray(N, rand, 0.1);
      const bias = ctx.upload(biasData, [N]);
      const y = matmulSubgroupMatrix(ctx, x, w, { bias });
      const ref: number[] = [];
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let s = biasData[n];
          for (let k = 0; k < K; k++) s += xs[m * K + k] * ws[n * K + k];
          ref.push(s);
        }
      }
      expect(relativeError(await ctx.read(y), ref), `[${M}, ${K}]·[${N}, ${K}]ᵀ`).toBeLessThan(TOLERANCE);
      [x, w, bias, y].forEach((t) => t.release());
    }
  });
});

describe(`attention on subgroup matrices (seed ${runSeed})`, () => {
  // f16 probabilities (each rounded, ≤ 2⁻¹¹) normalised by their rounded sum; f32 sums elsewhere.
  const ATTENTION_TOLERANCE = 2e-3;

  it('both sides specialise to the same bindings', () => {
    const source = shaderSource('attention_subgroup_matrix');
    const side8 = parseShaderLayout(specialiseShader(source, ['SIDE8'], 'a'), 'a');
    expect(side8.bindings.map((b) => b.name)).toEqual(['q', 'k', 'v', 'out', 'params']);
    expect(parseShaderLayout(specialiseShader(source, [], 'a'), 'a')).toEqual(side8);
  });

  it.skipIf(available)('refuses with the reason where the adapter has no usable configuration', () => {
    const t = ctx.upload(new Uint16Array(2 * 32), [2, 32], 'f16');
    expect(() => attentionSubgroupMatrix(ctx, t, t, t, 2)).toThrow(/matrix units unavailable: /);
    t.release();
  });

  it.skipIf(!available)(`matches float64 on f16 inputs within ${ATTENTION_TOLERANCE} (${SKIP_REASON})`, async () => {
    const rand = rng(runSeed + 7);
    for (const [Lq, Lk, heads, d] of [[1, 1, 1, 16], [5, 29, 2, 32], [37, 70, 3, 64], [40, 300, 2, 128]]) {
      const q = halfTensor(randomArray(Lq * heads * d, rand, 1), [Lq, heads * d]);
      const k = halfTensor(randomArray(Lk * heads * d, rand, 1), [Lk, heads * d]);
      const v = halfTensor(randomArray(Lk * heads * d, rand, 1), [Lk, heads * d]);
      const y = attentionSubgroupMatrix(ctx, q.tensor, k.tensor, v.tensor, heads);
      const w = heads * d;
      const ref = new Array<number>(Lq * w).fill(0);
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < Lq; i++) {
          const s = Array.from({ length: Lk }, (_, j) => {
            let dot = 0;
            for (let c = 0; c < d; c++) dot += q.exact[i * w + h * d + c] * k.exact[j * w + h * d + c];
            return dot / Math.sqrt(d);
          });
          const m = Math.max(...s);
          const p = s.map((x) => Math.exp(x - m));
          const l = p.reduce((a, b) => a + b, 0);
          for (let c = 0; c < d; c++) ref[i * w + h * d + c] = p.reduce((acc, pj, j) => acc + pj * v.exact[j * w + h * d + c], 0) / l;
        }
      }
      expect(relativeError(await ctx.read(y), ref), `Lq ${Lq} Lk ${Lk} heads ${heads} d ${d}`).toBeLessThan(ATTENTION_TOLERANCE);
      [q.tensor, k.tensor, v.tensor, y].forEach((t) => t.release());
    }
  });
});
