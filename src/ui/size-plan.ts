// The demo's sizes and their memory plan: the model's own size and the browser presets, each planned
// per stage (encode, sample, decode) for a Wan2.1 folder before anything allocates, against the GPU
// memory the user says the adapter has (WebGPU does not report it) and the adapter's buffer limit.

import type { CacheConfig } from '../cache/policies.ts';
import { formatGiB } from '../pipeline/preflight.ts';
import { PRESETS, planGeneration, type CachePlan, type GenerationPlan, type PlanOptions, type VideoSize, type WanFolderConfigs } from '../pipeline/memory-plan.ts';

export interface SizeChoice {
  key: string;
  label: string;
  size: VideoSize;
}

/** Share of the GPU's memory counted as usable (the browser, the desktop and the driver keep the rest). */
export const USABLE_FRACTION = 0.9;

export function sizeLabel(s: VideoSize): string {
  return `${s.width}×${s.height}, ${s.frames} frames`;
}

/** The model's own size (model_index.json's, else Wan2.1's), then the browser presets for latent-space Wan models. */
export function sizeChoices(own: VideoSize, withPresets: boolean): SizeChoice[] {
  const same = (a: VideoSize, b: VideoSize) => a.frames === b.frames && a.height === b.height && a.width === b.width;
  const choices: SizeChoice[] = [];
  const ownPreset = withPresets ? PRESETS.find((p) => same(p, own)) : undefined;
  if (!ownPreset) choices.push({ key: 'model', label: `the model's own (${sizeLabel(own)})`, size: { frames: own.frames, height: own.height, width: own.width } });
  if (withPresets) {
    for (const p of PRESETS) choices.push({ key: p.name, label: `${p.name} (${sizeLabel(p)})${p === ownPreset ? ", the model's own" : ''}`, size: { frames: p.frames, height: p.height, width: p.width } });
  }
  return choices;
}

/** The plan's cache column for a cache config: per-block reuse keeps every block's features. */
export function cachePlanOf(cache: CacheConfig): CachePlan {
  if (cache.policy === 'none') return 'none';
  return 'reuse' in cache && cache.reuse === 'block' ? 'blocks' : 'stack';
}

export interface AdapterBudget {
  /** The GPU memory the user gave, in bytes (the plan counts USABLE_FRACTION of it). */
  memoryBytes: number;
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export interface PlanCheck {
  /** Undefined when the size cannot be planned on this adapter at all (the refusal says why). */
  plan?: GenerationPlan;
  /** The size fits only with the transformer's weights freed for decoding (read again for the next run). */
  releaseTransformer?: boolean;
  usableBytes: number;
  /** Why this size cannot run on this adapter, naming the largest size that can; undefined when it fits. */
  refusal?: string;
}

/** The plan, or why this adapter cannot run the size (a limit the plan itself refuses, e.g. the VAE's binding pieces). */
function planOrWhy(configs: WanFolderConfigs, size: VideoSize, options: PlanOptions): { plan?: GenerationPlan; why?: string } {
  try {
    return { plan: planGeneration(configs, size, options) };
  } catch (e) {
    return { why: `cannot be planned on this adapter (${e instanceof Error ? e.message : String(e)})` };
  }
}

function problem(plan: GenerationPlan, budget: AdapterBudget): string | undefined {
  const usable = budget.memoryBytes * USABLE_FRACTION;
  if (plan.peakGpuBytes > usable) {
    const [stage] = (Object.entries(plan.stages) as [string, { gpuBytes: number }][]).reduce((a, b) => (b[1].gpuBytes > a[1].gpuBytes ? b : a));
    return `needs ${formatGiB(plan.peakGpuBytes)} of GPU memory at its largest stage (${stage}), more than the ${formatGiB(usable)} usable of ${formatGiB(budget.memoryBytes)}`;
  }
  if (plan.largestTensorBytes > budget.maxBufferSize) {
    return `needs one GPU buffer of ${formatGiB(plan.largestTensorBytes)}, more than this adapter's largest (maxBufferSize ${formatGiB(budget.maxBufferSize)})`;
  }
  return undefined;
}

/**
 * Plans `size` and, when it does not fit, says why and which of `choices` is the largest that fits. Where
 * `canRelease` (the model can read its transformer weights again) and keeping them is what does not fit,
 * the plan frees them for decoding instead.
 */
export function checkPlan(
  configs: WanFolderConfigs,
  size: VideoSize,
  budget: AdapterBudget,
  options: PlanOptions,
  choices: readonly SizeChoice[],
  canRelease = false,
): PlanCheck {
  const planOptions = { ...options, maxBindingBytes: budget.maxStorageBufferBindingSize };
  const usableBytes = budget.memoryBytes * USABLE_FRACTION;
  const attempt = (s: VideoSize, releaseTransformer: boolean) => {
    const { plan, why } = planOrWhy(configs, s, { ...planOptions, releaseTransformer });
    return { plan, releaseTransformer, why: why ?? problem(plan!, budget) };
  };
  const whyNot = (s: VideoSize) => {
    const kept = attempt(s, false);
    if (!kept.why || !canRelease) return kept;
    const released = attempt(s, true);
    return released.why ? kept : released;
  };
  const { plan, why, releaseTransformer } = whyNot(size);
  if (!why) return { plan, usableBytes, ...(releaseTransformer ? { releaseTransformer } : {}) };
  const pixels = (s: VideoSize) => s.frames * s.height * s.width;
  const largest = [...choices].sort((a, b) => pixels(b.size) - pixels(a.size)).find((c) => !whyNot(c.size).why);
  const advice = largest ? `the largest size that fits is ${largest.label}` : 'no size offered here fits: even the smallest needs more';
  return { plan, usableBytes, refusal: `${sizeLabel(size)} ${why}: ${advice}.` };
}

/** "encode 3.6 GiB · sample 5.4 GiB · decode 10.8 GiB" with the peak stage marked. */
export function formatStages(plan: GenerationPlan): string {
  return (Object.entries(plan.stages) as [string, { gpuBytes: number }][])
    .map(([name, s]) => `${name} ${formatGiB(s.gpuBytes)}${s.gpuBytes === plan.peakGpuBytes ? ' (peak)' : ''}`)
    .join(' · ');
}
