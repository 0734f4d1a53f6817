// Cache policies: one config object each (in the spirit of diffusers' `enable_cache(config)`), and a
// pure decision state per CFG branch. The decisions are plain host logic on indicator values, so each
// policy's compute/reuse pattern is testable on synthetic indicator sequences without a GPU; the GPU
// work (features, residuals, the indicator reductions) lives in manager.ts.

/** Which blocks feed the similarity indicator. */
export type BlockSelection = 'all' | 'every-other' | number[];

export interface NoCacheConfig {
  policy: 'none';
}

/**
 * BWCache (Cui et al., arXiv 2509.13789). The indicator is the mean over the selected blocks of
 * ‖h(t,i) − h(t_prev,i)‖₁ / ‖h(t_prev,i)‖₁ between consecutive computed steps.
 */
export interface BwCacheConfig {
  policy: 'bwcache';
  /** δ: reuse once the indicator falls below it (paper default 0.15). */
  threshold: number;
  /** R: most consecutive reused steps (default: 10% of the steps, at least 1). */
  maxReuse?: number;
  /** Steps always computed at the end (the paper's tail rule); default: half the first-trigger step. */
  tailSteps?: number;
  /** 'periodic': schedule fixed at the first trigger (the authors' code); 'dynamic': re-check each computed step. */
  mode: 'periodic' | 'dynamic';
  /** 'stack': one residual for the whole stack; 'block': each block skipped on its own indicator. */
  reuse: 'stack' | 'block';
  blocks: BlockSelection;
  /**
   * 'separate': each CFG branch decides on its own indicator. 'joint': both branches compute or reuse at
   * the same steps, reusing only where every branch's indicator is below δ. Guidance g mixes the branches
   * as (1−g)·uncond + g·cond, so a stale residual in one branch alone is amplified about g-fold, while
   * the same staleness in both largely cancels. Features stay per branch either way.
   */
  branches: 'separate' | 'joint';
  /** Precision of the cached features. */
  storage: 'f16' | 'f32';
}

/** Static interval (FORA / Δ-DiT style): compute every `interval` steps, reuse the stack residual between. */
export interface StaticCacheConfig {
  policy: 'static';
  interval: number;
  /** Steps always computed at the start and at the end. */
  warmupSteps: number;
  tailSteps: number;
  storage: 'f16' | 'f32';
}

/** First Block Cache: block 0 always runs; the rest is reused while block 0's residual barely changes. */
export interface FirstBlockCacheConfig {
  policy: 'first-block';
  threshold: number;
  storage: 'f16' | 'f32';
}

/**
 * TeaCache: relative L1 change of block 0's modulated input, rescaled by a polynomial fitted per model
 * (`webdit calibrate`), accumulated across steps; recompute once the sum passes δ.
 */
export interface TeaCacheConfig {
  policy: 'teacache';
  threshold: number;
  /** Polynomial coefficients, highest power first (numpy.polyval order); identity if absent. */
  coefficients: number[];
  warmupSteps: number;
  tailSteps: number;
  storage: 'f16' | 'f32';
}

export type CacheConfig = NoCacheConfig | BwCacheConfig | StaticCacheConfig | FirstBlockCacheConfig | TeaCacheConfig;
export type PolicyName = CacheConfig['policy'];

export const POLICY_DEFAULTS: { [K in PolicyName]: Extract<CacheConfig, { policy: K }> } = {
  none: { policy: 'none' },
  // Every other block feeds BWCache's indicator by default, as the paper did on Wan2.1 to save memory.
  bwcache: { policy: 'bwcache', threshold: 0.15, mode: 'periodic', reuse: 'stack', blocks: 'every-other', branches: 'joint', storage: 'f16' },
  static: { policy: 'static', interval: 2, warmupSteps: 1, tailSteps: 1, storage: 'f16' },
  'first-block': { policy: 'first-block', threshold: 0.05, storage: 'f16' },
  teacache: { policy: 'teacache', threshold: 0.08, coefficients: [1, 0], warmupSteps: 1, tailSteps: 1, storage: 'f16' },
};

