// TAEHV, the tiny video decoder for Wan 2.1 latents (madebyollin/taehv, `taehv.py`, taew2_1 weights):
// latents [T, 16, h, w] → RGB frames [4T − 3, 3, 8h, 8w]. The checkpoint's keys are the positions in
// taehv.py's `decoder` nn.Sequential:
//    0 Clamp (3·tanh(x/3))       1 conv 16→256, 2 ReLU
//    3–5 MemBlock(256)           6 Upsample ×2    7 TGrow(256, stride 1)   8 conv 256→128 (no bias)
//    9–11 MemBlock(128)         12 Upsample ×2   13 TGrow(128, stride 2)  14 conv 128→64 (no bias)
//   15–17 MemBlock(64)          18 Upsample ×2   19 TGrow(64, stride 2)   20 conv 64→64 (no bias), 21 ReLU
//   22 conv 64→3, then clamp to [0, 1] and drop the first 3 frames.
// All convolutions are 3×3 with padding 1 except TGrow's 1×1.
// MemBlock(x) = ReLU(conv₄(ReLU(conv₂(ReLU(conv₀(cat[x, past]))))) + x), where past is the block's
// input one frame earlier (zeros before the first frame). TGrow is a 1×1 conv to stride·C channels;
// frame n's channel group k becomes frame n·stride + k, which is a plain reshape of the NCHW result.
//
// Frames go through the network in chunks of latent frames, as taehv.py's parallel mode does for the
// whole video; each MemBlock carries the last frame of its input into the next chunk, so the result
// does not depend on the chunk size.

import type { GpuContext } from '../gpu/context.ts';
import { formatShape, type Tensor } from '../gpu/tensor.ts';
import { conv2d } from '../gpu/kernels/conv2d.ts';
import { expectDType, expectRank } from '../gpu/kernels/check.ts';
import { unary } from '../gpu/kernels/unary.ts';
import { upsampleNearest2x } from '../gpu/kernels/upsample.ts';
import { loadTensors, openCheckpointFile } from '../weights/checkpoint.ts';
import type { ByteSource } from '../weights/source.ts';
import type { DecodeOptions, VideoDecoder } from './decoder.ts';
import { Scope } from './scope.ts';

/** Channels of the three stages and of the last hidden layer. */
const CHANNELS = [256, 128, 64, 64] as const;

interface Stage {
  memBlocks: number[];
  tGrow: number;
  stride: number;
  conv: number;
  channels: number;
  outChannels: number;
}

const STAGES: Stage[] = [
  { memBlocks: [3, 4, 5], tGrow: 7, stride: 1, conv: 8, channels: CHANNELS[0], outChannels: CHANNELS[1] },
  { memBlocks: [9, 10, 11], tGrow: 13, stride: 2, conv: 14, channels: CHANNELS[1], outChannels: CHANNELS[2] },
  { memBlocks: [15, 16, 17], tGrow: 19, stride: 2, conv: 20, channels: CHANNELS[2], outChannels: CHANNELS[3] },
];
const FIRST_CONV = 1;
const LAST_CONV = 22;
const IMAGE_CHANNELS = 3;
const TEMPORAL_SCALE = STAGES.reduce((s, st) => s * st.stride, 1);
/** taehv.py's frames_to_trim: the first t_upscale − 1 frames only align the output with the full VAE's. */
const FRAMES_TO_TRIM = TEMPORAL_SCALE - 1;

/** The largest intermediate, per latent frame: [4, 64, 8h, 8w] f32 = 65536·h·w bytes. */
const LARGEST_BYTES_PER_LATENT_PIXEL = TEMPORAL_SCALE * CHANNELS[3] * 64 * 4;
/** Chunks are sized to keep the largest intermediate under this (and under the binding limit). */
const DEFAULT_CHUNK_BUDGET_BYTES = 256 * 1024 * 1024;

