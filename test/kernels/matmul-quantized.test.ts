// The matmul on quantized weights (int8/int4 group-wise, fp8 e4m3fn with a tensor scale), decoded in the
// kernel: against float64 on the dequantized weights, random codes (every code value occurs), every path.
import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { floatToHalf, halfToFloat } from '../../src/gpu/context.ts';
import { QuantizedWeight, dequantize, floatToFp8E4M3, fp8E4M3Table, fp8E4M3ToFloat, type QuantizedFormat } from '../../src/gpu/quantized.ts';
import { matmul, type MatmulOptions, type MatmulPath } from '../../src/gpu/kernels/matmul.ts';

const DTYPE = { int8: 'i8', int4: 'i4', fp8: 'f8e4m3' } as const;

interface Case {
  format: QuantizedFormat;
  M: number;
  N: number;
  K: number;
  groupSize?: number;
  path: MatmulPath;
  bias?: boolean;
  activation?: MatmulOptions['activation'];
}

/** Random codes: every byte for int8/int4, every byte but the two NaNs for fp8. */
function randomCodes(c: Case, rand: () => number): Uint8Array {
  const bytes = new Uint8Array(c.format === 'int4' ? (c.N * c.K) / 2 : c.N * c.K);
  for (let i = 0; i < bytes.length; i++) {
    let b = Math.floor(rand() * 256);
    while (c.format === 'fp8' && (b & 0x7f) === 0x7f) b = Math.floor(rand() * 256);
    bytes[i] = b;
  }
  return bytes;
}

async function check(c: Case, seed: number): Promise<number> {
  const ctx = await testContext();
  const rand = rng(seed);
  const { M, N, K, format } = c;
  const groupSize = format === 'fp8' ? 0 : (c.groupSize ?? 64);
  const codes = randomCodes(c, rand);
  const scaleCount = format === 'fp8' ? 1 : N * Math.ceil(K / groupSize);
  let scaleValues: number[];
  let scales;
  if (format === 'fp8') {
    scaleValues = [0.5 + rand()];
    scales = ctx.upload(new Float32Array(scaleValues), [1]);
  } else {
    const bits = Uint16Array.from({ length: scaleCount }, () => floatToHalf(0.001 + rand() * 0.02));
    scaleValues = Array.from(bits, halfToFloat);
    scales = ctx.upload(bits, [N, scaleCount / N], 'f16');
  }
  const weight = new QuantizedWeight(ctx.upload(codes, [N, K], DTYPE[format]), scales, groupSize);
  const xData = randomArray(M * K, rand);
  const x = ctx.upload(xData, [M, K]);
  const biasData = c.bias ? randomArray(N, rand) : undefined;
  const bias = biasData ? ctx.upload(biasData, [N]) : undefined;
  const y = matmul(ctx, x, weight, { path: c.path, bias, activation: c.activation });
  const out = await ctx.read(y);
  [x, y, bias].forEach((t) => t?.release());
  weight.release();

  const w = dequantize(format, codes, scaleValues, N, K, groupSize);
  const silu = (v: number): number => v / (1 + Math.exp(-v));
  const ref = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = biasData ? biasData[n] : 0;
      for (let k = 0; k < K; k++) s += xData[m * K + k] * w[n * K + k];
      ref[m * N + n] = c.activation === 'silu' ? silu(s) : s;
    }
  }
  return relativeError(out, ref);
}

// K % 8 == 0 reads whole words (vector loads); other K element by element. Groups of 8, 16 and 64 with
// a partial last group (K not a multiple of the group); N and M past a tile.
const SHAPES: { M: number; N: number; K: number; groupSize: number }[] = [
  { M: 1, N: 1, K: 8, groupSize: 8 },
  { M: 7, N: 65, K: 136, groupSize: 64 },
  { M: 65, N: 33, K: 40, groupSize: 16 },
  { M: 3, N: 7, K: 10, groupSize: 8 },
  { M: 66, N: 67, K: 70, groupSize: 64 },
];

