// Static interval (FORA / Δ-DiT style): the hook and its host reference. The pattern depends on the step
// only; it is decided on the GPU like the others (shaders/cache_decide_step.wgsl, OP 0) so that an f16
// overflow of the stored residual can still force compute without a read-back.

import type { StaticCacheConfig } from '../policies.ts';
import type { CacheRuntime } from '../runtime.ts';
import type { CachePolicy, StepCall } from './types.ts';

export const staticPolicy: CachePolicy<StaticCacheConfig> = {
  name: 'static',
  validate(config) {
    if (!Number.isInteger(config.interval) || config.interval < 1) throw new Error(`static: interval must be a positive integer, got ${config.interval}`);
    for (const key of ['warmupSteps', 'tailSteps'] as const) {
      if (!Number.isInteger(config[key]) || config[key] < 0) throw new Error(`static: ${key} must be a non-negative integer, got ${config[key]}`);
    }
  },
  indicatorBlocks: () => [],
  create: (config, rt: CacheRuntime) => {
    // The pattern is the host's to know: computed steps record only the compute path (an f16 overflow can
    // turn a reused step into a computed one on the GPU, never the reverse).
    const schedule = new StaticSchedule(config, rt.steps);
    return {
      recordStep({ b, step, hidden, runBlock }: StepCall) {
        rt.decideStep('static', {
          step,
          branch: b.index,
          interval: config.interval,
          warmupSteps: config.warmupSteps,
          tailSteps: config.tailSteps,
          hasProbe: false,
          hasResidual: b.stackResidual !== undefined,
        });
        return rt.stackPaths(b, step, hidden, runBlock, 0, b.index, schedule.decide(step) === 'compute');
      },
    };
  },
};

/** The static pattern on the host (the reference). */
export class StaticSchedule {
  constructor(
    readonly config: StaticCacheConfig,
    readonly steps: number,
  ) {
    staticPolicy.validate(config);
  }

  decide(step: number): 'compute' | 'reuse' {
    if (step < this.config.warmupSteps || step >= this.steps - this.config.tailSteps) return 'compute';
    return (step - this.config.warmupSteps) % this.config.interval === 0 ? 'compute' : 'reuse';
  }
}
