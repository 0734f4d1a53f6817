// UniPC multistep (Zhao et al. 2023, arXiv 2302.04867) as diffusers' UniPCMultistepScheduler runs
// it for flow-matching models such as Wan2.1: flow sigmas, data (x0) prediction, the B(h) = e^h − 1
// variant ("bh2"), predictor orders 1–3 with the UniC corrector, final sigma 0.
//
// With flow sigmas, α = 1 − σ and λ = log α − log σ. Each step i converts the velocity v to
// x0 = x − σ_i·v, corrects the sample with UniC (from step 1 on), then predicts the next sample
// with UniP. Everything is linear in the tensors, so a step is a plan of linear combinations whose
// coefficients are computed here in double precision.

import { ConfigReader, checkStepCount, linspace, truthy, type RawConfig } from './config.ts';
import { TermBuilder, type Combination, type Operand, type ResultOperand, type StepPlan, type Term } from './plan.ts';
import { SchedulerBase } from './scheduler.ts';

export interface UniPCConfig {
  num_train_timesteps: number;
  flow_shift: number;
  solver_order: number;
  lower_order_final: boolean;
  final_sigmas_type: 'zero' | 'sigma_min';
  /** Steps after which the corrector is skipped (diffusers' meaning: index of the previous step). */
  disable_corrector: number[];
}

const CLASS_NAME = 'UniPCMultistepScheduler';

/** Reads a diffusers config; absent fields take diffusers' defaults. */
export function readUniPCConfig(raw: RawConfig): UniPCConfig {
  const r = new ConfigReader(CLASS_NAME, raw);
  r.oneOf('prediction_type', 'epsilon', ['flow_prediction']);
  r.requireBoolean('use_flow_sigmas', false, true, 'webdit implements the flow-matching schedule only');
  r.requireBoolean('predict_x0', true, true, 'flow_prediction needs the data-prediction form');
  r.oneOf('solver_type', 'bh2', ['bh2', 'midpoint', 'heun', 'logrho']); // diffusers maps the last three to bh2
  r.requireBoolean('thresholding', false, false, 'dynamic thresholding is not implemented');
  r.requireBoolean('use_dynamic_shifting', false, false, 'resolution-dependent shifting needs mu; use flow_shift');
  for (const name of ['use_karras_sigmas', 'use_exponential_sigmas', 'use_beta_sigmas']) {
    r.requireBoolean(name, false, false, 'only the shifted linear flow schedule is implemented');
  }
  r.refuse('shift_terminal', truthy, 'the terminal stretch is not implemented');
  r.refuse('solver_p', truthy, 'an external predictor cannot be used');
  const config: UniPCConfig = {
    num_train_timesteps: r.integer('num_train_timesteps', 1000, 1),
    flow_shift: r.number('flow_shift', 1),
    solver_order: r.integer('solver_order', 2, 1, 3),
    lower_order_final: r.boolean('lower_order_final', true),
    final_sigmas_type: r.oneOf('final_sigmas_type', 'zero', ['zero', 'sigma_min']),
    disable_corrector: r.integerList('disable_corrector'),
  };
  if (config.flow_shift <= 0) throw new Error(`${CLASS_NAME}: flow_shift must be positive, got ${config.flow_shift}`);
  if (!config.lower_order_final && config.final_sigmas_type === 'zero' && config.solver_order > 1) {
    // At σ = 0, λ = +∞: a multistep update divides the history differences by r_k = 0, and
    // diffusers returns infinities. Only the first-order final step is defined.
    throw new Error(`${CLASS_NAME}: lower_order_final = false with final_sigmas_type = "zero" and solver_order > 1 is not supported (the last step divides by zero in diffusers)`);
  }
  return config;
}

/** λ = log α − log σ for the flow schedule (α = 1 − σ); +∞ at σ = 0. */
function lambdaOf(sigma: number): number {
  return Math.log(1 - sigma) - Math.log(sigma);
}

/**
 * The B(h) solver's scalars for data prediction (hh = −h): hφ₁ = e^hh − 1, B(h) = e^hh − 1 (bh2),
 * and the order conditions' right-hand side b_k = k!·g_k/B(h), where g₁ = hφ₁/hh − 1 and
 * g_{k+1} = g_k/hh − 1/(k+1)! (Taylor remainders of e^hh, scaled). At σ_next = 0, hh = −∞ and
 * IEEE arithmetic gives the reference's limits: hφ₁ = B(h) = −1.
 */
