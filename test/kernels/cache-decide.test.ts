// The cache decision kernels through their typed wrappers: the layout checks, and each rule's flags and
// records on hand-made state (the full rules against their host references: test/cache/manager.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import {
  DECISION_NONE,
  DECISION_SLOTS,
  decideBwCache,
  decideStep,
  flagWords,
  recordWords,
  stateWords,
  type BwCacheDecision,
  type DecisionBuffers,
} from '../../src/gpu/kernels/cache-decide.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import type { Tensor } from '../../src/gpu/tensor.ts';

const L = 3;
const STEPS = 7;
const BRANCHES = 2;
let ctx: GpuContext;

beforeAll(async () => {
  ctx = await testContext();
});

/** Fresh decision buffers (no first trigger yet), as src/cache/runtime.ts makes them. */
function buffers(sumValues?: Float32Array): DecisionBuffers & { release(): void } {
  const initial = new Uint32Array(DECISION_SLOTS * stateWords(L));
  for (let s = 0; s < DECISION_SLOTS; s++) initial[s * stateWords(L)] = DECISION_NONE;
  const b = {
    sums: sumValues ? ctx.upload(sumValues, [sumValues.length]) : ctx.zeros([2 * BRANCHES * STEPS * L]),
    record: ctx.zeros([BRANCHES * STEPS * recordWords(L)], 'u32'),
    state: ctx.upload(initial, [initial.length], 'u32'),
    flags: ctx.zeros([DECISION_SLOTS * flagWords(L)], 'u32'),
    overflow: ctx.zeros([BRANCHES], 'u32'),
  };
  return { ...b, release: () => Object.values(b).forEach((t: Tensor) => t.release()) };
}

const words = async (t: Tensor) => Array.from(new Uint32Array(await ctx.readRaw(t)));

