// `webdit timesteps` against the golden schedules diffusers produced.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Options, UsageError, parseArgs } from '../../src/cli/args.ts';
import timesteps from '../../src/cli/commands/timesteps.ts';
import { main } from '../../src/cli/main.ts';

interface GoldenCase {
  scheduler: string;
  config: { flow_shift?: number; shift?: number; solver_order?: number };
  steps: number;
  timesteps: number[];
  sigmas: number[];
}

const golden = JSON.parse(readFileSync(new URL('../golden/schedulers.json', import.meta.url), 'utf8')) as { cases: GoldenCase[] };

/** Runs the command's function and returns what it printed. */
async function run(argv: string[]): Promise<string> {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    await timesteps.run(new Options(parseArgs(argv), 'timesteps'));
    return log.mock.calls.map((args) => args.join(' ')).join('\n');
  } finally {
    log.mockRestore();
  }
}

describe('webdit timesteps', () => {
  afterEach(() => vi.restoreAllMocks());

  for (const c of golden.cases) {
    const unipc = c.scheduler === 'UniPCMultistepScheduler';
    const argv = [
      '--scheduler', unipc ? 'unipc' : 'euler',
      '--shift', String(unipc ? c.config.flow_shift : c.config.shift),
      '--steps', String(c.steps),
      ...(unipc ? ['--order', String(c.config.solver_order)] : []),
    ];
    it(`prints diffusers' schedule: ${argv.join(' ')}`, async () => {
      const printed = JSON.parse(await run(argv));
      expect(Object.keys(printed)).toEqual(['timesteps', 'sigmas']);
      expect(printed.timesteps).toEqual(c.timesteps);
      expect(printed.sigmas).toEqual(c.sigmas);
    });
  }

  it('prints UniPC timesteps as integers and Euler timesteps as floats', async () => {
    expect(await run(['--scheduler', 'unipc', '--shift', '3', '--steps', '4'])).toContain('"timesteps": [999,');
    const euler = JSON.parse(await run(['--scheduler', 'euler', '--shift', '5', '--steps', '30']));
    expect(euler.timesteps.some((t: number) => !Number.isInteger(t))).toBe(true);
  });

  it('refuses bad options with a usage error', async () => {
    const bad = async (argv: string[], message: RegExp) => {
      const err = await run(argv).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(message);
    };
    await bad(['--shift', '3', '--steps', '10'], /--scheduler is required/);
    await bad(['--scheduler', 'ddim', '--shift', '3', '--steps', '10'], /unipc or euler/);
    await bad(['--scheduler', 'unipc', '--steps', '10'], /--shift is required/);
    await bad(['--scheduler', 'unipc', '--shift', '0', '--steps', '10'], /--shift must be positive/);
    await bad(['--scheduler', 'unipc', '--shift', '3'], /--steps is required/);
    await bad(['--scheduler', 'unipc', '--shift', '3', '--steps', '2.5'], /--steps must be an integer/);
    await bad(['--scheduler', 'unipc', '--shift', '3', '--steps', '10', '--order', '4'], /--order must be 1, 2 or 3/);
    await bad(['--scheduler', 'euler', '--shift', '3', '--steps', '10', '--order', '2'], /unipc only/);
    await bad(['--scheduler', 'euler', '--shift', '3', '--steps', '10', '--sheduler', 'x'], /unknown option --sheduler/);
  });

  it('is reachable from the CLI entry', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await main(['timesteps', '--scheduler', 'euler', '--shift', '1', '--steps', '10'])).toBe(0);
    const shiftOne = golden.cases.find((c) => c.scheduler === 'FlowMatchEulerDiscreteScheduler' && c.config.shift === 1 && c.steps === 10)!;
    expect(JSON.parse(String(log.mock.calls[0][0])).timesteps).toEqual(shiftOne.timesteps);
    expect(await main(['timesteps', '--scheduler', 'euler'])).toBe(2);
    expect(String(error.mock.calls[0][0])).toMatch(/--shift is required/);
  });
});
