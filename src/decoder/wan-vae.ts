// The Wan2.1 VAE decoder (wan/modules/vae.py): latents [T, 16, h, w] → frames [1 + 4(T − 1), 3, 8h, 8w].
//   z·std + mean → conv2 (1×1×1)                       (folded into one 1×1×1 conv at load)
//   per latent frame, in order (a chunk):
//     conv1 (causal 3×3×3) → middle: residual block, per-frame attention, residual block
//     → up stages: residual blocks, resample (time conv doubling the frames, except in the first
//       chunk; nearest ×2 in space; 3×3 conv halving the channels)
//     → head: RMS norm, SiLU, causal conv to RGB → clamp to [−1, 1], mapped to [0, 1]
// Every causal 3×3×3 (and 3×1×1) conv carries the last two frames of its input into the next chunk,
// as upstream's feat_cache does; its first chunk sees zeros before it. Upstream's time conv starts at
// the second chunk (its 'Rep' marker), so its carried frames start there too.
//
// The up path runs one frame at a time (a time conv's two frames one after the other, through every
// later layer), so its largest tensors hold one frame.
// Spatial pieces: when that frame's largest tensor would exceed the binding limit, everything after
// the middle (local operations only) runs on tiles (bands of latent rows × strips of columns) with a
// halo of `haloLatentRows` on each cut side; each tile keeps its own carried frames. Pixels within the
// halo of a cut see zeros where the real neighbours were, and the halo is wide enough that none of
// them reach the tile's own pixels: the output is the same as without pieces.

import type { GpuContext } from '../gpu/context.ts';
import { formatShape, type Tensor } from '../gpu/tensor.ts';
import { expectDType, expectRank } from '../gpu/kernels/check.ts';
import { cast } from '../gpu/kernels/cast.ts';
import { causalConv3d, type CausalConvActivation } from '../gpu/kernels/causal-conv3d.ts';
import { copyColumns } from '../gpu/kernels/copy-columns.ts';
import { matmul } from '../gpu/kernels/matmul.ts';
import { rmsNormChannels } from '../gpu/kernels/rms-norm-channels.ts';
import { softmaxRows } from '../gpu/kernels/softmax.ts';
import { swapOuter } from '../gpu/kernels/swap-outer.ts';
import { upsampleNearest2x } from '../gpu/kernels/upsample.ts';
import { decoderStructure, type DecoderStructure, type ResampleSpec, type WanVaeConfig } from './wan-vae-config.ts';
import { planPieces, type Tile } from './wan-vae-plan.ts';
import type { DecodeOptions, VideoDecoder } from './decoder.ts';
import { Scope } from './scope.ts';

export interface WanVaeDecodeOptions extends DecodeOptions {
  /** Bytes one tensor may bind; default the adapter's limit. Smaller values force spatial pieces. */
  maxBindingBytes?: number;
  /** Latent rows per spatial piece, forced (by default pieces are used only when a frame does not fit). */
  bandRows?: number;
  /** Latent columns per spatial piece, forced. */
  stripColumns?: number;
  /** Query rows per block of attention scores, forced (by default as many as the binding limit allows). */
  attentionQueryRows?: number;
  /** Keep the carried frames in f16 (half their memory, the largest part at 480p; error measured in the tests). */
  carriedF16?: boolean;
}

const RGB = 3;

/** Carried frames of the causal convs of one spatial piece (or of the whole frame), by conv key. */
class CarriedFrames extends Map<string, Tensor> {
  constructor(readonly dtype: 'f32' | 'f16') {
    super();
  }
}
type Carried = CarriedFrames;

export class WanVaeDecoder implements VideoDecoder {
  readonly temporalScale: number;
  readonly spatialScale: number;
  readonly latentChannels: number;
  readonly structure: DecoderStructure;
  private weights: Map<string, Tensor> | undefined;

  /**
   * Takes ownership of `weights` (original key names; 'conv2.*' already folded with the latent mean and
   * std, see wan-vae-load.ts) and releases them in `dispose`.
   */
  constructor(
    readonly config: WanVaeConfig,
    weights: Map<string, Tensor>,
  ) {
    this.structure = decoderStructure(config);
    this.temporalScale = this.structure.temporalScale;
    this.spatialScale = this.structure.spatialScale;
    this.latentChannels = config.zDim;
    this.weights = weights;
  }

  dispose(): void {
    for (const t of this.weights?.values() ?? []) t.release();
    this.weights = undefined;
  }