describe('cache decision kernels', () => {
  let follow: Tensor;
  beforeAll(() => {
    follow = ctx.upload(Uint32Array.from([0, 1, 2]), [L], 'u32');
  });
  afterAll(() => follow.release());

  const bw = (step: number, extra: Partial<BwCacheDecision> = {}): BwCacheDecision => ({
    step,
    steps: STEPS,
    numLayers: L,
    maxReuse: 2,
    tailSteps: DECISION_NONE,
    threshold: 0.1,
    dynamic: false,
    blockReuse: false,
    slot: 0,
    firstBranch: 0,
    branchCount: 2,
    observeCount: 2,
    hasResidual: true,
    ...extra,
  });

  it('refuse buffers that do not match the run, and indices outside it, before dispatching', () => {
    const b = buffers();
    const short = ctx.zeros([5], 'u32');
    const f32 = ctx.zeros([DECISION_SLOTS * stateWords(L)]);
    const before = ctx.conditionalDispatches;
    expect(() => decideBwCache(ctx, { ...b, record: short }, follow, bw(0))).toThrow(/record .* needs 70/);
    expect(() => decideBwCache(ctx, { ...b, state: f32 }, follow, bw(0))).toThrow(/state must be u32/);
    expect(() => decideBwCache(ctx, b, short, bw(0))).toThrow(/follow must hold one block per layer/);
    expect(() => decideBwCache(ctx, b, follow, bw(STEPS + 1))).toThrow(/step 8 outside 0\.\.7/);
    expect(() => decideBwCache(ctx, b, follow, bw(0, { slot: 2 }))).toThrow(/slot 2 outside/);
    expect(() => decideBwCache(ctx, b, follow, bw(0, { firstBranch: 1, branchCount: 2 }))).toThrow(/branches 1\.\.2 outside/);
    expect(() => decideBwCache(ctx, b, follow, bw(0, { maxReuse: 0 }))).toThrow(/maxReuse/);
    const step = { step: 0, steps: STEPS, numLayers: L, branch: 0, hasProbe: false, hasResidual: false };
    expect(() => decideStep(ctx, 'static', b, { ...step, step: STEPS })).toThrow(/step 7 outside 0\.\.6/);
    expect(() => decideStep(ctx, 'static', b, { ...step, branch: 2 })).toThrow(/branch 2 outside/);
    expect(() => decideStep(ctx, 'static', b, { ...step, interval: 0 })).toThrow(/interval/);
    expect(() => decideStep(ctx, 'teacache', b, step)).toThrow(/coefficients/);
    expect(() => decideStep(ctx, 'static', b, { ...step, coefficients: b.sums })).toThrow(/only teacache/);
    expect(() => decideStep(ctx, 'lru' as 'static', b, step)).toThrow(/unknown rule "lru"/);
    expect(ctx.conditionalDispatches).toBe(before);
    [short, f32].forEach((t) => t.release());
    b.release();
  });

  it("static: each branch's flags and record follow the interval, warm-up and tail", async () => {
    const b = buffers();
    const interval = 3;
    const [warmupSteps, tailSteps] = [1, 2];
    for (let step = 0; step < STEPS; step++) {
      decideStep(ctx, 'static', b, { step, steps: STEPS, numLayers: L, branch: 1, interval, warmupSteps, tailSteps, hasProbe: false, hasResidual: true });
      const compute = step < warmupSteps || step + tailSteps >= STEPS || (step - warmupSteps) % interval === 0;
      const flags = await words(b.flags);
      const f = flagWords(L);
      expect(flags.slice(f, f + 2), `step ${step}`).toEqual(compute ? [1, 0] : [0, 1]);
      const record = await words(b.record);
      const at = (STEPS + step) * recordWords(L) + 2;
      expect(record.slice(at, at + L), `step ${step}`).toEqual(new Array(L).fill(compute ? 1 : 0));
    }
    // Branch 0's slot was never touched.
    expect((await words(b.flags)).slice(0, flagWords(L))).toEqual(new Array(flagWords(L)).fill(0));
    b.release();
  });

  it('bwcache: an indicator below δ at step 1 is the first trigger; R reused steps follow, then one computed', async () => {
    // Every block of both branches changed by 0.05 (< δ = 0.1) between steps 0 and 1, 0.5 later.
    const sums = new Float32Array(2 * BRANCHES * STEPS * L);
    for (let k = 0; k < BRANCHES; k++) {
      for (let s = 0; s < STEPS; s++) {
        for (let i = 0; i < L; i++) {
          const slot = (k * STEPS + s) * L + i;
          sums[2 * slot] = s === 1 ? 0.05 : 0.5;
          sums[2 * slot + 1] = 1;
        }
      }
    }
    const b = buffers(sums);
    const pattern: string[] = [];
    for (let step = 0; step < STEPS; step++) {
      decideBwCache(ctx, b, follow, bw(step, { hasResidual: step > 0 }));
      const flags = await words(b.flags);
      pattern.push(flags[0] ? 'C' : 'R');
      expect(flags[0] + flags[1], `step ${step}`).toBe(1);
    }
    decideBwCache(ctx, b, follow, bw(STEPS)); // the final observation
    // Trigger at 1 (R = 2): steps 2, 3 reused, 4 computed, 5 reused, and the tail (⌈1/2⌉ = 1 step) computed.
    expect(pattern.join('')).toBe('CCRRCRC');
    const state = await words(b.state);
    expect(state[0]).toBe(1);
    const record = await words(b.record);
    for (let k = 0; k < BRANCHES; k++) {
      const computed = Array.from({ length: STEPS }, (_, s) => (record[(k * STEPS + s) * recordWords(L) + 2] ? 'C' : 'R')).join('');
      expect(computed, `branch ${k}`).toBe('CCRRCRC');
      // The indicator recorded at step 1 is the blocks' mean change there.
      const at = (k * STEPS + 1) * recordWords(L);
      expect(record[at]).toBe(1);
      expect(new Float32Array(Uint32Array.from([record[at + 1]]).buffer)[0]).toBeCloseTo(0.05, 6);
    }
    b.release();
  });
});
