// UniPC orders 1 and 3, which the goldens do not cover: order 1 against formulas derived here
// independently (in σ, without λ or expm1), order 3 against order 2 and an accurate ODE solution.
import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { relativeError } from '../helpers/reference.ts';
import { PlanExecutor, UniPCMultistepScheduler, float64Algebra } from '../../src/sampler/schedulers/index.ts';

// Wan2.1's scheduler_config.json with the order under test.
const WAN = {
  _class_name: 'UniPCMultistepScheduler',
  num_train_timesteps: 1000,
  prediction_type: 'flow_prediction',
  use_flow_sigmas: true,
  flow_shift: 3.0,
  solver_order: 2,
  solver_type: 'bh2',
  lower_order_final: true,
  final_sigmas_type: 'zero',
};

const INITIAL = Float64Array.from({ length: 24 }, (_, k) => 1.5 * Math.sin(1.7 * k + 0.3));

/** The golden's stand-in model (depends on the step through t and i). */
function standIn(x: ArrayLike<number>, t: number, i: number): Float64Array {
  return Float64Array.from(x, (v) => -0.6 * v + 0.05 * Math.sin(3 * v + t / 97) + 0.01 * (i % 3));
}

/** A smooth velocity field v(x, σ), so the ODE dx/dσ = v has a well-defined accurate solution. */
function smooth(x: ArrayLike<number>, sigma: number): Float64Array {
  return Float64Array.from(x, (v) => -0.6 * v + 0.05 * Math.sin(3 * v + 10 * sigma));
}

function runCpu(order: number, steps: number, velocity: (x: Float64Array, i: number, s: UniPCMultistepScheduler) => Float64Array, extra: object = {}): Float64Array[] {
  const s = new UniPCMultistepScheduler({ ...WAN, solver_order: order, ...extra });
  s.setTimesteps(steps);
  const executor = new PlanExecutor(float64Algebra);
  let x: Float64Array = INITIAL;
  const out: Float64Array[] = [];
  for (let i = 0; i < steps; i++) {
    x = executor.run(s.planStep(), { sample: x, modelOutput: velocity(x, i, s) });
    out.push(x);
  }
  return out;
}

/** dx/dσ = v(x, σ) from σ₀ to 0 by classical RK4 with many small steps. */
function accurateSolution(sigma0: number): Float64Array {
  const substeps = 4000;
  const h = -sigma0 / substeps;
  let x = INITIAL;
  const axpy = (a: Float64Array, c: number, b: Float64Array) => a.map((v, j) => v + c * b[j]);
  for (let k = 0; k < substeps; k++) {
    const s = sigma0 + k * h;
    const k1 = smooth(x, s);
    const k2 = smooth(axpy(x, h / 2, k1), s + h / 2);
    const k3 = smooth(axpy(x, h / 2, k2), s + h / 2);
    const k4 = smooth(axpy(x, h, k3), s + h);
    x = x.map((v, j) => v + (h / 6) * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]));
  }
  return x;
}