/** The indices a selection names, checked against the block count. */
export function selectedBlocks(selection: BlockSelection, numLayers: number): number[] {
  if (selection === 'all') return Array.from({ length: numLayers }, (_, i) => i);
  if (selection === 'every-other') return Array.from({ length: Math.ceil(numLayers / 2) }, (_, i) => 2 * i);
  const bad = selection.filter((i) => !Number.isInteger(i) || i < 0 || i >= numLayers);
  if (bad.length || selection.length === 0) throw new Error(`cache blocks [${selection.join(', ')}] must be distinct indices in 0..${numLayers - 1}`);
  return [...new Set(selection)].sort((a, b) => a - b);
}

export function defaultMaxReuse(steps: number): number {
  return Math.max(1, Math.round(steps * 0.1));
}

/** Polynomial in numpy.polyval order (highest power first). */
export function polyval(coefficients: number[], x: number): number {
  let y = 0;
  for (const c of coefficients) y = y * x + c;
  return y;
}

// ---- decision states (one per CFG branch, reset each generation) --------------------------------

/**
 * BWCache's schedule. Call `decide(step)` before each step; after a computed step call `observe(step,
 * indicator)` with the mean indicator (or, for per-block reuse, `observeBlocks` with each block's).
 */
export class BwCacheSchedule {
  private firstTrigger: number | undefined;
  private consecutiveReuse = 0;
  private reuseLeft = 0;
  private readonly maxReuse: number;
  private readonly blockReuseRun: number[];
  private readonly blockBelow: boolean[];

  constructor(
    readonly config: BwCacheConfig,
    readonly steps: number,
    readonly numLayers: number,
  ) {
    this.maxReuse = config.maxReuse ?? defaultMaxReuse(steps);
    if (!(this.maxReuse >= 1)) throw new Error(`bwcache: maxReuse must be ≥ 1, got ${this.maxReuse}`);
    this.blockReuseRun = new Array(numLayers).fill(0);
    this.blockBelow = new Array(numLayers).fill(false);
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

  /** Whether later decisions still depend on indicators: not once a periodic stack pattern is fixed. */
  needsIndicator(): boolean {
    return this.firstTrigger === undefined || this.config.mode === 'dynamic' || this.config.reuse === 'block';
  }

  /** Per-block reuse: which blocks skip at `step` (called only when `decide` allowed reuse). */
  blocksToReuse(step: number): boolean[] {
    return this.blockBelow.map((below, i) => {
      const reuse = below && !this.inTail(step) && this.blockReuseRun[i] < this.maxReuse;
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

  needsIndicator(): boolean {
    return this.inner.needsIndicator();
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

export class StaticSchedule {
  constructor(
    readonly config: StaticCacheConfig,
    readonly steps: number,
  ) {
    if (!Number.isInteger(config.interval) || config.interval < 1) throw new Error(`static: interval must be a positive integer, got ${config.interval}`);
  }

  decide(step: number): 'compute' | 'reuse' {
    if (step < this.config.warmupSteps || step >= this.steps - this.config.tailSteps) return 'compute';
    return (step - this.config.warmupSteps) % this.config.interval === 0 ? 'compute' : 'reuse';
  }
}

/** First Block Cache: decided inside each step, after block 0 ran, from its residual's relative change. */
export class FirstBlockSchedule {
  constructor(readonly config: FirstBlockCacheConfig) {}

  /** `change`: relative L1 change of block 0's residual against the last step (undefined at step 0). */
  decide(change: number | undefined): 'compute' | 'reuse' {
    return change !== undefined && change < this.config.threshold ? 'reuse' : 'compute';
  }
}

/** TeaCache: rescaled indicator accumulated across steps; compute when the sum reaches δ. */
export class TeaCacheSchedule {
  private accumulated = 0;

  constructor(
    readonly config: TeaCacheConfig,
    readonly steps: number,
  ) {}

  /** `change`: relative L1 change of block 0's modulated input against the previous step. */
  decide(step: number, change: number | undefined): 'compute' | 'reuse' {
    if (change === undefined || step < this.config.warmupSteps || step >= this.steps - this.config.tailSteps) {
      this.accumulated = 0;
      return 'compute';
    }
    this.accumulated += Math.abs(polyval(this.config.coefficients, change));
    if (this.accumulated < this.config.threshold) return 'reuse';
    this.accumulated = 0;
    return 'compute';
  }
}