function bh2(h: number, order: number): { hPhi1: number; bH: number; b: number[] } {
  const hh = -h;
  const hPhi1 = Math.expm1(hh);
  const bH = Math.expm1(hh);
  let hPhiK = hPhi1 / hh - 1;
  let factorial = 1;
  const b: number[] = [];
  for (let k = 1; k <= order; k++) {
    b.push((hPhiK * factorial) / bH);
    factorial *= k + 1;
    hPhiK = hPhiK / hh - 1 / factorial;
  }
  return { hPhi1, bH, b };
}

/** Solves the small system A·x = y by Gaussian elimination with partial pivoting. */
function solve(a: number[][], y: number[]): number[] {
  const n = y.length;
  const m = a.map((row, i) => [...row.slice(0, n), y[i]]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    if (m[pivot][col] === 0) throw new Error(`${CLASS_NAME}: singular UniPC system (repeated sigmas?)`);
    [m[col], m[pivot]] = [m[pivot], m[col]];
    for (let r = col + 1; r < n; r++) {
      const f = m[r][col] / m[col][col];
      for (let c = col; c <= n; c++) m[r][c] -= f * m[col][c];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r][n];
    for (let c = r + 1; c < n; c++) s -= m[r][c] * x[c];
    x[r] = s / m[r][r];
  }
  return x;
}

/** R[j][k] = r_k^j: the Vandermonde-like matrix of the UniPC order conditions. */
function powers(rks: number[], rows: number): number[][] {
  return Array.from({ length: rows }, (_, j) => rks.map((r) => r ** j));
}

export class UniPCMultistepScheduler extends SchedulerBase {
  readonly className = CLASS_NAME;
  readonly config: UniPCConfig;
  /** Steps taken so far, capped at solver_order: limits the order while history builds up. */
  private lowerOrderNums = 0;
  /** The previous predictor's order: the order of this step's corrector. */
  private lastOrder = 0;
  private lambdas: number[] = [];

  constructor(config: RawConfig = {}) {
    super();
    this.config = readUniPCConfig(config);
  }

  setTimesteps(numInferenceSteps: number): void {
    checkStepCount(CLASS_NAME, numInferenceSteps);
    const { num_train_timesteps: T, flow_shift: s } = this.config;
    // float64, in diffusers' order of operations, so the int64 truncation below lands identically.
    const sigmas = linspace(1, 1 / T, numInferenceSteps + 1)
      .slice(0, numInferenceSteps)
      .map((x) => (s * x) / (1 + (s - 1) * x));
    // keeps α = 1 − σ₀ above 0, so log α stays finite
    if (Math.abs(sigmas[0] - 1) < 1e-6) sigmas[0] -= 1e-6;
    this.timesteps = sigmas.map((x) => Math.trunc(x * T));
    const last = this.config.final_sigmas_type === 'zero' ? 0 : sigmas[sigmas.length - 1];
    this.sigmas = [...sigmas, last].map(Math.fround);
    this.lambdas = this.sigmas.map(lambdaOf);
    this.reset();
  }

  protected resetCounters(): void {
    this.lowerOrderNums = 0;
    this.lastOrder = 0;
  }

