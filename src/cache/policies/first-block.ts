// First Block Cache (ParaAttention; diffusers' FirstBlockCacheConfig): block 0 always runs; the rest of the
// stack is reused while block 0's residual changed less than δ against the last fully computed step.
// Decided on the GPU (shaders/cache_decide_step.wgsl, OP 1); `FirstBlockSchedule` is the host reference.

import { subtractInto } from '../../gpu/kernels/subtract-store.ts';
import type { FirstBlockCacheConfig } from '../policies.ts';
import type { CacheRuntime } from '../runtime.ts';
import type { CachePolicy, StepCall } from './types.ts';

export const firstBlockPolicy: CachePolicy<FirstBlockCacheConfig> = {
  name: 'first-block',
  validate(config) {
    if (!(Number.isFinite(config.threshold) && config.threshold >= 0)) throw new Error(`first-block: threshold must be a non-negative number, got ${config.threshold}`);
  },
  indicatorBlocks: () => [],
  create: (config, rt: CacheRuntime) => ({
    recordStep({ b, step, hidden, runBlock }: StepCall) {
      const { ctx } = rt;
      const first = runBlock(0, hidden);
      const residual = subtractInto(ctx, first, hidden, ctx.empty(first.shape, 'f32', 'block 0 residual'), rt.overflow, b.index);
      const probe = b.probe;
      if (probe) rt.measure(b, step, 0, residual, probe);
      rt.decideStep('first-block', { step, branch: b.index, threshold: config.threshold, hasProbe: probe !== undefined, hasResidual: b.stackResidual !== undefined && rt.numLayers > 1 });
      // Compared against the residual of the last fully computed step, so slow drift still triggers.
      const storeProbe = () => {
        b.probe = rt.store(b, residual, probe);
      };
      if (b.stackResidual && probe) ctx.conditional(rt.flags, rt.flagIndex(b.index, 'stack-compute'), storeProbe);
      else storeProbe();
      residual.release();
      const out = rt.stackPaths(b, step, first, runBlock, 1, b.index);
      if (out !== first) first.release();
      return out;
    },
  }),
};

/** The host reference: decided inside each step, after block 0 ran, from its residual's relative change. */
export class FirstBlockSchedule {
  constructor(readonly config: FirstBlockCacheConfig) {
    firstBlockPolicy.validate(config);
  }

  /** `change`: relative L1 change of block 0's residual against the last fully computed step (undefined at step 0). */
  decide(change: number | undefined): 'compute' | 'reuse' {
    return change !== undefined && change < this.config.threshold ? 'reuse' : 'compute';
  }
}
