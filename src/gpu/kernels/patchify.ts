import type { GpuContext } from '../context.ts';
import { formatShape, type Tensor } from '../tensor.ts';
import { expectDType, expectRank, expectShape } from './check.ts';
import { rowRange, rowSegments } from './segments.ts';

/** Patch size [pt, ph, pw] along frames, height, width. */
export type PatchSize = readonly [number, number, number];

function checkPatch(op: string, patch: PatchSize): void {
  if (patch.length !== 3 || patch.some((p) => !Number.isInteger(p) || p < 1)) {
    throw new Error(`${op}: patch must be three positive integers [pt, ph, pw], got [${patch.join(', ')}]`);
  }
}

/** Both shaders: the patch size as pipeline constants, one thread per video element on a (w, h, c·F + f) grid of 16×16 groups. */
function patchKernel(shader: 'patchify' | 'unpatchify', [pt, ph, pw]: PatchSize) {
  return { shader, constants: { PT: pt, PH: ph, PW: pw } };
}

/**
 * Both shaders, one dispatch per tile: the video split along channels, the tokens along frames (whole
 * patches of pt frames), each only when over the binding limit. Every element is still moved by the same
 * thread code, so tiles give exactly the one-dispatch result.
 */
function dispatchTiles(ctx: GpuContext, shader: 'patchify' | 'unpatchify', patch: PatchSize, video: Tensor, tokens: Tensor, videoShape: readonly number[]): void {
  const [channels, frames, height, width] = videoShape;
  const [pt] = patch;
  const planeBytes = frames * height * width * 4;
  const patchRows = frames / pt;
  const patchRowBytes = tokens.byteLength / patchRows;
  const channelTiles = rowSegments(ctx, shader, channels, [{ tensor: video, rowBytes: planeBytes }]);
  const frameTiles = rowSegments(ctx, shader, patchRows, [{ tensor: tokens, rowBytes: patchRowBytes }]);
  for (const cs of channelTiles) {
    for (const fs of frameTiles) {
      ctx.dispatch(patchKernel(shader, patch), {
        bindings: { video: rowRange(video, planeBytes, cs, channels), tokens: rowRange(tokens, patchRowBytes, fs, patchRows) },
        uniforms: { channels, frames, height, width, channelStart: cs.start, frameStart: fs.start * pt, segmentFrames: fs.count * pt },
        workgroups: [Math.ceil(width / 16), Math.ceil(height / 16), cs.count * fs.count * pt],
        label: shader,
      });
    }
  }
}

/**
 * video [C, F, H, W] → tokens [L, C·pt·ph·pw], L = (F/pt)(H/ph)(W/pw), token f'·H'W' + h'·W' + w',
 * feature ((c·pt + t)·ph + y)·pw + x: the Conv3d weight [dim, C, pt, ph, pw] flattened is the
 * matching Linear weight [dim, C·pt·ph·pw].
 */
export function patchify(ctx: GpuContext, video: Tensor, patch: PatchSize, out?: Tensor): Tensor {
  const op = 'patchify';
  expectDType(op, 'video', video, 'f32');
  expectRank(op, 'video', video, 4);
  checkPatch(op, patch);
  const [channels, frames, height, width] = video.shape;
  const [pt, ph, pw] = patch;
  if (frames % pt || height % ph || width % pw) {
    throw new Error(`${op}: video ${formatShape(video.shape)} [C, F, H, W] does not divide into patches [${patch.join(', ')}]`);
  }
  const shape = [(frames / pt) * (height / ph) * (width / pw), channels * pt * ph * pw];
  if (out) {
    expectDType(op, 'out', out, 'f32');
    expectShape(op, 'out', out, shape);
    if (out.buffer === video.buffer) throw new Error(`${op}: out must not alias video`);
  }
  const tokens = out ?? ctx.empty(shape, 'f32', op);
  if (video.size === 0) return tokens;
  dispatchTiles(ctx, op, patch, video, tokens, video.shape);
  return tokens;
}

export interface UnpatchifyOptions {
  /** Output channels C. */
  channels: number;
  /** Token grid [F', H', W']. */
  grid: readonly [number, number, number];
  patch: PatchSize;
  out?: Tensor;
}

/**
 * tokens [L, pt·ph·pw·C] with feature ((t·ph + y)·pw + x)·C + c (channel fastest, as Wan's head
 * writes it) and L = F'·H'·W' → video [C, F'·pt, H'·ph, W'·pw].
 */
export function unpatchify(ctx: GpuContext, tokens: Tensor, options: UnpatchifyOptions): Tensor {
  const op = 'unpatchify';
  const { channels, grid, patch } = options;
  expectDType(op, 'tokens', tokens, 'f32');
  checkPatch(op, patch);
  if (grid.length !== 3 || grid.some((g) => !Number.isInteger(g) || g < 1)) {
    throw new Error(`${op}: grid must be three positive integers [F', H', W'], got [${grid.join(', ')}]`);
  }
  if (!Number.isInteger(channels) || channels < 1) throw new Error(`${op}: channels must be a positive integer, got ${channels}`);
  const [pt, ph, pw] = patch;
  expectShape(op, 'tokens', tokens, [grid[0] * grid[1] * grid[2], pt * ph * pw * channels]);
  const shape = [channels, grid[0] * pt, grid[1] * ph, grid[2] * pw];
  if (options.out) {
    expectDType(op, 'out', options.out, 'f32');
    expectShape(op, 'out', options.out, shape);
    if (options.out.buffer === tokens.buffer) throw new Error(`${op}: out must not alias tokens`);
  }
  const video = options.out ?? ctx.empty(shape, 'f32', op);
  dispatchTiles(ctx, op, patch, video, tokens, shape);
  return video;
}
