// The cache manager: wraps the model's block stack (through the `runBlocks` hook of forward) and, per
// CFG branch, keeps block features and residuals in GPU buffers (f16 or f32), measures the similarity
// indicator with GPU reductions, and asks the policy's schedule whether to compute or reuse.
// At most one small read-back per step: the indicators' means (and bitmasks of the blocks under δ) of
// every branch computed at the previous step, read together when the next step needs them, so BWCache
// never stalls the GPU mid-step; once its periodic pattern is fixed it reads nothing until the run ends
// (First Block Cache and TeaCache decide inside the step, so they read then).

import type { GpuContext } from '../gpu/context.ts';
import type { KernelProfiler } from '../gpu/profiler.ts';
import type { Tensor } from '../gpu/tensor.ts';
import { cast } from '../gpu/kernels/cast.ts';
import { add } from '../gpu/kernels/add.ts';
import { linearCombination } from '../gpu/kernels/linear-combination.ts';
import { relativeL1 } from '../gpu/kernels/reduce.ts';
import { defaultBlockStack, type BlockStackRunner, type StepState } from '../model/transformer.ts';
import {
  BwCacheSchedule,
  JointBwCacheSchedule,
  FirstBlockSchedule,
  StaticSchedule,
  TeaCacheSchedule,
  selectedBlocks,
  type CacheConfig,
} from './policies.ts';

export type Branch = 'cond' | 'uncond';

/** Profiler label group of the similarity-indicator kernels (reductions and the decision). */
export const INDICATOR_LABEL = 'indicator';
export const BRANCHES: Branch[] = ['cond', 'uncond'];

/** What the manager needs of a model: its depth, and block 0's modulated input (TeaCache). */
export interface CachedModel {
  readonly config: { numLayers: number };
  modulatedInput(index: number, hidden: Tensor, step: StepState): Tensor;
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
  /** Most GPU bytes the cache held at once (features, residuals, indicator sums). */
  peakCacheBytes: number;
  /** GPU time of the indicator kernels (reductions, casts, decision), from timestamp queries; null without them. */
  indicatorMs: number | null;
}

/** The decision kernel's result for one branch at one step. */
interface Decision {
  mean: number;
  below: boolean[];
}

/** Words of the below-δ bitmask over the blocks. */
const maskWords = (numLayers: number) => Math.ceil(numLayers / 32);
/** Words of one step's decision record: the mean (f32 bits), then the below-δ bitmask. */
const decisionWords = (numLayers: number) => 1 + maskWords(numLayers);

type Schedule = BwCacheSchedule | JointBwCacheSchedule | StaticSchedule | FirstBlockSchedule | TeaCacheSchedule | undefined;

/** One CFG branch's cache: features, residuals and indicator sums are never shared with the other branch
 * (with bwcache's joint branches only the decision schedule is). */
class BranchCache {
  readonly schedule: Schedule;
  readonly prevFeatures: (Tensor | undefined)[];
  readonly blockResiduals: (Tensor | undefined)[];
  stackResidual: Tensor | undefined;
  /** First Block Cache: block 0's last residual; TeaCache: block 0's last modulated input. */
  probe: Tensor | undefined;
  /** Relative-L1 sums, slot (step·numLayers + block) → (Σ|a−b|, Σ|b|). */
  readonly sums: Tensor;
  /** The decision kernel's results, one record of `decisionWords(numLayers)` words per step. */
  readonly decisions: Tensor;
  readonly measured: boolean[][];
  readonly stats: BranchStats;
  shapeKey = '';

