// Memory plan of a generation, computed from the config alone (nothing is allocated): what the weights,
// the peak activations of one forward pass, attention and a per-block feature cache would take.

import { expectedTensors, type WanConfig } from './config.ts';

export interface LatentScale {
  temporal: number;
  spatial: number;
}

/** Wan's VAE (and TAEHV): 4× in time, 8× in space; a pixel-space model: 1 and 1. */
export function defaultLatentScale(cfg: WanConfig): LatentScale {
  return cfg.inChannels === 16 ? { temporal: 4, spatial: 8 } : { temporal: 1, spatial: 1 };
}

export interface MemoryPlan {
  video: { frames: number; height: number; width: number };
  latents: [number, number, number, number];
  tokens: number;
  textLen: number;
  weightDType: 'f16' | 'f32';
  bytes: {
    weights: number;
    /** Live tensors at the worst moment of one forward pass (the FFN), f32, plus the text state. */
    peakActivations: number;
    /** q, k, v and the output of one attention; flash attention keeps no L×L matrix. */
    attentionScratch: number;
    /** What a naive attention would allocate for one head's L×L scores (not used by webdit). */
    naiveScoresPerHead: number;
    /** f16 features of every block for both CFG branches (BWCache with per-block reuse). */
    blockFeatureCache: number;
    /** One f16 stack residual per CFG branch (BWCache's stack reuse, TeaCache, First Block Cache). */
    stackResidualCache: number;
    /** Sampler state: latents, two model outputs (CFG), scheduler history. */
    sampler: number;
    total: number;
  };
  /** The largest single tensor: it must fit in one storage binding. */
  largestTensorBytes: number;
}

export function planMemory(
  cfg: WanConfig,
  video: { frames: number; height: number; width: number },
  options: { weightDType?: 'f16' | 'f32'; textLen?: number; latentScale?: LatentScale } = {},
): MemoryPlan {
  const scale = options.latentScale ?? defaultLatentScale(cfg);
  const weightDType = options.weightDType ?? 'f16';
  const textLen = options.textLen ?? 512;
  const [pt, ph, pw] = cfg.patchSize;
  const { frames, height, width } = video;
  if ((frames - 1) % scale.temporal !== 0) throw new Error(`frames must be ${scale.temporal}k+1, got ${frames}`);
  const lf = (frames - 1) / scale.temporal + 1;
  const lh = height / scale.spatial;
  const lw = width / scale.spatial;
  if (!Number.isInteger(lh) || !Number.isInteger(lw) || lh % ph || lw % pw || lf % pt) {
    throw new Error(`size ${width}×${height}×${frames} does not divide into ${pt}×${ph}×${pw} patches of the ${scale.spatial}× latent grid`);
  }
  const L = (lf / pt) * (lh / ph) * (lw / pw);
  const f32 = 4;
  let weights = 0;
  for (const [name, shape] of expectedTensors(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const matmulWeight = name.endsWith('.weight') && shape.length >= 2;
    weights += n * (matmulWeight && weightDType === 'f16' ? 2 : 4);
  }
  const { dim, ffnDim, numLayers } = cfg;
  const tokenRow = L * dim * f32;
  // During the FFN: block input, post-attention state, modulated input, FFN hidden, block output.
  const ffnPeak = 4 * tokenRow + L * ffnDim * f32;
  // During self-attention: block input, q, k, v, attention output.
  const attnPeak = 5 * tokenRow;
  // Both CFG prompts: context rows and every block's cross-attention keys and values.
  const textState = 2 * textLen * dim * f32 * (1 + 2 * numLayers);
  const peakActivations = Math.max(ffnPeak, attnPeak) + textState;
  const latentBytes = cfg.inChannels * lf * lh * lw * f32;
  const bytes = {
    weights,
    peakActivations,
    attentionScratch: 4 * tokenRow,
    naiveScoresPerHead: L * L * f32,
    blockFeatureCache: 2 * numLayers * L * dim * 2,
    stackResidualCache: 2 * L * dim * 2,
    sampler: 5 * latentBytes,
    total: 0,
  };
  bytes.total = bytes.weights + bytes.peakActivations + bytes.sampler;
  return {
    video,
    latents: [cfg.inChannels, lf, lh, lw],
    tokens: L,
    textLen,
    weightDType,
    bytes,
    largestTensorBytes: Math.max(L * ffnDim * f32, tokenRow),
  };
}
