import { MAX_STEPS } from '../../pipeline/preflight.ts';
// `webdit timesteps`: a scheduler's schedule, for comparing with diffusers or planning a run.
import { UsageError, type Options } from '../args.ts';
import type { Command } from '../main.ts';
import { createScheduler } from '../../sampler/schedulers/index.ts';

export interface TimestepsRequest {
  scheduler: 'unipc' | 'euler';
  shift: number;
  steps: number;
  /** UniPC's solver_order (it does not change the schedule, but the config is checked as a whole). */
  order?: number;
}

/** The diffusers config each `--scheduler` stands for: Wan2.1's UniPC, or flow-match Euler. */
export function schedulerConfig(request: TimestepsRequest): Record<string, unknown> {
  if (request.scheduler === 'unipc') {
    return {
      _class_name: 'UniPCMultistepScheduler',
      prediction_type: 'flow_prediction',
      use_flow_sigmas: true,
      flow_shift: request.shift,
      solver_order: request.order ?? 2,
      solver_type: 'bh2',
      lower_order_final: true,
      final_sigmas_type: 'zero',
    };
  }
  return { _class_name: 'FlowMatchEulerDiscreteScheduler', shift: request.shift };
}

/** The schedule as diffusers' set_timesteps makes it. */
export function schedule(request: TimestepsRequest): { timesteps: number[]; sigmas: number[] } {
  const s = createScheduler(schedulerConfig(request));
  s.setTimesteps(request.steps);
  return { timesteps: [...s.timesteps], sigmas: [...s.sigmas] };
}

function parseRequest(options: Options): TimestepsRequest {
  const scheduler = options.requiredString('scheduler');
  if (scheduler !== 'unipc' && scheduler !== 'euler') throw new UsageError(`timesteps: --scheduler must be unipc or euler, got "${scheduler}"`);
  const shift = options.number('shift');
  if (shift === undefined) throw new UsageError('timesteps: --shift is required');
  if (!(shift > 0)) throw new UsageError(`timesteps: --shift must be positive, got ${shift}`);
  const steps = options.integer('steps');
  if (steps === undefined) throw new UsageError('timesteps: --steps is required');
  if (steps < 1 || steps > MAX_STEPS) throw new UsageError(`timesteps: --steps must be from 1 to ${MAX_STEPS}, got ${steps}`);
  const order = options.integer('order');
  if (order !== undefined && scheduler !== 'unipc') throw new UsageError('timesteps: --order applies to --scheduler unipc only');
  if (order !== undefined && (order < 1 || order > 3)) throw new UsageError(`timesteps: --order must be 1, 2 or 3, got ${order}`);
  options.finish();
  return { scheduler, shift, steps, order };
}

const timesteps: Command = {
  summary: "Print a scheduler's timesteps and sigmas exactly as diffusers computes them, as JSON.",
  usage: 'webdit timesteps --scheduler unipc|euler --shift S --steps N [--order K]',
  async run(options) {
    const { timesteps, sigmas } = schedule(parseRequest(options));
    // one array per line: easy to read, still plain JSON
    console.log(`{\n  "timesteps": ${JSON.stringify(timesteps)},\n  "sigmas": ${JSON.stringify(sigmas)}\n}`);
  },
};
export default timesteps;