  private weight(key: string): Tensor {
    if (!this.weights) throw new Error('Wan VAE decoder: used after dispose()');
    const t = this.weights.get(key);
    if (!t) throw new Error(`Wan VAE decoder: no tensor "${key}"`);
    return t;
  }

  /** A conv weight as the kernel takes it, [Cout, Cin, kt, k, k] (2-D convs get kt = 1). */
  private convWeight(key: string): Tensor {
    const w = this.weight(`${key}.weight`);
    return w.shape.length === 4 ? w.reshape([w.shape[0], w.shape[1], 1, w.shape[2], w.shape[3]]) : w;
  }

  private gamma(key: string): Tensor {
    const g = this.weight(key);
    return g.reshape([g.shape[0]]);
  }

  async decode(ctx: GpuContext, latents: Tensor, options: WanVaeDecodeOptions = {}): Promise<Tensor> {
    const op = 'Wan VAE decode';
    const signal = options.signal;
    signal?.throwIfAborted();
    this.weight('conv2.weight'); // throws once disposed
    expectDType(op, 'latents', latents, 'f32');
    expectRank(op, 'latents', latents, 4);
    const [T, C, h, w] = latents.shape;
    if (C !== this.latentChannels || T < 1 || h < 1 || w < 1) {
      throw new Error(`${op}: latents must be [T ≥ 1, ${this.latentChannels}, h, w], got ${formatShape(latents.shape)}`);
    }
    const limit = Math.min(options.maxBindingBytes ?? Infinity, ctx.bindingLimit, ctx.limits.maxBufferSize);
    const pieces = planPieces(this.config, h, w, limit, { bandRows: options.bandRows, stripColumns: options.stripColumns });
    const L = h * w;
    const queryRows = options.attentionQueryRows ?? Math.max(1, Math.min(L, Math.floor(limit / (4 * L))));
    if (!Number.isInteger(queryRows) || queryRows < 1) throw new Error(`${op}: attentionQueryRows must be a positive integer, got ${queryRows}`);
    const H = h * this.spatialScale;
    const W = w * this.spatialScale;
    const frameCount = this.temporalScale * (T - 1) + 1;
    const frames = ctx.empty([frameCount, RGB, H, W], 'f32', 'Wan VAE frames');
    const dtype = options.carriedF16 ? 'f16' : 'f32';
    const carried: Carried[] = pieces.tiles.map(() => new CarriedFrames(dtype));
    const middleCarried: Carried = new CarriedFrames(dtype);
    const scope = new Scope();
    try {
      // The latent statistics and conv2 are one 1×1×1 conv over every latent frame.
      const x0 = scope.add(causalConv3d(ctx, latents, this.convWeight('conv2'), { padding: 0, bias: this.weight('conv2.bias'), label: 'vae.conv2' }));
      let written = 0;
      for (let t = 0; t < T; t++) {
        signal?.throwIfAborted();
        const frame = scope.add(sliceFrames(ctx, x0, t, 1));
        const middle = scope.add(this.middle(ctx, frame, middleCarried, queryRows));
        scope.release(frame);
        let chunkFrames = 0;
        for (const [p, tile] of pieces.tiles.entries()) {
          const input = pieces.tiles.length === 1 ? middle : scope.add(cropTile(ctx, middle, tile));
          let frame = written;
          this.upAndHead(ctx, input, carried[p], t === 0, (rgb) => pasteTile(ctx, rgb, frames, frame++, tile, this.spatialScale));
          if (input !== middle) scope.release(input);
          chunkFrames = frame - written;
        }
        scope.release(middle);
        written += chunkFrames;
        // Waiting per chunk makes an abort prompt and surfaces GPU errors near their chunk.
        if (t + 1 < T) await ctx.sync();
      }
      if (written !== frameCount) throw new Error(`${op}: wrote ${written} frames, expected ${frameCount}`);
    } catch (e) {
      frames.release();
      throw e;
    } finally {
      scope.releaseAll();
      for (const c of [middleCarried, ...carried]) for (const t of c.values()) t.release();
    }
    return frames;
  }

  /** conv1 and the middle blocks on one latent frame [1, z, h, w] → [1, middleDim, h, w]. */
  private middle(ctx: GpuContext, x: Tensor, carried: Carried, queryRows: number): Tensor {
    const a = this.cachedConv(ctx, carried, 'decoder.conv1', x, {});
    const b = this.residualBlock(ctx, carried, 'decoder.middle.0', a);
    a.release();
    const c = this.attention(ctx, 'decoder.middle.1', b, queryRows);
    b.release();
    const d = this.residualBlock(ctx, carried, 'decoder.middle.2', c);
    c.release();
    return d;
  }

