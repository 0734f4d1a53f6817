// The cache manager driven by dummy blocks (no model), as diffusers tests its hooks: each policy's GPU
// decisions against its host reference rule replayed on the indicators the GPU measured, no read-back
// while recording, δ = 0 exact, f16 overflow never reused, every buffer released.
import { beforeAll, describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { randomArray, rng } from '../helpers/reference.ts';
import { linearCombination } from '../../src/gpu/kernels/linear-combination.ts';
import { CacheManager, type CacheStats, type CachedModel } from '../../src/cache/manager.ts';
import { parseCacheSpec } from '../../src/cache/spec.ts';
import type { BwCacheConfig, CacheConfig, FirstBlockCacheConfig, StaticCacheConfig, TeaCacheConfig } from '../../src/cache/policies.ts';
import { BwCacheSchedule, JointBwCacheSchedule } from '../../src/cache/policies/bwcache.ts';
import { StaticSchedule } from '../../src/cache/policies/static.ts';
import { FirstBlockSchedule } from '../../src/cache/policies/first-block.ts';
import { TeaCacheSchedule } from '../../src/cache/policies/teacache.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import type { Tensor } from '../../src/gpu/tensor.ts';
import type { StepState } from '../../src/model/transformer.ts';

const LAYERS = 5;
const SIZE = 37;
const STEPS = 14;
let ctx: GpuContext;
let directions: Tensor[];

beforeAll(async () => {
  ctx = await testContext();
  const rand = rng(7);
  directions = Array.from({ length: LAYERS + 1 }, () => ctx.upload(randomArray(SIZE, rand), [SIZE]));
});

/** Block i of branch k adds w·d_i: its change between steps falls as the schedule goes on, as in a sampler,
 * at a different pace per block and branch, so blocks and branches cross δ at different steps. */
const PACE = [1, 30, 3, 100, 8];
const weight = (step: number, block: number, branch: number, scale: number) => scale * (1 + (PACE[block] * (1 + 2 * branch)) / (1 + step) ** 2);
/** Per-step tensors the blocks make on first use and the branches share (as the model's modulation rows). */
type MemoState = StepState & { memo: (Tensor | undefined)[] };
const memo = (state: MemoState, i: number) => (state.memo[i] ??= linearCombination(ctx, [{ tensor: directions[i], coef: 0.01 * state.timestep }]));
const model = (scale: number): CachedModel => ({
  config: { numLayers: LAYERS },
  modulatedInput: (_i, hidden) => linearCombination(ctx, [{ tensor: hidden, coef: 1.5 }]),
  prepareStep: (state) => {
    for (let i = 0; i < LAYERS; i++) memo(state as MemoState, i);
  },
});

interface Run {
  stats: CacheStats;
  outputs: Float32Array[][];
  readsWhileRecording: number;
  /** Conditional (indirect) dispatches recorded at each step, both branches. */
  conditionalPerStep: number[];
}

/** Runs the manager over STEPS steps for the given branches; outputs[branch][step]. */
async function run(config: CacheConfig, { branches = ['cond', 'uncond'] as readonly ('cond' | 'uncond')[], scale = 1 } = {}): Promise<Run> {
  const manager = new CacheManager(ctx, model(scale), config, STEPS);
  const outputs: Float32Array[][] = branches.map(() => []);
  const pending: { k: number; t: Tensor }[] = [];
  const reads = ctx.readbacks;
  const conditionalPerStep: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    const conditionalBefore = ctx.conditionalDispatches;
    const hidden = linearCombination(ctx, [{ tensor: directions[LAYERS], coef: scale * (1 + 0.02 * step) }]);
    const state = { timestep: step, memo: [] } as unknown as MemoState;
    for (const [k, branch] of branches.entries()) {
      const runBlock = (i: number, h: Tensor) =>
        linearCombination(ctx, [
          { tensor: h, coef: 1 },
          { tensor: directions[i], coef: weight(step, i, k, scale) },
          { tensor: memo(state, i), coef: 1 },
        ]);
      const out = await manager.runner(branch, step)(hidden, runBlock, state);
      pending.push({ k, t: out });
    }
    hidden.release();
    state.memo.forEach((t) => t?.release());
    conditionalPerStep.push(ctx.conditionalDispatches - conditionalBefore);
  }
  const readsWhileRecording = ctx.readbacks - reads;
  for (const { k, t } of pending) {
    outputs[k].push(await ctx.read(t));
    t.release();
  }
  const stats = await manager.stats();
  manager.dispose();
  return { stats, outputs, readsWhileRecording, conditionalPerStep };
}

const stepPattern = (computed: boolean[][], from = 0) => computed.map((row) => (row.slice(from).every(Boolean) ? 'C' : row.slice(from).some(Boolean) ? 'P' : 'R')).join('');
const orUndefined = (v: number | null) => (v === null ? undefined : v);