  constructor(ctx: GpuContext, config: CacheConfig, steps: number, numLayers: number, shared?: JointBwCacheSchedule) {
    this.schedule = shared
      ? shared
      : config.policy === 'bwcache'
        ? new BwCacheSchedule(config, steps, numLayers)
        : config.policy === 'static'
          ? new StaticSchedule(config, steps)
          : config.policy === 'first-block'
            ? new FirstBlockSchedule(config)
            : config.policy === 'teacache'
              ? new TeaCacheSchedule(config, steps)
              : undefined;
    this.prevFeatures = new Array(numLayers).fill(undefined);
    this.blockResiduals = new Array(numLayers).fill(undefined);
    this.sums = ctx.zeros([2 * steps * numLayers], 'f32', 'cache indicator sums');
    this.decisions = ctx.zeros([steps * decisionWords(numLayers)], 'u32', 'cache decisions');
    this.measured = Array.from({ length: steps }, () => new Array(numLayers).fill(false));
    this.stats = {
      computed: Array.from({ length: steps }, () => new Array(numLayers).fill(true)),
      indicator: new Array(steps).fill(null),
      blockIndicator: Array.from({ length: steps }, () => new Array(numLayers).fill(null)),
    };
  }

  /** Drops features and residuals (a shape change makes them meaningless). */
  clearFeatures(): void {
    for (const list of [this.prevFeatures, this.blockResiduals]) {
      list.forEach((t, i) => {
        t?.release();
        list[i] = undefined;
      });
    }
    this.stackResidual?.release();
    this.stackResidual = undefined;
    this.probe?.release();
    this.probe = undefined;
  }

  tensors(): Tensor[] {
    return [...this.prevFeatures, ...this.blockResiduals, this.stackResidual, this.probe, this.sums, this.decisions].filter(
      (t): t is Tensor => t !== undefined,
    );
  }

  dispose(): void {
    this.clearFeatures();
    this.sums.release();
    this.decisions.release();
  }
}

export class CacheManager {
  private readonly branches = new Map<Branch, BranchCache>();
  private readonly indexLists = new Map<string, Tensor>();
  private readonly numLayers: number;
  private readonly selected: Set<number>;
  private readonly storage: 'f16' | 'f32';
  private peakBytes = 0;
  /** BWCache with branches 'joint': the one decision state every branch follows (features stay per branch). */
  private readonly jointSchedule: JointBwCacheSchedule | undefined;
  /** Decisions dispatched at a computed step, read (all at once) before a later step is decided. */
  private pendingDecisions: { b: BranchCache; step: number; apply: (d: Decision) => void }[] = [];

  constructor(
    readonly ctx: GpuContext,
    readonly model: CachedModel,
    readonly config: CacheConfig,
    readonly steps: number,
  ) {
    this.numLayers = model.config.numLayers;
    this.selected = new Set(config.policy === 'bwcache' ? selectedBlocks(config.blocks, this.numLayers) : [0]);
    this.storage = config.policy === 'none' ? 'f32' : config.storage;
    if (!Number.isInteger(steps) || steps < 1) throw new Error(`cache: steps must be a positive integer, got ${steps}`);
    if (config.policy !== 'none' && config.policy !== 'static') this.timer = ctx.timeScope(INDICATOR_LABEL);
    if (config.policy === 'bwcache' && config.branches === 'joint') this.jointSchedule = new JointBwCacheSchedule(config, steps, this.numLayers);
  }

  private readonly timer: KernelProfiler | undefined;

  private branch(name: Branch, hidden: Tensor): BranchCache {
    let b = this.branches.get(name);
    if (!b) {
      b = new BranchCache(this.ctx, this.config, this.steps, this.numLayers, this.jointSchedule);
      this.branches.set(name, b);
    }
    const key = hidden.shape.join('x');
    if (b.shapeKey && b.shapeKey !== key) b.clearFeatures();
    b.shapeKey = key;
    return b;
  }

  /** The hook for `model.forward(…, { runBlocks })` at sampling step `step` of branch `branch`. */
  runner(branch: Branch, step: number): BlockStackRunner {
    if (step < 0 || step >= this.steps) throw new Error(`cache: step ${step} outside 0..${this.steps - 1}`);
    if (this.config.policy === 'none') return defaultBlockStack(this.numLayers);
    return async (hidden, runBlock, stepState) => {
      const b = this.branch(branch, hidden);
      const out = await this.runStep(b, step, hidden, runBlock, stepState);
      this.trackBytes();
      return out;
    };
  }

