// BWCache (Cui et al., arXiv 2509.13789): the hook and its host reference. The rule runs on the GPU
// (shaders/cache_decide_bwcache.wgsl); `BwCacheSchedule` is the same rule on the host, kept as the
// reference the tests replay the GPU's measured indicators through.

import { defaultMaxReuse, selectedBlocks, type BwCacheConfig } from '../policies.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { DECISION_NONE } from '../../gpu/kernels/cache-decide.ts';
import type { CacheRuntime } from '../runtime.ts';
import type { CacheHook, CachePolicy, StepCall } from './types.ts';


/**
 * For per-block reuse: the indicator block whose "below δ" each block follows. An indicator block follows
 * itself; a block outside the indicator set (e.g. the odd blocks of `every-other`) follows the nearest
 * indicator block before it (after it for blocks before the first), as its neighbour's change is the best
 * estimate of its own that was measured.
 */
export function followedBlocks(indicator: readonly number[], numLayers: number): number[] {
  return Array.from({ length: numLayers }, (_, i) => {
    const before = indicator.filter((j) => j <= i);
    return before.length ? before[before.length - 1] : indicator[0];
  });
}

/**
 * Whether the rule computes `step` whatever the GPU measures, so the hook records only the compute path.
 * Steps 0 and 1: the first indicator is measured at step 1 (against step 0), so no trigger can precede
 * step 2. The last step, or an explicit tail (the default tail depends on the first trigger, unknown here).
 */
export function bwcacheForcedCompute(config: BwCacheConfig, steps: number, step: number): boolean {
  const tail = config.tailSteps === undefined ? 1 : Math.max(1, config.tailSteps);
  return step < 2 || step + tail >= steps;
}

export const bwcachePolicy: CachePolicy<BwCacheConfig> = {
  name: 'bwcache',
  validate(config) {
    if (!(Number.isFinite(config.threshold) && config.threshold >= 0)) throw new Error(`bwcache: threshold must be a non-negative number, got ${config.threshold}`);
    if (config.maxReuse !== undefined && !(Number.isInteger(config.maxReuse) && config.maxReuse >= 1)) throw new Error(`bwcache: maxReuse must be an integer ≥ 1, got ${config.maxReuse}`);
    if (config.tailSteps !== undefined && !(Number.isInteger(config.tailSteps) && config.tailSteps >= 0)) throw new Error(`bwcache: tailSteps must be a non-negative integer, got ${config.tailSteps}`);
    if (Array.isArray(config.blocks) && (config.blocks.length === 0 || config.blocks.some((i) => !Number.isInteger(i) || i < 0))) {
      throw new Error(`bwcache: blocks must be all, every-other or block indices, got [${config.blocks.join(', ')}]`);
    }
  },
  indicatorBlocks: (config, numLayers) => selectedBlocks(config.blocks, numLayers),
  create: (config, rt) => new BwCacheHook(config, rt),
};

class BwCacheHook implements CacheHook {
  private readonly follow: Tensor;
  private readonly joint: boolean;
  /** Joint branches share decision slot 0, decided once per step by the first branch to arrive. */
  private decidedStep = -1;

  constructor(
    readonly config: BwCacheConfig,
    readonly rt: CacheRuntime,
  ) {
    const indicator = [...rt.indicatorBlocks].sort((a, b) => a - b);
    this.follow = rt.ctx.upload(Uint32Array.from(followedBlocks(indicator, rt.numLayers)), [rt.numLayers], 'u32', 'bwcache followed blocks');
    this.joint = config.branches === 'joint';
  }

  private dispatchDecision(step: number, slot: number, firstBranch: number, branchCount: number, observeCount: number, hasResidual: boolean): void {
    const { config, rt } = this;
    rt.decideBwCache(this.follow, {
      step,
      maxReuse: config.maxReuse ?? defaultMaxReuse(rt.steps),
      tailSteps: config.tailSteps ?? DECISION_NONE,
      threshold: config.threshold,
      dynamic: config.mode === 'dynamic',
      blockReuse: config.reuse === 'block',
      slot,
      firstBranch,
      branchCount,
      observeCount,
      hasResidual,
    });
  }

  private hasResidual(b: StepCall['b']): boolean {
    return this.config.reuse === 'block' ? b.blockResiduals.every((t) => t !== undefined) : b.stackResidual !== undefined;
  }

  recordStep({ b, step, hidden, runBlock }: StepCall) {
    const { rt } = this;
    const slot = this.joint ? 0 : b.index;
    if (!this.joint) this.dispatchDecision(step, slot, b.index, 1, 1, this.hasResidual(b));
    else if (this.decidedStep !== step) {
      this.decidedStep = step;
      const branches = [...rt.branches.values()];
      // Records are written for both branch slots: a branch that joins later in the step follows this decision.
      this.dispatchDecision(step, slot, 0, 2, Math.max(...branches.map((x) => x.index)) + 1, branches.every((x) => this.hasResidual(x)));
    }
    const forced = bwcacheForcedCompute(this.config, rt.steps, step);
    if (this.config.reuse === 'block') return rt.blockPaths(b, step, hidden, runBlock, slot, forced);
    return rt.stackPaths(b, step, hidden, runBlock, 0, slot, forced);
  }

  finish(): void {
    const { rt } = this;
    if (this.joint) this.dispatchDecision(rt.steps, 0, 0, 2, Math.max(0, ...[...rt.branches.values()].map((x) => x.index + 1)), false);
    else for (const b of rt.branches.values()) this.dispatchDecision(rt.steps, b.index, b.index, 1, 1, false);
  }

  dispose(): void {
    this.follow.release();
  }
}

