import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { floatToHalf, halfToFloat } from '../../src/gpu/context.ts';
import { causalConv3d, type CausalConvActivation } from '../../src/gpu/kernels/causal-conv3d.ts';

interface Case {
  N: number;
  Cin: number;
  H: number;
  W: number;
  Cout: number;
  kt: 1 | 3;
  k: 1 | 3;
  padding: 0 | 1;
  past?: boolean;
  bias?: boolean;
  residual?: boolean;
  activation?: CausalConvActivation;
  f16?: boolean;
  /** The carried frames in f16. */
  pastF16?: boolean;
}

/** Float64 reference over the frame sequence [past (or zeros), x]: output frame n ends at input frame n. */
function reference(c: Case, frame: (f: number, ci: number, y: number, x: number) => number, w: Float64Array, bias?: Float32Array, residual?: Float32Array): Float64Array {
  const Ho = c.H + 2 * c.padding - c.k + 1;
  const Wo = c.W + 2 * c.padding - c.k + 1;
  const out = new Float64Array(c.N * c.Cout * Ho * Wo);
  for (let n = 0; n < c.N; n++)
    for (let co = 0; co < c.Cout; co++)
      for (let oy = 0; oy < Ho; oy++)
        for (let ox = 0; ox < Wo; ox++) {
          let s = bias ? bias[co] : 0;
          for (let ci = 0; ci < c.Cin; ci++)
            for (let t = 0; t < c.kt; t++)
              for (let dy = 0; dy < c.k; dy++)
                for (let dx = 0; dx < c.k; dx++) {
                  const iy = oy + dy - c.padding;
                  const ix = ox + dx - c.padding;
                  if (iy < 0 || ix < 0 || iy >= c.H || ix >= c.W) continue;
                  s += w[(((co * c.Cin + ci) * c.kt + t) * c.k + dy) * c.k + dx] * frame(n + t - (c.kt - 1), ci, iy, ix);
                }
          const idx = ((n * c.Cout + co) * Ho + oy) * Wo + ox;
          if (residual) s += residual[idx];
          if (c.activation === 'wan-frames') s = (Math.min(Math.max(s, -1), 1) + 1) / 2;
          out[idx] = s;
        }
  return out;
}

async function check(c: Case, rand: () => number): Promise<number> {
  const ctx = await testContext();
  const plane = c.H * c.W;
  const Ho = c.H + 2 * c.padding - c.k + 1;
  const Wo = c.W + 2 * c.padding - c.k + 1;
  const xData = randomArray(c.N * c.Cin * plane, rand);
  let pastData = c.past ? randomArray((c.kt - 1) * c.Cin * plane, rand) : undefined;
  const pastBits = pastData && c.pastF16 ? Uint16Array.from(pastData, (v) => floatToHalf(v)) : undefined;
  if (pastBits) pastData = Float32Array.from(pastBits, (b) => halfToFloat(b));
  const wData = randomArray(c.Cout * c.Cin * c.kt * c.k * c.k, rand, 1 / Math.sqrt(c.Cin * c.kt * c.k * c.k));
  const biasData = c.bias ? randomArray(c.Cout, rand, 0.5) : undefined;
  const residualData = c.residual ? randomArray(c.N * c.Cout * Ho * Wo, rand) : undefined;
  const frame = (f: number, ci: number, y: number, x: number): number => {
    if (f >= 0) return xData[((f * c.Cin + ci) * c.H + y) * c.W + x];
    if (!pastData) return 0;
    return pastData[(((f + c.kt - 1) * c.Cin + ci) * c.H + y) * c.W + x];
  };
  const wShape = [c.Cout, c.Cin, c.kt, c.k, c.k];
  let values = Float64Array.from(wData);
  let weight;
  if (c.f16) {
    const bits = Uint16Array.from(wData, (v) => floatToHalf(v));
    values = Float64Array.from(bits, (b) => halfToFloat(b));
    weight = ctx.upload(bits, wShape, 'f16');
  } else weight = ctx.upload(wData, wShape);
  const x = ctx.upload(xData, [c.N, c.Cin, c.H, c.W]);
  const past = pastBits ? ctx.upload(pastBits, [c.kt - 1, c.Cin, c.H, c.W], 'f16') : pastData && ctx.upload(pastData, [c.kt - 1, c.Cin, c.H, c.W]);
  const bias = biasData && ctx.upload(biasData, [c.Cout]);
  const residual = residualData && ctx.upload(residualData, [c.N, c.Cout, Ho, Wo]);
  const y = causalConv3d(ctx, x, weight, { padding: c.padding, past, bias, residual, activation: c.activation });
  expect(y.shape).toEqual([c.N, c.Cout, Ho, Wo]);
  const out = await ctx.read(y);
  for (const t of [x, past, weight, bias, residual, y]) t?.release();
  return relativeError(out, reference(c, frame, values, biasData, residualData));
}

