// Memory plan of one umT5 encode, from the config alone: the GPU buffers the streamed encoder
// (encoder.ts) holds at its worst moment, counted tensor by tensor in the pool's size classes, and the
// host buffers it needs beside the runtime itself.

import { bucketBytes } from '../../gpu/context.ts';
import { storageBytes, type DType } from '../../gpu/tensor.ts';
import { DEFAULT_CHUNK_BYTES } from '../../weights/checkpoint.ts';
import type { Umt5Config } from './config.ts';

export interface Umt5MemoryPlan {
  /** Tokens computed (all prompts together) and the longest prompt. */
  tokens: number;
  longest: number;
  weightDType: 'f32' | 'f16' | 'bf16';
  bytes: {
    /** Weights of one layer's attention half (norm, q, k, v, o) and FFN half (norm, wi_0, wi_1, wo), as held on the GPU. */
    attentionWeights: number;
    ffnWeights: number;
    /** The most GPU memory at once: the larger half with its activations (what `encode` measures as peakGpuBytes). */
    gpuPeak: number;
    /** Host buffers: one read chunk, the embedding rows, the read-back output and the padded embeddings written out. */
    hostPeak: number;
    /** All the weights, as stored: what a resident (not streamed) encoder would hold. */
    allWeights: number;
  };
}

export function planUmt5Memory(
  cfg: Umt5Config,
  prompts: { lengths: number[]; weightDType?: 'f32' | 'f16' | 'bf16'; textLength?: number; chunkBytes?: number },
): Umt5MemoryPlan {
  const { lengths } = prompts;
  if (lengths.length === 0 || lengths.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`prompt lengths must be positive integers, got [${lengths.join(', ')}]`);
  const weightDType = prompts.weightDType ?? 'f16';
  const textLength = prompts.textLength ?? 512;
  const T = lengths.reduce((a, b) => a + b, 0);
  const longest = Math.max(...lengths);
  const { dModel: D, dFf: F, numHeads: H } = cfg;
  const inner = H * cfg.dKv;
  const gpu = (count: number, dtype: DType = 'f32') => bucketBytes(storageBytes(count, dtype));
  const norm = gpu(D);
  const attentionWeights = norm + 3 * gpu(inner * D, weightDType) + gpu(D * inner, weightDType);
  const ffnWeights = norm + 2 * gpu(F * D, weightDType) + gpu(D * F, weightDType);
  const state = gpu(T * D); // x, and each norm output and residual sum
  const tokens = gpu(2 * T, 'u32');
  // x, the position bias, h, q, k, v, the attended values and x + o(…).
  const attentionHalf = attentionWeights + tokens + gpu(H * (2 * longest - 1)) + 3 * state + 4 * gpu(T * inner);
  // x, h, gelu(wi_0·h), wi_1·h, their product and x + wo(…).
  const ffnHalf = ffnWeights + tokens + 3 * state + 3 * gpu(T * F);
  const bytesOf = { f32: 4, f16: 2, bf16: 2 }[weightDType];
  const layerParams = 4 * inner * D + 3 * F * D;
  const allWeights = cfg.vocabSize * D * bytesOf + cfg.numLayers * (layerParams * bytesOf + 2 * D * bytesOf + cfg.numBuckets * H * bytesOf) + D * bytesOf;
  const hostPeak = (prompts.chunkBytes ?? DEFAULT_CHUNK_BYTES) + 2 * T * D * 4 + 2 * lengths.length * textLength * D * 4;
  return {
    tokens: T,
    longest,
    weightDType,
    bytes: { attentionWeights, ffnWeights, gpuPeak: Math.max(attentionHalf, ffnHalf), hostPeak, allWeights },
  };
}
