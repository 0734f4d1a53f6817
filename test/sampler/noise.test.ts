import { describe, expect, it } from 'vitest';
import { gaussianNoise, splitMix64, xoshiro128ss } from '../../src/sampler/noise.ts';

describe('seeded Gaussian noise', () => {
  it('SplitMix64 and xoshiro128** match the reference C implementations', () => {
    // First outputs of splitmix64.c seeded with 1234567, and of xoshiro128starstar.c from state {1, 2, 3, 4}.
    const sm = splitMix64(1234567n);
    expect([sm(), sm(), sm()]).toEqual([6457827717110365317n, 3203168211198807973n, 9817491932198370423n]);
    const xo = xoshiro128ss([1, 2, 3, 4]);
    expect([xo(), xo(), xo()]).toEqual([11520, 0, 5927040]);
    expect(() => xoshiro128ss([0, 0, 0, 0])).toThrow(/all-zero/);
  });

  it('is deterministic, and pinned (a changed value breaks every saved seed)', () => {
    const a = gaussianNoise(42, 1000);
    expect(gaussianNoise(42, 1000)).toEqual(a);
    // Computed once by an independent Python implementation of the documented algorithm.
    expect(Array.from(a.subarray(0, 6))).toEqual(
      [1.033046007156372, 0.02586478367447853, -0.578862726688385, -1.3285483121871948, -0.16271498799324036, -1.8775168657302856],
    );
  });

  it('has mean ≈ 0 and variance ≈ 1 over 10^5 samples', () => {
    const n = 100_000;
    const x = gaussianNoise(7, n);
    let sum = 0;
    let sq = 0;
    let within1 = 0;
    let nonFinite = 0;
    for (const v of x) {
      if (!Number.isFinite(v)) nonFinite++;
      sum += v;
      sq += v * v;
      if (Math.abs(v) < 1) within1++;
    }
    expect(nonFinite).toBe(0);
    const mean = sum / n;
    const variance = sq / n - mean * mean;
    // Five standard errors: 1/√n for the mean, √(2/n) for the variance, √(p(1−p)/n) for P(|z| < 1).
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    expect(Math.abs(within1 / n - 0.682689)).toBeLessThan(5 * Math.sqrt((0.6827 * 0.3173) / n));
  });

  it('gives different values for different seeds, including seeds past 2^32', () => {
    const seeds = [0, 1, 2, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1];
    const draws = seeds.map((s) => Array.from(gaussianNoise(s, 8)).join());
    expect(new Set(draws).size).toBe(seeds.length);
  });

  it('draws a shorter count as a prefix of a longer one (odd counts too)', () => {
    const long = gaussianNoise(123, 1001);
    for (const n of [0, 1, 2, 7, 1000]) expect(gaussianNoise(123, n)).toEqual(long.subarray(0, n));
  });

  it('refuses a bad seed or count', () => {
    expect(() => gaussianNoise(-1, 4)).toThrow(/seed/);
    expect(() => gaussianNoise(1.5, 4)).toThrow(/seed/);
    expect(() => gaussianNoise(2 ** 53, 4)).toThrow(/seed/);
    expect(() => gaussianNoise(1, -4)).toThrow(/count/);
  });
});
