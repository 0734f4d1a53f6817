import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { floatToBf16, floatToHalf, halfToFloat } from '../../src/gpu/context.ts';
import type { Tensor } from '../../src/gpu/tensor.ts';
import { conv2d, type ConvActivation } from '../../src/gpu/kernels/conv2d.ts';

interface Case {
  N: number;
  C1: number;
  H: number;
  W: number;
  Cout: number;
  k: 1 | 3;
  padding: 0 | 1;
  bias?: boolean;
  residual?: boolean;
  activation?: ConvActivation;
  /** 'tensor': a second input of C2 channels; 'previous' / 'previous-first': x one frame earlier. */
  concat?: 'tensor' | 'previous' | 'previous-first';
  C2?: number;
  format?: 'f32' | 'f16' | 'bf16';
}

/** Float64 reference of out = act(conv(cat[x, second]) + bias + residual); `input(n, c, y, x)` gives cat[x, second]. */
function reference(
  c: Case,
  input: (n: number, ch: number, y: number, x: number) => number,
  w: Float64Array,
  bias: Float32Array | undefined,
  residual: Float32Array | undefined,
): Float64Array {
  const Cin = w.length / (c.Cout * c.k * c.k);
  const Ho = c.H + 2 * c.padding - c.k + 1;
  const Wo = c.W + 2 * c.padding - c.k + 1;
  const out = new Float64Array(c.N * c.Cout * Ho * Wo);
  for (let n = 0; n < c.N; n++)
    for (let co = 0; co < c.Cout; co++)
      for (let oy = 0; oy < Ho; oy++)
        for (let ox = 0; ox < Wo; ox++) {
          let s = bias ? bias[co] : 0;
          for (let ci = 0; ci < Cin; ci++)
            for (let dy = 0; dy < c.k; dy++)
              for (let dx = 0; dx < c.k; dx++) {
                const iy = oy + dy - c.padding;
                const ix = ox + dx - c.padding;
                if (iy < 0 || ix < 0 || iy >= c.H || ix >= c.W) continue;
                s += w[((co * Cin + ci) * c.k + dy) * c.k + dx] * input(n, ci, iy, ix);
              }
          const idx = ((n * c.Cout + co) * Ho + oy) * Wo + ox;
          if (residual) s += residual[idx];
          if (c.activation === 'relu') s = Math.max(s, 0);
          if (c.activation === 'clamp01') s = Math.min(Math.max(s, 0), 1);
          out[idx] = s;
        }
  return out;
}

/** Uploads weights in the case's format; returns the values the GPU sees (rounded), in float64. */
function uploadWeights(ctx: Awaited<ReturnType<typeof testContext>>, data: Float32Array, shape: number[], format: Case['format']): { t: Tensor; values: Float64Array } {
  if (!format || format === 'f32') return { t: ctx.upload(data, shape), values: Float64Array.from(data) };
  const bits = new Uint16Array(data.length);
  const values = new Float64Array(data.length);
  for (let i = 0; i < data.length; i++) {
    if (format === 'f16') {
      bits[i] = floatToHalf(data[i]);
      values[i] = halfToFloat(bits[i]);
    } else {
      bits[i] = floatToBf16(data[i]);
      values[i] = new Float32Array(new Uint32Array([bits[i] << 16]).buffer)[0];
    }
  }
  return { t: ctx.upload(bits, shape, format), values };
}

