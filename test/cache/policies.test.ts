// Each policy's compute/reuse pattern on synthetic indicator sequences (no GPU).
import { describe, expect, it } from 'vitest';
import { POLICY_DEFAULTS, polyval, selectedBlocks, type BwCacheConfig, type CacheConfig } from '../../src/cache/policies.ts';
import { validateCacheConfig } from '../../src/cache/policies/index.ts';
import { BwCacheSchedule, JointBwCacheSchedule, followedBlocks } from '../../src/cache/policies/bwcache.ts';
import { StaticSchedule } from '../../src/cache/policies/static.ts';
import { FirstBlockSchedule } from '../../src/cache/policies/first-block.ts';
import { TeaCacheSchedule } from '../../src/cache/policies/teacache.ts';
import { formatCacheSpec, parseCacheSpec } from '../../src/cache/spec.ts';

/** Runs a BWCache schedule: `indicator(step)` is what a computed step would measure. */
function bwPattern(config: Partial<BwCacheConfig>, steps: number, indicator: (step: number) => number | undefined): string {
  const schedule = new BwCacheSchedule({ ...POLICY_DEFAULTS.bwcache, ...config }, steps, 4);
  let pattern = '';
  for (let s = 0; s < steps; s++) {
    const d = schedule.decide(s);
    pattern += d === 'compute' ? 'C' : 'R';
    if (d === 'compute') schedule.observe(s, indicator(s));
  }
  return pattern;
}

describe('BWCache schedule', () => {
  const falling = (s: number) => (s === 0 ? undefined : [0, 0.3, 0.2, 0.1][s] ?? 0.05);

  it('periodic: computes until the first trigger, then R reused + 1 computed, forced tail of ⌈k/2⌉', () => {
    // Trigger at step 3 (0.1 < 0.15); R = 2; tail = ⌈3/2⌉ = 2 steps.
    expect(bwPattern({ maxReuse: 2 }, 20, falling)).toBe('CCCC' + 'RRC'.repeat(4) + 'RR' + 'CC');
  });

  it('default R is 10% of the steps', () => {
    // 30 steps → R = 3.
    expect(bwPattern({}, 30, falling)).toBe('CCCC' + 'RRRC'.repeat(6) + 'CC');
  });

  it('never triggers when the indicator stays above δ', () => {
    expect(bwPattern({ maxReuse: 2 }, 12, () => 0.5)).toBe('C'.repeat(12));
  });

  it('δ = 0 never reuses', () => {
    expect(bwPattern({ threshold: 0, maxReuse: 3 }, 15, () => 0)).toBe('C'.repeat(15));
  });

  it('dynamic: re-checks at every computed step', () => {
    // After the trigger at 3: reuse 4,5; step 6 measures 0.2 (above) → compute 7; 7 measures 0.1 → reuse 8,9; …
    const ind = (s: number) => (s === 0 ? undefined : s === 6 ? 0.2 : falling(s));
    expect(bwPattern({ maxReuse: 2, mode: 'dynamic' }, 16, ind)).toBe('CCCC' + 'RR' + 'C' + 'C' + 'RRC' + 'RRC' + 'CC');
  });

  it('a configured tail is honoured', () => {
    expect(bwPattern({ maxReuse: 1, tailSteps: 5 }, 14, falling)).toBe('CCCC' + 'RC' + 'RC' + 'R' + 'CCCCC');
  });

  it('per-block reuse skips only the blocks whose own indicator is below δ, at most R in a row', () => {
    const schedule = new BwCacheSchedule({ ...POLICY_DEFAULTS.bwcache, reuse: 'block', blocks: 'all', maxReuse: 2, tailSteps: 1 }, 10, 4);
    schedule.observe(2, 0.1); // first trigger
    schedule.observeBlocks([true, false, true, undefined]);
    expect(schedule.blocksToReuse(3)).toEqual([true, false, true, false]);
    expect(schedule.blocksToReuse(4)).toEqual([true, false, true, false]);
    expect(schedule.blocksToReuse(5)).toEqual([false, false, false, false]); // R = 2 reached
    schedule.observeBlocks([false, true, undefined, undefined]);
    expect(schedule.blocksToReuse(6)).toEqual([false, true, true, false]);
    expect(schedule.blocksToReuse(9)).toEqual([false, false, false, false]); // tail
  });
});

