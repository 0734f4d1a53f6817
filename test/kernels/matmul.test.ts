import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { floatToBf16, floatToHalf, halfToFloat, type GpuContext } from '../../src/gpu/context.ts';
import type { Tensor } from '../../src/gpu/tensor.ts';
import { matmul, preferredMatmulPath, type MatmulActivation, type MatmulOptions, type MatmulPath } from '../../src/gpu/kernels/matmul.ts';

type WeightType = 'f32' | 'f16' | 'bf16';

const ACTIVATIONS: Record<MatmulActivation, (v: number) => number> = {
  none: (v) => v,
  gelu_tanh: (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))),
  silu: (v) => v / (1 + Math.exp(-v)),
};

/** Weights on the GPU in `type`, and the values the GPU sees (rounded to 16 bits where stored so). */
function uploadWeights(ctx: GpuContext, values: Float32Array, shape: number[], type: WeightType): { w: Tensor; seen: Float64Array } {
  if (type === 'f32') return { w: ctx.upload(values, shape), seen: Float64Array.from(values) };
  const bits = Uint16Array.from(values, type === 'f16' ? floatToHalf : floatToBf16);
  const seen = Float64Array.from(bits, type === 'f16' ? halfToFloat : (b) => new Float32Array(new Uint32Array([b << 16]).buffer)[0]);
  return { w: ctx.upload(bits, shape, type), seen };
}

interface Reference {
  bias?: Float32Array;
  gate?: Float32Array;
  gateRow?: number;
  residual?: Float32Array;
  activation?: MatmulActivation;
}

/** float64 reference: residual + gate[gateRow]·act(x·wᵀ + bias). */
function reference(x: Float32Array, w: Float64Array, M: number, N: number, K: number, r: Reference): Float64Array {
  const act = ACTIVATIONS[r.activation ?? 'none'];
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = r.bias ? r.bias[n] : 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      let v = act(s);
      if (r.gate) v *= r.gate[(r.gateRow ?? 0) * N + n];
      if (r.residual) v += r.residual[m * N + n];
      y[m * N + n] = v;
    }
  }
  return y;
}

interface Case {
  M: number;
  N: number;
  K: number;
  type?: WeightType;
  activation?: MatmulActivation;
  bias?: boolean;
  gateRows?: number;
  residual?: boolean;
  leading?: number[];
  scale?: number;
  path?: MatmulPath;
}

async function check(c: Case, seed: number): Promise<number> {
  const ctx = await testContext();
  const rand = rng(seed);
  const { M, N, K } = c;
  const xData = randomArray(M * K, rand, c.scale ?? 1);
  const { w, seen } = uploadWeights(ctx, randomArray(N * K, rand), [N, K], c.type ?? 'f32');
  const ref: Reference = { activation: c.activation };
  const options: MatmulOptions = { activation: c.activation, path: c.path ?? 'direct' };
  const temporaries: Tensor[] = [w];
  const outShape = c.leading ? [...c.leading, N] : [M, N];
  if (c.bias) {
    ref.bias = randomArray(N, rand);
    options.bias = ctx.upload(ref.bias, [N]);
    temporaries.push(options.bias);
  }
  if (c.gateRows) {
    ref.gate = randomArray(c.gateRows * N, rand, 2);
    ref.gateRow = c.gateRows - 1;
    options.gate = ctx.upload(ref.gate, [c.gateRows, N]);
    options.gateRow = ref.gateRow;
    temporaries.push(options.gate);
  }
  if (c.residual) {
    ref.residual = randomArray(M * N, rand, 3);
    options.residual = ctx.upload(ref.residual, outShape);
    temporaries.push(options.residual);
  }
  const x = ctx.upload(xData, c.leading ? [...c.leading, K] : [M, K]);
  const y = matmul(ctx, x, w, options);
  expect(y.shape).toEqual(outShape);
  const out = await ctx.read(y);
  [x, y, ...temporaries].forEach((t) => t.release());
  return relativeError(out, reference(xData, seen, M, N, K, ref));
}

// Sizes: 1, primes, a tile (64) plus one, K odd / K % 8 ≠ 0 (element-wise loads) and K % 8 == 0 (vector loads).
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 3],
  [7, 65, 131],
  [65, 7, 257],
  [131, 257, 64],
  [64, 64, 32],
  [65, 129, 36],
  [3, 131, 8],
];

