import { describe, expect, it } from 'vitest';
import { framesToRgba8 } from '../../src/frames/rgba.ts';

describe('framesToRgba8', () => {
  it('interleaves planar RGB into RGBA bytes, one image per frame, rounding and clamping', () => {
    // 2 frames of 1 × 2 pixels: planes R, G, B per frame.
    const frames = new Float32Array([
      // frame 0: R = [0, 1], G = [0.5, 0.25], B = [−0.2, 1.3]
      0, 1, 0.5, 0.25, -0.2, 1.3,
      // frame 1: R = [0.1, NaN], G = [0.999, 0.002], B = [1, 0]
      0.1, NaN, 0.999, 0.002, 1, 0,
    ]);
    const images = framesToRgba8(frames, [2, 3, 1, 2]);
    expect(images).toHaveLength(2);
    expect(Array.from(images[0])).toEqual([0, 128, 0, 255, 255, 64, 255, 255]);
    expect(Array.from(images[1])).toEqual([26, 255, 255, 255, 0, 1, 0, 255]);
  });

  it('gives no images for no frames, and refuses a shape that does not fit', () => {
    expect(framesToRgba8(new Float32Array(0), [0, 3, 4, 4])).toEqual([]);
    expect(() => framesToRgba8(new Float32Array(24), [2, 4, 1, 3])).toThrow(/3 channels/);
    expect(() => framesToRgba8(new Float32Array(20), [2, 3, 1, 3])).toThrow(/20 values for shape \[2, 3, 1, 3\]/);
    expect(() => framesToRgba8(new Float32Array(18), [6, 3])).toThrow(/must be \[F, 3, H, W\]/);
  });
});
