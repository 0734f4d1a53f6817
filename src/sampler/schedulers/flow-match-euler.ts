// Flow-matching Euler, as diffusers' FlowMatchEulerDiscreteScheduler: x ← x + (σ_next − σ)·v.
//
// The schedule reproduces diffusers' arithmetic exactly. The constructor builds the training
// sigmas in float32 and shifts them (σ' = s·σ/(1 + (s − 1)·σ)); set_timesteps spaces the inference
// timesteps linearly between the shifted ends in float64 and shifts them again, so the shift is
// applied twice. Timesteps are float32 values (σ·T in float32), not integers.

import { ConfigReader, checkStepCount, linspace, truthy, type RawConfig } from './config.ts';
import { TermBuilder, type StepPlan } from './plan.ts';
import { SchedulerBase } from './scheduler.ts';

export interface FlowMatchEulerConfig {
  num_train_timesteps: number;
  shift: number;
}

const CLASS_NAME = 'FlowMatchEulerDiscreteScheduler';

/** Reads a diffusers config; absent fields take diffusers' defaults. */
export function readFlowMatchEulerConfig(raw: RawConfig): FlowMatchEulerConfig {
  const r = new ConfigReader(CLASS_NAME, raw);
  r.requireBoolean('use_dynamic_shifting', false, false, 'resolution-dependent shifting needs mu; use shift');
  r.requireBoolean('invert_sigmas', false, false, 'inverted sigmas are not implemented');
  r.requireBoolean('stochastic_sampling', false, false, 'stochastic sampling is not implemented');
  for (const name of ['use_karras_sigmas', 'use_exponential_sigmas', 'use_beta_sigmas']) {
    r.requireBoolean(name, false, false, 'only the shifted linear flow schedule is implemented');
  }
  r.refuse('shift_terminal', truthy, 'the terminal stretch is not implemented');
  const config: FlowMatchEulerConfig = {
    num_train_timesteps: r.integer('num_train_timesteps', 1000, 1, 2 ** 24),
    shift: r.number('shift', 1),
  };
  if (config.shift <= 0) throw new Error(`${CLASS_NAME}: shift must be positive, got ${config.shift}`);
  return config;
}

export class FlowMatchEulerDiscreteScheduler extends SchedulerBase {
  readonly className = CLASS_NAME;
  readonly config: FlowMatchEulerConfig;
  /** Ends of the shifted training schedule (float32 values), as diffusers' sigma_max / sigma_min. */
  readonly sigmaMax: number;
  readonly sigmaMin: number;

  constructor(config: RawConfig = {}) {
    super();
    this.config = readFlowMatchEulerConfig(config);
    const { num_train_timesteps: T, shift } = this.config;
    // Training timesteps run T, T−1, ..., 1 (exact in float32); σ = t/T and the shift are float32
    // tensor arithmetic in diffusers: every operation rounds to float32 (the scalars too).
    const f = Math.fround;
    const shift32 = f(shift);
    const shiftMinusOne32 = f(shift - 1);
    const shifted = (t: number): number => {
      const sigma = f(t / T);
      return f(f(shift32 * sigma) / f(1 + f(shiftMinusOne32 * sigma)));
    };
    this.sigmaMax = shifted(T);
    this.sigmaMin = shifted(1);
  }

  setTimesteps(numInferenceSteps: number): void {
    checkStepCount(CLASS_NAME, numInferenceSteps);
    const { num_train_timesteps: T, shift } = this.config;
    // float64 (numpy) up to the cast, then float32 (torch): σ in float32, timestep = σ·T in float32.
    const sigmas = linspace(this.sigmaMax * T, this.sigmaMin * T, numInferenceSteps)
      .map((t) => t / T)
      .map((x) => Math.fround((shift * x) / (1 + (shift - 1) * x)));
    this.timesteps = sigmas.map((x) => Math.fround(x * T));
    this.sigmas = [...sigmas, 0];
    this.reset();
  }

  protected resetCounters(): void {}

  planStep(): StepPlan {
    this.checkNotDone();
    const i = this.index++;
    const dt = this.sigmas[i + 1] - this.sigmas[i];
    return {
      stepIndex: i,
      timestep: this.timesteps[i],
      sigma: this.sigmas[i],
      sigmaNext: this.sigmas[i + 1],
      combinations: [{ result: 'next', terms: new TermBuilder().add('sample', 1).add('modelOutput', dt).terms() }],
      output: 'next',
      keep: { history: [] },
    };
  }
}