  private async runStep(
    b: BranchCache,
    step: number,
    hidden: Tensor,
    runBlock: (i: number, h: Tensor) => Tensor,
    stepState: StepState,
  ): Promise<Tensor> {
    const s = b.schedule;
    const cfg = this.config;
    if ((s instanceof BwCacheSchedule || s instanceof JointBwCacheSchedule) && cfg.policy === 'bwcache') {
      await this.settleDecisions(step);
      const decision = s.decide(step);
      if (cfg.reuse === 'block') return this.runBlockwise(b, step, hidden, runBlock, decision === 'reuse' ? s.blocksToReuse(step) : undefined);
      if (decision === 'reuse' && b.stackResidual) return this.reuseStack(b, step, hidden, b.stackResidual);
      const out = this.computeStack(b, step, hidden, runBlock, 0);
      this.deferDecision(b, step, (d) => s.observe(step, d.mean));
      return out;
    }
    if (s instanceof StaticSchedule) {
      if (s.decide(step) === 'reuse' && b.stackResidual) return this.reuseStack(b, step, hidden, b.stackResidual);
      return this.computeStack(b, step, hidden, runBlock, 0);
    }
    if (s instanceof FirstBlockSchedule) return this.runFirstBlock(b, s, step, hidden, runBlock);
    if (s instanceof TeaCacheSchedule) {
      const probe = this.model.modulatedInput(0, hidden, stepState);
      const change = b.probe ? await this.measureProbe(b, step, probe, b.probe) : undefined;
      b.probe = this.store(probe, b.probe);
      probe.release();
      if (s.decide(step, change) === 'reuse' && b.stackResidual) return this.reuseStack(b, step, hidden, b.stackResidual);
      return this.computeStack(b, step, hidden, runBlock, 0);
    }
    throw new Error(`cache: no schedule for policy ${cfg.policy}`);
  }

  /** Runs blocks from `first` on and keeps the stack residual (out − input) for later reuse. */
  private computeStack(
    b: BranchCache,
    step: number,
    input: Tensor,
    runBlock: (i: number, h: Tensor) => Tensor,
    first: number,
  ): Tensor {
    let h = input;
    for (let i = first; i < this.numLayers; i++) {
      const next = runBlock(i, h);
      if (h !== input) h.release();
      h = next;
      if (this.config.policy === 'bwcache' && this.selected.has(i)) this.measureAndStore(b, step, i, h);
    }
    const residual = linearCombination(this.ctx, [
      { tensor: h, coef: 1 },
      { tensor: input, coef: -1 },
    ]);
    b.stackResidual = this.store(residual, b.stackResidual);
    residual.release();
    return h;
  }

  private reuseStack(b: BranchCache, step: number, input: Tensor, residual: Tensor, fromBlock = 0): Tensor {
    for (let i = fromBlock; i < this.numLayers; i++) b.stats.computed[step][i] = false;
    return add(this.ctx, input, residual); // f16 storage is read in place
  }

  private runBlockwise(
    b: BranchCache,
    step: number,
    input: Tensor,
    runBlock: (i: number, h: Tensor) => Tensor,
    reuseMask: boolean[] | undefined,
  ): Tensor {
    let h = input;
    for (let i = 0; i < this.numLayers; i++) {
      const cached = b.blockResiduals[i];
      let next: Tensor;
      if (reuseMask?.[i] && cached) {
        next = add(this.ctx, h, cached);
        b.stats.computed[step][i] = false;
      } else {
        next = runBlock(i, h);
        const residual = linearCombination(this.ctx, [
          { tensor: next, coef: 1 },
          { tensor: h, coef: -1 },
        ]);
        b.blockResiduals[i] = this.store(residual, cached);
        residual.release();
        if (this.selected.has(i)) this.measureAndStore(b, step, i, next);
      }
      if (h !== input) h.release();
      h = next;
    }
    const s = b.schedule as BwCacheSchedule | JointBwCacheSchedule;
    this.deferDecision(b, step, (d) => {
      s.observe(step, d.mean);
      s.observeBlocks(b.measured[step].map((m, i) => (m ? d.below[i] : undefined)));
    });
    return h;
  }

