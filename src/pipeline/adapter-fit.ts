// Can this adapter run this Wan2.1 generation? Decided from the folder's configs and the adapter's limits
// before any weight is read: the kernels' minimum limits, each stage's largest buffer against
// maxBufferSize (tensors over maxStorageBufferBindingSize are split into segments, buffers are not), the
// Wan VAE's spatial pieces against the binding limit, and the plan's per-stage peak against a memory
// budget (WebGPU reports no memory size: the caller gives one). The refusal names every shortfall, by
// how much, and the largest preset that fits.

import { MINIMUM_LIMITS } from '../gpu/device.ts';
import { PRESETS, planGeneration, type GenerationPlan, type PlanOptions, type Preset, type VideoSize, type WanFolderConfigs } from './memory-plan.ts';

/** The adapter limits a run depends on (a GPUSupportedLimits has them all). */
export interface AdapterLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxStorageBuffersPerShaderStage: number;
}

export interface AdapterCapacity {
  limits: AdapterLimits;
  /** GPU memory the run may use, where the caller knows it (a setting; e.g. 90% of the GPU's). */
  memoryBytes?: number;
}

export interface Shortfall {
  /** The limit or budget that is short. */
  limit: string;
  have: number;
  need: number;
  /** What needs it, in words. */
  what: string;
  /** Bytes (formatted as GiB/MiB) or a plain count. */
  unit: 'bytes' | 'count';
}

export class AdapterTooSmallError extends Error {
  override name = 'AdapterTooSmallError';
  constructor(
    message: string,
    readonly shortfalls: Shortfall[],
    readonly largestFittingPreset: Preset | undefined,
  ) {
    super(message);
  }
}

/** Everything this adapter lacks for this size (empty when it fits), and the plan where one could be made. */
export function adapterShortfalls(
  configs: WanFolderConfigs,
  video: VideoSize,
  capacity: AdapterCapacity,
  options: PlanOptions = {},
): { shortfalls: Shortfall[]; plan: GenerationPlan | undefined } {
  const { limits } = capacity;
  const shortfalls: Shortfall[] = [];
  for (const [name, need] of Object.entries(MINIMUM_LIMITS)) {
    const have = limits[name as keyof typeof MINIMUM_LIMITS];
    if (have < need) shortfalls.push({ limit: name, have, need, what: "webdit's kernels", unit: name.endsWith('Size') ? 'bytes' : 'count' });
  }
  let plan: GenerationPlan | undefined;
  // The Wan VAE sizes its spatial pieces to the smaller of the two (wan-vae.ts): one latent pixel with its halos must fit.
  const pieceLimit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  try {
    plan = planGeneration(configs, video, { ...options, maxBindingBytes: pieceLimit });
  } catch (e) {
    if (!(e instanceof Error) || !e.message.startsWith('Wan VAE:')) throw e;
    const limit = limits.maxBufferSize < limits.maxStorageBufferBindingSize ? 'maxBufferSize' : 'maxStorageBufferBindingSize';
    shortfalls.push({ limit, have: pieceLimit, need: Number.NaN, what: e.message, unit: 'bytes' });
  }
  // The other stages' buffers, whatever the VAE's pieces (unbounded pieces never change them).
  const buffers = (plan ?? planGeneration(configs, video, { ...options, maxBindingBytes: Number.MAX_SAFE_INTEGER })).largestBuffers;
  const stages = (Object.entries(buffers) as [string, { bytes: number; what: string }][]).filter(([stage]) => plan || stage !== 'decode');
  const [stage, buffer] = stages.reduce((a, b) => (b[1].bytes > a[1].bytes ? b : a));
  if (buffer.bytes > limits.maxBufferSize) {
    shortfalls.push({ limit: 'maxBufferSize', have: limits.maxBufferSize, need: buffer.bytes, what: `${buffer.what} (${stage} stage)`, unit: 'bytes' });
  }
  if (plan && capacity.memoryBytes !== undefined && plan.peakGpuBytes > capacity.memoryBytes) {
    const [peakStage] = (Object.entries(plan.stages) as [string, { gpuBytes: number }][]).reduce((a, b) => (b[1].gpuBytes > a[1].gpuBytes ? b : a));
    shortfalls.push({ limit: 'GPU memory budget', have: capacity.memoryBytes, need: plan.peakGpuBytes, what: `the ${peakStage} stage${options.releaseTransformer ? " (even with the transformer's weights released for decoding)" : ''}`, unit: 'bytes' });
  }
  return { shortfalls, plan };
}

/** The largest preset this adapter runs, or undefined. */
export function largestPresetForAdapter(configs: WanFolderConfigs, capacity: AdapterCapacity, options: PlanOptions = {}): Preset | undefined {
  return PRESETS.find((p) => adapterShortfalls(configs, p, capacity, options).shortfalls.length === 0);
}

function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 100 * 1024) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${Math.round(n)} bytes`;
}

function describe(s: Shortfall): string {
  if (Number.isNaN(s.need)) return `${s.limit} is ${formatBytes(s.have)}: ${s.what}`;
  const amount = (n: number) => (s.unit === 'bytes' ? formatBytes(n) : String(n));
  return `${s.limit} is ${amount(s.have)}, ${s.what} needs ${amount(s.need)} (${amount(s.need - s.have)} short)`;
}

/** The plan of a run this adapter can take; otherwise throws an AdapterTooSmallError saying what is short, by how much, and which preset fits. */
export function checkAdapterFits(configs: WanFolderConfigs, video: VideoSize, capacity: AdapterCapacity, options: PlanOptions = {}): GenerationPlan {
  const { shortfalls, plan } = adapterShortfalls(configs, video, capacity, options);
  if (plan && shortfalls.length === 0) return plan;
  const kernelsShort = shortfalls.some((s) => s.what === "webdit's kernels");
  const preset = kernelsShort ? undefined : largestPresetForAdapter(configs, capacity, options);
  const advice = kernelsShort
    ? 'no size runs on it: use another GPU or browser'
    : preset
      ? `the largest preset that fits is ${preset.name} (${preset.width}×${preset.height}×${preset.frames})`
      : 'no preset fits it, not even the smallest';
  const { width, height, frames } = video;
  throw new AdapterTooSmallError(`this GPU adapter cannot run ${width}×${height}×${frames}: ${shortfalls.map(describe).join('; ')}. ${advice[0].toUpperCase()}${advice.slice(1)}.`, shortfalls, preset);
}
