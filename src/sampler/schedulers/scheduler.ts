// What every scheduler offers: a schedule (timesteps, sigmas), a host-side planner that turns the
// next step into linear combinations, and `step`, which runs that plan on the GPU.

import type { GpuContext } from '../../gpu/context.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { gpuAlgebra } from './gpu-algebra.ts';
import { PlanExecutor, type StepPlan } from './plan.ts';

export interface Scheduler {
  /** diffusers' class name, as in `_class_name`. */
  readonly className: string;
  /** One timestep per step (the value the model is conditioned on), after `setTimesteps`. */
  readonly timesteps: readonly number[];
  /** One sigma per step plus the final one (float32 values, as diffusers stores them). */
  readonly sigmas: readonly number[];
  /** Index of the next step; equals `timesteps.length` when the schedule is done. */
  readonly stepIndex: number;
  /** Builds the schedule for `numInferenceSteps` steps and starts over (as `reset`). */
  setTimesteps(numInferenceSteps: number): void;
  /** The next step as linear combinations, computed on the host in double precision; advances the step index. */
  planStep(): StepPlan;
  /**
   * One step on the GPU: returns the new sample as a new tensor (the caller owns it). Does not
   * release its inputs; the history the scheduler needs is kept and released by the scheduler.
   */
  step(ctx: GpuContext, modelOutput: Tensor, sample: Tensor): Tensor;
  /** Back to step 0, releasing any kept history. */
  reset(): void;
}

export abstract class SchedulerBase implements Scheduler {
  abstract readonly className: string;
  timesteps: number[] = [];
  sigmas: number[] = [];
  protected index = 0;
  private gpu: { ctx: GpuContext; executor: PlanExecutor<Tensor> } | undefined;

  get stepIndex(): number {
    return this.index;
  }

  abstract setTimesteps(numInferenceSteps: number): void;
  abstract planStep(): StepPlan;

  step(ctx: GpuContext, modelOutput: Tensor, sample: Tensor): Tensor {
    for (const [name, t] of [['modelOutput', modelOutput], ['sample', sample]] as const) {
      t.assertLive(`${this.className}.step (${name})`);
      if (t.dtype !== 'f32') throw new Error(`${this.className}.step: ${name} must be f32, got ${t.dtype}`);
    }
    if (modelOutput.shape.length !== sample.shape.length || modelOutput.shape.some((d, i) => d !== sample.shape[i])) {
      throw new Error(`${this.className}.step: modelOutput [${modelOutput.shape}] and sample [${sample.shape}] must have the same shape`);
    }
    if (this.gpu && this.gpu.ctx !== ctx) throw new Error(`${this.className}.step: called with another GPU context than its history lives on; reset() first`);
    this.gpu ??= { ctx, executor: new PlanExecutor(gpuAlgebra(ctx)) };
    return this.gpu.executor.run(this.planStep(), { sample, modelOutput });
  }

  reset(): void {
    this.gpu?.executor.reset();
    this.gpu = undefined;
    this.index = 0;
    this.resetCounters();
  }

  /** Clears the subclass's own step bookkeeping. */
  protected abstract resetCounters(): void;

  protected checkNotDone(): void {
    if (this.timesteps.length === 0) throw new Error(`${this.className}: call setTimesteps() before stepping`);
    if (this.index >= this.timesteps.length) {
      throw new Error(`${this.className}: all ${this.timesteps.length} steps are done; reset() or setTimesteps() to start over`);
    }
  }
}
