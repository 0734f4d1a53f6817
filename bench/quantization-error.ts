// The error int8/int4 (webdit's group-wise format) and fp8 e4m3fn cost a Linear layer, measured on the
// matmuls of umT5-XXL's shapes: x [tokens, K] ~ N(0, 1) (a normed hidden state) times random weights
// ~ N(0, σ), each format against the f32 product of the same weights on the same adapter.
//
//   npx tsx bench/quantization-error.ts [--tokens 40] [--sigma 0.02] [--group-size 64] [--outliers 0.001] [--time 1] [--out FILE]
//
// Random weights, not umT5's: real checkpoints have heavier tails, which hurt int4 most. `--outliers p`
// adds a second run where a fraction p of the weights is multiplied by 10, a crude stand-in for them.
// Per format: relative error ‖y − y₃₂‖ / ‖y₃₂‖ and cosine similarity of the whole output, the weights'
// own relative error, bytes per weight (scales included), and with --time 1 the kernel's median time. Prints JSON.

import { writeFileSync } from 'node:fs';
import { createNodeContext } from '../src/gpu/node.ts';
import { floatToHalf, halfToFloat, type GpuContext } from '../src/gpu/context.ts';
import { FP8_E4M3_MAX, QuantizedWeight, dequantize, floatToFp8E4M3 } from '../src/gpu/quantized.ts';
import type { Tensor } from '../src/gpu/tensor.ts';
import { matmul, type LinearWeight } from '../src/gpu/kernels/matmul.ts';
import { quantizeRows } from '../src/weights/quantize.ts';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const tokens = Number(args.get('tokens') ?? 40);
const sigma = Number(args.get('sigma') ?? 0.02);
const groupSize = Number(args.get('group-size') ?? 64);
const outliers = Number(args.get('outliers') ?? 0.001);
const timed = args.get('time') === '1';

/** umT5-XXL (d_model 4096, 64 heads of 64, d_ff 10240): [N, K] of each Linear of a block. */
const LAYERS: { name: string; N: number; K: number }[] = [
  { name: 'q/k/v/o [4096, 4096]', N: 4096, K: 4096 },
  { name: 'wi_0/wi_1 [10240, 4096]', N: 10240, K: 4096 },
  { name: 'wo [4096, 10240]', N: 4096, K: 10240 },
];

function normals(n: number, seed: number, scale: number): Float32Array {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform())) * scale;
    const theta = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(theta);
    if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}

function compare(y: Float32Array, ref: Float32Array): { relativeError: number; cosine: number } {
  let num = 0;
  let den = 0;
  let dot = 0;
  let yy = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (y[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
    dot += y[i] * ref[i];
    yy += y[i] ** 2;
  }
  return { relativeError: Math.sqrt(num / den), cosine: dot / Math.sqrt(yy * den) };
}

function weightError(w: Float32Array, back: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < w.length; i++) {
    num += (back[i] - w[i]) ** 2;
    den += w[i] ** 2;
  }
  return Math.sqrt(num / den);
}

const round = (v: number, digits = 4): number => Number(v.toPrecision(digits));

async function timeMatmul(ctx: GpuContext, x: Tensor, w: LinearWeight): Promise<number> {
  const times: number[] = [];
  for (let t = 0; t < 3; t++) {
    const start = performance.now();
    const y = matmul(ctx, x, w);
    await ctx.sync();
    times.push(performance.now() - start);
    y.release();
  }
  return times.sort((a, b) => a - b)[1];
}

interface Format {
  name: string;
  build(ctx: GpuContext, w: Float32Array, N: number, K: number): { weight: LinearWeight; back: ArrayLike<number>; bytes: number };
}

const FORMATS: Format[] = [
  {
    name: 'f16',
    build(ctx, w, N, K) {
      const bits = Uint16Array.from(w, floatToHalf);
      return { weight: ctx.upload(bits, [N, K], 'f16'), back: Float32Array.from(bits, halfToFloat), bytes: 2 };
    },
  },
  ...(['int8', 'int4'] as const).map((format) => ({
    name: `${format} (groups of ${groupSize})`,
    build(ctx: GpuContext, w: Float32Array, N: number, K: number) {
      const { codes, scales } = quantizeRows(w, N, K, format, groupSize);
      const weight = new QuantizedWeight(ctx.upload(codes, [N, K], format === 'int8' ? 'i8' : 'i4'), ctx.upload(scales, [N, K / groupSize], 'f16'), groupSize);
      const back = dequantize(format, codes, Array.from(scales, halfToFloat), N, K, groupSize);
      return { weight, back, bytes: (codes.byteLength + scales.byteLength) / (N * K) };
    },
  })),
  ...([true, false] as const).map((scaled) => ({
    name: scaled ? 'fp8 e4m3fn, scaled (max|w| / 448)' : 'fp8 e4m3fn, plain cast',
    build(ctx: GpuContext, w: Float32Array, N: number, K: number) {
      let amax = 0;
      for (const v of w) amax = Math.max(amax, Math.abs(v));
      const scale = scaled ? Math.fround(amax / FP8_E4M3_MAX) : 1;
      const codes = Uint8Array.from(w, (v) => floatToFp8E4M3(v / scale));
      const weight = new QuantizedWeight(ctx.upload(codes, [N, K], 'f8e4m3'), ctx.upload(Float32Array.of(scale), [1]), 0);
      return { weight, back: dequantize('fp8', codes, [scale], N, K), bytes: 1 };
    },
  })),
];

async function main(): Promise<void> {
  const ctx = await createNodeContext();
  const results: object[] = [];
  for (const withOutliers of [false, true]) {
    if (withOutliers && !(outliers > 0)) continue;
    for (const layer of LAYERS) {
      const { N, K } = layer;
      const w = normals(N * K, N + K, sigma);
      if (withOutliers) {
        const every = Math.round(1 / outliers);
        for (let i = (N * 7) % every; i < w.length; i += every) w[i] *= 10;
      }
      const xData = normals(tokens * K, 7, 1);
      const x = ctx.upload(xData, [tokens, K]);
      const w32 = ctx.upload(w, [N, K]);
      const ref = await ctx.read(matmul(ctx, x, w32));
      const row: Record<string, unknown> = { layer: layer.name, weights: withOutliers ? `N(0, ${sigma}), ${outliers} of them ×10` : `N(0, ${sigma})`, tokens };
      if (timed) row.f32Ms = round(await timeMatmul(ctx, x, w32), 3);
      w32.release();
      for (const format of FORMATS) {
        const { weight, back, bytes } = format.build(ctx, w, N, K);
        const yt = matmul(ctx, x, weight);
        const y = await ctx.read(yt);
        yt.release();
        const ms = timed ? round(await timeMatmul(ctx, x, weight), 3) : undefined;
        weight.release();
        const { relativeError, cosine } = compare(y, ref);
        row[format.name] = {
          relativeError: round(relativeError),
          cosine: round(cosine, 7),
          weightRelativeError: round(weightError(w, back)),
          bytesPerWeight: round(bytes, 4),
          ms,
        };
      }
      x.release();
      results.push(row);
      console.error(JSON.stringify(row));
    }
  }
  const report = { adapter: ctx.adapterInfo, groupSize, sigma, tokens, reference: 'the f32 matmul of the same weights on the same adapter', results };
  const text = JSON.stringify(report, null, 2);
  if (args.get('out')) writeFileSync(args.get('out')!, text + '\n');
  console.log(text);
  ctx.destroy();
}

await main();
