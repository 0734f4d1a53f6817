// The cache benchmark: every policy on the same seeds in one process, against the uncached run of the
// same seed. Speed is wall time of whole generations (runs interleaved, after a warm-up); quality is
// PSNR/SSIM of the decoded frames against `none`; the indicator's share of GPU time comes from one
// profiled run per policy (timestamp queries), when the adapter has them. Used by the CLI and bench.html.

import type { GpuContext } from '../gpu/context.ts';
import type { KernelTime } from '../gpu/profiler.ts';
import { INDICATOR_LABEL, type CacheStats } from '../cache/manager.ts';
import { cacheLabel, formatCacheSpec, parseCacheSpec, sweepPoints } from '../cache/spec.ts';
import type { CacheConfig } from '../cache/policies.ts';
import { psnr, ssim } from '../frames/metrics.ts';
import { withModelCalibration, type ModelBundle } from './bundle.ts';
import type { GenerateResult } from './generate.ts';
import { generateVideo, resolveRequest, type GenerateRequest } from './generate-video.ts';
import { createScheduler } from '../sampler/schedulers/index.ts';

/** The generation every policy runs (sizes, steps, guidance default to the model's), and the bench's own settings. */
export interface BenchSettings extends Pick<GenerateRequest, 'prompt' | 'negativePrompt' | 'frames' | 'height' | 'width' | 'steps' | 'guidance' | 'signal'> {
  seeds: number[];
  /** Timed runs per policy and seed (median kept); default 1. */
  repeats?: number;
  policies: string[];
  /** Profile one run per policy for the indicator's share of GPU time (needs timestamp-query). */
  profile?: boolean;
  onProgress?: (message: string) => void;
}

export interface PolicyResult {
  /** The full spec (TeaCache's coefficients included). */
  spec: string;
  /** A short label for tables and plots (see cacheLabel). */
  label: string;
  policy: CacheConfig['policy'];
  /** Set for a point of a sweep: the spec as written with its range, the option swept and its value here. */
  sweep?: { spec: string; option: string; value: number };
  /** Mean over the seeds of one generation's wall time (sampling + decoding; median of the repeats), seconds. */
  seconds: number;
  samplingSeconds: number;
  /** Median, over the rounds (every seed × repeat), of none's time / this policy's in the same round:
   * a ratio of neighbouring runs, so a slow spell of a shared machine cancels out. */
  speedup: number;
  /** The smallest and largest of those per-round ratios (how much the machine's noise moves them). */
  speedupRange: [number, number];
  /** Block computations done / those of the uncached run. */
  computedFraction: number;
  /** Most host read-backs between the first and the last denoising step of one run (each drains the queue; 0 expected). */
  hostReadbacks: number;
  /** Indicator kernels' share of the GPU time of a profiled run (null where not profiled). */
  indicatorShare: number | null;
  /** GPU time of the indicator kernels per generation (timestamp queries on those kernels only), ms. */
  indicatorMs: number | null;
  /** indicatorMs as a share of the generation's wall time. */
  indicatorTimeShare: number | null;
  /** Most extra GPU bytes the cache held; as a fraction of the model's weight bytes, and of the uncached run's peak GPU memory (weights and activations). */
  cacheBytes: number;
  cacheOverhead: number;
  cacheOverheadOfPeak: number;
  /** Most GPU tensor bytes alive at once during the run. */
  peakGpuBytes: number;
  /** Against none, same seed (mean over seeds; Infinity PSNR for identical frames). */
  psnr: number;
  ssim: number;
  perSeed: { seed: number; seconds: number; psnr: number; ssim: number; computedFraction: number }[];
  /** The cond branch's compute (1) / reuse (0) map, steps × blocks, of the first seed. */
  computeMap: number[][];
  /** The indicator each step decided on (first seed, cond branch). */
  indicator: (number | null)[];
}