describe('BWCache per-block reuse over a run', () => {
  /** Step pattern and block 0's pattern when every measured block is below δ. */
  function blockRun(config: Partial<BwCacheConfig>, steps: number, numLayers: number) {
    const schedule = new BwCacheSchedule({ ...POLICY_DEFAULTS.bwcache, reuse: 'block', ...config }, steps, numLayers);
    const rows: boolean[][] = [];
    for (let s = 0; s < steps; s++) {
      const reuse = schedule.decide(s) === 'reuse' ? schedule.blocksToReuse(s) : new Array(numLayers).fill(false);
      rows.push(reuse);
      if (s > 0 && reuse.some((r) => !r)) {
        schedule.observe(s, 0.01);
        schedule.observeBlocks(reuse.map((r) => (r ? undefined : true)));
      }
    }
    const steps_ = rows.map((r) => (r.every((x) => !x) ? 'C' : 'R')).join('');
    const block = (i: number) => rows.map((r) => (r[i] ? 'R' : 'C')).join('');
    return { steps: steps_, block };
  }

  it('a block reuse run ends on every computed step (review repro: R = 2, every block below δ)', () => {
    const run = blockRun({ maxReuse: 2, tailSteps: 2, blocks: 'all' }, 12, 4);
    expect(run.steps).toBe('CC' + 'RRC'.repeat(2) + 'RR' + 'CC');
    // Before the fix block 0 went CCRRCCRCRCCC: its run count survived the computed steps.
    for (let i = 0; i < 4; i++) expect(run.block(i)).toBe('CC' + 'RRC'.repeat(2) + 'RR' + 'CC');
  });

  it('blocks outside the indicator set follow the nearest indicator block before them', () => {
    // every-other on 5 blocks measures 0, 2, 4; block 1 follows 0 and block 3 follows 2.
    expect(followedBlocks([0, 2, 4], 5)).toEqual([0, 0, 2, 2, 4]);
    expect(followedBlocks([2], 4)).toEqual([2, 2, 2, 2]);
    const run = blockRun({ maxReuse: 2, tailSteps: 2, blocks: 'every-other' }, 12, 5);
    for (let i = 0; i < 5; i++) expect(run.block(i)).toBe(run.steps);
  });
});

describe('BWCache with joint CFG branches', () => {
  /** Two branches taking turns each step (cond then uncond), as the pipeline runs them. */
  function jointPatterns(config: Partial<BwCacheConfig>, steps: number, indicators: Record<'cond' | 'uncond', (s: number) => number | undefined>) {
    const schedule = new JointBwCacheSchedule({ ...POLICY_DEFAULTS.bwcache, branches: 'joint', ...config }, steps, 4);
    const patterns = { cond: '', uncond: '' };
    for (let s = 0; s < steps; s++) {
      for (const branch of ['cond', 'uncond'] as const) {
        const d = schedule.decide(s);
        patterns[branch] += d === 'compute' ? 'C' : 'R';
        if (d === 'compute') schedule.observe(s, indicators[branch](s));
      }
    }
    return patterns;
  }
  const early = (s: number) => (s === 0 ? undefined : s === 1 ? 0.3 : 0.05); // below δ from step 2
  const late = (s: number) => (s === 0 ? undefined : s < 5 ? 0.3 : 0.05); // below δ from step 5

  it('separately, the branches would trigger at different steps', () => {
    expect(bwPattern({ maxReuse: 2 }, 16, early)).toBe('CCC' + 'RRC'.repeat(4) + 'C');
    expect(bwPattern({ maxReuse: 2 }, 16, late)).toBe('CCCCCC' + 'RRC'.repeat(2) + 'RCCC');
  });

  it('jointly, both follow one schedule that triggers only when every branch is below δ', () => {
    const { cond, uncond } = jointPatterns({ maxReuse: 2 }, 16, { cond: early, uncond: late });
    expect(cond).toBe(bwPattern({ maxReuse: 2 }, 16, late));
    expect(uncond).toBe(cond);
  });

  it('jointly with per-block reuse, a block is skipped only where it is below δ in every branch', () => {
    const schedule = new JointBwCacheSchedule({ ...POLICY_DEFAULTS.bwcache, branches: 'joint', reuse: 'block', blocks: 'all', maxReuse: 5 }, 10, 3);
    for (const [branch, below] of [['cond', [true, true, false]], ['uncond', [true, false, true]]] as const) {
      expect(schedule.decide(1), branch).toBe('compute');
      schedule.observe(1, 0.05);
      schedule.observeBlocks([...below]);
    }
    expect(schedule.decide(2)).toBe('reuse');
    expect(schedule.blocksToReuse(2)).toEqual([true, false, false]);
    expect(schedule.blocksToReuse(2)).toEqual([true, false, false]); // the second branch gets the same mask
  });
});