  /**
   * The up stages and the head on the middle's output (or a tile of it), one frame at a time: a time
   * conv's doubled frames go on one after the other, each through every later layer (the carried
   * frames see them in order, as a whole chunk would), so no tensor holds more than one frame at the
   * higher resolutions. `emit` gets each RGB frame in [0, 1], in order, and must not keep it.
   */
  private upAndHead(ctx: GpuContext, x: Tensor, carried: Carried, firstChunk: boolean, emit: (rgb: Tensor) => void, from = 0): void {
    const layers = this.structure.upLayers;
    if (x.shape[0] > 1) {
      for (let f = 0; f < x.shape[0]; f++) {
        const frame = sliceFrames(ctx, x, f, 1);
        try {
          this.upAndHead(ctx, frame, carried, firstChunk, emit, from);
        } finally {
          frame.release();
        }
      }
      return;
    }
    let cur = x;
    const replace = (next: Tensor) => {
      if (cur !== x) cur.release();
      cur = next;
    };
    try {
      for (let i = from; i < layers.length; i++) {
        const layer = layers[i];
        if (layer.kind === 'residual') replace(this.residualBlock(ctx, carried, layer.key, cur));
        else if (layer.mode === 'upsample3d' && !firstChunk) {
          // Its two frames go on one by one through the spatial part and every later layer.
          const [n, , hh, ww] = cur.shape;
          replace(this.timeConv(ctx, carried, layer, cur));
          // Channel half s of frame n is frame 2n + s: the NCHW result read as [2n, C, h, w].
          const doubled = cur.reshape([2 * n, layer.dim, hh, ww]);
          for (let f = 0; f < doubled.shape[0]; f++) {
            const frame = sliceFrames(ctx, doubled, f, 1);
            let up: Tensor;
            try {
              up = this.upsampleConv(ctx, layer, frame);
            } finally {
              frame.release();
            }
            try {
              this.upAndHead(ctx, up, carried, firstChunk, emit, i + 1);
            } finally {
              up.release();
            }
          }
          return;
        } else replace(this.upsampleConv(ctx, layer, cur));
      }
      replace(rmsNormChannels(ctx, cur, this.gamma('decoder.head.0.gamma'), { silu: true, label: 'vae.head.0' }));
      replace(this.cachedConv(ctx, carried, 'decoder.head.2', cur, { activation: 'wan-frames' }));
      emit(cur);
    } finally {
      if (cur !== x) cur.release();
    }
  }

  /** A causal conv with padding 1 that carries the last two frames of its input (feat_cache). */
  private cachedConv(
    ctx: GpuContext,
    carried: Carried,
    key: string,
    x: Tensor,
    extra: { residual?: Tensor; activation?: CausalConvActivation; padding?: 0 | 1 },
  ): Tensor {
    const y = causalConv3d(ctx, x, this.convWeight(key), {
      padding: extra.padding ?? 1,
      past: carried.get(key),
      bias: this.weight(`${key}.bias`),
      residual: extra.residual,
      activation: extra.activation,
      label: key,
    });
    carry(ctx, carried, key, x);
    return y;
  }

  /** x + residual(x): RMS norm, SiLU, conv, RMS norm, SiLU, conv; a 1×1×1 shortcut when the width changes. */
  private residualBlock(ctx: GpuContext, carried: Carried, key: string, x: Tensor): Tensor {
    const shortcut = this.weights?.has(`${key}.shortcut.weight`)
      ? causalConv3d(ctx, x, this.convWeight(`${key}.shortcut`), { padding: 0, bias: this.weight(`${key}.shortcut.bias`), label: `${key}.shortcut` })
      : undefined;
    const scope = new Scope();
    if (shortcut) scope.add(shortcut);
    try {
      const h1 = scope.add(rmsNormChannels(ctx, x, this.gamma(`${key}.residual.0.gamma`), { silu: true, label: `${key}.residual.0` }));
      const c1 = scope.add(this.cachedConv(ctx, carried, `${key}.residual.2`, h1, {}));
      scope.release(h1);
      const h2 = scope.add(rmsNormChannels(ctx, c1, this.gamma(`${key}.residual.3.gamma`), { silu: true, label: `${key}.residual.3` }));
      scope.release(c1);
      const out = this.cachedConv(ctx, carried, `${key}.residual.6`, h2, { residual: shortcut ?? x });
      return out;
    } finally {
      scope.releaseAll();
    }
  }

