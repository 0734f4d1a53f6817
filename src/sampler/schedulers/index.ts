// Schedulers by diffusers class name: `createScheduler(JSON.parse(scheduler_config.json))`.

import type { RawConfig } from './config.ts';
import { FlowMatchEulerDiscreteScheduler } from './flow-match-euler.ts';
import type { Scheduler } from './scheduler.ts';
import { UniPCMultistepScheduler } from './unipc.ts';

export { FlowMatchEulerDiscreteScheduler } from './flow-match-euler.ts';
export { UniPCMultistepScheduler } from './unipc.ts';
export type { Scheduler } from './scheduler.ts';
export { PlanExecutor, float64Algebra, type LinearAlgebra, type StepPlan } from './plan.ts';

const SCHEDULERS: Record<string, new (config: RawConfig) => Scheduler> = {
  UniPCMultistepScheduler,
  FlowMatchEulerDiscreteScheduler,
};

/** The scheduler named by the config's `_class_name`, configured by the rest of it. */
export function createScheduler(config: object): Scheduler {
  const raw = config as RawConfig;
  const name = raw._class_name;
  if (typeof name !== 'string') throw new Error('scheduler config has no "_class_name"');
  const Class = SCHEDULERS[name];
  if (!Class) throw new Error(`scheduler "${name}" is not supported; webdit implements ${Object.keys(SCHEDULERS).join(', ')}`);
  return new Class(raw);
}
