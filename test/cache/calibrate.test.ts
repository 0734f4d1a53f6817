import { describe, expect, it } from 'vitest';
import { fitPolynomial } from '../../src/cache/calibrate.ts';
import { polyval } from '../../src/cache/policies.ts';

describe('TeaCache polynomial fit', () => {
  it('recovers an exact polynomial (numpy order)', () => {
    const coef = [3, -2, 0.5, 0.01, 0.002];
    const xs = Array.from({ length: 30 }, (_, i) => 0.01 + i * 0.013);
    const ys = xs.map((x) => polyval(coef, x));
    const fit = fitPolynomial(xs, ys, 4);
    fit.forEach((c, i) => expect(c).toBeCloseTo(coef[i], 6));
  });

  it('is the least-squares line for noisy linear data', () => {
    const xs = [0, 1, 2, 3];
    const ys = [1, 3, 2, 4];
    const [slope, intercept] = fitPolynomial(xs, ys, 1);
    expect(slope).toBeCloseTo(0.8, 12);
    expect(intercept).toBeCloseTo(1.3, 12);
  });

  it('refuses too few samples', () => {
    expect(() => fitPolynomial([1, 2], [1, 2], 4)).toThrow(/cannot fit degree 4/);
  });
});

import { testContext } from '../helpers/gpu.ts';
import { writeTinyModel } from '../helpers/tiny-model.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { loadBundle, withModelCalibration } from '../../src/pipeline/bundle.ts';
import { main } from '../../src/cli/main.ts';
import { parseCacheSpec } from '../../src/cache/spec.ts';

describe('webdit calibrate', () => {
  it('measures input/output changes on an uncached run, fits, saves teacache.json that the bundle then uses', async () => {
    const dir = writeTinyModel(5);
    const code = await main(['calibrate', '--model', dir, '--seeds', '0', '--steps', '6', '--degree', '2']);
    expect(code).toBe(0);
    const ctx = await testContext();
    const bundle = await loadBundle(ctx, directoryFolder(dir));
    expect(bundle.teacacheCoefficients).toHaveLength(3);
    const { readFileSync } = await import('node:fs');
    const saved = JSON.parse(readFileSync(`${dir}/teacache.json`, 'utf8'));
    // 3 prompts × 1 seed × 2 branches × 5 step pairs.
    expect(saved.samples).toBe(30);
    for (const [x, y] of saved.pairs) {
      expect(x).toBeGreaterThan(0);
      expect(y).toBeGreaterThan(0);
    }
    const resolved = withModelCalibration(parseCacheSpec('teacache'), bundle);
    expect(resolved.policy === 'teacache' && resolved.coefficients).toEqual(bundle.teacacheCoefficients);
    const explicit = withModelCalibration(parseCacheSpec('teacache:coefficients=2;0'), bundle);
    expect(explicit.policy === 'teacache' && explicit.coefficients).toEqual([2, 0]);
    bundle.dispose();
  });
});
