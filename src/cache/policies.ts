// Cache policies' configs: one object each (in the spirit of diffusers' `enable_cache(config)`), with
// their defaults. Each policy's hook (its GPU decision and recording) and its host reference rule live in
// src/cache/policies/<name>.ts, registered by name in src/cache/policies/index.ts.

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
