// Exported clip sizes and quality on real frames: each .safetensors frames file (written by `webdit
// generate --out x.safetensors`) encoded by headless Chromium's WebCodecs as MP4 (H.264) and WebM
// (VP9), and by libwebp as the key-frame WebM, upscaled to about 256 px as the demo does; each file is
// decoded back in Chromium and compared with its source (PSNR of the worst frame, and the mean).
//   npx tsx bench/video-sizes.ts clip-8.safetensors clip-32.safetensors
import { openCheckPage } from '../test/browser/harness.ts';
import type { DecodeReport, EncodeReport, EncodeRequest, VideoCheck } from '../test/browser/video-check.ts';
import { fileSource } from '../src/weights/node-source.ts';
import { openSafetensors, readTensor } from '../src/weights/safetensors.ts';
import { framesToRgba8 } from '../src/frames/rgba.ts';
import { encodeWebm } from '../src/frames/video.ts';
import { initNodeVideoEncoder } from '../src/frames/node-video.ts';

const files = process.argv.slice(2);
if (files.length === 0) throw new Error('usage: npx tsx bench/video-sizes.ts FRAMES.safetensors...');
await initNodeVideoEncoder();
const check = await openCheckPage('video-check.html');
try {
  const { page } = check;
  await page.waitForFunction(() => 'videoCheck' in window);
  const call = <K extends keyof VideoCheck>(name: K, ...args: unknown[]) =>
    page.evaluate(([n, a]) => (window as unknown as { videoCheck: Record<string, (...x: unknown[]) => unknown> }).videoCheck[n as string](...(a as unknown[])), [
      name,
      args,
    ] as const) as Promise<Awaited<ReturnType<VideoCheck[K]>>>;
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  const quality = (d: DecodeReport) => `${Math.min(...d.psnr).toFixed(1)} / ${(d.psnr.reduce((a, b) => a + b, 0) / d.psnr.length).toFixed(1)} dB`;
  console.log('| clip | frames | encoded | bitrate | MP4 (H.264) | WebM (VP9) | key-frame WebM (VP8) |\n| --- | --- | --- | --- | --- | --- | --- |');
  for (const path of files) {
    const file = await openSafetensors(await fileSource(path));
    const info = file.tensors.get('frames');
    if (!info || info.shape.length !== 4) throw new Error(`${path}: no frames tensor [F, 3, H, W]`);
    const shape = info.shape as [number, number, number, number];
    const [count, , height, width] = shape;
    const rgba = framesToRgba8(await readTensor(file, 'frames'), shape);
    const b64 = rgba.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64'));
    const scale = Math.max(1, Math.floor(256 / Math.max(width, height)));
    const request: EncodeRequest = { format: 'mp4', frames: count, width, height, scale, rgba: b64 };
    const cell = async (clip: EncodeReport) => `${kib(clip.bytes)}, ${quality(await call('decode', clip.id))}`;
    const mp4 = await call('encode', request);
    const webm = await call('encode', { ...request, format: 'webm' });
    const keyFrames = await encodeWebm(rgba, width, height, { fps: 8, scale });
    const keyId = await call('store', Buffer.from(keyFrames).toString('base64'), 'video/webm', { rgba: b64, width, height, scale });
    const keyCell = `${kib(keyFrames.length)}, ${quality(await call('decode', keyId))}`;
    console.log(`| ${path.split('/').pop()} | ${count} | ${mp4.width}×${mp4.height} | ${(mp4.bitrate! / 1000).toFixed(0)} kb/s | ${await cell(mp4)} | ${await cell(webm)} | ${keyCell} |`);
  }
} finally {
  await check.close();
}
