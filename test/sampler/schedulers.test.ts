// Schedulers against diffusers' own outputs (test/golden/schedulers.json): the schedule exactly,
// and every step of the trajectory to 1e-5 relative, on the GPU and on the CPU float64 path.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { relativeError } from '../helpers/reference.ts';
import { PlanExecutor, createScheduler, float64Algebra } from '../../src/sampler/schedulers/index.ts';

interface GoldenCase {
  scheduler: string;
  config: Record<string, unknown>;
  steps: number;
  timesteps: number[];
  sigmas: number[];
  shape: number[];
  initial: number[];
  trajectory: number[][];
}

const golden = JSON.parse(readFileSync(new URL('../golden/schedulers.json', import.meta.url), 'utf8')) as { cases: GoldenCase[] };

/** The golden's stand-in model: v = −0.6·x + 0.05·sin(3x + t/97) + 0.01·(i mod 3). */
function standIn(x: ArrayLike<number>, t: number, i: number): Float64Array {
  return Float64Array.from(x, (v) => -0.6 * v + 0.05 * Math.sin(3 * v + t / 97) + 0.01 * (i % 3));
}

function label(c: GoldenCase): string {
  const shift = c.config.flow_shift ?? c.config.shift;
  return `${c.scheduler} shift ${shift}, ${c.steps} steps`;
}

function schedulerFor(c: GoldenCase) {
  const s = createScheduler({ _class_name: c.scheduler, ...c.config });
  s.setTimesteps(c.steps);
  return s;
}

describe('schedulers against diffusers', () => {
  for (const c of golden.cases) {
    it(`${label(c)}: timesteps and sigmas exactly`, () => {
      const s = schedulerFor(c);
      expect(s.className).toBe(c.scheduler);
      expect(s.timesteps).toEqual(c.timesteps);
      expect(s.sigmas).toEqual(c.sigmas);
    });

    it(`${label(c)}: CPU float64 path follows the trajectory`, () => {
      const s = schedulerFor(c);
      const executor = new PlanExecutor(float64Algebra);
      let x: Float64Array = Float64Array.from(c.initial);
      for (let i = 0; i < c.steps; i++) {
        x = executor.run(s.planStep(), { sample: x, modelOutput: standIn(x, s.timesteps[i], i) });
        expect(relativeError(x, c.trajectory[i]), `step ${i}`).toBeLessThan(1e-5);
      }
      expect(executor.heldValues).toBe(0);
      expect(s.stepIndex).toBe(c.steps);
      expect(() => s.planStep()).toThrow(/all \d+ steps are done/);
    });

    it(`${label(c)}: GPU steps follow the trajectory and release their history`, async () => {
      const ctx = await testContext();
      const before = ctx.liveTensors;
      const s = schedulerFor(c);
      const order = Number(c.config.solver_order ?? 1);
      let x = ctx.upload(Float32Array.from(c.initial), c.shape);
      for (let i = 0; i < c.steps; i++) {
        const host = await ctx.read(x);
        const v = ctx.upload(Float32Array.from(standIn(host, s.timesteps[i], i)), c.shape);
        const next = s.step(ctx, v, x);
        expect(next.shape).toEqual(c.shape);
        v.release();
        x.release();
        x = next;
        expect(relativeError(await ctx.read(x), c.trajectory[i]), `step ${i}`).toBeLessThan(1e-5);
        // the sample, plus at most the last sample and `order` x0 predictions held by the scheduler
        expect(ctx.liveTensors - before).toBeLessThanOrEqual(2 + order);
      }
      expect(ctx.liveTensors - before).toBe(1);
      x.release();
    });
  }

  it('reset() releases the history and starts the schedule over', async () => {
    const ctx = await testContext();
    const c = golden.cases.find((g) => g.scheduler === 'UniPCMultistepScheduler')!;
    const s = schedulerFor(c);
    const before = ctx.liveTensors;
    const run = async (steps: number) => {
      let x = ctx.upload(Float32Array.from(c.initial), c.shape);
      for (let i = 0; i < steps; i++) {
        const v = ctx.upload(Float32Array.from(standIn(await ctx.read(x), s.timesteps[i], i)), c.shape);
        const next = s.step(ctx, v, x);
        v.release();
        x.release();
        x = next;
      }
      const out = await ctx.read(x);
      x.release();
      return out;
    };
    await run(3);
    expect(ctx.liveTensors).toBeGreaterThan(before);
    s.reset();
    expect(ctx.liveTensors).toBe(before);
    expect(s.stepIndex).toBe(0);
    expect(relativeError(await run(5), c.trajectory[4])).toBeLessThan(1e-5);
    s.setTimesteps(c.steps); // also starts over
    expect(ctx.liveTensors).toBe(before);
    expect(relativeError(await run(c.steps), c.trajectory[c.steps - 1])).toBeLessThan(1e-5);
  });

  it('refuses mismatched inputs and stepping outside the schedule', async () => {
    const ctx = await testContext();
    const s = createScheduler({ _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3 });
    const a = ctx.zeros([2, 3]);
    const b = ctx.zeros([3, 2]);
    const ints = ctx.zeros([2, 3], 'u32');
    expect(() => s.step(ctx, a, a)).toThrow(/setTimesteps/);
    s.setTimesteps(2);
    expect(() => s.step(ctx, a, b)).toThrow(/same shape/);
    expect(() => s.step(ctx, ints, a)).toThrow(/must be f32/);
    expect(s.stepIndex).toBe(0);
    expect(() => s.setTimesteps(0)).toThrow(/positive integer/);
    [a, b, ints].forEach((t) => t.release());
  });
});

