// Saved benchmark reports side by side (pure; the page's DOM is tested in test/browser/bench-page.test.ts).
import { describe, expect, it } from 'vitest';
import { compareReports, parseBenchReport } from '../../src/ui/bench-compare.ts';
import type { BenchReport } from '../../src/pipeline/bench.ts';

function report(description: string, policies: [string, number, number][], kernels: [string, number][] = []): BenchReport {
  return {
    adapter: { vendor: 'v', architecture: 'a', device: '', description },
    features: [],
    model: { name: 'toy', parameters: 1, weightBytes: 4, numLayers: 3 },
    settings: { steps: 20, seeds: [0], policies: [], frames: 8, height: 32, width: 32, guidance: 3 },
    policies: policies.map(([label, speedup, psnr]) => ({ spec: label, label, speedup, psnr })) as unknown as BenchReport['policies'],
    curve: { timesteps: [], relL1: [] },
    kernels: kernels.map(([label, ms]) => ({ label, ms, calls: 1 })) as unknown as BenchReport['kernels'],
  };
}

describe('comparing saved reports', () => {
  it('parses the CLI form (Infinity as a string) and refuses what is not a report, by name', () => {
    const text = JSON.stringify(report('GPU A', [['none', 1, Infinity]]), (_, v) => (v === Infinity ? 'Infinity' : v));
    expect(parseBenchReport(text, 'a.json').policies[0].psnr).toBe(Infinity);
    expect(() => parseBenchReport('{', 'b.json')).toThrow(/b\.json is not JSON/);
    expect(() => parseBenchReport('{"policies": []}', 'c.json')).toThrow(/c\.json is not a webdit benchmark report/);
    expect(() => parseBenchReport('[1,2]', 'd.json')).toThrow(/d\.json is not a webdit benchmark report/);
  });

  it('puts adapters in columns and every policy in a row, with a gap where one did not run', () => {
    const c = compareReports([
      { name: 'a.json', report: report('GPU A', [['none', 1, Infinity], ['bwcache', 1.8, 31]], [['matmul', 60], ['attention', 40]]) },
      { name: 'b.json', report: report('GPU B', [['none', 1, Infinity], ['static', 1.7, 33.25]], [['matmul', 10], ['other', 90]]) },
    ]);
    expect(c.adapters.map((a) => a.label)).toEqual(['GPU A (a.json)', 'GPU B (b.json)']);
    expect(c.policies).toEqual([
      { label: 'none', cells: ['1.00× · ∞', '1.00× · ∞'] },
      { label: 'bwcache', cells: ['1.80× · 31.0 dB', '–'] },
      { label: 'static', cells: ['–', '1.70× · 33.3 dB'] },
    ]);
    expect(c.kernels.map((k) => k.label)).toEqual(['other', 'matmul', 'attention']);
    expect(c.kernels[1].cells).toEqual(['60.0%', '10.0%']);
    expect(c.kernels[2].cells).toEqual(['40.0%', '–']);
  });
});