/** The host reference rule replayed on the indicators the GPU measured: the patterns it would have made. */
function hostPatterns(config: CacheConfig, stats: CacheStats): Record<string, boolean[][]> {
  const names = Object.keys(stats.branches) as ('cond' | 'uncond')[];
  const result: Record<string, boolean[][]> = {};
  const all = (v: boolean) => new Array(LAYERS).fill(v) as boolean[];
  if (config.policy === 'bwcache') {
    const c = config as BwCacheConfig;
    const joint = c.branches === 'joint' ? new JointBwCacheSchedule(c, STEPS, LAYERS) : undefined;
    const own = Object.fromEntries(names.map((n) => [n, joint ?? new BwCacheSchedule(c, STEPS, LAYERS)]));
    for (const n of names) result[n] = [];
    for (let s = 0; s < STEPS; s++) {
      for (const n of names) {
        const schedule = own[n];
        const d = schedule.decide(s);
        const reuse = d === 'reuse' ? (c.reuse === 'block' ? schedule.blocksToReuse(s) : all(true)) : all(false);
        result[n].push(reuse.map((r) => !r));
        const b = stats.branches[n]!;
        if (b.indicator[s] !== null) {
          schedule.observe(s, b.indicator[s]!);
          schedule.observeBlocks(b.blockIndicator[s].map((v, i) => (v === null || !b.computed[s][i] ? undefined : v < c.threshold)));
        }
      }
    }
  } else {
    for (const n of names) {
      const b = stats.branches[n]!;
      const rule =
        config.policy === 'static'
          ? ((s) => new StaticSchedule(config as StaticCacheConfig, STEPS).decide(s)) as (s: number) => string
          : config.policy === 'first-block'
            ? ((fb) => (s: number) => fb.decide(orUndefined(b.indicator[s])))(new FirstBlockSchedule(config as FirstBlockCacheConfig))
            : ((tc) => (s: number) => tc.decide(s, orUndefined(b.indicator[s])))(new TeaCacheSchedule(config as TeaCacheConfig, STEPS));
      result[n] = Array.from({ length: STEPS }, (_, s) => {
        const reuse = rule(s) === 'reuse';
        return all(!reuse).map((c, i) => c || (config.policy === 'first-block' && i === 0));
      });
    }
  }
  return result;
}

