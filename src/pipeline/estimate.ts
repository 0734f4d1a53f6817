// A time estimate for a generation before it runs: a short measurement on this adapter (one transformer
// block forward at two small token counts, a decode of two small latents), scaled to the requested size
// by arithmetic. Each is fitted as a fixed cost (dispatch and submission overhead, which dominates at
// small sizes) plus a cost per unit of work: the block's flops, split into linear parts (projections,
// FFN: ∝ tokens) and attention (∝ tokens²), and the decoder's output pixels. An estimate, not a promise.

import type { GpuContext } from '../gpu/context.ts';
import type { WanConfig } from '../model/config.ts';
import type { WanTransformer } from '../model/transformer.ts';
import type { Umt5Config } from '../model/umt5/config.ts';
import type { VideoDecoder } from '../decoder/decoder.ts';

/** Floating-point operations of one transformer block on `tokens` video tokens and `textTokens` text rows. */
export interface BlockFlops {
  /** Self-attention q, k, v, out; cross-attention q, out; the FFN's two matrices. */
  linear: number;
  /** Self-attention QKᵀ and PV over all tokens; cross-attention over the text rows. */
  attention: number;
}

export function blockFlops(cfg: Pick<WanConfig, 'dim' | 'ffnDim'>, tokens: number, textTokens: number): BlockFlops {
  const { dim, ffnDim } = cfg;
  return {
    linear: 2 * tokens * (6 * dim * dim + 2 * dim * ffnDim),
    attention: 4 * tokens * tokens * dim + 4 * tokens * textTokens * dim,
  };
}

/** Flops of umT5 on `tokens` tokens (all layers; attention projections and the gated FFN dominate). */
export function umt5Flops(cfg: Pick<Umt5Config, 'dModel' | 'dKv' | 'dFf' | 'numHeads' | 'numLayers'>, tokens: number): number {
  const inner = cfg.numHeads * cfg.dKv;
  const perToken = 2 * (4 * cfg.dModel * inner + 3 * cfg.dModel * cfg.dFf);
  return cfg.numLayers * (tokens * perToken + 4 * tokens * tokens * inner);
}

/** A timed run: `work` units (flops, pixels) took `seconds`. */
export interface Timing {
  work: number;
  seconds: number;
}

/** What was measured on this adapter. */
export interface Measurement {
  /** Block forwards: work = the block's flops at `tokens`. */
  block: (Timing & { tokens: number })[];
  /** Text rows the measured block attended to. */
  textTokens: number;
  /** Decodes: work = output pixels (frames × height × width). */
  decode: Timing[];
}

/** seconds = fixed + perUnit · work through the timings (least squares); one timing or a fit gone wrong: no fixed part. */
export function fitCost(timings: readonly Timing[]): { fixed: number; perUnit: number } {
  for (const t of timings) {
    if (!(t.work > 0) || !(t.seconds > 0) || !Number.isFinite(t.work) || !Number.isFinite(t.seconds)) {
      throw new Error(`estimate: a timing must have positive work and seconds, got ${JSON.stringify(t)}`);
    }
  }
  if (timings.length === 0) throw new Error('estimate: nothing was measured');
  const n = timings.length;
  const mx = timings.reduce((a, t) => a + t.work, 0) / n;
  const my = timings.reduce((a, t) => a + t.seconds, 0) / n;
  const sxx = timings.reduce((a, t) => a + (t.work - mx) ** 2, 0);
  const sxy = timings.reduce((a, t) => a + (t.work - mx) * (t.seconds - my), 0);
  const perUnit = sxx > 0 ? sxy / sxx : 0;
  const fixed = my - perUnit * mx;
  // Noise can make the larger run look no slower, or the line cross below zero: then scale the largest run.
  if (perUnit <= 0 || fixed < 0) {
    const largest = timings.reduce((a, b) => (b.work > a.work ? b : a));
    return { fixed: 0, perUnit: largest.seconds / largest.work };
  }
  return { fixed, perUnit };
}

export interface EstimateRequest {
  /** Video tokens per forward (latent frames × latent height × latent width / patch). */
  tokens: number;
  /** Text rows each branch attends to (the padded text length). */
  textTokens: number;
  steps: number;
  /** 2 with classifier-free guidance, else 1. */
  branches: number;
  /** frames × height × width of the output video. */
  pixels: number;
  /** umT5's config and the tokens it encodes (prompt + negative), for models that encode text with it. */
  textEncoder?: { config: Umt5Config; tokens: number };
}

export interface TimeEstimate {
  encodeSeconds: number;
  sampleSeconds: number;
  decodeSeconds: number;
  totalSeconds: number;
}

function positive(name: string, v: number): void {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`estimate: ${name} must be a positive number, got ${v}`);
}