/** Every tensor the decoder uses, with its shape. TGrow weights may have more rows (see `trimTGrow`). */
function expectedShapes(latentChannels: number): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  shapes.set(`decoder.${FIRST_CONV}.weight`, [CHANNELS[0], latentChannels, 3, 3]);
  shapes.set(`decoder.${FIRST_CONV}.bias`, [CHANNELS[0]]);
  for (const st of STAGES) {
    for (const b of st.memBlocks) {
      shapes.set(`decoder.${b}.conv.0.weight`, [st.channels, 2 * st.channels, 3, 3]);
      for (const i of [0, 2, 4]) shapes.set(`decoder.${b}.conv.${i}.bias`, [st.channels]);
      for (const i of [2, 4]) shapes.set(`decoder.${b}.conv.${i}.weight`, [st.channels, st.channels, 3, 3]);
    }
    shapes.set(`decoder.${st.tGrow}.conv.weight`, [st.channels * st.stride, st.channels, 1, 1]);
    shapes.set(`decoder.${st.conv}.weight`, [st.outChannels, st.channels, 3, 3]);
  }
  shapes.set(`decoder.${LAST_CONV}.weight`, [IMAGE_CHANNELS, CHANNELS[3], 3, 3]);
  shapes.set(`decoder.${LAST_CONV}.bias`, [IMAGE_CHANNELS]);
  return shapes;
}

/** Names of the decoder's tensors (the same for every latent channel count). */
export const TAEHV_DECODER_TENSORS: readonly string[] = [...expectedShapes(16).keys()];

export interface TaehvDecodeOptions extends DecodeOptions {
  /** Latent frames decoded together; by default as many as keep each intermediate under 256 MiB. */
  chunkFrames?: number;
}

export interface TaehvLoadOptions {
  onProgress?: (loadedBytes: number, totalBytes: number) => void;
  signal?: AbortSignal;
}

export class TaehvDecoder implements VideoDecoder {
  readonly temporalScale = TEMPORAL_SCALE;
  readonly spatialScale = 2 ** STAGES.length;
  readonly latentChannels: number;
  private weights: Map<string, Tensor> | undefined;

  private constructor(weights: Map<string, Tensor>, latentChannels: number) {
    this.weights = weights;
    this.latentChannels = latentChannels;
  }

  /** Reads a taew2_1-style safetensors file (F16, F32 or BF16 weights; biases are widened to f32). */
  static async load(ctx: GpuContext, source: ByteSource, options: TaehvLoadOptions = {}): Promise<TaehvDecoder> {
    const checkpoint = await openCheckpointFile(source);
    const first = checkpoint.tensors.get(`decoder.${FIRST_CONV}.weight`);
    if (!first) throw new Error(`${source.name} is not a TAEHV checkpoint: it has no "decoder.${FIRST_CONV}.weight"`);
    const weights = await loadTensors(ctx, checkpoint, TAEHV_DECODER_TENSORS, {
      widenToF32: (_name, info) => info.shape.length === 1,
      onProgress: options.onProgress,
      signal: options.signal,
    });
    return TaehvDecoder.fromTensors(ctx, weights, source.name);
  }

  /**
   * A decoder over weights already on the GPU (keys as in the checkpoint). Takes ownership: the tensors
   * are released by `dispose`, or at once if they are not a TAEHV decoder.
   */
  static fromTensors(ctx: GpuContext, weights: Map<string, Tensor>, name = 'TAEHV weights'): TaehvDecoder {
    try {
      const firstName = `decoder.${FIRST_CONV}.weight`;
      const first = weights.get(firstName);
      if (!first) throw new Error(`${name}: no tensor "${firstName}"`);
      const latentChannels = first.shape[1];
      const lastShape = weights.get(`decoder.${LAST_CONV}.weight`)?.shape;
      if (lastShape && lastShape[0] !== IMAGE_CHANNELS) {
        throw new Error(`${name}: the last convolution gives ${lastShape[0]} channels, not 3: pixel-shuffled variants (taew2_2, taehv1_5) are not supported`);
      }
      for (const [key, shape] of expectedShapes(latentChannels)) {
        const t = weights.get(key);
        if (!t) throw new Error(`${name}: no tensor "${key}"`);
        if (shape.length === 1) expectDType(name, key, t, 'f32');
        else expectDType(name, key, t, 'f32', 'f16', 'bf16');
        const isTGrow = STAGES.some((st) => key === `decoder.${st.tGrow}.conv.weight`);
        const fits = t.shape.length === shape.length && t.shape.every((d, i) => (isTGrow && i === 0 ? d >= shape[0] && d % shape[1] === 0 : d === shape[i]));
        if (!fits) throw new Error(`${name}: "${key}" must have shape ${formatShape(shape)}, got ${formatShape(t.shape)}`);
      }
      for (const st of STAGES) trimTGrow(ctx, weights, `decoder.${st.tGrow}.conv.weight`, st.channels * st.stride);
      return new TaehvDecoder(weights, latentChannels);
    } catch (e) {
      for (const t of weights.values()) t.release();
      throw e;
    }
  }

