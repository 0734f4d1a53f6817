// Video files in a real browser: Chromium's WebCodecs encodes MP4 (H.264) and WebM (VP9) through
// src/frames/video.ts where it has the encoders (asked with VideoEncoder.isConfigSupported: a build
// without proprietary codecs may lack H.264), <video> plays each file (readyState ≥ 2, a duration),
// and the decoded frames match the source (PSNR). Files made in Node (@napi-rs/webcodecs) play too.
// Prints the table of exported sizes: MP4/WebM × 8 and 32 frames × the toy's 32×32 and 128×128.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { openCheckPage, type CheckPage, type ErrorLog } from './harness.ts';
import { encodeVideo, encodeWebm, type VideoContainer } from '../../src/frames/video.ts';
import { initNodeVideoEncoder, useNodeWebCodecs } from '../../src/frames/node-video.ts';
import { movingSquareFrames } from '../helpers/clips.ts';
import type { EncodeReport, EncodeRequest, VideoCheck } from './video-check.ts';

let check: CheckPage;
let page: Page;
let log: ErrorLog;
let support: Awaited<ReturnType<VideoCheck['support']>>;

beforeAll(async () => {
  check = await openCheckPage('video-check.html');
  ({ page, log } = check);
  await page.waitForFunction(() => 'videoCheck' in window);
  support = await page.evaluate(() => (window as unknown as { videoCheck: VideoCheck }).videoCheck.support());
  console.log(`Chromium's WebCodecs encoders: H.264 ${support.avc ? 'yes' : 'no'}, VP9 ${support.vp9 ? 'yes' : 'no'}, VP8 ${support.vp8 ? 'yes' : 'no'}`);
}, 120_000);

afterAll(async () => {
  await check?.close();
});

const call = <K extends keyof VideoCheck>(name: K, ...args: Parameters<VideoCheck[K]>) =>
  page.evaluate(([n, a]) => (window as unknown as { videoCheck: Record<string, (...x: unknown[]) => unknown> }).videoCheck[n as string](...(a as unknown[])), [
    name,
    args,
  ] as const) as Promise<Awaited<ReturnType<VideoCheck[K]>>>;

const encode = (request: EncodeRequest) => call('encode', request);

/** Plays a clip, then decodes it: readyState ≥ 2, the clip's duration, every frame close to its source. */
async function expectPlayable(clip: EncodeReport, frames: number, minPsnr: number): Promise<number> {
  const played = await call('play', clip.id);
  expect(played.error).toBeNull();
  expect(played.readyState).toBeGreaterThanOrEqual(2);
  expect(played.duration).toBeGreaterThan(0);
  expect(Math.abs(played.duration - frames / 8)).toBeLessThanOrEqual(1 / 8 + 1e-6);
  expect([played.width, played.height]).toEqual([clip.width, clip.height]);
  const decoded = await call('decode', clip.id);
  expect(decoded.frames).toBe(frames);
  const worst = Math.min(...decoded.psnr);
  expect(worst).toBeGreaterThan(minPsnr);
  return worst;
}

const nodeEncoders = await useNodeWebCodecs();