describe('createScheduler', () => {
  const unipc = golden.cases.find((g) => g.scheduler === 'UniPCMultistepScheduler')!.config;
  const euler = golden.cases.find((g) => g.scheduler === 'FlowMatchEulerDiscreteScheduler')!.config;

  it('chooses the class from _class_name and ignores fields it does not use', () => {
    const s = createScheduler({ _class_name: 'UniPCMultistepScheduler', _diffusers_version: '0.33.0', ...unipc, beta_schedule: 'scaled_linear' });
    expect(s.className).toBe('UniPCMultistepScheduler');
    expect(createScheduler({ _class_name: 'FlowMatchEulerDiscreteScheduler', ...euler }).className).toBe('FlowMatchEulerDiscreteScheduler');
    expect(() => createScheduler({ ...unipc })).toThrow(/_class_name/);
    expect(() => createScheduler({ _class_name: 'DDIMScheduler' })).toThrow(/"DDIMScheduler" is not supported/);
  });

  it('refuses what it does not implement, naming the field', () => {
    const u = (extra: object) => () => createScheduler({ _class_name: 'UniPCMultistepScheduler', ...unipc, ...extra });
    const e = (extra: object) => () => createScheduler({ _class_name: 'FlowMatchEulerDiscreteScheduler', ...euler, ...extra });
    expect(u({ prediction_type: 'epsilon' })).toThrow(/prediction_type = "epsilon" is not supported/);
    expect(u({ prediction_type: undefined })).toThrow(/prediction_type = "epsilon" \(the diffusers default\)/);
    expect(u({ use_flow_sigmas: false })).toThrow(/use_flow_sigmas/);
    expect(u({ use_dynamic_shifting: true })).toThrow(/use_dynamic_shifting/);
    expect(u({ solver_type: 'bh1' })).toThrow(/solver_type = "bh1"/);
    expect(u({ solver_order: 4 })).toThrow(/solver_order/);
    expect(u({ use_karras_sigmas: true })).toThrow(/use_karras_sigmas/);
    expect(u({ thresholding: true })).toThrow(/thresholding/);
    expect(u({ predict_x0: false })).toThrow(/predict_x0/);
    expect(u({ shift_terminal: 0.1 })).toThrow(/shift_terminal/);
    expect(u({ final_sigmas_type: 'sigma_max' })).toThrow(/final_sigmas_type/);
    expect(u({ lower_order_final: false })).toThrow(/lower_order_final/);
    expect(u({ flow_shift: 'three' })).toThrow(/flow_shift must be a finite number/);
    expect(e({ use_dynamic_shifting: true })).toThrow(/use_dynamic_shifting/);
    expect(e({ stochastic_sampling: true })).toThrow(/stochastic_sampling/);
    expect(e({ invert_sigmas: true })).toThrow(/invert_sigmas/);
    expect(e({ shift: -1 })).toThrow(/shift must be positive/);
  });

  it('accepts diffusers aliases and the sigma_min final sigma', () => {
    const s = createScheduler({ _class_name: 'UniPCMultistepScheduler', ...unipc, solver_type: 'midpoint', final_sigmas_type: 'sigma_min', lower_order_final: false });
    s.setTimesteps(10);
    expect(s.sigmas[10]).toBe(s.sigmas[9]);
    const executor = new PlanExecutor(float64Algebra);
    let x: Float64Array = Float64Array.from([0.5, -1, 2]);
    for (let i = 0; i < 10; i++) x = executor.run(s.planStep(), { sample: x, modelOutput: standIn(x, s.timesteps[i], i) });
    expect(x.every(Number.isFinite)).toBe(true);
  });
});