/** Scales the measurement to the request: blocks × steps × branches at the request's tokens, decode by pixels. */
export function estimateTime(cfg: Pick<WanConfig, 'dim' | 'ffnDim' | 'numLayers'>, measured: Measurement, request: EstimateRequest): TimeEstimate {
  for (const name of ['tokens', 'steps', 'branches', 'pixels'] as const) positive(name, request[name]);
  const block = fitCost(measured.block);
  const decode = fitCost(measured.decode);
  const flops = blockFlops(cfg, request.tokens, request.textTokens);
  const perBlock = block.fixed + (flops.linear + flops.attention) * block.perUnit;
  const sampleSeconds = perBlock * cfg.numLayers * request.steps * request.branches;
  const decodeSeconds = decode.fixed + decode.perUnit * request.pixels;
  const text = request.textEncoder;
  // umT5's matrices run on the same kernels as the block's: its flops at the block's throughput.
  const encodeSeconds = text && text.tokens > 0 ? umt5Flops(text.config, text.tokens) * block.perUnit : 0;
  return { encodeSeconds, sampleSeconds, decodeSeconds, totalSeconds: encodeSeconds + sampleSeconds + decodeSeconds };
}

/** The video tokens of one forward at this size (as the sampler's latents are patched). */
export function videoTokens(cfg: Pick<WanConfig, 'patchSize'>, decoder: Pick<VideoDecoder, 'temporalScale' | 'spatialScale'>, video: { frames: number; height: number; width: number }): number {
  const [pt, ph, pw] = cfg.patchSize;
  const latentFrames = Math.floor((video.frames - 1) / decoder.temporalScale) + 1;
  const h = video.height / decoder.spatialScale;
  const w = video.width / decoder.spatialScale;
  return Math.ceil(latentFrames / pt) * Math.ceil(h / ph) * Math.ceil(w / pw);
}

/** Random values in [-1, 1) (the measurement needs finite inputs, not meaningful ones). */
function noise(n: number): Float32Array {
  const out = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (s * 16807) % 2147483647;
    out[i] = (2 * s) / 2147483647 - 1;
  }
  return out;
}

/** Seconds of one `run`, repeated until at least `minMs` have passed (at most 8 times). */
async function timed(run: () => Promise<void>, minMs: number): Promise<number> {
  let runs = 0;
  const start = performance.now();
  do {
    await run();
    runs++;
  } while (performance.now() - start < minMs && runs < 8);
  return (performance.now() - start) / 1000 / runs;
}

export interface MeasureOptions {
  /** Latent grid side of the smaller block measurement (tokens = (side/patch)²; the larger has twice the side); default 16. */
  latentSide?: number;
  /** Text rows the measured block attends to; default 32. */
  textTokens?: number;
  /** Latent side of the smaller decode (two latent frames; the larger has twice the side); default 4. */
  decodeSide?: number;
  /** Repeat each measurement until this many milliseconds have passed; default 100. */
  minMs?: number;
}

/** One block forward at a `side`² latent grid: its tokens and seconds (after a warm-up run that compiles the pipelines). */
async function timeBlock(ctx: GpuContext, model: WanTransformer, side: number, textTokens: number, minMs: number): Promise<Timing & { tokens: number }> {
  const cfg = model.config;
  const latents = ctx.upload(noise(cfg.inChannels * side * side), [cfg.inChannels, 1, side, side], 'f32', 'estimate latents');
  const text = model.encodeText(noise(textTokens * cfg.textDim), textTokens, textTokens);
  const { hidden, step } = model.embed(latents, 500);
  latents.release();
  const tokens = hidden.shape[0];
  try {
    const run = async () => {
      model.runBlock(0, hidden, step, text).release();
      await ctx.sync();
    };
    await run(); // compiles, and makes the cross-attention keys and values
    const seconds = await timed(run, minMs);
    const flops = blockFlops(cfg, tokens, textTokens);
    return { tokens, work: flops.linear + flops.attention, seconds };
  } finally {
    hidden.release();
    model.releaseStep(step);
    text.dispose();
  }
}

/** One decode of two latent frames of `side`²: its output pixels and seconds. */
async function timeDecode(ctx: GpuContext, decoder: VideoDecoder, side: number, minMs: number, warm: boolean): Promise<Timing> {
  const latents = ctx.upload(noise(2 * decoder.latentChannels * side * side), [2, decoder.latentChannels, side, side], 'f32', 'estimate decoder latents');
  let pixels = 0;
  try {
    const run = async () => {
      const frames = await decoder.decode(ctx, latents);
      const [f, , h, w] = frames.shape;
      pixels = f * h * w;
      frames.release();
      await ctx.sync();
    };
    if (warm) await run();
    const seconds = await timed(run, minMs);
    return { work: pixels, seconds };
  } finally {
    latents.release();
  }
}

/**
 * Times one transformer block forward at two token counts and two small decodes on this adapter (a
 * second or two on a GPU; pipelines compile in a warm-up run first). Every tensor it makes is released
 * but the model's RoPE tables for the measured grids (cached across runs).
 */
export async function measureAdapter(ctx: GpuContext, model: WanTransformer, decoder: VideoDecoder, options: MeasureOptions = {}): Promise<Measurement> {
  const side = options.latentSide ?? 16;
  const textTokens = options.textTokens ?? 32;
  const decodeSide = options.decodeSide ?? 4;
  const minMs = options.minMs ?? 100;
  const block = [await timeBlock(ctx, model, side, textTokens, minMs), await timeBlock(ctx, model, 2 * side, textTokens, minMs)];
  const decode = [await timeDecode(ctx, decoder, decodeSide, minMs, true), await timeDecode(ctx, decoder, 2 * decodeSide, minMs, false)];
  return { block, textTokens, decode };
}