describe('video files in Chromium', () => {
  it('has a WebM encoder (VP9 or VP8), as every browser with WebCodecs does', () => {
    expect(support.vp9 || support.vp8).toBe(true);
  });

  it('encodes MP4 with H.264 where the browser can, plays it and decodes it back', async () => {
    const request: EncodeRequest = { format: 'mp4', frames: 8, width: 32, height: 32, scale: 8 };
    if (!support.avc) {
      // A build without H.264 encoding: the request fails and says why; auto writes WebM.
      await expect(encode(request)).rejects.toThrow(/cannot write MP4 here: no H.264 encoder/);
      expect((await encode({ ...request, format: 'auto' })).container).toBe('webm');
      return;
    }
    const clip = await encode(request);
    expect(clip).toMatchObject({ container: 'mp4', codec: 'avc', mimeType: 'video/mp4', width: 256, height: 256 });
    console.log(`MP4/H.264 8 frames: worst frame ${(await expectPlayable(clip, 8, 30)).toFixed(1)} dB`);
    expect((await encode({ ...request, format: 'auto' })).container).toBe('mp4');
  });

  it('encodes WebM with VP9 (else VP8), plays it and decodes it back', async () => {
    const clip = await encode({ format: 'webm', frames: 8, width: 32, height: 32, scale: 8 });
    expect(clip).toMatchObject({ container: 'webm', codec: support.vp9 ? 'vp9' : 'vp8', mimeType: 'video/webm', width: 256, height: 256 });
    console.log(`WebM/${clip.codec} 8 frames: worst frame ${(await expectPlayable(clip, 8, 30)).toFixed(1)} dB`);
  });

  // @napi-rs/webcodecs is optional (.ci/run installs it).
  it.skipIf(nodeEncoders.unavailable !== undefined)('plays the MP4 and WebM files that Node writes through @napi-rs/webcodecs', async () => {
    expect((await useNodeWebCodecs()).codecs).toContain('avc');
    const frames = movingSquareFrames(16, 32, 32);
    const source = { rgba: frames.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64')), width: 32, height: 32, scale: 8 };
    for (const format of ['mp4', 'webm'] as VideoContainer[]) {
      const video = await encodeVideo(frames, 32, 32, { format, scale: 8 });
      const id = await call('store', Buffer.from(video.bytes).toString('base64'), video.mimeType, source);
      const played = await call('play', id);
      expect(played).toMatchObject({ error: null, width: 256, height: 256 });
      expect(played.readyState).toBeGreaterThanOrEqual(2);
      expect(played.duration).toBeCloseTo(2, 2);
      const decoded = await call('decode', id);
      expect(decoded.frames).toBe(16);
      const worst = Math.min(...decoded.psnr);
      console.log(`Node's ${format} (${video.codec}, ${(video.bytes.length / 1024).toFixed(1)} KiB): worst frame ${worst.toFixed(1)} dB`);
      // Colours too: a file whose metadata names the wrong matrix decodes every frame ~26 dB off.
      expect(worst).toBeGreaterThan(30);
    }
  });

  it('exports clips smaller than key-frame WebM: the size table', async () => {
    await initNodeVideoEncoder();
    const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
    const rows: string[] = [
      '| source | frames | encoded | bitrate | MP4 (H.264) | WebM (VP9) | key-frame WebM (VP8, before) |',
      '| --- | --- | --- | --- | --- | --- | --- |',
    ];
    for (const [side, scale] of [
      [32, 8],
      [128, 2],
    ]) {
      for (const frames of [8, 32]) {
        const mp4 = support.avc ? await encode({ format: 'mp4', frames, width: side, height: side, scale }) : undefined;
        const webm = await encode({ format: 'webm', frames, width: side, height: side, scale });
        const keyFrames = await encodeWebm(movingSquareFrames(frames, side, side), side, side, { fps: 8, scale });
        expect(webm.bytes).toBeLessThan(keyFrames.length);
        if (mp4) expect(mp4.bytes).toBeLessThan(keyFrames.length);
        // Worst frame's PSNR against the source, decoded back by the browser.
        const worst = async (clip: EncodeReport) => {
          const psnr = Math.min(...(await call('decode', clip.id)).psnr);
          expect(psnr).toBeGreaterThan(30);
          return psnr;
        };
        const cell = async (clip: EncodeReport) => `${kib(clip.bytes)}, ${(await worst(clip)).toFixed(1)} dB`;
        rows.push(
          `| ${side}×${side} | ${frames} | ${webm.width}×${webm.height} | ${(webm.bitrate! / 1000).toFixed(0)} kb/s | ${mp4 ? await cell(mp4) : 'no encoder'} | ${await cell(webm)} | ${kib(keyFrames.length)} |`,
        );
      }
    }
    console.log(`Exported clip sizes (8 fps, synthetic toy-like clips, test/helpers/clips.ts):\n${rows.join('\n')}`);
    expect(log.errors).toEqual([]);
  });
});
