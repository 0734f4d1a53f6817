// Argument fuzz: random combinations of options and values for every command, run through the real
// entry (main) with GPU context creation replaced by a sentinel, so no GPU work happens. Each run
// either parses (reaches the GPU, or finishes a GPU-free command) or prints one line of error plus
// the usage line; never a stack trace, never an internal JavaScript error.

import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const GPU_SENTINEL = 'GPU work would start here';
vi.mock('../../src/gpu/node.ts', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  createNodeContext: async () => {
    throw new Error(GPU_SENTINEL);
  },
}));

const { main } = await import('../../src/cli/main.ts');

const TOY = join(__dirname, '../../public/models/toy');
let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'args-fuzz-'));
  writeFileSync(join(dir, 'not-json.json'), '{ nope');
});

const OPTIONS: Record<string, string[]> = {
  info: [],
  decode: ['decoder', 'latents', 'out', 'layout', 'name', 'chunk-frames'],
  'bench-kernels': ['full', 'no-attention', 'no-peer', 'quick', 'path', 'tokens', 'widths'],
  transformer: ['model', 'inputs', 'out', 'weights', 'text-len', 'f', 'intermediates'],
  plan: ['config', 'frames', 'height', 'width', 'dtype', 'text-len'],
  timesteps: ['scheduler', 'shift', 'steps', 'order'],
  generate: ['model', 'decoder', 'prompt', 'embeds', 'negative', 'negative-embeds', 'frames', 'height', 'width', 'steps', 'guidance', 'seed', 'cache', 'latents', 'scale', 'out', 'quiet'],
  bench: ['model', 'decoder', 'prompt', 'embeds', 'negative-embeds', 'seeds', 'policies', 'json', 'no-profile', 'repeats', 'out', 'svg', 'frames', 'steps'],
  calibrate: ['model', 'decoder', 'prompt', 'embeds', 'seeds', 'degree', 'out', 'steps'],
  'eval-toy': ['model', 'prompt', 'prompts', 'seeds', 'cache', 'json', 'steps'],
};

function values(): string[] {
  return [
    '', '0', '-1', '1', '2', '5', '17', '1.5', 'NaN', 'Infinity', '1e400', '-0', '0x10', 'abc', '4096', '100000', '9007199254740993',
    'f16', 'f32', 'unipc', 'euler', 'euler2', 'ncthw', 'none', 'bwcache', 'bwcache:threshold=0.2', 'bwcache:threshold=-1', 'bwcache:nope=1',
    'teacache:threshold=0.1:0.3:0.1', 'fbcache:threshold=x', 'all', '0,1', '0,-1', '1;2', 'a red circle moving right', 'a purple elephant dancing',
    '/nonexistent', '/nonexistent/clip.webm', join(dir, 'clip.webm'), join(dir, 'clip.mp4'), join(dir, 'clip.gif'), join(dir, 'x.safetensors'),
    join(dir, 'not-json.json'), dir, TOY, join(TOY, 'transformer/config.json'), join(TOY, 'scheduler/scheduler_config.json'), 'ünïcödé', '--', '=',
  ];
}

/** xorshift32: the same cases every run, so a failure reproduces. */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

function randomArgv(command: string, next: () => number): string[] {
  const pick = <T>(list: T[]) => list[Math.floor(next() * list.length)];
  const names = [...OPTIONS[command], 'frmaes', 'output', 'x'];
  const argv = [command];
  const count = Math.floor(next() * 6);
  for (let i = 0; i < count; i++) {
    const r = next();
    const name = next() < 0.9 ? pick(OPTIONS[command].length ? OPTIONS[command] : names) : pick(names);
    if (r < 0.15) argv.push(`--${name}`);
    else if (r < 0.3) argv.push(`--${name}=${pick(values())}`);
    else if (r < 0.35) argv.push(pick(values()));
    else argv.push(`--${name}`, pick(values()));
  }
  return argv;
}

const INTERNAL = /TypeError|RangeError|ReferenceError|SyntaxError|Cannot read properties|is not a function|undefined|Invalid typed array|\n\s+at /;

async function runCli(argv: string[]): Promise<{ code: number; lines: string[]; out: string }> {
  const err: string[] = [];
  const out: string[] = [];
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (err.push(String(s)), true));
  const code = await main(argv);
  vi.restoreAllMocks();
  return { code, lines: err.join('\n').split('\n').filter((l) => l.trim() !== ''), out: out.join('\n') };
}

afterEach(() => vi.restoreAllMocks());

