import { describe, expect, it } from 'vitest';
import { ropeBandFrequencies, ropeTables } from '../../src/model/rope-tables.ts';

describe('ropeTables', () => {
  it('splits a head into [t | h | w] bands of d − 4⌊d/6⌋, 2⌊d/6⌋, 2⌊d/6⌋ values', () => {
    expect(ropeBandFrequencies(128)).toEqual([22, 21, 21]);
    expect(ropeBandFrequencies(12)).toEqual([2, 2, 2]);
    expect(ropeBandFrequencies(20)).toEqual([4, 3, 3]);
    expect(ropeBandFrequencies(64)).toEqual([12, 10, 10]);
    expect(ropeBandFrequencies(2)).toEqual([1, 0, 0]);
  });

  it('gives each band its own frequencies θ^(−2j/b) and the token its (f, h, w) positions', () => {
    const F = 2, H = 3, W = 4;
    const { cos, sin } = ropeTables(12, F, H, W);
    expect(cos.length).toBe(F * H * W * 6);
    const at = (f: number, h: number, w: number) => ((f * H + h) * W + w) * 6;
    // Every band has b = 4 values: frequencies 1 and 10000^(−1/2) = 0.01.
    const expected = (f: number, h: number, w: number) => [f, f * 0.01, h, h * 0.01, w, w * 0.01];
    for (const [f, h, w] of [[0, 0, 0], [1, 0, 0], [0, 2, 0], [0, 0, 3], [1, 2, 3]]) {
      const angles = expected(f, h, w);
      for (let j = 0; j < 6; j++) {
        expect(cos[at(f, h, w) + j]).toBeCloseTo(Math.cos(angles[j]), 7);
        expect(sin[at(f, h, w) + j]).toBeCloseTo(Math.sin(angles[j]), 7);
      }
    }
  });

  it('matches the float64 formula exactly (to f32 rounding) for Wan2.1 head size 128', () => {
    const F = 3, H = 2, W = 5;
    const { cos, sin } = ropeTables(128, F, H, W);
    const bands = [
      { pairs: 22, offset: 0, axis: 0 },
      { pairs: 21, offset: 22, axis: 1 },
      { pairs: 21, offset: 43, axis: 2 },
    ];
    for (let f = 0; f < F; f++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) {
          const row = ((f * H + h) * W + w) * 64;
          for (const { pairs, offset, axis } of bands) {
            const position = [f, h, w][axis];
            for (let j = 0; j < pairs; j++) {
              // Upstream rope_params: position · (1 / θ^(arange(0, b, 2) / b)), in float64.
              const angle = position * (1 / Math.pow(10000, (2 * j) / (2 * pairs)));
              expect(cos[row + offset + j]).toBe(Math.fround(Math.cos(angle)));
              expect(sin[row + offset + j]).toBe(Math.fround(Math.sin(angle)));
            }
          }
        }
    // Spot values: the t band's second frequency is 10000^(−1/22); the h band restarts at 1.
    expect(cos[(1 * H * W) * 64 + 1]).toBe(Math.fround(Math.cos(10000 ** (-1 / 22))));
    expect(sin[(1 * W) * 64 + 22]).toBe(Math.fround(Math.sin(1)));
  });

  it('honours theta and refuses bad arguments', () => {
    const { sin } = ropeTables(4, 2, 1, 1, 100);
    // d = 4: t band holds both pairs (b = 4): frequencies 1 and 100^(−1/2) = 0.1.
    expect(sin[2 + 1]).toBe(Math.fround(Math.sin(0.1)));
    expect(() => ropeTables(13, 1, 1, 1)).toThrow(/even/);
    expect(() => ropeTables(12, 0, 1, 1)).toThrow(/gridF/);
    expect(() => ropeTables(12, 1, 1.5, 1)).toThrow(/gridH/);
    expect(() => ropeTables(12, 1, 1, 1, 0)).toThrow(/theta/);
  });
});
