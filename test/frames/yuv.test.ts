import { describe, expect, it } from 'vitest';
import { rgbaToI420 } from '../../src/frames/yuv.ts';
import { rng } from '../helpers/reference.ts';

/** float64 BT.709 limited-range reference of one pixel (or a block mean). */
function reference(r: number, g: number, b: number): [number, number, number] {
  const y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return [16 + (219 / 255) * y, 128 + (224 / 255) * ((b - y) / 1.8556), 128 + (224 / 255) * ((r - y) / 1.5748)];
}

describe('RGBA → I420 (BT.709, limited range)', () => {
  it('maps black, white, grey and the primaries to the standard code values', () => {
    const px = (r: number, g: number, b: number) => [...rgbaToI420(new Uint8Array([r, g, b, 255]), 1, 1)];
    expect(px(0, 0, 0)).toEqual([16, 128, 128]);
    expect(px(255, 255, 255)).toEqual([235, 128, 128]);
    expect(px(128, 128, 128)).toEqual([126, 128, 128]);
    expect(px(255, 0, 0)).toEqual([63, 102, 240]);
    expect(px(0, 255, 0)).toEqual([173, 42, 26]);
    expect(px(0, 0, 255)).toEqual([32, 240, 118]);
  });

  it('matches a float64 reference on random odd-sized images (chroma from 2×2 means), within rounding', () => {
    const rand = rng(7);
    const [w, h] = [7, 5];
    const rgba = Uint8Array.from({ length: w * h * 4 }, () => Math.floor(rand() * 256));
    const out = rgbaToI420(rgba, w, h);
    const [cw, ch] = [4, 3];
    expect(out.length).toBe(w * h + 2 * cw * ch);
    for (let i = 0; i < w * h; i++) expect(Math.abs(out[i] - reference(rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2])[0])).toBeLessThanOrEqual(0.5 + 1e-9);
    for (let cy = 0; cy < ch; cy++) {
      for (let cx = 0; cx < cw; cx++) {
        const sum = [0, 0, 0];
        let n = 0;
        for (let y = 2 * cy; y < Math.min(2 * cy + 2, h); y++) {
          for (let x = 2 * cx; x < Math.min(2 * cx + 2, w); x++) {
            for (let c = 0; c < 3; c++) sum[c] += rgba[4 * (y * w + x) + c];
            n++;
          }
        }
        const [, u, v] = reference(sum[0] / n, sum[1] / n, sum[2] / n);
        expect(Math.abs(out[w * h + cy * cw + cx] - u)).toBeLessThanOrEqual(0.5 + 1e-9);
        expect(Math.abs(out[w * h + cw * ch + cy * cw + cx] - v)).toBeLessThanOrEqual(0.5 + 1e-9);
      }
    }
  });

  it('refuses a buffer of the wrong size', () => {
    expect(() => rgbaToI420(new Uint8Array(10), 2, 2)).toThrow(/10 bytes for 2×2 RGBA/);
  });
});