  dispose(): void {
    for (const t of this.weights?.values() ?? []) t.release();
    this.weights = undefined;
  }

  /** The default latent frames per chunk for latents of h × w pixels. */
  chunkFramesFor(ctx: GpuContext, h: number, w: number): number {
    const budget = Math.min(DEFAULT_CHUNK_BUDGET_BYTES, ctx.bindingLimit, ctx.limits.maxBufferSize);
    return Math.max(1, Math.floor(budget / (LARGEST_BYTES_PER_LATENT_PIXEL * h * w)));
  }

  async decode(ctx: GpuContext, latents: Tensor, options: TaehvDecodeOptions = {}): Promise<Tensor> {
    const op = 'TAEHV decode';
    const signal = options.signal;
    signal?.throwIfAborted();
    this.weight(`decoder.${FIRST_CONV}.weight`); // throws once disposed
    expectDType(op, 'latents', latents, 'f32');
    expectRank(op, 'latents', latents, 4);
    const [T, C, h, w] = latents.shape;
    if (C !== this.latentChannels || T < 1 || h < 1 || w < 1) {
      throw new Error(`${op}: latents must be [T ≥ 1, ${this.latentChannels}, h, w], got ${formatShape(latents.shape)}`);
    }
    const H = h * this.spatialScale;
    const W = w * this.spatialScale;
    const frameCount = TEMPORAL_SCALE * T - FRAMES_TO_TRIM;
    const frameBytes = IMAGE_CHANNELS * H * W * 4;
    const perLatentFrame = LARGEST_BYTES_PER_LATENT_PIXEL * h * w;
    const limit = Math.min(ctx.bindingLimit, ctx.limits.maxBufferSize);
    if (perLatentFrame > limit) {
      const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
      throw new Error(`${op}: ${w}×${h} latents need ${mib(perLatentFrame)} buffers per latent frame; this GPU binds at most ${mib(limit)}`);
    }
    const chunk = options.chunkFrames ?? this.chunkFramesFor(ctx, h, w);
    if (!Number.isInteger(chunk) || chunk < 1) throw new Error(`${op}: chunkFrames must be a positive integer, got ${chunk}`);

    const frames = ctx.empty([frameCount, IMAGE_CHANNELS, H, W], 'f32', 'TAEHV frames');
    // Per MemBlock, the last frame of its input in the previous chunk.
    const memory = new Map<number, Tensor>();
    try {
      for (let t0 = 0; t0 < T; t0 += chunk) {
        signal?.throwIfAborted();
        const n = Math.min(chunk, T - t0);
        const part = n === T ? latents : sliceFrames(ctx, latents, t0, n);
        let rgb: Tensor;
        try {
          rgb = this.decodeChunk(ctx, part, memory, t0 + n < T);
        } finally {
          if (part !== latents) part.release();
        }
        // Raw frames [4·t0, 4·(t0 + n)) of which those before FRAMES_TO_TRIM are dropped.
        const firstRaw = Math.max(TEMPORAL_SCALE * t0, FRAMES_TO_TRIM);
        const kept = TEMPORAL_SCALE * (t0 + n) - firstRaw;
        ctx.copy(rgb, frames, kept * frameBytes, (firstRaw - TEMPORAL_SCALE * t0) * frameBytes, (firstRaw - FRAMES_TO_TRIM) * frameBytes);
        rgb.release();
        // Waiting per chunk makes an abort prompt and surfaces GPU errors near their chunk.
        if (t0 + n < T) await ctx.sync();
      }
    } catch (e) {
      frames.release();
      throw e;
    } finally {
      for (const t of memory.values()) t.release();
    }
    return frames;
  }

  private weight(name: string): Tensor {
    if (!this.weights) throw new Error('TAEHV decoder: used after dispose()');
    const t = this.weights.get(name);
    if (!t) throw new Error(`TAEHV decoder: no tensor "${name}"`);
    return t;
  }

