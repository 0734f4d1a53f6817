import { describe, expect, it } from 'vitest';
import { psnr, ssim } from '../../src/frames/metrics.ts';
import { rng } from '../helpers/reference.ts';

describe('video quality metrics', () => {
  const rand = rng(7);
  const shape = [2, 3, 16, 13];
  const n = shape.reduce((a, b) => a * b);
  const a = Float32Array.from({ length: n }, () => rand());

  it('identical videos: PSNR ∞, SSIM 1', () => {
    expect(psnr(a, a)).toBe(Infinity);
    expect(ssim(a, a, shape)).toBeCloseTo(1, 12);
  });

  it('PSNR of a constant offset is 10·log10(1/d²)', () => {
    const b = a.map((v) => v + 0.01);
    expect(psnr(a, b)).toBeCloseTo(40, 3);
  });

  it('SSIM falls with noise and is symmetric', () => {
    const small = a.map((v) => v + (rand() - 0.5) * 0.05);
    const large = a.map((v) => v + (rand() - 0.5) * 0.5);
    const s1 = ssim(a, small, shape);
    const s2 = ssim(a, large, shape);
    expect(s1).toBeLessThan(1);
    expect(s2).toBeLessThan(s1);
    expect(ssim(small, a, shape)).toBeCloseTo(s1, 12);
  });

  it('SSIM of a constant frame against itself shifted in brightness is below 1', () => {
    const flat = new Float32Array(n).fill(0.5);
    const brighter = new Float32Array(n).fill(0.7);
    expect(ssim(flat, brighter, shape)).toBeLessThan(0.95);
  });
});
