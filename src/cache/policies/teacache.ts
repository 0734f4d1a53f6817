// TeaCache: the relative L1 change of block 0's modulated input, rescaled by a polynomial fitted per model
// (`webdit calibrate`) and accumulated over the steps; the stack residual is reused while the sum stays
// below δ. Decided on the GPU (shaders/cache_decide_step.wgsl, OP 2); `TeaCacheSchedule` is the host
// reference.

import type { Tensor } from '../../gpu/tensor.ts';
import { polyval, type TeaCacheConfig } from '../policies.ts';
import type { CacheRuntime } from '../runtime.ts';
import type { CacheHook, CachePolicy, StepCall } from './types.ts';

export const teacachePolicy: CachePolicy<TeaCacheConfig> = {
  name: 'teacache',
  validate(config) {
    if (!(Number.isFinite(config.threshold) && config.threshold >= 0)) throw new Error(`teacache: threshold must be a non-negative number, got ${config.threshold}`);
    if (!Array.isArray(config.coefficients) || config.coefficients.length === 0 || !config.coefficients.every(Number.isFinite)) {
      throw new Error(`teacache: coefficients must be one or more numbers, got ${JSON.stringify(config.coefficients)}`);
    }
    for (const key of ['warmupSteps', 'tailSteps'] as const) {
      if (!Number.isInteger(config[key]) || config[key] < 0) throw new Error(`teacache: ${key} must be a non-negative integer, got ${config[key]}`);
    }
  },
  indicatorBlocks: () => [],
  create: (config, rt) => new TeaCacheHook(config, rt),
};

class TeaCacheHook implements CacheHook {
  private readonly coefficients: Tensor;

  constructor(
    readonly config: TeaCacheConfig,
    readonly rt: CacheRuntime,
  ) {
    this.coefficients = rt.ctx.upload(Float32Array.from(config.coefficients), [config.coefficients.length], 'f32', 'teacache coefficients');
  }

  recordStep({ b, step, hidden, runBlock, stepState }: StepCall): Tensor {
    const { rt, config } = this;
    if (!rt.model) throw new Error('teacache: the cache was given no model to take block 0’s modulated input from');
    const probe = rt.model.modulatedInput(0, hidden, stepState);
    const hadProbe = b.probe !== undefined;
    b.probe = rt.measureAndStore(b, step, 0, probe, b.probe);
    probe.release();
    rt.decideStep('teacache', {
      step,
      branch: b.index,
      threshold: config.threshold,
      warmupSteps: config.warmupSteps,
      tailSteps: config.tailSteps,
      coefficients: this.coefficients,
      hasProbe: hadProbe,
      hasResidual: b.stackResidual !== undefined,
    });
    // Warm-up and tail steps compute whatever the indicator says (the kernel's `edge`): no reuse path to record.
    const edge = step < config.warmupSteps || step + config.tailSteps >= rt.steps;
    return rt.stackPaths(b, step, hidden, runBlock, 0, b.index, edge);
  }

  dispose(): void {
    this.coefficients.release();
  }
}

/** The host reference: rescaled indicator accumulated across steps; compute when the sum reaches δ. */
export class TeaCacheSchedule {
  private accumulated = 0;

  constructor(
    readonly config: TeaCacheConfig,
    readonly steps: number,
  ) {
    teacachePolicy.validate(config);
  }

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
