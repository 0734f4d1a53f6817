// Up-front checks shared by the CLI, the demo and the component: everything about a request that can be
// known wrong before a byte reaches the GPU (sizes, option ranges, the memory a run would need against
// the adapter's and JavaScript's limits, the model folder's layout). Pure: no GPU, no file system.

import type { WanConfig } from '../model/config.ts';
import { planMemory } from '../model/plan.ts';
import type { ModelFolder } from '../weights/folder.ts';

/** What the run's scales demand of a video size. */
export interface SizeRules {
  /** Frames must be temporal·k + 1 (4 for Wan's VAE and TAEHV, 1 for a pixel-space model). */
  temporal: number;
  /** Height and width must be multiples of this (latent scale × patch). */
  multiple: number;
}

/** The nearest values (below and above, positive) of the form step·k + offset around `v`. */
function nearestValid(v: number, step: number, offset: number): number[] {
  const k = Math.floor((v - offset) / step);
  const candidates = [k * step + offset, (k + 1) * step + offset].filter((c) => c >= Math.max(1, offset || step));
  return [...new Set(candidates.length ? candidates : [step + offset])];
}

/** Throws a message naming every bad dimension and the nearest valid values. */
export function checkVideoSize(video: { frames: number; height: number; width: number }, rules: SizeRules): void {
  const problems: string[] = [];
  for (const name of ['frames', 'height', 'width'] as const) {
    const v = video[name];
    if (!Number.isInteger(v) || v <= 0) problems.push(`${name} must be a positive integer, got ${v}`);
  }
  if (problems.length) throw new Error(problems.join('; '));
  const frameStep = rules.temporal;
  if (frameStep > 1 && (video.frames - 1) % frameStep !== 0) {
    problems.push(`frames must be ${frameStep}k+1 for this model, got ${video.frames} (nearest: ${nearestValid(video.frames, frameStep, 1).join(' or ')})`);
  }
  for (const name of ['height', 'width'] as const) {
    const v = video[name];
    if (v % rules.multiple) problems.push(`${name} must be a multiple of ${rules.multiple} for this model, got ${v} (nearest: ${nearestValid(v, rules.multiple, 0).join(' or ')})`);
  }
  if (problems.length) throw new Error(problems.join('; '));
}

/** Adapter limits the plan is held against; WebGPU reports no memory size, so `memoryBytes` is optional. */
export interface DeviceLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  /** The device's memory, where the caller knows it (e.g. a user setting). */
  memoryBytes?: number;
}

/** Elements a typed array may hold in V8 (Node and Chromium on 64-bit): 2^32. */
export const MAX_TYPED_ARRAY_ELEMENTS = 2 ** 32;

const GiB = 2 ** 30;
export function formatGiB(bytes: number): string {
  const g = bytes / GiB;
  return g >= 100 ? `${g.toFixed(0)} GiB` : g >= 0.1 ? `${g.toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

export interface RunFootprint {
  /** Weights + peak activations + sampler state (planMemory's total), plus the decoded video. */
  totalBytes: number;
  /** The largest single GPU buffer the run allocates. */
  largestBufferBytes: number;
  /** The largest host typed array (the decoded video as f32). */
  largestHostElements: number;
}

/** What a run of this size would hold, from the config alone (nothing is allocated). */
export function runFootprint(
  cfg: WanConfig,
  video: { frames: number; height: number; width: number },
  scales: { temporal: number; spatial: number },
  textLen: number,
): RunFootprint {
  const plan = planMemory(cfg, video, { latentScale: scales, textLen });
  const videoElements = video.frames * 3 * video.height * video.width;
  const videoBytes = videoElements * 4;
  const latentBytes = plan.latents.reduce((a, b) => a * b, 1) * 4;
  return {
    totalBytes: plan.bytes.total + videoBytes,
    largestBufferBytes: Math.max(plan.largestTensorBytes, videoBytes, latentBytes),
    largestHostElements: Math.max(videoElements, latentBytes / 4),
  };
}

/** Throws "this needs N GiB, your adapter has M" when a run cannot fit the adapter or JavaScript. */
export function checkFootprint(footprint: RunFootprint, limits: DeviceLimits | undefined, what: string): void {
  const { totalBytes, largestBufferBytes, largestHostElements } = footprint;
  const needs = `${what} needs about ${formatGiB(totalBytes)} of GPU memory, with one buffer of ${formatGiB(largestBufferBytes)}`;
  const advice = 'use fewer frames or a smaller size';
  if (limits) {
    // A tensor over maxStorageBufferBindingSize is processed in segments; one over maxBufferSize cannot be made.
    if (largestBufferBytes > limits.maxBufferSize) {
      throw new Error(`${needs}; your adapter's largest buffer is ${formatGiB(limits.maxBufferSize)} (maxBufferSize ${limits.maxBufferSize}): ${advice}`);
    }
    if (limits.memoryBytes !== undefined && totalBytes > limits.memoryBytes) {
      throw new Error(`${needs}; your adapter has ${formatGiB(limits.memoryBytes)}: ${advice}`);
    }
  }
  if (largestHostElements > MAX_TYPED_ARRAY_ELEMENTS) {
    throw new Error(`${needs}; the video alone is ${largestHostElements} values, over JavaScript's typed array limit of 2^32 (${MAX_TYPED_ARRAY_ELEMENTS}): ${advice}`);
  }
}

/** Sampling options in range: steps 1…1000 (the schedulers' training timesteps), guidance ≥ 0, seed in [0, 2^53). */
export const MAX_STEPS = 1000;
export function checkSamplingOptions(o: { steps: number; guidance: number; seed: number }): void {
  if (!Number.isInteger(o.steps) || o.steps < 1 || o.steps > MAX_STEPS) throw new Error(`steps must be an integer from 1 to ${MAX_STEPS}, got ${o.steps}`);
  if (!Number.isFinite(o.guidance) || o.guidance < 0) throw new Error(`guidance must be a number ≥ 0 (1 turns classifier-free guidance off), got ${o.guidance}`);
  if (!Number.isSafeInteger(o.seed) || o.seed < 0) throw new Error(`seed must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}, got ${o.seed}`);
}

/** The files webdit reads from a model folder; model_index.json is optional. */
export const REQUIRED_MODEL_FILES = ['transformer/config.json', 'scheduler/scheduler_config.json'];

/**
 * Checks a folder's layout before any weight is read: lists every missing file, and says when the folder
 * holds nothing webdit knows (a wrong path) rather than naming the first file it happened to look for.
 */
export async function checkModelFolder(folder: ModelFolder): Promise<void> {
  const names = ['model_index.json', ...REQUIRED_MODEL_FILES];
  const present = await Promise.all(names.map(async (n) => (await folder.readText(n)) !== undefined));
  const missing = names.filter((n, i) => !present[i] && n !== 'model_index.json');
  if (!present.some(Boolean)) {
    throw new Error(`${folder.name} is not a model folder: it has none of ${names.join(', ')} (is the path right?)`);
  }
  if (missing.length) throw new Error(`${folder.name}: the model folder is missing ${missing.join(', ')}`);
}