  private async runFirstBlock(
    b: BranchCache,
    s: FirstBlockSchedule,
    step: number,
    input: Tensor,
    runBlock: (i: number, h: Tensor) => Tensor,
  ): Promise<Tensor> {
    const first = runBlock(0, input);
    const residual = linearCombination(this.ctx, [
      { tensor: first, coef: 1 },
      { tensor: input, coef: -1 },
    ]);
    const change = b.probe ? await this.measureProbe(b, step, residual, b.probe) : undefined;
    if (s.decide(change) === 'reuse' && b.stackResidual) {
      residual.release();
      const out = this.reuseStack(b, step, first, b.stackResidual, 1);
      first.release();
      return out;
    }
    // Compared against the residual of the last fully computed step, so slow drift still triggers.
    b.probe = this.store(residual, b.probe);
    residual.release();
    const out = this.computeStack(b, step, first, runBlock, 1);
    if (out !== first) first.release();
    return out;
  }

  /** Relative L1 of `current` against the stored `previous` into this step's slot for block 0. */
  private async measureProbe(b: BranchCache, step: number, current: Tensor, previous: Tensor): Promise<number | undefined> {
    this.ctx.withLabel(INDICATOR_LABEL, () => relativeL1(this.ctx, current, previous, b.sums, step * this.numLayers));
    b.measured[step][0] = true;
    if (!this.dispatchDecision(b, step)) return undefined;
    const [decision] = await this.readDecisions([{ b, step }]);
    return decision.mean;
  }

  /** Measures block i's change against its previous computed step, then stores its new features. */
  private measureAndStore(b: BranchCache, step: number, i: number, features: Tensor): void {
    const previous = b.prevFeatures[i];
    if (previous) {
      this.ctx.withLabel(INDICATOR_LABEL, () => relativeL1(this.ctx, features, previous, b.sums, step * this.numLayers + i));
      b.measured[step][i] = true;
    }
    b.prevFeatures[i] = this.store(features, previous);
  }

  /** Dispatches the decision kernel (mean indicator over the blocks measured at `step`, and which are
   * below δ) into `step`'s record of `b.decisions`; false when no block was measured (nothing to decide on). */
  private dispatchDecision(b: BranchCache, step: number): boolean {
    const blocks = b.measured[step].flatMap((m, i) => (m ? [i] : []));
    if (blocks.length === 0) return false;
    const indices = this.blockIndices(blocks);
    const threshold = (this.config as { threshold: number }).threshold;
    this.ctx.withLabel(INDICATOR_LABEL, () =>
      this.ctx.dispatch(
        { shader: 'indicator' },
        {
          bindings: { sums: b.sums, blocks: indices, out: b.decisions },
          uniforms: {
            slotBase: step * this.numLayers,
            count: blocks.length,
            words: maskWords(this.numLayers),
            threshold,
            outBase: step * decisionWords(this.numLayers),
          },
          workgroups: 1,
          label: 'decide',
        },
      ),
    );
    return true;
  }

  /** Dispatches a step's decision now; its result reaches `apply` before any later step is decided. */
  private deferDecision(b: BranchCache, step: number, apply: (d: Decision) => void): void {
    if (this.dispatchDecision(b, step)) this.pendingDecisions.push({ b, step, apply });
  }