describe('cache manager on dummy blocks', () => {
  const specs = [
    'bwcache:threshold=0.3,maxReuse=2,blocks=all,branches=separate',
    'bwcache:threshold=0.3,maxReuse=3,mode=dynamic,branches=separate',
    'bwcache:threshold=0.3,maxReuse=2,branches=joint',
    'bwcache:threshold=0.3,maxReuse=2,reuse=block,blocks=all,branches=separate',
    'bwcache:threshold=0.3,maxReuse=2,reuse=block,mode=dynamic,branches=joint',
    'bwcache:threshold=0.3,maxReuse=2,reuse=block,storage=f32',
    'bwcache:threshold=0.2,maxReuse=3,tailSteps=3,reuse=block,blocks=1;3',
    'static:interval=3,warmupSteps=2,tailSteps=2',
    'first-block:threshold=0.2',
    'teacache:threshold=0.5,coefficients=2;0.01',
  ];
  for (const spec of specs) {
    it(`${spec}: the GPU's decisions equal the host rule's, with no read-back while recording`, async () => {
      const before = ctx.liveTensors;
      const config = parseCacheSpec(spec);
      const r = await run(config);
      expect(ctx.liveTensors).toBe(before);
      expect(r.readsWhileRecording).toBe(0);
      const host = hostPatterns(config, r.stats);
      for (const [name, b] of Object.entries(r.stats.branches)) {
        expect(b!.computed, `${name}: ${stepPattern(b!.computed)} vs host ${stepPattern(host[name])}`).toEqual(host[name]);
      }
      expect(r.stats.computedFraction).toBeLessThan(1); // the dummy blocks' changes fall below δ: something was reused
      expect(r.stats.computedFraction).toBeGreaterThan(0.2);
      expect(r.stats.storageOverflow).toEqual([]);
    });
  }

  it('steps the host knows the rule computes record the compute path alone, with no conditional dispatch', async () => {
    const last = STEPS - 1;
    const cases: [string, number[]][] = [
      // No trigger before step 2 (the first indicator is measured at step 1); the last step always computes.
      ['bwcache:threshold=0.3,maxReuse=2', [0, 1, last]],
      ['bwcache:threshold=0.3,maxReuse=2,mode=dynamic,reuse=block,tailSteps=3,branches=separate', [0, 1, last - 2, last - 1, last]],
      ['static:interval=3,warmupSteps=2,tailSteps=2', [0, 1, 2, 5, 8, 11, 12, 13]],
      ['teacache:threshold=0.5,coefficients=2;0.01,warmupSteps=3,tailSteps=2', [0, 1, 2, last - 1, last]],
    ];
    for (const [spec, forced] of cases) {
      const config = parseCacheSpec(spec);
      const r = await run(config);
      const recorded = r.conditionalPerStep.map((n, s) => (n > 0 ? 'c' : '-')).join('');
      const expected = r.conditionalPerStep.map((_, s) => (forced.includes(s) ? '-' : 'c')).join('');
      expect(recorded, spec).toBe(expected);
      expect(r.stats.branches.cond!.computed, spec).toEqual(hostPatterns(config, r.stats).cond);
      for (const s of forced) expect(r.stats.branches.cond!.computed[s].every(Boolean), `${spec} step ${s}`).toBe(true);
    }
  });

  it('without guidance (one branch) joint and block decisions still follow the host rule', async () => {
    for (const spec of ['bwcache:threshold=0.3,maxReuse=2,branches=joint', 'bwcache:threshold=0.3,reuse=block,mode=dynamic', 'teacache:threshold=0.5']) {
      const config = parseCacheSpec(spec);
      const r = await run(config, { branches: ['cond'] });
      expect(Object.keys(r.stats.branches), spec).toEqual(['cond']);
      expect(r.stats.branches.cond!.computed, spec).toEqual(hostPatterns(config, r.stats).cond);
      expect(r.stats.computedFraction, spec).toBeLessThan(1);
    }
  });

  it('per-step state the blocks share is made before the paths: a branch that computes where the other reused is exact', async () => {
    const none = await run({ policy: 'none' });
    const r = await run(parseCacheSpec('bwcache:threshold=0.3,maxReuse=3,mode=dynamic,branches=separate,storage=f32'));
    const [cond, uncond] = [r.stats.branches.cond!, r.stats.branches.uncond!].map((b) => stepPattern(b.computed));
    const uncondAlone = [...uncond].flatMap((c, s) => (c === 'C' && cond[s] === 'R' ? [s] : []));
    expect(uncondAlone.length).toBeGreaterThan(0); // uncond computes at steps where cond (recorded first) reused
    for (const s of uncondAlone) expect(Array.from(r.outputs[1][s]), `step ${s}`).toEqual(Array.from(none.outputs[1][s]));
  });

  it('reused outputs are the input plus the stored residual (stack), computed ones exact', async () => {
    const none = await run({ policy: 'none' });
    const r = await run(parseCacheSpec('bwcache:threshold=0.3,maxReuse=2,storage=f32,branches=separate'));
    const cond = r.stats.branches.cond!;
    const pattern = stepPattern(cond.computed);
    expect(pattern).toMatch(/R/);
    for (let s = 0; s < STEPS; s++) {
      if (pattern[s] === 'C') expect(Array.from(r.outputs[0][s])).toEqual(Array.from(none.outputs[0][s]));
      else expect(Array.from(r.outputs[0][s])).not.toEqual(Array.from(none.outputs[0][s]));
    }
  });

  for (const spec of ['bwcache:threshold=0', 'bwcache:threshold=0,reuse=block,blocks=all', 'first-block:threshold=0', 'teacache:threshold=0']) {
    it(`${spec} computes everything and gives outputs identical to no cache`, async () => {
      const none = await run({ policy: 'none' });
      const r = await run(parseCacheSpec(spec));
      expect(r.stats.computedFraction).toBe(1);
      expect(r.outputs.map((b) => b.map((o) => Array.from(o)))).toEqual(none.outputs.map((b) => b.map((o) => Array.from(o))));
    });
  }

  it('f16 storage past ±65504 is detected on the GPU and never reused: outputs stay finite and exact', async () => {
    const scale = 1e5; // features and residuals beyond the f16 range
    const none = await run({ policy: 'none' }, { scale });
    for (const spec of ['bwcache:threshold=10,maxReuse=2', 'bwcache:threshold=10,reuse=block', 'first-block:threshold=10', 'teacache:threshold=10', 'static:interval=2']) {
      const r = await run(parseCacheSpec(spec), { scale });
      expect(r.stats.storageOverflow, spec).toEqual(['cond', 'uncond']);
      expect(r.stats.computedFraction, spec).toBe(1);
      expect(r.outputs.every((b) => b.every((o) => o.every(Number.isFinite))), spec).toBe(true);
      expect(r.outputs.map((b) => b.map((o) => Array.from(o))), spec).toEqual(none.outputs.map((b) => b.map((o) => Array.from(o))));
    }
    // The same run in f32 storage reuses.
    const f32 = await run(parseCacheSpec('bwcache:threshold=10,maxReuse=2,storage=f32'), { scale });
    expect(f32.stats.storageOverflow).toEqual([]);
    expect(f32.stats.computedFraction).toBeLessThan(1);
  });

  it('a bad option fails before any GPU work', () => {
    const before = ctx.liveTensors;
    expect(() => new CacheManager(ctx, model(1), { ...parseCacheSpec('bwcache'), maxReuse: 0 } as CacheConfig, STEPS)).toThrow(/maxReuse must be an integer ≥ 1/);
    expect(() => new CacheManager(ctx, model(1), { ...parseCacheSpec('bwcache'), blocks: [9] } as CacheConfig, STEPS)).toThrow(/0\.\.4/);
    expect(ctx.liveTensors).toBe(before);
  });
});