describe(`matmul on quantized weights (seed ${runSeed})`, () => {
  for (const format of ['int8', 'int4', 'fp8'] as const) {
    it(`direct: ${format} matches float64 on the dequantized weights`, async () => {
      for (const s of SHAPES) {
        const err = await check({ format, path: 'direct', ...s }, runSeed + s.N + s.K);
        expect(err, `${format} ${JSON.stringify(s)}`).toBeLessThan(1e-5);
      }
    });

    it(`vector: ${format}, M ≤ 4, matches float64`, async () => {
      for (const s of [{ M: 1, N: 65, K: 72, groupSize: 8 }, { M: 4, N: 9, K: 26, groupSize: 16 }, { M: 3, N: 130, K: 256, groupSize: 128 }]) {
        const err = await check({ format, path: 'vector', ...s, bias: true, activation: 'silu' }, runSeed + s.N);
        expect(err, `${format} ${JSON.stringify(s)}`).toBeLessThan(1e-5);
      }
    });
  }

  // Compiling a staged variant takes seconds on SwiftShader: word loads for int8 and fp8, element loads
  // for int4 (the element decoder is the direct path's, covered there for every format).
  it('staged: int8 and fp8 (word loads), int4 (element loads) match float64', async () => {
    const cases = [
      { format: 'int8', M: 65, N: 66, K: 96, groupSize: 32 },
      { format: 'fp8', M: 66, N: 65, K: 40 },
      { format: 'int4', M: 5, N: 67, K: 34, groupSize: 16 },
    ] as const;
    for (const c of cases) {
      const err = await check({ ...c, path: 'staged', bias: true }, runSeed + c.K);
      expect(err, JSON.stringify(c)).toBeLessThan(1e-5);
    }
  });

  it('decodes every fp8 e4m3fn code as the format defines it', () => {
    expect(fp8E4M3ToFloat(0x00)).toBe(0);
    expect(fp8E4M3ToFloat(0x01)).toBe(2 ** -9); // smallest subnormal
    expect(fp8E4M3ToFloat(0x08)).toBe(2 ** -6); // smallest normal
    expect(fp8E4M3ToFloat(0x38)).toBe(1);
    expect(fp8E4M3ToFloat(0x7e)).toBe(448); // largest finite
    expect(fp8E4M3ToFloat(0xfe)).toBe(-448);
    expect(fp8E4M3ToFloat(0x7f)).toBeNaN();
    expect(fp8E4M3ToFloat(0xff)).toBeNaN();
  });

  it('refuses bad quantized weights before dispatch', async () => {
    const ctx = await testContext();
    const codes = ctx.upload(new Uint8Array(6 * 16), [6, 16], 'i8');
    const scales = ctx.upload(new Uint16Array(6 * 2), [6, 2], 'f16');
    const oddInt4 = ctx.upload(new Uint8Array(Math.ceil((6 * 15) / 2)), [6, 15], 'i4');
    const fp8 = ctx.upload(new Uint8Array(6 * 16), [6, 16], 'f8e4m3');
    const f32Scale = ctx.upload(new Float32Array([1]), [1]);
    expect(() => new QuantizedWeight(codes, scales, 12)).toThrow(/groupSize must be a power of two ≥ 8, got 12/);
    expect(() => new QuantizedWeight(codes, scales, 24)).toThrow(/power of two ≥ 8, got 24/);
    expect(() => new QuantizedWeight(codes, scales, 16)).toThrow(/scales must be f16 \[6, 1\]/);
    expect(() => new QuantizedWeight(oddInt4, scales, 8)).toThrow(/int4 rows must hold an even K/);
    expect(() => new QuantizedWeight(fp8, scales, 0)).toThrow(/fp8 scale must be one f32/);
    expect(() => new QuantizedWeight(fp8, f32Scale, 8)).toThrow(/fp8 has one scale per tensor/);
    expect(() => new QuantizedWeight(f32Scale.reshape([1, 1]), scales, 8)).toThrow(/codes must be i8, i4 or f8e4m3, got f32/);
    expect(() => matmul(ctx, ctx.zeros([2, 16]), codes)).toThrow(/w must be f32 or f16 or bf16, got i8/);
    const weight = new QuantizedWeight(codes, scales, 8);
    const x = ctx.zeros([2, 16]);
    expect(() => matmul(ctx, ctx.zeros([2, 15]), weight)).toThrow(/disagree on K/);
    scales.release();
    expect(() => matmul(ctx, x, weight)).toThrow(/already released/);
    [codes, oddInt4, fp8, f32Scale, x].forEach((t) => t.release());
  });
});

describe('floatToFp8E4M3', () => {
  it('round-trips every finite code, rounds to the nearest (ties to even) and saturates at ±448', () => {
    const table = fp8E4M3Table();
    for (let b = 0; b < 256; b++) {
      if ((b & 0x7f) === 0x7f) continue;
      if (b === 0x80) expect(floatToFp8E4M3(-0)).toBe(0x80);
      else expect(floatToFp8E4M3(table[b]), `code ${b}`).toBe(b);
    }
    // Midpoints between neighbours go to the even code; just off them, to the nearer one.
    for (let b = 0; b < 0x7e; b++) {
      const mid = (table[b] + table[b + 1]) / 2;
      expect(floatToFp8E4M3(mid), `midpoint ${b}`).toBe(b % 2 === 0 ? b : b + 1);
      expect(floatToFp8E4M3(mid * (1 - 1e-9))).toBe(b);
      expect(floatToFp8E4M3(mid * (1 + 1e-9))).toBe(b + 1);
    }
    expect(floatToFp8E4M3(1e6)).toBe(0x7e);
    expect(floatToFp8E4M3(-500)).toBe(0xfe);
    expect(() => floatToFp8E4M3(NaN)).toThrow(/NaN/);
  });
});