export interface BenchReport {
  adapter: GpuContext['adapterInfo'];
  features: string[];
  model: { name: string; parameters: number; weightBytes: number; numLayers: number };
  /** What ran, every default filled in; promptText where the prompt was text. */
  settings: {
    promptText?: string;
    steps: number;
    seeds: number[];
    repeats?: number;
    policies: string[];
    frames: number;
    height: number;
    width: number;
    guidance: number;
    profile?: boolean;
  };
  policies: PolicyResult[];
  /** From the uncached computation: relative L1 of every block's output between adjacent steps [step][block]. */
  curve: { timesteps: number[]; relL1: (number | null)[][] };
  /** Per-kernel GPU time of the profiled uncached run, slowest first. */
  kernels: KernelTime[] | null;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

function computeMapOf(stats: CacheStats): number[][] {
  const cond = stats.branches.cond;
  if (!cond) return Array.from({ length: stats.steps }, () => new Array(stats.numLayers).fill(1));
  return cond.computed.map((row) => row.map((c) => (c ? 1 : 0)));
}

export async function runCacheBenchmark(ctx: GpuContext, bundle: ModelBundle, settings: BenchSettings): Promise<BenchReport> {
  // Sweeps expand to one point each (parsed here, so a bad spec fails before anything runs).
  const sweepOf = new Map<CacheConfig, PolicyResult['sweep']>();
  const configs: CacheConfig[] = settings.policies.flatMap((written) =>
    sweepPoints(written).map(({ spec, sweep }) => {
      const config = withModelCalibration(parseCacheSpec(spec), bundle);
      if (sweep) sweepOf.set(config, { spec: written, ...sweep });
      return config;
    }),
  );
  if (!configs.some((c) => c.policy === 'none')) configs.unshift({ policy: 'none' });
  if (settings.seeds.length === 0) throw new Error('bench: give at least one seed');
  const repeats = settings.repeats ?? 1;
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`bench: repeats must be a positive integer, got ${repeats}`);
  const say = settings.onProgress ?? (() => {});
  const { prompt, negativePrompt, frames, height, width, steps, guidance, signal } = settings;
  const generation = { prompt, negativePrompt, frames, height, width, steps, guidance, signal };
  // Checked whole (and the model's defaults filled in) before the first run.
  const resolved = resolveRequest(bundle, { ...generation, seed: settings.seeds[0] }).settings;
  const run = (cache: CacheConfig, seed: number, runSteps = resolved.steps) => generateVideo(ctx, bundle, { ...generation, steps: runSteps, seed, cache });

  say('warm-up (compiles every kernel)');
  for (const c of configs) await run(c, settings.seeds[0], Math.min(resolved.steps, 4));

  // Each (policy, seed) runs `repeats` times, interleaved so that a slow spell of a shared machine hits
  // every policy alike; its time is the median (frames are identical across repeats: same seed).
  const results = new Map<CacheConfig, GenerateResult[]>(configs.map((c) => [c, []]));
  const times = new Map<CacheConfig, { total: number[]; sampling: number[] }[]>(configs.map((c) => [c, settings.seeds.map(() => ({ total: [], sampling: [] }))]));
  for (let r = 0; r < repeats; r++) {
    for (const [i, seed] of settings.seeds.entries()) {
      for (const c of configs) {
        say(`seed ${seed}${repeats > 1 ? ` (repeat ${r + 1}/${repeats})` : ''}: ${formatCacheSpec(c)}`);
        const result = await run(c, seed);
        if (r === 0) results.get(c)!.push(result);
        times.get(c)![i].total.push(result.seconds);
        times.get(c)![i].sampling.push(result.samplingSeconds);
      }
    }
  }
  for (const c of configs) {
    results.get(c)!.forEach((res, i) => {
      res.seconds = median(times.get(c)![i].total);
      res.samplingSeconds = median(times.get(c)![i].sampling);
    });
  }

  // The curve: an uncached computation that also measures every block (δ = 0 never reuses).
  say('measuring the per-block relative L1 curve');
  const measured = await run(parseCacheSpec('bwcache:threshold=0,blocks=all,storage=f32'), settings.seeds[0]);
  const curve = measured.stats.branches.cond!.blockIndicator;