async function check(c: Case, rand: () => number): Promise<number> {
  const ctx = await testContext();
  const C2 = c.concat === 'tensor' ? (c.C2 ?? 1) : c.concat ? c.C1 : 0;
  const Cin = c.C1 + C2;
  const Ho = c.H + 2 * c.padding - c.k + 1;
  const Wo = c.W + 2 * c.padding - c.k + 1;
  const plane = c.H * c.W;
  const xData = randomArray(c.N * c.C1 * plane, rand);
  const wData = randomArray(c.Cout * Cin * c.k * c.k, rand, 1 / Math.sqrt(Cin * c.k * c.k));
  const biasData = c.bias ? randomArray(c.Cout, rand, 0.5) : undefined;
  const residualData = c.residual ? randomArray(c.N * c.Cout * Ho * Wo, rand) : undefined;
  const secondData = c.concat === 'tensor' ? randomArray(c.N * C2 * plane, rand) : c.concat === 'previous-first' ? randomArray(c.C1 * plane, rand) : undefined;

  const input = (n: number, ch: number, y: number, x: number): number => {
    if (ch < c.C1) return xData[((n * c.C1 + ch) * c.H + y) * c.W + x];
    const cc = ch - c.C1;
    if (c.concat === 'tensor') return secondData![((n * C2 + cc) * c.H + y) * c.W + x];
    if (n > 0) return xData[(((n - 1) * c.C1 + cc) * c.H + y) * c.W + x];
    return c.concat === 'previous-first' ? secondData![(cc * c.H + y) * c.W + x] : 0;
  };

  const x = ctx.upload(xData, [c.N, c.C1, c.H, c.W]);
  const { t: weight, values } = uploadWeights(ctx, wData, [c.Cout, Cin, c.k, c.k], c.format);
  const bias = biasData && ctx.upload(biasData, [c.Cout]);
  const residual = residualData && ctx.upload(residualData, [c.N, c.Cout, Ho, Wo]);
  const second =
    c.concat === 'tensor' ? ctx.upload(secondData!, [c.N, C2, c.H, c.W]) : c.concat === 'previous-first' ? ctx.upload(secondData!, [1, c.C1, c.H, c.W]) : undefined;
  const y = conv2d(ctx, x, weight, {
    padding: c.padding,
    bias,
    residual,
    activation: c.activation,
    concat: c.concat === 'tensor' ? { tensor: second! } : c.concat ? { previousFrame: true, first: second } : undefined,
  });
  expect(y.shape).toEqual([c.N, c.Cout, Ho, Wo]);
  const out = await ctx.read(y);
  for (const t of [x, weight, bias, residual, second, y]) t?.release();
  return relativeError(out, reference(c, input, values, biasData, residualData));
}