  /** A resample's time conv: [n, C, h, w] → [n, 2C, h, w] (twice the frames, in channel halves). */
  private timeConv(ctx: GpuContext, carried: Carried, layer: ResampleSpec, x: Tensor): Tensor {
    const key = `${layer.key}.time_conv`;
    const doubled = causalConv3d(ctx, x, this.convWeight(key), { padding: 0, past: carried.get(key), bias: this.weight(`${key}.bias`), label: key });
    carry(ctx, carried, key, x);
    return doubled;
  }

  /** A resample's spatial part: nearest ×2, then a 3×3 conv to C/2. */
  private upsampleConv(ctx: GpuContext, layer: ResampleSpec, x: Tensor): Tensor {
    const up = upsampleNearest2x(ctx, x);
    try {
      return causalConv3d(ctx, up, this.convWeight(`${layer.key}.resample.1`), { padding: 1, bias: this.weight(`${layer.key}.resample.1.bias`), label: `${layer.key}.resample.1` });
    } finally {
      up.release();
    }
  }

  /** Single-head attention over the pixels of each frame, plus the input (AttentionBlock). */
  private attention(ctx: GpuContext, key: string, x: Tensor, rowsPerBlock: number): Tensor {
    const [n, C, h, w] = x.shape;
    const L = h * w;
    const scope = new Scope();
    try {
      const normed = scope.add(rmsNormChannels(ctx, x, this.gamma(`${key}.norm.gamma`), { label: `${key}.norm` }));
      const qkv = scope.add(causalConv3d(ctx, normed, this.convWeight(`${key}.to_qkv`), { padding: 0, bias: this.weight(`${key}.to_qkv.bias`), label: `${key}.to_qkv` }));
      scope.release(normed);
      const attended = scope.add(ctx.empty([n, C, h, w], 'f32', `${key} attended`));
      const plane = C * L * 4;
      for (let f = 0; f < n; f++) {
        // q, k, v of frame f: three consecutive [C, L] blocks of the conv's output.
        const part = (i: number) => {
          const t = scope.add(ctx.empty([C, L], 'f32', `${key} ${'qkv'[i]}`));
          ctx.copy(qkv, t, plane, (3 * f + i) * plane, 0);
          return t;
        };
        const q = part(0);
        const qT = scope.add(swapOuter(ctx, q));
        scope.release(q);
        const k = part(1);
        const kT = scope.add(swapOuter(ctx, k));
        scope.release(k);
        const v = part(2);
        const outT = scope.add(ctx.empty([L, C], 'f32', `${key} out`));
        // Scores in blocks of query rows, so that no block passes the binding limit.
        for (let r0 = 0; r0 < L; r0 += rowsPerBlock) {
          const rows = Math.min(rowsPerBlock, L - r0);
          const qBlock = rows === L ? qT : scope.add(ctx.empty([rows, C], 'f32', `${key} q rows`));
          if (qBlock !== qT) ctx.copy(qT, qBlock, rows * C * 4, r0 * C * 4, 0);
          const scores = scope.add(matmul(ctx, qBlock, kT));
          if (qBlock !== qT) scope.release(qBlock);
          const probs = scope.add(softmaxRows(ctx, scores, 1 / Math.sqrt(C)));
          scope.release(scores);
          const o = scope.add(matmul(ctx, probs, v)); // [rows, C] = P · Vᵀ
          scope.release(probs);
          ctx.copy(o, outT, rows * C * 4, 0, r0 * C * 4);
          scope.release(o);
        }
        scope.release(qT);
        scope.release(kT);
        scope.release(v);
        const o = scope.add(swapOuter(ctx, outT));
        scope.release(outT);
        ctx.copy(o, attended, plane, 0, f * plane);
        scope.release(o);
      }
      scope.release(qkv);
      return causalConv3d(ctx, attended, this.convWeight(`${key}.proj`), { padding: 0, bias: this.weight(`${key}.proj.bias`), residual: x, label: `${key}.proj` });
    } finally {
      scope.releaseAll();
    }
  }
}