// Compiling the staged variant takes seconds on SwiftShader, so it runs on fewer epilogue variants:
// the epilogue (store) is shared by both paths and is covered in full on the direct one.
describe(`matmul (seed ${runSeed})`, () => {
  for (const path of ['direct', 'staged'] as const) {
    it(`${path}: f32 weights match float64 on awkward shapes`, async () => {
      for (const [M, N, K] of SHAPES) {
        expect(await check({ M, N, K, path }, runSeed + M * 7 + N * 13 + K), `M=${M} N=${N} K=${K}`).toBeLessThan(1e-5);
      }
    });
  }

  it('direct: f16 and bf16 weights (packed, odd N·K included) match float64 on the rounded weights', async () => {
    for (const type of ['f16', 'bf16'] as const) {
      for (const [M, N, K] of [[1, 1, 1], [7, 65, 131], [65, 33, 64], [13, 7, 257], [66, 131, 40], [5, 3, 12]] as const) {
        expect(await check({ M, N, K, type }, runSeed + M + N + K), `${type} M=${M} N=${N} K=${K}`).toBeLessThan(1e-5);
      }
    }
  });

  it('staged: f16 (vector loads) and bf16 (element loads) weights match float64', async () => {
    for (const [M, N, K, type] of [[65, 129, 64, 'f16'], [3, 7, 8, 'f16'], [66, 67, 131, 'bf16'], [1, 65, 5, 'bf16']] as const) {
      expect(await check({ M, N, K, type, path: 'staged' }, runSeed + M + N + K), `${type} M=${M} N=${N} K=${K}`).toBeLessThan(1e-5);
    }
  });

  for (const activation of ['none', 'gelu_tanh', 'silu'] as const) {
    it(`direct: bias + ${activation} matches float64 (large arguments included)`, async () => {
      for (const [M, N, K, type] of [[7, 65, 131, 'f32'], [65, 67, 64, 'f16']] as const) {
        const err = await check({ M, N, K, type, activation, bias: true, scale: 4 }, runSeed + K);
        expect(err, `${activation} ${type} M=${M} N=${N} K=${K}`).toBeLessThan(1e-5);
      }
    });
  }

  it('gate row and residual: out = residual + gate[gateRow]·act(x·wᵀ + b)', async () => {
    const cases: Case[] = [
      { M: 65, N: 67, K: 40, residual: true },
      { M: 65, N: 67, K: 40, gateRows: 1 },
      { M: 70, N: 9, K: 17, gateRows: 3, residual: true, type: 'bf16', activation: 'silu' },
      { M: 33, N: 131, K: 72, gateRows: 6, residual: true, bias: true, activation: 'gelu_tanh' },
      { M: 33, N: 131, K: 72, gateRows: 6, residual: true, bias: true, activation: 'gelu_tanh', path: 'staged' },
    ];
    for (const c of cases) expect(await check(c, runSeed + c.K), JSON.stringify(c)).toBeLessThan(1e-5);
  });

  it('flattens leading dims into M and keeps them in the output', async () => {
    expect(await check({ M: 30, N: 17, K: 24, leading: [2, 3, 5], residual: true, bias: true }, runSeed)).toBeLessThan(1e-5);
    expect(await check({ M: 7, N: 5, K: 9, leading: [7], type: 'f16' }, runSeed)).toBeLessThan(1e-5);
  });

  it('vector: M ≤ 4 rows, f32/f16/bf16 weights (vector and element loads), every epilogue, match float64', async () => {
    const cases: Case[] = [
      { M: 1, N: 1, K: 1 },
      { M: 1, N: 65, K: 256 },
      { M: 1, N: 129, K: 131 },
      { M: 2, N: 7, K: 36, type: 'f16' },
      { M: 3, N: 131, K: 64, type: 'bf16', bias: true, activation: 'silu', scale: 4 },
      { M: 4, N: 67, K: 17, type: 'f16', bias: true, activation: 'gelu_tanh', scale: 4 },
      { M: 4, N: 200, K: 40, gateRows: 6, residual: true, bias: true },
      { M: 1, N: 9, K: 24, leading: [1, 1], residual: true, activation: 'silu' },
    ];
    for (const c of cases) expect(await check({ ...c, path: 'vector' }, runSeed + c.N + c.K), JSON.stringify(c)).toBeLessThan(1e-5);
  });

  it('prefers the vector path for a few rows, else the barrier-free path on software adapters only', () => {
    const on = (architecture: string, description = '', M?: number): MatmulPath =>
      preferredMatmulPath({ adapterInfo: { vendor: 'google', architecture, device: '', description } } as GpuContext, M);
    expect(on('swiftshader')).toBe('direct');
    expect(on('', 'llvmpipe (LLVM 15.0.6, 256 bits)')).toBe('direct');
    expect(on('ampere')).toBe('staged');
    expect(on('gen-12lp')).toBe('staged');
    expect(on('ampere', '', 1)).toBe('vector');
    expect(on('swiftshader', '', 4)).toBe('vector');
    expect(on('swiftshader', '', 5)).toBe('direct');
  });

  it('returns an empty output for M = 0 and act(bias) for K = 0', async () => {
    const ctx = await testContext();
    const w = ctx.zeros([3, 8]);
    const empty = ctx.zeros([0, 8]);
    const y = matmul(ctx, empty, w);
    expect(y.shape).toEqual([0, 3]);
    const noK = ctx.zeros([2, 0]);
    const wNoK = ctx.zeros([3, 0]);
    const bias = ctx.upload(new Float32Array([1, -2, 3]), [3]);
    const z = matmul(ctx, noK, wNoK, { bias, activation: 'silu' });
    const silu = (v: number): number => v / (1 + Math.exp(-v));
    expect(relativeError(await ctx.read(z), [1, -2, 3, 1, -2, 3].map(silu))).toBeLessThan(1e-6);
    [w, empty, y, noK, wNoK, bias, z].forEach((t) => t.release());
  });

  it('uses the adapter\'s path when none is given, and writes into a given out tensor', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed);
    const xData = randomArray(9 * 16, rand);
    const wData = randomArray(5 * 16, rand);
    const x = ctx.upload(xData, [9, 16]);
    const w = ctx.upload(wData, [5, 16]);
    const out = ctx.empty([9, 5]);
    const live = ctx.liveTensors;
    expect(matmul(ctx, x, w, { out })).toBe(out);
    expect(ctx.liveTensors, 'no tensor allocated besides the output').toBe(live);
    const got = await ctx.read(out);
    expect(relativeError(got, reference(xData, Float64Array.from(wData), 9, 5, 16, {}))).toBeLessThan(1e-5);
    [x, w, out].forEach((t) => t.release());
  });
  it('refuses bad input before dispatch', async () => {
    const ctx = await testContext();
    const x = ctx.zeros([4, 8]);
    const w = ctx.zeros([6, 8]);
    const wrongK = ctx.zeros([6, 7]);
    const ints = ctx.zeros([6, 8], 'u32');
    const bias5 = ctx.zeros([5]);
    const residual = ctx.zeros([4, 6]);
    const residualWrong = ctx.zeros([6, 4]);
    const gate = ctx.zeros([2, 6]);
    const gateWrong = ctx.zeros([2, 5]);
    const halfResidual = ctx.zeros([4, 6], 'f16');
    expect(() => matmul(ctx, x, wrongK)).toThrow(/disagree on K \(8 vs 7\)/);
    expect(() => matmul(ctx, x, ints)).toThrow(/w must be f32 or f16 or bf16, got u32/);
    expect(() => matmul(ctx, ints, w)).toThrow(/x must be f32, got u32/);
    expect(() => matmul(ctx, x, w.reshape([48]))).toThrow(/w must be \[N, K\]/);
    expect(() => matmul(ctx, x, w, { bias: bias5 })).toThrow(/bias must have shape \[6\], got \[5\]/);
    expect(() => matmul(ctx, x, w, { residual: residualWrong })).toThrow(/residual must have shape \[4, 6\], got \[6, 4\]/);
    expect(() => matmul(ctx, x, w, { residual: halfResidual })).toThrow(/residual must be f32, got f16/);
    expect(() => matmul(ctx, x, w, { residual, out: residual })).toThrow(/residual and out are the same buffer/);
    expect(() => matmul(ctx, x, w, { residual: residual.reshape([24]).reshape([4, 6]), out: residual })).toThrow(/same buffer/);
    expect(() => matmul(ctx, x, w, { gate: gateWrong, residual })).toThrow(/gate must be \[R, 6\]/);
    expect(() => matmul(ctx, x, w, { gate, gateRow: 2, residual })).toThrow(/gateRow 2 is outside/);
    expect(() => matmul(ctx, x, w, { gateRow: 1 })).toThrow(/gateRow given without a gate/);
    expect(() => matmul(ctx, x, w, { out: residualWrong })).toThrow(/out must have shape \[4, 6\]/);
    expect(() => matmul(ctx, x, w, { activation: 'relu' as MatmulActivation })).toThrow(/unknown activation "relu"/);
    expect(() => matmul(ctx, x, w, { path: 'fast' as MatmulPath })).toThrow(/unknown path "fast"/);
    expect(() => matmul(ctx, ctx.zeros([5, 8]), w, { path: 'vector' })).toThrow(/vector path takes at most 4 rows, got 5/);
    const released = ctx.zeros([6, 8]);
    released.release();
    expect(() => matmul(ctx, x, released)).toThrow(/already released/);
    [x, w, wrongK, ints, bias5, residual, residualWrong, gate, gateWrong, halfResidual].forEach((t) => t.release());
  });
});