describe('argument fuzz over every command (no GPU work)', () => {
  it('600 random command lines: each parses, or prints one error line plus usage; never a stack trace', async () => {
    const next = random(23);
    const outcomes = { parsed: 0, usage: 0, error: 0 };
    const commands = Object.keys(OPTIONS);
    for (let i = 0; i < 600; i++) {
      const argv = randomArgv(commands[i % commands.length], next);
      const { code, lines, out } = await runCli(argv);
      const context = `webdit ${argv.map((a) => JSON.stringify(a)).join(' ')} → ${code}\n${lines.join('\n')}`;
      expect(lines.join('\n') + out, context).not.toMatch(INTERNAL);
      if (code === 0 || lines.some((l) => l.includes(GPU_SENTINEL))) {
        outcomes.parsed++;
        // Only an unknown-word warning may come before the sentinel.
        expect(lines.filter((l) => !l.startsWith('warning:') && !l.includes(GPU_SENTINEL)), context).toEqual([]);
      } else if (code === 2) {
        outcomes.usage++;
        // One line of error, then the command's usage (which may run over several lines).
        expect(lines.findIndex((l) => l.startsWith('usage: webdit ')), context).toBe(1);
      } else {
        outcomes.error++;
        // A file the command reads is missing or malformed: one line that names it.
        expect(code, context).toBe(1);
        expect(lines, context).toHaveLength(1);
        expect(lines[0], context).toMatch(new RegExp(`^webdit ${argv[0]}: `));
      }
    }
    // The fuzz reaches all three outcomes, so it tests something.
    expect(outcomes.parsed).toBeGreaterThan(20);
    expect(outcomes.usage).toBeGreaterThan(200);
  }, 60_000);
});

describe('generate checks what it can before the GPU', () => {
  const cases: [string, string[], RegExp][] = [
    ['a missing output folder', ['--prompt', 'a red circle', '--out', '/missing/dir/clip.webm'], /the folder \/missing\/dir does not exist/],
    ['an unsupported extension', ['--prompt', 'a red circle', '--out', 'clip.gif'], /--out must end in \.mp4, \.webm, \.safetensors/],
    ['an output that is a folder', ['--prompt', 'a red circle', '--out', '/tmp/'], /--out must end in/],
    ['a read-only output folder', ['--prompt', 'a red circle', '--out', '/proc/clip.webm'], /cannot write \/proc\/clip\.webm: the folder \/proc is not writable/],
    ['a missing model folder', ['--prompt', 'x', '--model', '/nonexistent', '--out', 'x.webm'], /--model \/nonexistent: no such folder/],
    ['a model that is a file', ['--prompt', 'x', '--model', 'package.json', '--out', 'x.webm'], /--model package\.json is a file/],
    ['a misspelt option', ['--prompt', 'x', '--frmaes', '9', '--out', 'x.webm'], /unknown option --frmaes/],
    ['zero steps', ['--prompt', 'x', '--steps', '0', '--out', 'x.webm'], /steps must be an integer from 1 to 1000, got 0/],
    ['a million steps', ['--prompt', 'x', '--steps', '1000000', '--out', 'x.webm'], /steps must be an integer from 1 to 1000/],
    ['negative guidance', ['--prompt', 'x', '--guidance', '-3', '--out', 'x.webm'], /guidance must be a number ≥ 0/],
    ['a negative seed', ['--prompt', 'x', '--seed', '-1', '--out', 'x.webm'], /seed must be an integer from 0/],
    ['a fractional seed', ['--prompt', 'x', '--seed', '1.5', '--out', 'x.webm'], /--seed must be an integer, got 1\.5/],
    ['an unknown cache', ['--prompt', 'x', '--cache', 'magic', '--out', 'x.webm'], /unknown cache policy "magic"/],
    ['an unknown cache option', ['--prompt', 'x', '--cache', 'bwcache:nope=1', '--out', 'x.webm'], /has no option "nope"/],
    ['both prompt and embeds', ['--prompt', 'x', '--embeds', 'package.json', '--out', 'x.webm'], /--prompt or --embeds, not both/],
    ['a missing embeds file', ['--embeds', '/nonexistent.safetensors', '--out', 'x.webm'], /--embeds \/nonexistent\.safetensors: no such file/],
    ['no prompt', ['--out', 'x.webm'], /give --prompt TEXT or --embeds FILE/],
    ['--scale 0', ['--prompt', 'x', '--scale', '0', '--out', 'x.webm'], /--scale must be a positive integer/],
  ];
  it.each(cases)('%s: a usage error, before any GPU work', async (_, args, message) => {
    const { code, lines } = await runCli(['generate', ...args]);
    expect(lines.join('\n')).not.toContain(GPU_SENTINEL);
    expect(code).toBe(2);
    expect(lines[0]).toMatch(message);
  });
});

describe('plan and timesteps', () => {
  it('plan suggests the nearest valid sizes; timesteps refuses a billion steps', async () => {
    const plan = await runCli(['plan', '--config', join(TOY, 'transformer/config.json'), '--frames', '10', '--height', '30', '--width', '32']);
    expect(plan.code).toBe(2);
    expect(plan.lines[0]).toBe('plan: height must be a multiple of 4 for this model, got 30 (nearest: 28 or 32)');
    const steps = await runCli(['timesteps', '--scheduler', 'unipc', '--shift', '3', '--steps', '1000000000']);
    expect(steps.code).toBe(2);
    expect(steps.lines[0]).toMatch(/--steps must be from 1 to 1000/);
  });
});