/** Replaces the carried frames of `key` by the last two frames of [carried (or zeros), x]. */
function carry(ctx: GpuContext, carried: Carried, key: string, x: Tensor): void {
  const [n, C, h, w] = x.shape;
  const half = carried.dtype === 'f16';
  const frameBytes = C * h * w * (half ? 2 : 4);
  if (frameBytes % 4 !== 0) throw new Error(`Wan VAE: f16 carried frames need an even C·h·w, got ${C}·${h}·${w}`);
  const old = carried.get(key);
  const next = ctx.empty([2, C, h, w], carried.dtype, `${key} carried`);
  // x's last one or two frames, in the carried dtype (f32 ones are copied straight out of x).
  const last = Math.min(n, 2);
  let tail = x;
  let tailOffset = (n - last) * frameBytes;
  if (half) {
    const slice = last === n ? x : sliceFrames(ctx, x, n - last, last);
    tail = cast(ctx, slice, 'f16');
    if (slice !== x) slice.release();
    tailOffset = 0;
  }
  if (last === 2) ctx.copy(tail, next, 2 * frameBytes, tailOffset, 0);
  else {
    if (old) ctx.copy(old, next, frameBytes, frameBytes, 0);
    else ctx.fill(next, 0);
    ctx.copy(tail, next, frameBytes, tailOffset, frameBytes);
  }
  if (tail !== x) tail.release();
  old?.release();
  carried.set(key, next);
}

/** Frames [t0, t0 + n) of an f32 [T, ...] tensor, copied into a new tensor. */
function sliceFrames(ctx: GpuContext, t: Tensor, t0: number, n: number): Tensor {
  const [, ...rest] = t.shape;
  const frameBytes = (t.size / t.shape[0]) * 4;
  const out = ctx.empty([n, ...rest], 'f32', `${t.label} frames ${t0}..${t0 + n - 1}`);
  ctx.copy(t, out, n * frameBytes, t0 * frameBytes, 0);
  return out;
}

/** Rows [row0, row0 + rows) of every plane of x [n, C, H, W] → [n, C, rows, W] (one copy per plane). */
function cropRows(ctx: GpuContext, x: Tensor, row0: number, rows: number): Tensor {
  const [n, C, H, W] = x.shape;
  const out = ctx.empty([n, C, rows, W], 'f32', `${x.label} rows ${row0}..${row0 + rows - 1}`);
  for (let p = 0; p < n * C; p++) ctx.copy(x, out, rows * W * 4, (p * H + row0) * W * 4, p * rows * W * 4);
  return out;
}

/** The input of a tile (its rows and columns with their halos) out of x [n, C, h, w]. */
function cropTile(ctx: GpuContext, x: Tensor, tile: Tile): Tensor {
  const [n, C, , w] = x.shape;
  const band = cropRows(ctx, x, tile.rows.inputStart, tile.rows.inputCount);
  if (tile.cols.inputCount === w) return band;
  try {
    const out = ctx.empty([n, C, tile.rows.inputCount, tile.cols.inputCount], 'f32', `${x.label} tile`);
    copyColumns(ctx, band, { start: tile.cols.inputStart, count: tile.cols.inputCount }, out, { start: 0, count: tile.cols.inputCount });
    return out;
  } finally {
    band.release();
  }
}

/**
 * A tile's own pixels of one RGB frame [1, 3, Hs, Ws] (its output, halos included) into frame `frame`
 * of dst [F, 3, H, W]. A strip narrower than the frame goes through its rows at full width: read,
 * its columns replaced, written back (other strips' columns kept).
 */
function pasteTile(ctx: GpuContext, rgb: Tensor, dst: Tensor, frame: number, tile: Tile, scale: number): void {
  const [n, C, Hs, Ws] = rgb.shape;
  const [F, , H, W] = dst.shape;
  if (n !== 1 || frame >= F) throw new Error(`Wan VAE: frame ${frame} of a tile does not fit the ${F} output frames`);
  const rows = tile.rows.count * scale;
  const srcRow0 = (tile.rows.start - tile.rows.inputStart) * scale;
  const dstRow0 = tile.rows.start * scale;
  const plane = (t: number, c: number, height: number, width: number, row: number) => ((t * C + c) * height + row) * width * 4;
  if (Ws === W) {
    for (let c = 0; c < C; c++) ctx.copy(rgb, dst, rows * W * 4, plane(0, c, Hs, W, srcRow0), plane(frame, c, H, W, dstRow0));
    return;
  }
  const own = cropRows(ctx, rgb, srcRow0, rows);
  const full = ctx.empty([1, C, rows, W], 'f32', 'Wan VAE strip rows');
  try {
    for (let c = 0; c < C; c++) ctx.copy(dst, full, rows * W * 4, plane(frame, c, H, W, dstRow0), plane(0, c, rows, W, 0));
    const cols = tile.cols.count * scale;
    copyColumns(ctx, own, { start: (tile.cols.start - tile.cols.inputStart) * scale, count: cols }, full, { start: tile.cols.start * scale, count: cols });
    for (let c = 0; c < C; c++) ctx.copy(full, dst, rows * W * 4, plane(0, c, rows, W, 0), plane(frame, c, H, W, dstRow0));
  } finally {
    own.release();
    full.release();
  }
}