  /** Reads every decision dispatched before `step` (one read for all branches) and applies them in order;
   * at the end of the run (`step` = steps) always, before then only if a schedule still needs them. */
  private async settleDecisions(step: number): Promise<void> {
    const due = this.pendingDecisions.filter((p) => p.step < step);
    if (due.length === 0) return;
    const needed = step >= this.steps || due.some(({ b }) => (b.schedule as BwCacheSchedule | JointBwCacheSchedule).needsIndicator());
    if (!needed) return;
    this.pendingDecisions = this.pendingDecisions.filter((p) => p.step >= step);
    const decisions = await this.readDecisions(due);
    due.forEach((p, i) => p.apply(decisions[i]));
  }

  /** Reads the records of several branches and steps together: they are gathered into one buffer first. */
  private async readDecisions(items: { b: BranchCache; step: number }[]): Promise<Decision[]> {
    const words = decisionWords(this.numLayers);
    const gathered = this.ctx.empty([items.length * words], 'u32', 'cache decisions read');
    let raw: Uint32Array;
    try {
      items.forEach(({ b, step }, k) => this.ctx.copy(b.decisions, gathered, words * 4, step * words * 4, k * words * 4));
      raw = new Uint32Array(await this.ctx.readRaw(gathered));
    } finally {
      gathered.release();
    }
    return items.map(({ b, step }, k) => {
      const w = raw.subarray(k * words, (k + 1) * words);
      const mean = new Float32Array(w.buffer, w.byteOffset, 1)[0];
      const below = Array.from({ length: this.numLayers }, (_, i) => ((w[1 + (i >> 5)] >>> (i & 31)) & 1) === 1);
      b.stats.indicator[step] = mean;
      return { mean, below };
    });
  }

  /** The GPU list of measured blocks; the same few sets recur every step, so each is uploaded once. */
  private blockIndices(blocks: number[]): Tensor {
    const key = blocks.join(',');
    let t = this.indexLists.get(key);
    if (!t) {
      t = this.ctx.upload(Uint32Array.from(blocks), [blocks.length], 'u32', 'indicator blocks');
      this.indexLists.set(key, t);
    }
    return t;
  }

  /** Copies features into cache storage, reusing the previous buffer when there is one. */
  private store(t: Tensor, previous: Tensor | undefined): Tensor {
    const target = previous ?? this.ctx.empty(t.shape, this.storage, 'cached features');
    if (this.storage === 'f16') cast(this.ctx, t, 'f16', target);
    else this.ctx.copy(t, target);
    return target;
  }

  private trackBytes(): void {
    let bytes = 0;
    for (const b of this.branches.values()) for (const t of b.tensors()) bytes += t.byteLength;
    for (const t of this.indexLists.values()) bytes += t.byteLength;
    this.peakBytes = Math.max(this.peakBytes, bytes);
  }

  /** Reads the per-block indicator sums once, and returns the run's statistics. */
  async stats(): Promise<CacheStats> {
    await this.settleDecisions(this.steps);
    const branches: CacheStats['branches'] = {};
    let computed = 0;
    let total = 0;
    for (const [name, b] of this.branches) {
      const sums = await this.ctx.read(b.sums);
      b.measured.forEach((row, step) =>
        row.forEach((m, i) => {
          if (!m) return;
          const slot = step * this.numLayers + i;
          const den = sums[2 * slot + 1];
          b.stats.blockIndicator[step][i] = den > 0 ? sums[2 * slot] / den : null;
        }),
      );
      for (const row of b.stats.computed) for (const c of row) (computed += c ? 1 : 0), total++;
      branches[name] = b.stats;
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
    };
  }

  /** Frees every cache buffer (features, residuals, sums). */
  dispose(): void {
    this.pendingDecisions = [];
    for (const b of this.branches.values()) b.dispose();
    this.branches.clear();
    for (const t of this.indexLists.values()) t.release();
    this.indexLists.clear();
    if (this.timer) this.ctx.endTimeScope(INDICATOR_LABEL);
  }
}