describe('UniPC order 1', () => {
  // With α = 1 − σ and λ = log(α/σ), e^(−h) = α_s·σ_t/(α_t·σ_s), so UniP-1 from σ_s to σ_t is
  //   x_t = (σ_t/σ_s)·x_s + (α_t − α_s·σ_t/σ_s)·x0_s,
  // and UniC-1 (ρ = 1/2) replaces x0_s by the mean of x0_s and the new x0_t.
  function derived(steps: number): Float64Array[] {
    const s = new UniPCMultistepScheduler({ ...WAN, solver_order: 1 });
    s.setTimesteps(steps);
    const sig = s.sigmas;
    const weight = (from: number, to: number) => 1 - sig[to] - ((1 - sig[from]) * sig[to]) / sig[from];
    const ratio = (from: number, to: number) => sig[to] / sig[from];
    let x: Float64Array = INITIAL;
    let start: Float64Array = INITIAL;
    let x0Prev: Float64Array = INITIAL;
    const out: Float64Array[] = [];
    for (let i = 0; i < steps; i++) {
      const v = standIn(x, s.timesteps[i], i);
      const x0 = x.map((xv, j) => xv - sig[i] * v[j]);
      if (i > 0) x = start.map((sv, j) => ratio(i - 1, i) * sv + (weight(i - 1, i) * (x0Prev[j] + x0[j])) / 2);
      start = x;
      x = start.map((sv, j) => ratio(i, i + 1) * sv + weight(i, i + 1) * x0[j]);
      x0Prev = x0;
      out.push(x);
    }
    return out;
  }

  it('matches the derivation in float64 on every step', () => {
    const expected = derived(25);
    const got = runCpu(1, 25, (x, i, s) => standIn(x, s.timesteps[i], i));
    got.forEach((x, i) => expect(relativeError(x, expected[i]), `step ${i}`).toBeLessThan(1e-12));
  });

  it('without its corrector is exactly flow-match Euler on the same sigmas', () => {
    const steps = 12;
    const got = runCpu(1, steps, (x, i, s) => standIn(x, s.timesteps[i], i), { disable_corrector: Array.from({ length: steps }, (_, i) => i) });
    const s = new UniPCMultistepScheduler({ ...WAN, solver_order: 1 });
    s.setTimesteps(steps);
    let x: Float64Array = INITIAL;
    for (let i = 0; i < steps; i++) {
      const v = standIn(x, s.timesteps[i], i);
      x = x.map((xv, j) => xv + (s.sigmas[i + 1] - s.sigmas[i]) * v[j]);
      expect(relativeError(got[i], x), `step ${i}`).toBeLessThan(1e-12);
    }
  });

  it('on the GPU matches the derivation to f32 accuracy', async () => {
    const ctx = await testContext();
    const expected = derived(15);
    const s = new UniPCMultistepScheduler({ ...WAN, solver_order: 1 });
    s.setTimesteps(15);
    let x = ctx.upload(Float32Array.from(INITIAL), [4, 6]);
    for (let i = 0; i < 15; i++) {
      const v = ctx.upload(Float32Array.from(standIn(await ctx.read(x), s.timesteps[i], i)), [4, 6]);
      const next = s.step(ctx, v, x);
      v.release();
      x.release();
      x = next;
      expect(relativeError(await ctx.read(x), expected[i]), `step ${i}`).toBeLessThan(1e-5);
    }
    x.release();
  });
});

