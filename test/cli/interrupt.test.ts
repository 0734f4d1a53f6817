// Ctrl-C during `webdit generate`: the run stops within a step, no file (nor a partial one) is left at
// --out, and the process exits 130 (128 + SIGINT), as shells expect.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = join(__dirname, '../../bin/webdit.mjs');

describe('webdit generate and Ctrl-C', () => {
  it('SIGINT at step 2 of 200: exit 130 within a few steps, nothing written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webdit-interrupt-'));
    const child = spawn(process.execPath, [BIN, 'generate', '--prompt', 'a red circle moving right', '--steps', '200', '--out', join(dir, 'clip.webm')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let sentAt = 0;
    let stepsAtSignal = 0;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const steps = [...stderr.matchAll(/step (\d+)\/200/g)].map((m) => Number(m[1]));
      const last = steps.at(-1) ?? 0;
      if (!sentAt && last >= 2) {
        sentAt = performance.now();
        stepsAtSignal = last;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    const stopMs = performance.now() - sentAt;
    expect(sentAt, stderr).toBeGreaterThan(0);
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/webdit generate: interrupted; nothing was written\n$/);
    const stepsShown = [...stderr.matchAll(/step (\d+)\/200/g)].map((m) => Number(m[1]));
    // It stopped within a step of the signal (the progress line lags the GPU by one step).
    expect(Math.max(...stepsShown)).toBeLessThanOrEqual(stepsAtSignal + 2);
    expect(stopMs).toBeLessThan(15_000);
    expect(readdirSync(dir)).toEqual([]);
  }, 120_000);
});
