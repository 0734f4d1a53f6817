// The interface every cache policy implements (the diffusers hooks pattern): a definition registered by
// name checks its config and, per generation, creates a hook that records each branch's block stack at
// each step. The hook dispatches the policy's decision kernel and records the compute and reuse paths
// under the flags it writes (`CacheRuntime`), so nothing waits for the host while sampling.

import type { Tensor } from '../../gpu/tensor.ts';
import type { StepState } from '../../model/transformer.ts';
import type { CacheConfig, PolicyName } from '../policies.ts';
import type { BranchCache, CacheRuntime } from '../runtime.ts';

export type RunBlock = (index: number, hidden: Tensor) => Tensor;

/** What the caches need of a model: block 0's timestep-modulated input (TeaCache), and a way to make the
 * per-step state blocks otherwise create on first use and share between branches (`prepareStep`), so
 * none is first made inside a path the GPU may skip. */
export interface ModulatedInputSource {
  modulatedInput(index: number, hidden: Tensor, step: StepState): Tensor;
  prepareStep?(step: StepState): void;
}

/** What a policy's hook sees of one branch's forward pass at one step. */
export interface StepCall {
  b: BranchCache;
  step: number;
  hidden: Tensor;
  runBlock: RunBlock;
  stepState: StepState;
}

/** One generation's hook: created for the run, discarded after it (its GPU state lives in the runtime). */
export interface CacheHook {
  /** Records one branch's blocks at one step; returns the stack output (never `hidden` itself). */
  recordStep(call: StepCall): Tensor;
  /** After the last step: lets the decision state observe what the last step measured. */
  finish?(): void;
  /** Frees what the hook allocated. */
  dispose?(): void;
}

export interface CachePolicy<C extends CacheConfig = CacheConfig> {
  readonly name: PolicyName;
  /** Checks every option that does not depend on the model or the run (at parse time, before any load). */
  validate(config: C): void;
  /** The blocks whose features feed the similarity indicator (checked against the depth). */
  indicatorBlocks(config: C, numLayers: number): number[];
  create(config: C, rt: CacheRuntime): CacheHook;
}
