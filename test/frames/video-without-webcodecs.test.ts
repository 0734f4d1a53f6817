// Where @napi-rs/webcodecs is absent (not installed, or no build for the platform): WebM falls back to
// VP8 key frames, and an MP4 is refused with what to do, before any GPU work.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { encodeVideo } from '../../src/frames/video.ts';
import { initNodeVideoEncoder, useNodeWebCodecs } from '../../src/frames/node-video.ts';
import { movingSquareFrames } from '../helpers/clips.ts';

vi.mock('@napi-rs/webcodecs', () => {
  throw new Error("Cannot find module '@napi-rs/webcodecs'");
});
vi.mock('../../src/gpu/node.ts', () => ({
  createNodeContext: () => {
    throw new Error('the GPU was touched');
  },
}));

describe('video writer without WebCodecs', () => {
  it('says why no encoder is there', async () => {
    const encoders = await useNodeWebCodecs();
    expect(encoders.codecs).toEqual([]);
    expect(encoders.unavailable).toMatch(/^@napi-rs\/webcodecs is not installed or has no build for this platform \(.+\)$/);
  });

  it('writes WebM as VP8 key frames, and refuses MP4 with what to do', async () => {
    await useNodeWebCodecs();
    const frames = movingSquareFrames(4, 16, 16);
    const video = await encodeVideo(frames, 16, 16, { format: 'auto', scale: 2, loadKeyFrameEncoder: initNodeVideoEncoder });
    expect(video).toMatchObject({ container: 'webm', codec: 'vp8-key-frames', mimeType: 'video/webm', extension: '.webm', width: 32, height: 32 });
    expect(video.bitrate).toBeUndefined();
    expect([...video.bytes.subarray(0, 4)]).toEqual([0x1a, 0x45, 0xdf, 0xa3]);
    await expect(encodeVideo(frames, 16, 16, { format: 'mp4' })).rejects.toThrow(/cannot write MP4 here: no H.264 encoder .*install @napi-rs\/webcodecs/);
  });

  it('webdit generate --out clip.mp4 says what to do before touching the GPU', async () => {
    const { main } = await import('../../src/cli/main.ts');
    const errors: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void errors.push(args.join(' ')));
    try {
      const out = join(mkdtempSync(join(tmpdir(), 'webdit-out-')), 'clip.mp4');
      expect(await main(['generate', '--prompt', 'a red circle moving left', '--quiet', '--out', out])).toBe(2);
      expect(errors.join('\n')).toMatch(/cannot write .*clip\.mp4: no H\.264 encoder .*npm install @napi-rs\/webcodecs.*or write \.webm/);
      expect(() => readFileSync(out)).toThrow();
    } finally {
      spy.mockRestore();
    }
  });
});
