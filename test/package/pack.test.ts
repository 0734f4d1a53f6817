// The npm package end to end (test/package/pack.sh): pack, install the tarball into a fresh project,
// `npx webdit info`, a 2-step toy clip from Node through `import 'webdit'`, and a Vite app that builds.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = resolve(import.meta.dirname, 'pack.sh');

describe('the npm package', () => {
  it('installs from its tarball, runs its CLI, generates from Node and builds in a Vite app', () => {
    // Vitest's NODE_ENV=test would make the package's Vite build a development one.
    const env = { ...process.env };
    delete env.NODE_ENV;
    const run = spawnSync('bash', [SCRIPT], { env, encoding: 'utf8', timeout: 280_000 });
    const log = `${run.stdout}\n${run.stderr}`;
    expect(run.error, log).toBeUndefined();
    expect(run.status, log).toBe(0);
    expect(log).toMatch(/tarball webdit-[\d.]+\.tgz: [\d.]+ MB packed/);
    expect(log).toMatch(/8 frames 32x32, \d+ bytes of WebM/);
    expect(log).toContain('== package test passed');
  }, 300_000);
});
