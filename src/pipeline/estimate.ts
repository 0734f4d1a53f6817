// A time estimate for a generation before it runs: one short measurement on this adapter (one
// transformer block forward at a small token count, one decode of a small latent), scaled to the
// requested size by arithmetic. The block's cost splits into linear parts (projections, FFN: ∝ tokens)
// and attention (∝ tokens²); both are converted to seconds with the throughput the measured block
// reached. An estimate, not a promise: kernels run faster at large sizes than at the measured one.

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

/** What was measured on this adapter. */
export interface Measurement {
  /** One block forward at `blockTokens` tokens with `textTokens` text rows. */
  blockSeconds: number;
  blockTokens: number;
  textTokens: number;
  /** One decode producing `decodePixels` output pixels (frames × height × width). */
  decodeSeconds: number;
  decodePixels: number;
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
  for (const name of ['blockSeconds', 'blockTokens', 'decodeSeconds', 'decodePixels'] as const) positive(name, measured[name]);
  for (const name of ['tokens', 'steps', 'branches', 'pixels'] as const) positive(name, request[name]);
  const at = blockFlops(cfg, measured.blockTokens, measured.textTokens);
  const secondsPerFlop = measured.blockSeconds / (at.linear + at.attention);
  const block = blockFlops(cfg, request.tokens, request.textTokens);
  const sampleSeconds = (block.linear + block.attention) * secondsPerFlop * cfg.numLayers * request.steps * request.branches;
  const decodeSeconds = (measured.decodeSeconds * request.pixels) / measured.decodePixels;
  const text = request.textEncoder;
  const encodeSeconds = text && text.tokens > 0 ? umt5Flops(text.config, text.tokens) * secondsPerFlop : 0;
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

/** Seconds of `run` once warmed up (the first call compiles its pipelines), repeated until ≥ minMs. */
async function timed(ctx: GpuContext, run: () => Promise<void>, minMs: number): Promise<number> {
  await run();
  let runs = 0;
  const start = performance.now();
  do {
    await run();
    runs++;
  } while (performance.now() - start < minMs && runs < 8);
  return (performance.now() - start) / 1000 / runs;
}

export interface MeasureOptions {
  /** Latent grid side of the block measurement (tokens = (side/patch)²); default 16. */
  latentSide?: number;
  /** Text rows the measured block attends to; default 32. */
  textTokens?: number;
  /** Latent side of the decode measurement (one latent frame); default 4. */
  decodeSide?: number;
  /** Keep repeating each measurement until this many milliseconds have passed; default 100. */
  minMs?: number;
}

/**
 * Times one transformer block forward and one small decode on this adapter (a second or two on a GPU;
 * pipelines compile in a warm-up run first). Every tensor it makes is released.
 */
export async function measureAdapter(ctx: GpuContext, model: WanTransformer, decoder: VideoDecoder, options: MeasureOptions = {}): Promise<Measurement> {
  const side = options.latentSide ?? 16;
  const textTokens = options.textTokens ?? 32;
  const decodeSide = options.decodeSide ?? 4;
  const minMs = options.minMs ?? 100;
  const cfg = model.config;
  const latents = ctx.upload(noise(cfg.inChannels * side * side), [cfg.inChannels, 1, side, side], 'f32', 'estimate latents');
  const text = model.encodeText(noise(textTokens * cfg.textDim), textTokens, textTokens);
  const { hidden, step } = model.embed(latents, 500);
  latents.release();
  const blockTokens = hidden.shape[0];
  let blockSeconds: number;
  try {
    blockSeconds = await timed(ctx, async () => {
      model.runBlock(0, hidden, step, text).release();
      await ctx.sync();
    }, minMs);
  } finally {
    hidden.release();
    model.releaseStep(step);
    text.dispose();
  }

  const small = ctx.upload(noise(decoder.latentChannels * decodeSide * decodeSide), [1, decoder.latentChannels, decodeSide, decodeSide], 'f32', 'estimate decoder latents');
  let decodePixels = 0;
  let decodeSeconds: number;
  try {
    decodeSeconds = await timed(ctx, async () => {
      const frames = await decoder.decode(ctx, small);
      const [f, , h, w] = frames.shape;
      decodePixels = f * h * w;
      frames.release();
      await ctx.sync();
    }, minMs);
  } finally {
    small.release();
  }
  return { blockSeconds, blockTokens, textTokens, decodeSeconds, decodePixels };
}