describe('UniPC order 3', () => {
  it('stays finite and close to order 2, and both beat order 1 against an accurate solution', () => {
    for (const steps of [10, 20, 50]) {
      const [o1, o2, o3] = [1, 2, 3].map((order) => runCpu(order, steps, (x, i, s) => smooth(x, s.sigmas[i])).at(-1)!);
      expect(o3.every(Number.isFinite)).toBe(true);
      expect(relativeError(o3, o2), `${steps} steps`).toBeLessThan(5e-3);
      if (steps === 50) {
        const s = new UniPCMultistepScheduler(WAN);
        s.setTimesteps(steps);
        const exact = accurateSolution(s.sigmas[0]);
        const e1 = relativeError(o1, exact);
        expect(relativeError(o2, exact)).toBeLessThan(e1 / 2);
        expect(relativeError(o3, exact)).toBeLessThan(e1 / 2);
      }
    }
  });

  // A model whose x0 prediction is a polynomial P(λ) whatever x is: v = (x − P(λ))/σ. The flow ODE
  // dx/dσ = (x − x0)/σ then gives x_t = (σ_t/σ_s)·x_s + σ_t·∫ e^λ·P(λ) dλ over [λ_s, λ_t], and
  // ∫ e^λ·P = e^λ·(P − P′ + P″ − P‴). UniP-3 solves its order conditions for a quadratic P, UniC-3
  // for a cubic one: there they integrate exactly, which pins down every order-3 coefficient.
  const lambda = (sigma: number) => Math.log((1 - sigma) / sigma);
  const coefs = [0.3, 0.05, 0.004, 0.0003].map((scale, d) => INITIAL.map((v, j) => scale * Math.cos(1.3 * j + d + v)));
  function polynomial(degree: number) {
    const p = (l: number, j: number, derivative = 0) => {
      let sum = 0;
      for (let d = derivative; d <= degree; d++) {
        let falling = 1;
        for (let k = 0; k < derivative; k++) falling *= d - k;
        sum += coefs[d][j] * falling * l ** (d - derivative);
      }
      return sum;
    };
    const antiderivative = (l: number, j: number) => Math.exp(l) * (p(l, j) - p(l, j, 1) + p(l, j, 2) - p(l, j, 3));
    /** x at σ_t from x at σ_s, exactly. */
    const propagate = (x: Float64Array, sigmaS: number, sigmaT: number) =>
      x.map((v, j) => (sigmaT / sigmaS) * v + sigmaT * (antiderivative(lambda(sigmaT), j) - antiderivative(lambda(sigmaS), j)));
    return { p, propagate };
  }

  /** Runs order 3 on the CPU and records each step's predicted and corrected samples. */
  function record(steps: number, p: (l: number, j: number) => number) {
    const s = new UniPCMultistepScheduler({ ...WAN, solver_order: 3 });
    s.setTimesteps(steps);
    let results: Float64Array[] = [];
    const executor = new PlanExecutor<Float64Array>({
      combine: (terms) => {
        const out = float64Algebra.combine(terms);
        results.push(out);
        return out;
      },
      release: () => {},
    });
    let x: Float64Array = INITIAL;
    const predicted: Float64Array[] = [];
    const corrected: (Float64Array | undefined)[] = [];
    for (let i = 0; i < steps; i++) {
      const l = lambda(s.sigmas[i]);
      const v = x.map((xv, j) => (xv - p(l, j)) / s.sigmas[i]);
      const plan = s.planStep();
      results = [];
      x = executor.run(plan, { sample: x, modelOutput: v });
      const k = plan.combinations.findIndex((c) => c.result === 'corrected');
      corrected.push(i > 0 && k >= 0 ? results[k] : undefined);
      predicted.push(x);
    }
    return { sigmas: s.sigmas, predicted, corrected };
  }

  it('predicts exactly when the x0 prediction is quadratic in λ', () => {
    const { p, propagate } = polynomial(2);
    const steps = 30;
    const { sigmas, predicted } = record(steps, p);
    // predicted[i] is at σ_{i+1}. From step 3 on the corrector changes nothing (the prediction was
    // exact), so each order-3 prediction (steps 2 to steps − 3) follows from the one before.
    for (let i = 3; i <= steps - 3; i++) {
      expect(relativeError(predicted[i], propagate(predicted[i - 1], sigmas[i], sigmas[i + 1])), `step ${i}`).toBeLessThan(1e-10);
    }
  });

  it('corrects exactly when the x0 prediction is cubic in λ', () => {
    const { p, propagate } = polynomial(3);
    const steps = 30;
    const { sigmas, predicted, corrected } = record(steps, p);
    // The corrector has order 3 from step 3 to steps − 2; the predictor alone is not exact here.
    let predictorError = 0;
    for (let i = 3; i <= steps - 2; i++) {
      const exact = propagate(corrected[i - 1]!, sigmas[i - 1], sigmas[i]);
      expect(relativeError(corrected[i]!, exact), `step ${i}`).toBeLessThan(1e-10);
      predictorError = Math.max(predictorError, relativeError(predicted[i - 1], exact));
    }
    expect(predictorError).toBeGreaterThan(1e-7);
  });

  it('runs on the GPU as on the CPU (five-term corrector folded into 4-term kernels)', async () => {
    const ctx = await testContext();
    const before = ctx.liveTensors;
    const steps = 12;
    const expected = runCpu(3, steps, (x, i, s) => standIn(x, s.timesteps[i], i));
    const s = new UniPCMultistepScheduler({ ...WAN, solver_order: 3 });
    s.setTimesteps(steps);
    let x = ctx.upload(Float32Array.from(INITIAL), [2, 3, 4]);
    for (let i = 0; i < steps; i++) {
      const v = ctx.upload(Float32Array.from(standIn(await ctx.read(x), s.timesteps[i], i)), [2, 3, 4]);
      const next = s.step(ctx, v, x);
      v.release();
      x.release();
      x = next;
      expect(relativeError(await ctx.read(x), expected[i]), `step ${i}`).toBeLessThan(1e-5);
      expect(ctx.liveTensors - before).toBeLessThanOrEqual(1 + 1 + 3);
    }
    expect(ctx.liveTensors - before).toBe(1);
    x.release();
  });
});