// ---- host reference -------------------------------------------------------------------------------

/**
 * BWCache's schedule on the host. Call `decide(step)` before each step; after a computed step call
 * `observe(step, indicator)` with the mean indicator (or, for per-block reuse, `observeBlocks` with each
 * block's).
 */
export class BwCacheSchedule {
  private firstTrigger: number | undefined;
  private consecutiveReuse = 0;
  private reuseLeft = 0;
  private readonly maxReuse: number;
  private readonly blockReuseRun: number[];
  private readonly blockBelow: boolean[];
  private readonly follow: number[];

  constructor(
    readonly config: BwCacheConfig,
    readonly steps: number,
    readonly numLayers: number,
  ) {
    bwcachePolicy.validate(config);
    this.maxReuse = config.maxReuse ?? defaultMaxReuse(steps);
    this.blockReuseRun = new Array(numLayers).fill(0);
    this.blockBelow = new Array(numLayers).fill(false);
    this.follow = followedBlocks(selectedBlocks(config.blocks, numLayers), numLayers);
  }

  /** First step of the forced-compute tail, once known. */
  tailStart(): number {
    if (this.firstTrigger === undefined) return this.steps;
    const tail = this.config.tailSteps ?? Math.ceil(this.firstTrigger / 2);
    return Math.max(0, this.steps - Math.max(1, tail));
  }

  private inTail(step: number): boolean {
    return step >= this.tailStart() || step === this.steps - 1;
  }

  /** Stack-level decision for `step` (for per-block reuse: whether the step may reuse at all). */
  decide(step: number): 'compute' | 'reuse' {
    if (this.firstTrigger === undefined || this.inTail(step)) return this.computed();
    if (this.config.mode === 'periodic') {
      // Fixed pattern from the first trigger: R reused steps, then one computed, and so on.
      const phase = (step - this.firstTrigger - 1) % (this.maxReuse + 1);
      return phase < this.maxReuse ? this.reused() : this.computed();
    }
    if (this.reuseLeft > 0 && this.consecutiveReuse < this.maxReuse) {
      this.reuseLeft--;
      return this.reused();
    }
    return this.computed();
  }

  private computed(): 'compute' {
    this.consecutiveReuse = 0;
    this.blockReuseRun.fill(0); // every block computes at a computed step: its reuse run ends
    return 'compute';
  }

  private reused(): 'reuse' {
    this.consecutiveReuse++;
    return 'reuse';
  }

  /** The mean indicator measured at a computed step (undefined at the first step: nothing to compare). */
  observe(step: number, indicator: number | undefined): void {
    if (indicator === undefined) return;
    const below = indicator < this.config.threshold;
    if (below && this.firstTrigger === undefined) {
      this.firstTrigger = step;
      this.reuseLeft = this.maxReuse;
      return;
    }
    if (this.config.mode === 'dynamic' && this.firstTrigger !== undefined) this.reuseLeft = below ? this.maxReuse : 0;
  }

  /** Per-block reuse: which blocks skip at `step` (called only when `decide` allowed reuse). */
  blocksToReuse(step: number): boolean[] {
    return this.blockBelow.map((_, i) => {
      const reuse = this.blockBelow[this.follow[i]] && !this.inTail(step) && this.blockReuseRun[i] < this.maxReuse;
      this.blockReuseRun[i] = reuse ? this.blockReuseRun[i] + 1 : 0;
      return reuse;
    });
  }

  /** Per-block results at a step: whether each measured block's indicator was below δ (undefined: not measured). */
  observeBlocks(below: (boolean | undefined)[]): void {
    below.forEach((v, i) => {
      if (v !== undefined) this.blockBelow[i] = v;
    });
  }
}

/**
 * One BWCache schedule shared by the CFG branches ('joint'): the first branch to ask about a step fixes the
 * decision for all; the branches' observations of a step are combined (the largest mean; a block counts as
 * below δ only if it is in every branch) and handed to the schedule before the next step is decided.
 */
export class JointBwCacheSchedule {
  private readonly inner: BwCacheSchedule;
  private readonly decisions = new Map<number, 'compute' | 'reuse'>();
  private readonly blockDecisions = new Map<number, boolean[]>();
  private pending: { step: number; means: (number | undefined)[]; below: (boolean | undefined)[] | undefined } | undefined;

  constructor(config: BwCacheConfig, steps: number, numLayers: number) {
    this.inner = new BwCacheSchedule(config, steps, numLayers);
  }

  decide(step: number): 'compute' | 'reuse' {
    let d = this.decisions.get(step);
    if (d === undefined) {
      this.flush();
      d = this.inner.decide(step);
      this.decisions.set(step, d);
    }
    return d;
  }

  blocksToReuse(step: number): boolean[] {
    let mask = this.blockDecisions.get(step);
    if (!mask) {
      mask = this.inner.blocksToReuse(step);
      this.blockDecisions.set(step, mask);
    }
    return mask;
  }

  observe(step: number, indicator: number | undefined): void {
    if (this.pending?.step !== step) {
      this.flush();
      this.pending = { step, means: [], below: undefined };
    }
    this.pending.means.push(indicator);
  }

  /** Per-block results of the step last passed to `observe`. */
  observeBlocks(below: (boolean | undefined)[]): void {
    const p = this.pending;
    if (!p) return;
    p.below = p.below ? p.below.map((v, i) => (v === undefined || below[i] === undefined ? undefined : v && below[i])) : [...below];
  }

  private flush(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    const known = p.means.filter((m): m is number => m !== undefined);
    this.inner.observe(p.step, known.length === p.means.length ? Math.max(...known) : undefined);
    if (p.below) this.inner.observeBlocks(p.below);
  }
}