  /** latents [n, C, h, w] → clamped RGB [4n, 3, 8h, 8w], every raw frame of the chunk. */
  private decodeChunk(ctx: GpuContext, latents: Tensor, memory: Map<number, Tensor>, carry: boolean): Tensor {
    const scope = new Scope();
    try {
      const clamped = scope.add(unary(ctx, 'tanh_clamp3', latents));
      let x = scope.add(
        conv2d(ctx, clamped, this.weight(`decoder.${FIRST_CONV}.weight`), {
          padding: 1,
          bias: this.weight(`decoder.${FIRST_CONV}.bias`),
          activation: 'relu',
          label: `taehv.${FIRST_CONV}`,
        }),
      );
      scope.release(clamped);
      for (const [s, st] of STAGES.entries()) {
        for (const b of st.memBlocks) x = this.memBlock(ctx, scope, b, x, memory, carry);
        // TGrow before the upsampling: a 1×1 convolution commutes with nearest-neighbour upsampling,
        // so this order gives the same values on a quarter of the pixels.
        const grown = scope.add(conv2d(ctx, x, this.weight(`decoder.${st.tGrow}.conv.weight`), { padding: 0, label: `taehv.${st.tGrow}` }));
        scope.release(x);
        const [n, , hh, ww] = grown.shape;
        const up = scope.add(upsampleNearest2x(ctx, grown.reshape([n * st.stride, st.channels, hh, ww])));
        scope.release(grown);
        x = scope.add(
          conv2d(ctx, up, this.weight(`decoder.${st.conv}.weight`), {
            padding: 1,
            activation: s === STAGES.length - 1 ? 'relu' : 'none',
            label: `taehv.${st.conv}`,
          }),
        );
        scope.release(up);
      }
      const rgb = conv2d(ctx, x, this.weight(`decoder.${LAST_CONV}.weight`), {
        padding: 1,
        bias: this.weight(`decoder.${LAST_CONV}.bias`),
        activation: 'clamp01',
        label: `taehv.${LAST_CONV}`,
      });
      scope.release(x);
      return rgb;
    } finally {
      scope.releaseAll();
    }
  }

  /** ReLU(conv(ReLU(conv(ReLU(conv(cat[x, past]))))) + x); consumes x. */
  private memBlock(ctx: GpuContext, scope: Scope, index: number, x: Tensor, memory: Map<number, Tensor>, carry: boolean): Tensor {
    const param = (i: number, what: string) => this.weight(`decoder.${index}.conv.${i}.${what}`);
    const past = memory.get(index);
    const a = scope.add(
      conv2d(ctx, x, param(0, 'weight'), {
        padding: 1,
        bias: param(0, 'bias'),
        activation: 'relu',
        concat: { previousFrame: true, first: past },
        label: `taehv.${index}.conv.0`,
      }),
    );
    if (past) {
      memory.delete(index);
      past.release();
    }
    if (carry) memory.set(index, sliceFrames(ctx, x, x.shape[0] - 1, 1));
    const b = scope.add(conv2d(ctx, a, param(2, 'weight'), { padding: 1, bias: param(2, 'bias'), activation: 'relu', label: `taehv.${index}.conv.2` }));
    scope.release(a);
    const out = scope.add(
      conv2d(ctx, b, param(4, 'weight'), { padding: 1, bias: param(4, 'bias'), residual: x, activation: 'relu', label: `taehv.${index}.conv.4` }),
    );
    scope.release(b);
    scope.release(x);
    return out;
  }
}


/** Frames [t0, t0 + n) of an f32 [T, ...] tensor, copied into a new tensor. */
function sliceFrames(ctx: GpuContext, t: Tensor, t0: number, n: number): Tensor {
  const [, ...rest] = t.shape;
  const frameBytes = (t.size / t.shape[0]) * 4;
  const out = ctx.empty([n, ...rest], 'f32', `${t.label} frames ${t0}..${t0 + n - 1}`);
  ctx.copy(t, out, n * frameBytes, t0 * frameBytes, 0);
  return out;
}

/**
 * taehv.py's `patch_tgrow_layers`: a TGrow weight with more rows than its stride needs keeps the last
 * ones (the last time step's output channels).
 */
function trimTGrow(ctx: GpuContext, weights: Map<string, Tensor>, key: string, rows: number): void {
  const t = weights.get(key)!;
  if (t.shape[0] === rows) return;
  const rowElements = t.size / t.shape[0];
  const bytesPerElement = t.dtype === 'f32' ? 4 : 2;
  const offset = (t.shape[0] - rows) * rowElements * bytesPerElement;
  const bytes = rows * rowElements * bytesPerElement;
  if (offset % 4 !== 0 || bytes % 4 !== 0) throw new Error(`TAEHV: cannot trim "${key}" ${formatShape(t.shape)} to ${rows} rows (odd 16-bit row size)`);
  const trimmed = ctx.keep(ctx.empty([rows, ...t.shape.slice(1)], t.dtype, key));
  ctx.copy(t, trimmed, bytes, offset, 0);
  t.release();
  weights.set(key, trimmed);
}