describe('other policies', () => {
  it('static: every N steps after the warm-up, tail computed', () => {
    const s = new StaticSchedule({ ...POLICY_DEFAULTS.static, interval: 3, warmupSteps: 2, tailSteps: 2 }, 14);
    expect(Array.from({ length: 14 }, (_, i) => (s.decide(i) === 'compute' ? 'C' : 'R')).join('')).toBe('CC' + 'CRR'.repeat(3) + 'C' + 'CC');
  });

  it('first-block: reuse while block 0 residual changes less than the threshold', () => {
    const s = new FirstBlockSchedule({ ...POLICY_DEFAULTS['first-block'], threshold: 0.05 });
    expect([undefined, 0.2, 0.04, 0.049, 0.05, 0.01].map((c) => s.decide(c))).toEqual(['compute', 'compute', 'reuse', 'reuse', 'compute', 'reuse']);
  });

  it('teacache: accumulates the rescaled indicator and recomputes when it reaches δ', () => {
    const s = new TeaCacheSchedule({ ...POLICY_DEFAULTS.teacache, threshold: 0.1, coefficients: [2, 0], warmupSteps: 1, tailSteps: 1 }, 8);
    // rescaled: 2·change → 0.04, 0.04 (sum 0.08 < 0.1 reuse), 0.04 (0.12 ≥ 0.1 compute, reset), …
    const changes = [undefined, 0.02, 0.02, 0.02, 0.01, 0.2, 0.01, 0.01];
    expect(changes.map((c, i) => (s.decide(i, c) === 'compute' ? 'C' : 'R')).join('')).toBe('CRRCRCRC');
  });

  it('polyval uses numpy order', () => {
    expect(polyval([1, -2, 3], 2)).toBe(3);
  });

  it('block selections', () => {
    expect(selectedBlocks('every-other', 5)).toEqual([0, 2, 4]);
    expect(selectedBlocks([3, 1, 3], 4)).toEqual([1, 3]);
    expect(() => selectedBlocks([4], 4)).toThrow(/0\.\.3/);
  });
});

describe('cache specs', () => {
  it('parses defaults and options', () => {
    expect(parseCacheSpec('bwcache')).toEqual(POLICY_DEFAULTS.bwcache);
    expect(parseCacheSpec('bwcache:threshold=0.2,mode=dynamic,reuse=block,blocks=0;2')).toMatchObject({ threshold: 0.2, mode: 'dynamic', reuse: 'block', blocks: [0, 2] });
    expect(formatCacheSpec(parseCacheSpec('static:interval=3'))).toBe('static:interval=3');
  });

  it('parses the branch mode', () => {
    expect(parseCacheSpec('bwcache:branches=joint')).toMatchObject({ policy: 'bwcache', branches: 'joint' });
    expect(formatCacheSpec(parseCacheSpec('bwcache:branches=separate'))).toBe('bwcache:branches=separate');
    expect(() => parseCacheSpec('bwcache:branches=both')).toThrow(/branches must be one of separate, joint/);
  });

  it('refuses unknown policies, options and bad values clearly', () => {
    expect(() => parseCacheSpec('magic')).toThrow(/unknown cache policy "magic"/);
    expect(() => parseCacheSpec('bwcache:speed=2')).toThrow(/no option "speed"/);
    expect(() => parseCacheSpec('bwcache:threshold=abc')).toThrow(/threshold must be a non-negative number/);
    expect(() => parseCacheSpec('bwcache:mode=sometimes')).toThrow(/periodic, dynamic/);
  });

  it('checks every option at parse time, before anything loads', () => {
    expect(() => parseCacheSpec('bwcache:maxReuse=0')).toThrow(/maxReuse must be an integer ≥ 1/);
    expect(() => parseCacheSpec('static:interval=0')).toThrow(/interval must be a positive integer/);
    expect(() => validateCacheConfig({ ...POLICY_DEFAULTS.teacache, coefficients: [] })).toThrow(/coefficients must be one or more numbers/);
    expect(() => validateCacheConfig({ ...POLICY_DEFAULTS.bwcache, blocks: [7] }, { steps: 4, numLayers: 4 })).toThrow(/0\.\.3/);
    expect(() => validateCacheConfig({ ...POLICY_DEFAULTS.bwcache, storage: 'f8' as 'f16' })).toThrow(/storage must be f16 or f32/);
    expect(() => validateCacheConfig({ policy: 'magic' } as unknown as CacheConfig)).toThrow(/unknown cache policy/);
  });
});
