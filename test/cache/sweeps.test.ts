// Sweeps (one option over a range), spec lists, and the monotonicity a sweep's plot relies on.
import { describe, expect, it } from 'vitest';
import { POLICY_DEFAULTS, type BwCacheConfig } from '../../src/cache/policies.ts';
import { BwCacheSchedule } from '../../src/cache/policies/bwcache.ts';
import { StaticSchedule } from '../../src/cache/policies/static.ts';
import { cacheLabel, expandCacheSpec, parseCacheSpec, splitCacheSpecs } from '../../src/cache/spec.ts';

describe('spec lists', () => {
  it('splits on commas between specs, keeping options with their spec', () => {
    expect(splitCacheSpecs('none,bwcache:threshold=0.2,mode=dynamic,static:interval=2:4:1')).toEqual([
      'none',
      'bwcache:threshold=0.2,mode=dynamic',
      'static:interval=2:4:1',
    ]);
    expect(splitCacheSpecs(' none  bwcache:blocks=0;2,reuse=block | teacache ')).toEqual(['none', 'bwcache:blocks=0;2,reuse=block', 'teacache']);
  });
});

describe('sweeps', () => {
  it('expands start:end:step with the end included and no float noise', () => {
    expect(expandCacheSpec('bwcache:threshold=0.05:0.3:0.05')).toEqual([0.05, 0.1, 0.15, 0.2, 0.25, 0.3].map((t) => `bwcache:threshold=${t}`));
    expect(expandCacheSpec('static:interval=2:4:1,warmupSteps=2')).toEqual([
      'static:interval=2,warmupSteps=2',
      'static:interval=3,warmupSteps=2',
      'static:interval=4,warmupSteps=2',
    ]);
    expect(expandCacheSpec('bwcache:mode=dynamic')).toEqual(['bwcache:mode=dynamic']);
    expect(expandCacheSpec('none')).toEqual(['none']);
  });

  it('refuses bad ranges clearly', () => {
    expect(() => expandCacheSpec('bwcache:threshold=0.3:0.05:0.05')).toThrow(/start ≤ end and step > 0/);
    expect(() => expandCacheSpec('bwcache:threshold=0.1:0.2:0')).toThrow(/step > 0/);
    expect(() => expandCacheSpec('bwcache:threshold=0:1:0.001')).toThrow(/at most 64/);
    expect(() => expandCacheSpec('bwcache:threshold=0.1:0.2')).toThrow(/start:end:step/);
    expect(() => expandCacheSpec('bwcache:threshold=0.1:0.2:0.1,maxReuse=1:3:1')).toThrow(/one option at a time/);
    expect(() => expandCacheSpec('bwcache:mode=1:2:1')).toThrow(/only a numeric option/);
    expect(() => expandCacheSpec('static:interval=1.5:3:0.5')).toThrow(/interval must be an integer/);
    expect(() => expandCacheSpec('magic:x=1:2:1')).toThrow(/unknown cache policy/);
  });

  it('labels calibrated TeaCache briefly', () => {
    expect(cacheLabel(parseCacheSpec('teacache:coefficients=1;2;3;4;5,threshold=0.1'))).toBe('teacache:threshold=0.1 (calibrated)');
    expect(cacheLabel(parseCacheSpec('teacache'))).toBe('teacache');
    expect(cacheLabel(parseCacheSpec('bwcache:threshold=0.2'))).toBe('bwcache:threshold=0.2');
  });
});

/** Reused steps of a BWCache schedule on a per-step indicator sequence. */
function reusedSteps(config: Partial<BwCacheConfig>, indicator: number[]): number {
  const s = new BwCacheSchedule({ ...POLICY_DEFAULTS.bwcache, ...config }, indicator.length, 4);
  let reused = 0;
  indicator.forEach((v, step) => {
    if (s.decide(step) === 'reuse') reused++;
    else s.observe(step, step === 0 ? undefined : v);
  });
  return reused;
}

describe('reuse never decreases as δ grows', () => {
  // U-shaped curves like the measured ones, with noise, over several lengths.
  const curves: number[][] = [];
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (const steps of [10, 20, 30, 50]) {
    for (let k = 0; k < 8; k++) {
      curves.push(Array.from({ length: steps }, (_, i) => {
        const x = i / (steps - 1);
        return 0.6 * Math.exp(-12 * x) + 0.35 * x * x + 0.03 + 0.04 * rand();
      }));
    }
  }
  const thresholds = Array.from({ length: 13 }, (_, i) => i * 0.05);

  it.each(['periodic', 'dynamic'] as const)('bwcache %s', (mode) => {
    for (const curve of curves) {
      const reuse = thresholds.map((threshold) => reusedSteps({ threshold, mode }, curve));
      for (let i = 1; i < reuse.length; i++) expect(reuse[i], `δ ${thresholds[i]} on a ${curve.length}-step curve`).toBeGreaterThanOrEqual(reuse[i - 1]);
      expect(reuse[0]).toBe(0);
    }
  });

  it('static: a longer interval reuses more', () => {
    for (const steps of [10, 20, 50]) {
      const reuse = [1, 2, 3, 4, 5].map((interval) => {
        const s = new StaticSchedule({ ...POLICY_DEFAULTS.static, interval }, steps);
        return Array.from({ length: steps }, (_, i) => s.decide(i)).filter((d) => d === 'reuse').length;
      });
      for (let i = 1; i < reuse.length; i++) expect(reuse[i]).toBeGreaterThanOrEqual(reuse[i - 1]);
      expect(reuse[0]).toBe(0);
    }
  });
});
