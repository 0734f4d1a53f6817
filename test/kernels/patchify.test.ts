import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, relativeError, rng, runSeed } from '../helpers/reference.ts';
import { patchify, unpatchify, type PatchSize } from '../../src/gpu/kernels/patchify.ts';

/** Row-major transpose: result[i_order[0], i_order[1], ...] = data[i_0, i_1, ...]. */
function permute(data: Float32Array, shape: number[], order: number[]): Float32Array {
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((p, s) => p * s, 1));
  const outShape = order.map((d) => shape[d]);
  const out = new Float32Array(data.length);
  const index = new Array<number>(shape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let rest = o;
    for (let d = outShape.length - 1; d >= 0; d--) {
      index[d] = rest % outShape[d];
      rest = Math.floor(rest / outShape[d]);
    }
    out[o] = data[order.reduce((at, d, k) => at + index[k] * strides[d], 0)];
  }
  return out;
}

/** video [C, F, H, W] seen as [C, F', pt, H', ph, W', pw] → [F', H', W', C, pt, ph, pw]. */
function patchifyReference(video: Float32Array, [c, f, h, w]: number[], [pt, ph, pw]: PatchSize): Float32Array {
  return permute(video, [c, f / pt, pt, h / ph, ph, w / pw, pw], [1, 3, 5, 0, 2, 4, 6]);
}

/** tokens seen as [F', H', W', pt, ph, pw, C] → [C, F', pt, H', ph, W', pw] (diffusers' head). */
function unpatchifyReference(tokens: Float32Array, c: number, [gf, gh, gw]: number[], [pt, ph, pw]: PatchSize): Float32Array {
  return permute(tokens, [gf, gh, gw, pt, ph, pw, c], [6, 0, 3, 1, 4, 2, 5]);
}

const CASES: { video: number[]; patch: PatchSize }[] = [
  { video: [3, 5, 6, 10], patch: [1, 2, 2] },
  { video: [2, 4, 9, 7], patch: [2, 3, 7] },
  { video: [1, 1, 1, 1], patch: [1, 1, 1] },
  { video: [16, 3, 4, 6], patch: [1, 2, 2] },
];

describe(`patchify and unpatchify (seed ${runSeed})`, () => {
  it('patchify orders tokens and features like Wan (exact gather)', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed);
    for (const { video: shape, patch } of CASES) {
      const data = randomArray(shape.reduce((p, d) => p * d, 1), rand);
      const video = ctx.upload(data, shape);
      const tokens = patchify(ctx, video, patch);
      const [c, f, h, w] = shape;
      expect(tokens.shape).toEqual([(f / patch[0]) * (h / patch[1]) * (w / patch[2]), c * patch[0] * patch[1] * patch[2]]);
      expect(Array.from(await ctx.read(tokens)), `${shape} / ${patch}`).toEqual(Array.from(patchifyReference(data, shape, patch)));
      video.release();
      tokens.release();
    }
  });

  it('patchify then the flattened Conv3d weight equals a strided Conv3d in float64', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 1);
    const [c, f, h, w] = [3, 4, 6, 4];
    const [pt, ph, pw]: PatchSize = [2, 3, 2];
    const dim = 5;
    const data = randomArray(c * f * h * w, rand);
    const weight = randomArray(dim * c * pt * ph * pw, rand); // Conv3d weight [dim, C, pt, ph, pw]
    const video = ctx.upload(data, [c, f, h, w]);
    const tokens = await ctx.read(patchify(ctx, video, [pt, ph, pw]));
    const [gf, gh, gw] = [f / pt, h / ph, w / pw];
    const features = c * pt * ph * pw;
    const viaTokens: number[] = [];
    const conv: number[] = [];
    for (let l = 0; l < gf * gh * gw; l++) {
      const [zf, zh, zw] = [Math.floor(l / (gh * gw)), Math.floor(l / gw) % gh, l % gw];
      for (let o = 0; o < dim; o++) {
        let dot = 0;
        for (let k = 0; k < features; k++) dot += tokens[l * features + k] * weight[o * features + k];
        viaTokens.push(dot);
        let sum = 0;
        for (let ci = 0; ci < c; ci++)
          for (let t = 0; t < pt; t++)
            for (let y = 0; y < ph; y++)
              for (let x = 0; x < pw; x++) {
                const wv = weight[(((o * c + ci) * pt + t) * ph + y) * pw + x];
                sum += wv * data[((ci * f + zf * pt + t) * h + zh * ph + y) * w + zw * pw + x];
              }
        conv.push(sum);
      }
    }
    expect(relativeError(viaTokens, conv)).toBeLessThan(1e-5);
    video.release();
  });

  it('unpatchify reads channel-fastest features back into [C, F, H, W] (exact gather)', async () => {
    const ctx = await testContext();
    const rand = rng(runSeed + 2);
    for (const { video: shape, patch } of CASES) {
      const [c, f, h, w] = shape;
      const grid = [f / patch[0], h / patch[1], w / patch[2]] as const;
      const data = randomArray(shape.reduce((p, d) => p * d, 1), rand);
      const tokens = ctx.upload(data, [grid[0] * grid[1] * grid[2], patch[0] * patch[1] * patch[2] * c]);
      const video = unpatchify(ctx, tokens, { channels: c, grid, patch });
      expect(video.shape).toEqual(shape);
      expect(Array.from(await ctx.read(video)), `${shape} / ${patch}`).toEqual(Array.from(unpatchifyReference(data, c, [...grid], patch)));
      tokens.release();
      video.release();
    }
  });

  it('refuses shapes that do not divide or disagree, and bad dtypes, before dispatch', async () => {
    const ctx = await testContext();
    const video = ctx.zeros([2, 3, 4, 4]);
    const ints = ctx.zeros([2, 3, 4, 4], 'u32');
    const flat = ctx.zeros([96]);
    const tokens = ctx.zeros([12, 8]);
    expect(() => patchify(ctx, video, [2, 2, 2])).toThrow(/does not divide into patches \[2, 2, 2\]/);
    expect(() => patchify(ctx, video, [1, 3, 2])).toThrow(/does not divide/);
    expect(() => patchify(ctx, video, [1, 0, 2])).toThrow(/three positive integers/);
    expect(() => patchify(ctx, flat, [1, 2, 2])).toThrow(/rank 4/);
    expect(() => patchify(ctx, ints, [1, 2, 2])).toThrow(/video must be f32, got u32/);
    expect(() => patchify(ctx, video, [1, 2, 2], flat)).toThrow(/out must have shape \[12, 8\]/);
    expect(() => unpatchify(ctx, tokens, { channels: 3, grid: [3, 2, 2], patch: [1, 2, 2] })).toThrow(/tokens must have shape \[12, 12\]/);
    expect(() => unpatchify(ctx, tokens, { channels: 2, grid: [3, 2, 1], patch: [1, 2, 2] })).toThrow(/tokens must have shape \[6, 8\]/);
    expect(() => unpatchify(ctx, tokens, { channels: 2, grid: [3, 2, 2], patch: [1, 2, 2], out: flat })).toThrow(/out must have shape \[2, 3, 4, 4\]/);
    expect(() => unpatchify(ctx, tokens, { channels: 2, grid: [3, 2, 2], patch: [1, 2, 2.5] })).toThrow(/three positive integers/);
    expect(() => unpatchify(ctx, ints, { channels: 2, grid: [3, 2, 2], patch: [1, 2, 2] })).toThrow(/tokens must be f32/);
    [video, ints, flat, tokens].forEach((t) => t.release());
  });
});
