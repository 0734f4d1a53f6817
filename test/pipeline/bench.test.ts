import { describe, expect, it } from 'vitest';
import { testContext } from '../helpers/gpu.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { loadBundle } from '../../src/pipeline/bundle.ts';
import { runCacheBenchmark } from '../../src/pipeline/bench.ts';

describe('cache benchmark', () => {
  it('reports every policy against none on the same seeds, with the per-block curve', async () => {
    const ctx = await testContext();
    const bundle = await loadBundle(ctx, directoryFolder(writeTinyModel(3)));
    const report = await runCacheBenchmark(ctx, bundle, {
      prompt: bundle.textEncoder!.encode('a blue square'),
      steps: 6,
      seeds: [1, 2],
      policies: ['bwcache:threshold=0', 'static:interval=2'],
      frames: 4,
      height: 8,
      width: 8,
      guidance: 3,
    });
    expect(report.policies.map((p) => p.spec)).toEqual(['none', 'bwcache:threshold=0', 'static']);
    const [none, exact, stat] = report.policies;
    expect(none.speedup).toBe(1);
    expect(none.speedupRange).toEqual([1, 1]); // each round's none against itself
    expect(stat.speedupRange[0]).toBeLessThanOrEqual(stat.speedup);
    expect(stat.speedup).toBeLessThanOrEqual(stat.speedupRange[1]);
    expect(none.psnr).toBe(Infinity);
    expect(exact.psnr).toBe(Infinity); // δ = 0: identical frames
    expect(exact.computedFraction).toBe(1);
    expect(stat.computedFraction).toBeLessThan(1);
    expect(report.policies.map((p) => p.hostReadbacks)).toEqual([0, 0, 0]); // decisions stay on the GPU
    expect(stat.psnr).toBeLessThan(Infinity);
    expect(stat.perSeed).toHaveLength(2);
    expect(report.curve.relL1).toHaveLength(6);
    expect(report.curve.relL1[0].every((v) => v === null)).toBe(true); // nothing to compare at step 0
    expect(report.curve.relL1[3].every((v) => v !== null && v > 0)).toBe(true);
    expect(report.curve.timesteps).toHaveLength(6);
    // SwiftShader has timestamp queries: the indicator's share is measured, and none has none.
    expect(none.indicatorShare).toBe(0);
    expect(exact.indicatorShare).toBeGreaterThan(0);
    expect(exact.indicatorShare).toBeLessThan(1);
    expect(report.kernels!.length).toBeGreaterThan(5);
    expect(none.indicatorMs).toBe(0);
    expect(exact.indicatorMs).toBeGreaterThan(0);
    expect(exact.indicatorTimeShare).toBeGreaterThan(0);
    expect(exact.indicatorTimeShare).toBeLessThan(1);
    bundle.dispose();
  });

  it('repeats every timed run, interleaved, and refuses a repeat count below 1', async () => {
    const ctx = await testContext();
    const bundle = await loadBundle(ctx, directoryFolder(writeTinyModel(3)));
    const timed: string[] = [];
    const settings = {
      prompt: bundle.textEncoder!.encode('a blue square'),
      steps: 3,
      seeds: [1, 2],
      policies: ['static:interval=2'],
      frames: 4,
      height: 8,
      width: 8,
      guidance: 3,
      profile: false,
      onProgress: (m: string) => m.startsWith('seed') && timed.push(m),
    };
    const report = await runCacheBenchmark(ctx, bundle, { ...settings, repeats: 3 });
    expect(timed).toHaveLength(3 * 2 * 2); // repeats × seeds × (none + static)
    expect(timed.slice(0, 4)).toEqual(['seed 1 (repeat 1/3): none', 'seed 1 (repeat 1/3): static', 'seed 2 (repeat 1/3): none', 'seed 2 (repeat 1/3): static']);
    expect(report.policies[1].perSeed).toHaveLength(2);
    expect(report.policies[1].seconds).toBeGreaterThan(0);
    await expect(runCacheBenchmark(ctx, bundle, { ...settings, repeats: 0 })).rejects.toThrow(/repeats must be a positive integer/);
    bundle.dispose();
  });

  it('expands a sweep into one point each, on the same seeds, with its option and value', async () => {
    const ctx = await testContext();
    const bundle = await loadBundle(ctx, directoryFolder(writeTinyModel(3)));
    const report = await runCacheBenchmark(ctx, bundle, {
      prompt: bundle.textEncoder!.encode('a blue square'),
      steps: 5,
      seeds: [1],
      policies: ['static:interval=1:3:1'],
      frames: 4,
      height: 8,
      width: 8,
      guidance: 3,
      profile: false,
    });
    expect(report.policies.map((p) => p.label)).toEqual(['none', 'static:interval=1', 'static', 'static:interval=3']);
    expect(report.policies.map((p) => p.sweep?.value)).toEqual([undefined, 1, 2, 3]);
    expect(report.policies[2].sweep).toEqual({ spec: 'static:interval=1:3:1', option: 'interval', value: 2 });
    expect(report.policies[1].psnr).toBe(Infinity); // interval 1 computes every step
    const fractions = report.policies.slice(1).map((p) => p.computedFraction);
    expect(fractions[1]).toBeLessThan(fractions[0]);
    expect(fractions[2]).toBeLessThanOrEqual(fractions[1]);
    await expect(runCacheBenchmark(ctx, bundle, { ...settingsOf(bundle), policies: ['static:interval=3:1:1'] })).rejects.toThrow(/start ≤ end/);
    bundle.dispose();
  });
});

function settingsOf(bundle: Awaited<ReturnType<typeof loadBundle>>) {
  return { prompt: bundle.textEncoder!.encode('a'), steps: 2, seeds: [0], policies: [], frames: 4, height: 8, width: 8, guidance: 3, profile: false };
}
