import { describe, expect, it } from 'vitest';
import { encodeWebm, upscaleRgba, vp8FromWebp } from '../../src/frames/video.ts';
import { initNodeVideoEncoder } from '../../src/frames/node-video.ts';

function gradientFrames(count: number, w: number, h: number): Uint8ClampedArray[] {
  return Array.from({ length: count }, (_, f) => {
    const rgba = new Uint8ClampedArray(w * h * 4);
    for (let i = 0; i < w * h; i++) {
      rgba[4 * i] = ((i % w) * 255) / w;
      rgba[4 * i + 1] = f * 20;
      rgba[4 * i + 3] = 255;
    }
    return rgba;
  });
}

describe('WebM writer', () => {
  it('writes an EBML/WebM file with one VP8 key frame per frame', async () => {
    await initNodeVideoEncoder();
    const webm = await encodeWebm(gradientFrames(5, 16, 12), 16, 12, { fps: 8, scale: 2 });
    expect([...webm.subarray(0, 4)]).toEqual([0x1a, 0x45, 0xdf, 0xa3]); // EBML magic
    const text = new TextDecoder('latin1').decode(webm);
    expect(text).toContain('webm');
    expect(text).toContain('V_VP8');
  });

  it('upscales by nearest neighbour', () => {
    const px = new Uint8ClampedArray([1, 2, 3, 255, 4, 5, 6, 255]);
    expect([...upscaleRgba(px, 2, 1, 2)].slice(0, 16)).toEqual([1, 2, 3, 255, 1, 2, 3, 255, 4, 5, 6, 255, 4, 5, 6, 255]);
  });

  it('refuses bad input clearly', async () => {
    await expect(encodeWebm([], 4, 4)).rejects.toThrow(/no frames/);
    await expect(encodeWebm([new Uint8ClampedArray(3)], 4, 4)).rejects.toThrow(/frame 0 has 3 bytes/);
    expect(() => vp8FromWebp(new Uint8Array(30))).toThrow(/simple lossy/);
  });
});