  let kernels: KernelTime[] | null = null;
  const share = new Map<CacheConfig, number>();
  if (settings.profile !== false && ctx.features.has('timestamp-query')) {
    for (const c of configs) {
      say(`profiling ${formatCacheSpec(c)}`);
      ctx.setProfiling(true);
      try {
        await run(c, settings.seeds[0]);
        const report = await ctx.profiler!.report();
        const total = report.reduce((s, k) => s + k.ms, 0);
        const indicator = report.filter((k) => k.label.startsWith(`${INDICATOR_LABEL}/`)).reduce((s, k) => s + k.ms, 0);
        share.set(c, total > 0 ? indicator / total : 0);
        if (c.policy === 'none') kernels = report;
      } finally {
        ctx.setProfiling(false);
      }
    }
  }

  const uncached = configs.find((c) => c.policy === 'none')!;
  const baseline = results.get(uncached)!;
  const baseTimes = times.get(uncached)!;
  const basePeak = Math.max(...baseline.map((r) => r.peakGpuBytes));
  const weightBytes = [...bundle.model.weights.values()].reduce((s, t) => s + t.byteLength, 0);
  const policies: PolicyResult[] = configs.map((c) => {
    const runs = results.get(c)!;
    const perSeed = runs.map((r, i) => ({
      seed: settings.seeds[i],
      seconds: r.seconds,
      psnr: psnr(r.frames, baseline[i].frames),
      ssim: ssim(r.frames, baseline[i].frames, r.shape),
      computedFraction: r.stats.computedFraction,
    }));
    const seconds = mean(runs.map((r) => r.seconds));
    const ratios = times.get(c)!.flatMap((t, i) => t.total.map((s, r) => baseTimes[i].total[r] / s));
    const cacheBytes = Math.max(...runs.map((r) => r.stats.peakCacheBytes));
    return {
      spec: formatCacheSpec(c),
      label: cacheLabel(c),
      policy: c.policy,
      ...(sweepOf.has(c) ? { sweep: sweepOf.get(c) } : {}),
      seconds,
      samplingSeconds: mean(runs.map((r) => r.samplingSeconds)),
      speedup: median(ratios),
      speedupRange: [Math.min(...ratios), Math.max(...ratios)],
      computedFraction: mean(runs.map((r) => r.stats.computedFraction)),
      hostReadbacks: Math.max(...runs.map((r) => r.hostReadbacks)),
      indicatorShare: share.get(c) ?? null,
      indicatorMs: runs.every((r) => r.stats.indicatorMs !== null) ? mean(runs.map((r) => r.stats.indicatorMs!)) : null,
      indicatorTimeShare: runs.every((r) => r.stats.indicatorMs !== null) ? mean(runs.map((r) => r.stats.indicatorMs! / (r.seconds * 1000))) : null,
      cacheBytes,
      cacheOverhead: cacheBytes / weightBytes,
      cacheOverheadOfPeak: cacheBytes / basePeak,
      peakGpuBytes: Math.max(...runs.map((r) => r.peakGpuBytes)),
      psnr: mean(perSeed.map((p) => p.psnr)),
      ssim: mean(perSeed.map((p) => p.ssim)),
      perSeed,
      computeMap: computeMapOf(runs[0].stats),
      indicator: runs[0].stats.branches.cond?.indicator ?? [],
    };
  });

  const { prompt: _p, negativePrompt: _n, onProgress: _o, signal: _s, ...plainSettings } = settings;
  const { cache: _c, seed: _seed, ...size } = resolved;
  return {
    adapter: ctx.adapterInfo,
    features: [...ctx.features].sort(),
    model: {
      name: bundle.name,
      parameters: [...bundle.model.weights.values()].reduce((s, t) => s + t.size, 0),
      weightBytes,
      numLayers: bundle.model.config.numLayers,
    },
    settings: { ...(typeof prompt === 'string' ? { promptText: prompt } : {}), ...plainSettings, ...size },
    policies,
    curve: { timesteps: scheduleTimesteps(bundle.scheduler, resolved.steps), relL1: curve },
    kernels,
  };
}

/** The scheduler's timesteps for a run, the curve's x axis. */
function scheduleTimesteps(config: object, steps: number): number[] {
  const s = createScheduler(config);
  s.setTimesteps(steps);
  return [...s.timesteps];
}