describe(`causalConv3d (seed ${runSeed})`, () => {
  const cases: [string, Case][] = [
    ['3×3×3, first chunk (zeros before), 1 frame, 5 → 17 channels, odd image', { N: 1, Cin: 5, H: 5, W: 7, Cout: 17, kt: 3, k: 3, padding: 1, bias: true }],
    ['3×3×3 with 2 carried frames, 1 frame', { N: 1, Cin: 5, H: 3, W: 4, Cout: 17, kt: 3, k: 3, padding: 1, bias: true, past: true }],
    ['3×3×3 with 2 carried frames, 4 frames, 17 → 65 channels, residual', { N: 4, Cin: 17, H: 3, W: 5, Cout: 65, kt: 3, k: 3, padding: 1, bias: true, past: true, residual: true }],
    ['3×3×3 without carried frames, 2 frames', { N: 2, Cin: 3, H: 4, W: 3, Cout: 9, kt: 3, k: 3, padding: 1, bias: true }],
    ['3×3×3 to 3 channels, Wan frames activation (clamp, to [0, 1])', { N: 2, Cin: 7, H: 5, W: 3, Cout: 3, kt: 3, k: 3, padding: 1, bias: true, past: true, activation: 'wan-frames' }],
    ['3×1×1 time conv, carried frames, 2 frames', { N: 2, Cin: 6, H: 3, W: 5, Cout: 12, kt: 3, k: 1, padding: 0, bias: true, past: true }],
    ['1×1×1, 19 → 34 channels, 3 frames', { N: 3, Cin: 19, H: 3, W: 5, Cout: 34, kt: 1, k: 1, padding: 0, bias: true }],
    ['1×3×3 (a 2-D conv), 2 frames, 9 → 5 channels', { N: 2, Cin: 9, H: 6, W: 5, Cout: 5, kt: 1, k: 3, padding: 1, bias: true }],
    ['3×3×3 with 2 carried frames in f16, 2 frames', { N: 2, Cin: 6, H: 3, W: 5, Cout: 11, kt: 3, k: 3, padding: 1, bias: true, past: true, pastF16: true }],
    ['3×3×3 f16 weights (odd count), no bias', { N: 1, Cin: 3, H: 3, W: 3, Cout: 7, kt: 3, k: 3, padding: 1, past: true, f16: true }],
  ];
  for (const [name, c] of cases) {
    it(`${name} matches float64`, async () => {
      expect(await check(c, rng(runSeed))).toBeLessThan(1e-5);
    });
  }

  it('refuses bad inputs before dispatch', async () => {
    const ctx = await testContext();
    const x = ctx.zeros([2, 3, 4, 5]);
    const w = ctx.zeros([8, 3, 3, 3, 3]);
    const w4 = ctx.zeros([8, 3, 3, 3]);
    const wT2 = ctx.zeros([8, 3, 2, 3, 3]);
    const wCin = ctx.zeros([8, 4, 3, 3, 3]);
    const badPast = ctx.zeros([1, 3, 4, 5]);
    const out = ctx.zeros([2, 8, 4, 5]);
    const live = ctx.liveTensors;
    expect(() => causalConv3d(ctx, x, w4, { padding: 1 })).toThrow(/weight must have rank 5/);
    expect(() => causalConv3d(ctx, x, wT2, { padding: 1 })).toThrow(/1 or 3 frames/);
    expect(() => causalConv3d(ctx, x, wCin, { padding: 1 })).toThrow(/expects 4 input channels/);
    expect(() => causalConv3d(ctx, x, w, { padding: 1, past: badPast })).toThrow(/past must have shape \[2, 3, 4, 5\]/);
    expect(() => causalConv3d(ctx, x, w, { padding: 1, residual: out, out })).toThrow(/out must not share a buffer with residual/);
    expect(() => causalConv3d(ctx, x, w, { padding: 1, activation: 'relu' as 'none' })).toThrow(/unknown activation/);
    expect(ctx.liveTensors).toBe(live);
    [x, w, w4, wT2, wCin, badPast, out].forEach((t) => t.release());
  });
});