describe(`conv2d (seed ${runSeed})`, () => {
  // Grouped so cases that share a pipeline (same constants) run together: each new pipeline costs
  // seconds of shader compilation on SwiftShader.
  const cases: [string, Case][] = [
    ['3×3, 3 → 17 channels, odd image, 2 frames', { N: 2, C1: 3, H: 5, W: 7, Cout: 17, k: 3, padding: 1, bias: true }],
    ['3×3, 17 → 65 channels (tile + 1), 65 pixels (tile + 1)', { N: 1, C1: 17, H: 5, W: 13, Cout: 65, k: 3, padding: 1, bias: true }],
    ['3×3 without padding', { N: 2, C1: 5, H: 5, W: 4, Cout: 11, k: 3, padding: 0, bias: true }],
    ['3×3, 9 output channels (just past the narrow tile)', { N: 3, C1: 7, H: 3, W: 11, Cout: 9, k: 3, padding: 1, bias: true }],
    ['3×3, 1 channel, 1×1 image', { N: 1, C1: 1, H: 1, W: 1, Cout: 1, k: 3, padding: 1, bias: true }],
    ['3×3, 1 row of 257 pixels, 3 output channels', { N: 1, C1: 3, H: 1, W: 257, Cout: 3, k: 3, padding: 1, bias: true }],
    ['3×3, 8 output channels', { N: 3, C1: 7, H: 3, W: 11, Cout: 8, k: 3, padding: 1, bias: true }],
    ['1×1, 19 → 34 channels, 2 frames', { N: 2, C1: 19, H: 3, W: 5, Cout: 34, k: 1, padding: 0, bias: true }],
    ['1×1 with padding 1', { N: 1, C1: 4, H: 2, W: 3, Cout: 17, k: 1, padding: 1, bias: true }],
    ['1×1, 17 → 3 channels, 1×1 image', { N: 1, C1: 17, H: 1, W: 1, Cout: 3, k: 1, padding: 0, bias: true }],
    ['previous-frame memory with zeros at frame 0, fused bias, residual and ReLU', { N: 3, C1: 17, H: 3, W: 5, Cout: 17, k: 3, padding: 1, bias: true, residual: true, activation: 'relu', concat: 'previous' }],
    ['previous-frame memory with a carried frame, fused bias, residual and ReLU', { N: 3, C1: 5, H: 4, W: 3, Cout: 5, k: 3, padding: 1, bias: true, residual: true, activation: 'relu', concat: 'previous-first' }],
    ['previous-frame memory with a carried frame, 1 frame, 70 channels', { N: 1, C1: 5, H: 4, W: 3, Cout: 70, k: 3, padding: 1, bias: true, residual: true, activation: 'relu', concat: 'previous-first' }],
    ['concatenated second tensor', { N: 2, C1: 3, H: 5, W: 3, Cout: 17, k: 3, padding: 1, bias: true, concat: 'tensor', C2: 5 }],
    ['f16 weights (odd count), fused clamp to [0, 1]', { N: 2, C1: 3, H: 5, W: 7, Cout: 3, k: 3, padding: 1, bias: true, activation: 'clamp01', format: 'f16' }],
    ['f16 weights, 17 → 67 channels, no bias', { N: 1, C1: 17, H: 5, W: 9, Cout: 67, k: 3, padding: 1, format: 'f16' }],
    ['bf16 weights (odd count), fused ReLU', { N: 2, C1: 3, H: 5, W: 7, Cout: 17, k: 3, padding: 1, bias: true, activation: 'relu', format: 'bf16' }],
    ['bf16 1×1 weights', { N: 1, C1: 13, H: 3, W: 3, Cout: 5, k: 1, padding: 0, format: 'bf16' }],
  ];
  for (const [name, c] of cases) {
    it(`${name} matches float64`, async () => {
      const err = await check(c, rng(runSeed));
      expect(err).toBeLessThan(1e-5);
    });
  }

  it('refuses bad inputs before dispatch', async () => {
    const ctx = await testContext();
    const x = ctx.zeros([2, 3, 4, 5]);
    const w = ctx.zeros([8, 3, 3, 3]);
    const w6 = ctx.zeros([8, 6, 3, 3]);
    const ints = ctx.zeros([2, 3, 4, 5], 'u32');
    const w2x2 = ctx.zeros([8, 3, 2, 2]);
    const wWrongCin = ctx.zeros([8, 4, 3, 3]);
    const w3 = ctx.zeros([8, 3, 9]);
    const badBias = ctx.zeros([7]);
    const badResidual = ctx.zeros([2, 8, 4, 4]);
    const out = ctx.zeros([2, 8, 4, 5]);
    const badFirst = ctx.zeros([2, 3, 4, 5]);
    const live = ctx.liveTensors;
    expect(() => conv2d(ctx, ints, w, { padding: 1 })).toThrow(/x must be f32, got u32/);
    expect(() => conv2d(ctx, x, w3, { padding: 1 })).toThrow(/weight must have rank 4/);
    expect(() => conv2d(ctx, x, w2x2, { padding: 1 })).toThrow(/1×1 or 3×3/);
    expect(() => conv2d(ctx, x, wWrongCin, { padding: 1 })).toThrow(/expects 4 input channels, x give 3/);
    expect(() => conv2d(ctx, x, w, { padding: 1, bias: badBias })).toThrow(/bias must have shape \[8\]/);
    expect(() => conv2d(ctx, x, w, { padding: 1, residual: badResidual })).toThrow(/residual must have shape \[2, 8, 4, 5\]/);
    expect(() => conv2d(ctx, x, w, { padding: 2 as 1 })).toThrow(/padding must be 0 or 1/);
    expect(() => conv2d(ctx, x, w, { padding: 1, concat: { previousFrame: true } })).toThrow(/expects 3 input channels/);
    expect(() => conv2d(ctx, x, wWrongCin, { padding: 1, concat: { tensor: x } })).toThrow(/expects 4 input channels/);
    expect(() => conv2d(ctx, x, w6, { padding: 1, concat: { previousFrame: true, first: badFirst } })).toThrow(
      /concat.first must have shape \[1, 3, 4, 5\]/,
    );
    expect(() => conv2d(ctx, x, w, { padding: 1, out: badResidual })).toThrow(/out must have shape/);
    expect(() => conv2d(ctx, x, w, { padding: 1, residual: out, out })).toThrow(/out must not share a buffer with residual/);
    // The refused calls allocated nothing.
    expect(ctx.liveTensors).toBe(live);
    x.release();
    expect(() => conv2d(ctx, x, w, { padding: 1 })).toThrow(/already released/);
    [w, w6, ints, w2x2, wWrongCin, w3, badBias, badResidual, out, badFirst].forEach((t) => t.release());
  });
});