  planStep(): StepPlan {
    this.checkNotDone();
    const i = this.index;
    const n = this.timesteps.length;
    const { solver_order, lower_order_final, disable_corrector } = this.config;
    const sigma = this.sigmas[i];
    const combinations: Combination[] = [
      { result: 'x0', terms: new TermBuilder().add('sample', 1).add('modelOutput', -sigma).terms() },
    ];

    const isLast = i === n - 1;
    // The next step's corrector restarts from the sample this step predicts from.
    const keepLastSample = !isLast && !disable_corrector.includes(i);
    let start: Operand = 'sample';
    if (i > 0 && !disable_corrector.includes(i - 1)) {
      combinations.push({ result: 'corrected', terms: this.correctorTerms(i, this.lastOrder) });
      start = 'corrected';
    } else if (keepLastSample) {
      combinations.push({ result: 'corrected', terms: [{ operand: 'sample', coef: 1 }] });
      start = 'corrected';
    }

    let order = lower_order_final ? Math.min(solver_order, n - i) : solver_order;
    order = Math.min(order, this.lowerOrderNums + 1);
    const predicted = this.predictorTerms(i, order, start);
    let output: ResultOperand = 'next';
    if (predicted.length === 1 && predicted[0].operand === 'x0' && predicted[0].coef === 1 && isLast) {
      output = 'x0'; // the final step to σ = 0 returns the x0 prediction itself
    } else {
      combinations.push({ result: 'next', terms: predicted });
    }

    // History: this step's x0 first, then the older ones, as many as a later step can use.
    const history: Operand[] = isLast ? [] : ['x0', ...Array.from({ length: Math.min(this.lowerOrderNums, solver_order - 1) }, (_, k) => `history${k}` as const)];
    const plan: StepPlan = {
      stepIndex: i,
      timestep: this.timesteps[i],
      sigma,
      sigmaNext: this.sigmas[i + 1],
      combinations,
      output,
      keep: { lastSample: keepLastSample ? start : undefined, history },
    };
    this.lastOrder = order;
    this.lowerOrderNums = Math.min(this.lowerOrderNums + 1, solver_order);
    this.index++;
    return plan;
  }

  /**
   * UniC-p at step i: refines the sample predicted at step i − 1 (kept as lastSample) using this
   * step's x0 and the x0 history (history0 = step i − 1, history1 = step i − 2, ...).
   */
  private correctorTerms(i: number, order: number): Term[] {
    const sigmaT = this.sigmas[i];
    const sigmaS0 = this.sigmas[i - 1];
    const alphaT = 1 - sigmaT;
    const lambdaS0 = this.lambdas[i - 1];
    const h = this.lambdas[i] - lambdaS0;
    const rks: number[] = [];
    for (let k = 1; k < order; k++) rks.push((this.lambdas[i - (k + 1)] - lambdaS0) / h);
    rks.push(1);
    const { hPhi1, bH, b } = bh2(h, order);
    const rhos = order === 1 ? [0.5] : solve(powers(rks, order), b);

    // x_t = σ_t/σ_s0·x − α_t·hφ₁·m0 − α_t·B(h)·(Σ_k ρ_k·(m_k − m0)/r_k + ρ_p·(x0 − m0))
    const terms = new TermBuilder().add('lastSample', sigmaT / sigmaS0).add('history0', -alphaT * hPhi1);
    const scale = -alphaT * bH;
    for (let k = 1; k < order; k++) {
      const c = (scale * rhos[k - 1]) / rks[k - 1];
      terms.add(`history${k}`, c).add('history0', -c);
    }
    const cLast = scale * rhos[order - 1];
    return terms.add('x0', cLast).add('history0', -cLast).terms();
  }

  /** UniP-p at step i: from the sample at σ_i to σ_{i+1}, using this x0 and the older ones. */
  private predictorTerms(i: number, order: number, start: Operand): Term[] {
    const sigmaT = this.sigmas[i + 1];
    const sigmaS0 = this.sigmas[i];
    const alphaT = 1 - sigmaT;
    const lambdaS0 = this.lambdas[i];
    const h = this.lambdas[i + 1] - lambdaS0;
    const rks: number[] = [];
    for (let k = 1; k < order; k++) rks.push((this.lambdas[i - k] - lambdaS0) / h);
    const { hPhi1, bH, b } = bh2(h, order);
    const rhos = order === 1 ? [] : order === 2 ? [0.5] : solve(powers(rks, order - 1), b.slice(0, order - 1));

    // x_t = σ_t/σ_s0·x − α_t·hφ₁·m0 − α_t·B(h)·Σ_k ρ_k·(m_k − m0)/r_k, with m0 = this x0 and
    // m_k the x0 of step i − k (history_{k−1} before this step's shift).
    const terms = new TermBuilder().add(start, sigmaT / sigmaS0).add('x0', -alphaT * hPhi1);
    const scale = -alphaT * bH;
    for (let k = 1; k < order; k++) {
      const c = (scale * rhos[k - 1]) / rks[k - 1];
      terms.add(`history${k - 1}`, c).add('x0', -c);
    }
    return terms.terms();
  }
}
