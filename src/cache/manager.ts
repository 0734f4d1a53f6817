// The cache manager: wraps the model's block stack (through the `runBlocks` hook of forward), keeps one
// `CacheRuntime` per generation (stored features and residuals per CFG branch, the decision buffers) and
// hands each branch's step to the policy's hook (src/cache/policies/). Every decision is made by a kernel
// on the GPU and both paths of a step are recorded under its flags, so sampling never reads back; the
// records (computed blocks, indicators) and the indicator sums are read once, by `stats()`.

import type { GpuContext } from '../gpu/context.ts';
import type { KernelProfiler } from '../gpu/profiler.ts';
import { defaultBlockStack, type BlockStackRunner } from '../model/transformer.ts';
import type { CacheConfig } from './policies.ts';
import { cachePolicy, validateCacheConfig } from './policies/index.ts';
import type { CacheHook, ModulatedInputSource } from './policies/types.ts';
import { BRANCHES, CacheRuntime, INDICATOR_LABEL, recordWords, type Branch } from './runtime.ts';

export { BRANCHES, INDICATOR_LABEL, type Branch };

/** What the manager needs of a model: its depth, and block 0's modulated input (TeaCache). */
export interface CachedModel extends ModulatedInputSource {
  readonly config: { numLayers: number };
}

export interface BranchStats {
  /** computed[step][block]: true where the block ran, false where its features were reused. */
  computed: boolean[][];
  /** The indicator value the policy decided on at each step (null where none was measured). */
  indicator: (number | null)[];
  /** Relative L1 of each block's features against its previous computed step (null: not measured). */
  blockIndicator: (number | null)[][];
}

export interface CacheStats {
  policy: CacheConfig['policy'];
  steps: number;
  numLayers: number;
  branches: Partial<Record<Branch, BranchStats>>;
  /** Block computations done / block computations an uncached run does. */
  computedFraction: number;
  /** Most GPU bytes the cache held at once (features, residuals, decision buffers). */
  peakCacheBytes: number;
  /** GPU time of the indicator kernels (reductions, casts, decisions), from timestamp queries; null without them. */
  indicatorMs: number | null;
  /** Branches whose f16 feature storage overflowed (non-finite or past ±65504): from then on they computed every step. */
  storageOverflow: Branch[];
}

export class CacheManager {
  private readonly numLayers: number;
  private readonly rt: CacheRuntime | undefined;
  private readonly hook: CacheHook | undefined;
  private readonly timer: KernelProfiler | undefined;
  private peakBytes = 0;
  private finished = false;

  constructor(
    readonly ctx: GpuContext,
    readonly model: CachedModel,
    readonly config: CacheConfig,
    readonly steps: number,
  ) {
    this.numLayers = model.config.numLayers;
    // Everything is checked before any GPU work (and before the timer scope opens).
    validateCacheConfig(config, { steps, numLayers: this.numLayers });
    if (config.policy === 'none') return;
    const policy = cachePolicy(config);
    const indicator = new Set(policy.indicatorBlocks(config, this.numLayers));
    this.rt = new CacheRuntime(ctx, steps, this.numLayers, config.storage, indicator, model);
    this.hook = policy.create(config, this.rt);
    if (config.policy !== 'static') this.timer = ctx.timeScope(INDICATOR_LABEL);
  }

  /** The hook for `model.forward(…, { runBlocks })` at sampling step `step` of branch `branch`. */
  runner(branch: Branch, step: number): BlockStackRunner {
    if (step < 0 || step >= this.steps) throw new Error(`cache: step ${step} outside 0..${this.steps - 1}`);
    const { rt, hook } = this;
    if (!rt || !hook) return defaultBlockStack(this.numLayers);
    return (hidden, runBlock, stepState) => {
      const b = rt.branch(branch, hidden);
      this.model.prepareStep?.(stepState);
      const out = hook.recordStep({ b, step, hidden, runBlock, stepState });
      this.peakBytes = Math.max(this.peakBytes, rt.bytes());
      return out;
    };
  }

  /** Reads the records, sums and overflow flags once (after sampling), and returns the run's statistics. */
  async stats(): Promise<CacheStats> {
    const { rt } = this;
    const branches: CacheStats['branches'] = {};
    const storageOverflow: Branch[] = [];
    let computed = 0;
    let total = 0;
    if (rt) {
      if (!this.finished) this.hook?.finish?.();
      this.finished = true;
      const record = new Uint32Array(await this.ctx.readRaw(rt.record));
      const sums = await this.ctx.read(rt.sums);
      const overflow = new Uint32Array(await this.ctx.readRaw(rt.overflow));
      const words = recordWords(this.numLayers);
      const f32 = new Float32Array(record.buffer, record.byteOffset, record.length);
      for (const [name, b] of rt.branches) {
        if (overflow[b.index]) storageOverflow.push(name);
        const stats: BranchStats = { computed: [], indicator: [], blockIndicator: [] };
        for (let step = 0; step < this.steps; step++) {
          const at = (b.index * this.steps + step) * words;
          stats.indicator.push(record[at] ? f32[at + 1] : null);
          stats.computed.push(Array.from({ length: this.numLayers }, (_, i) => record[at + 2 + i] !== 0));
          stats.blockIndicator.push(
            Array.from({ length: this.numLayers }, (_, i) => {
              const slot = (b.index * this.steps + step) * this.numLayers + i;
              const den = sums[2 * slot + 1];
              return den > 0 ? sums[2 * slot] / den : null;
            }),
          );
        }
        for (const row of stats.computed) for (const c of row) (computed += c ? 1 : 0), total++;
        branches[name] = stats;
      }
    }
    let indicatorMs: number | null = null;
    if (this.timer) {
      this.ctx.flush('indicator timing');
      indicatorMs = (await this.timer.report()).reduce((s, k) => s + k.ms, 0);
    } else if (this.config.policy === 'none' || this.config.policy === 'static') indicatorMs = 0;
    return {
      policy: this.config.policy,
      steps: this.steps,
      numLayers: this.numLayers,
      branches,
      computedFraction: total ? computed / total : 1,
      peakCacheBytes: this.peakBytes,
      indicatorMs,
      storageOverflow,
    };
  }

  /** Frees every cache buffer (features, residuals, decision buffers). */
  dispose(): void {
    this.hook?.dispose?.();
    this.rt?.dispose();
    if (this.timer) this.ctx.endTimeScope(INDICATOR_LABEL);
  }
}
