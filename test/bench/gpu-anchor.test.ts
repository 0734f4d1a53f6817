// bench/gpu_anchor.py, the PyTorch half of bench/gpu-anchor.sh, at the tiny size on CPU torch, and its merge
// with webdit results in the shape bench/gpu-anchor-step.ts and `webdit info` write. Skipped where Debian's
// python3 has no torch. (The whole script end to end: `TINY=1 bash bench/gpu-anchor.sh`, minutes here.)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const PYTHON = '/usr/bin/python3';
const hasTorch = (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('bench/gpu_anchor.py', () => {
  it.skipIf(!hasTorch)('times the tiny Wan-shaped forward and kernels, and merges webdit runs into ratios and an estimate', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpu-anchor-'));
    const torchJson = join(dir, 'torch.json');
    execFileSync(PYTHON, ['bench/gpu_anchor.py', 'torch', '--tiny', '--device', 'cpu', '--dtype', 'f32', '--tokens', '96', '--min-seconds', '0.05', '--out', torchJson], { stdio: 'pipe' });
    const native = JSON.parse(readFileSync(torchJson, 'utf8'));
    expect(native.steps).toHaveLength(1);
    expect(native.steps[0].tokens).toBe(96);
    expect(native.steps[0].secondsPerStep).toBeGreaterThan(0);
    expect(native.kernels.matmul.map((m: { N: number }) => m.N)).toEqual([64, 160, 64, 384]);
    expect(native.kernels.attention[0]).toMatchObject({ tokens: 96, heads: 2, headDim: 32 });

    const webdit = join(dir, 'webdit');
    mkdirSync(webdit);
    writeFileSync(join(webdit, 'info-f32.json'), JSON.stringify({ dawnFlags: [], kernelPaths: { matmul: 'staged' } }));
    const secondsPerStep = native.steps[0].secondsPerStep * 4;
    writeFileSync(join(webdit, 'step-f32-96.json'), JSON.stringify({ tokens: 96, steps: 3, secondsPerStep, stepMs: [1, 2, 3], kernelPaths: {} }));
    const merged = join(dir, 'all.json');
    execFileSync(PYTHON, ['bench/gpu_anchor.py', 'merge', '--torch', torchJson, '--webdit-dir', webdit, '--out', merged], { stdio: 'pipe' });
    const all = JSON.parse(readFileSync(merged, 'utf8'));
    expect(all.selfTest).toMatch(/mean nothing/);
    const [f32] = all.webdit;
    expect(f32.name).toBe('f32');
    expect(f32.steps[0].speedOfTorch).toBeCloseTo(0.25, 6);
    expect(f32.estimate480p81.tokens).toBe(21 * 30 * 52);
    expect(f32.estimate480p81.seconds50StepsBwcache).toBeCloseTo(f32.estimate480p81.seconds50Steps / 2, 6);
  }, 60_000);
});
