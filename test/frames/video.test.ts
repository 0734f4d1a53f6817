// The video writer in Node: inter-frame MP4 (H.264) and WebM (VP9) through @napi-rs/webcodecs
// registered as mediabunny's encoder, read back by mediabunny's demuxer (packet types, timing,
// codec); the key-frame WebM's pieces. Playback in a browser: test/browser/video.test.ts.
import { describe, expect, it } from 'vitest';
import { BufferSource, EncodedPacketSink, Input, ALL_FORMATS } from 'mediabunny';
import { containerOfFileName, encodeVideo, encodeWebm, upscaleRgba, videoBitrate, vp8FromWebp } from '../../src/frames/video.ts';
import { initNodeVideoEncoder, useNodeWebCodecs } from '../../src/frames/node-video.ts';
import { movingSquareFrames } from '../helpers/clips.ts';

/** The video track's codec, size, duration and packet types, as a player's demuxer sees them. */
async function readBack(bytes: Uint8Array) {
  const input = new Input({ source: new BufferSource(bytes), formats: ALL_FORMATS });
  const track = await input.getPrimaryVideoTrack();
  if (!track) throw new Error('no video track');
  const types: string[] = [];
  const timestamps: number[] = [];
  const sink = new EncodedPacketSink(track);
  for await (const packet of sink.packets()) {
    types.push(packet.type);
    timestamps.push(packet.timestamp);
  }
  return {
    mimeType: await input.getMimeType(),
    codec: track.codec,
    width: track.codedWidth,
    height: track.codedHeight,
    duration: await input.computeDuration(),
    colorSpace: await track.getColorSpace(),
    types: types.map((t) => (t === 'key' ? 'K' : 'd')).join(''),
    timestamps,
  };
}

// @napi-rs/webcodecs is optional (.ci/run installs it): without it these are skipped, and the key-frame
// fallback is tested in video-without-webcodecs.test.ts.
const nodeEncoders = await useNodeWebCodecs();

describe.skipIf(nodeEncoders.unavailable !== undefined)('video writer through @napi-rs/webcodecs (installed)', () => {
  it('finds H.264, VP9 and VP8 encoders on this machine', async () => {
    const encoders = await useNodeWebCodecs();
    expect(encoders.unavailable).toBeUndefined();
    expect(encoders.codecs).toEqual(['avc', 'vp9', 'vp8']);
  });

  it('writes an inter-frame H.264 MP4: one key frame per 2 s, the rest delta frames', async () => {
    await useNodeWebCodecs();
    const frames = movingSquareFrames(32, 40, 24);
    const video = await encodeVideo(frames, 40, 24, { format: 'mp4', fps: 8, scale: 4 });
    expect(video).toMatchObject({ container: 'mp4', codec: 'avc', mimeType: 'video/mp4', extension: '.mp4', width: 160, height: 96 });
    expect(new TextDecoder('latin1').decode(video.bytes.subarray(4, 8))).toBe('ftyp');
    const back = await readBack(video.bytes);
    expect(back).toMatchObject({ codec: 'avc', width: 160, height: 96 });
    // The matrix the pixels are in (the native encoder would otherwise label YUV as RGB).
    expect(back.colorSpace).toEqual({ primaries: 'bt709', transfer: 'bt709', matrix: 'bt709', fullRange: false });
    expect(back.mimeType).toMatch(/^video\/mp4/);
    expect(back.duration).toBeCloseTo(4, 5);
    // 32 frames at 8 fps: key frames at 0 s and 2 s only.
    expect(back.types).toBe(`K${'d'.repeat(15)}K${'d'.repeat(15)}`);
    expect(back.timestamps.slice(0, 3)).toEqual([0, 0.125, 0.25]);
  });

  it('writes an inter-frame VP9 WebM, smaller than the same frames as key frames', async () => {
    await useNodeWebCodecs();
    await initNodeVideoEncoder();
    const frames = movingSquareFrames(8, 32, 32);
    const video = await encodeVideo(frames, 32, 32, { format: 'webm', fps: 8, scale: 8 });
    expect(video).toMatchObject({ container: 'webm', codec: 'vp9', mimeType: 'video/webm', extension: '.webm', width: 256, height: 256 });
    expect(video.bitrate).toBe(videoBitrate(256, 256, 8));
    const back = await readBack(video.bytes);
    expect(back).toMatchObject({ codec: 'vp9', width: 256, height: 256, types: 'Kddddddd' });
    expect(back.duration).toBeCloseTo(1, 5);
    const keyFrames = await encodeWebm(frames, 32, 32, { fps: 8, scale: 8 });
    expect(video.bytes.length).toBeLessThan(keyFrames.length);
  });

  it('auto picks MP4 (H.264) for even sizes and WebM (VP9) for odd ones, which H.264 cannot take', async () => {
    await useNodeWebCodecs();
    expect((await encodeVideo(movingSquareFrames(3, 16, 16), 16, 16, { scale: 2 })).codec).toBe('avc');
    expect((await encodeVideo(movingSquareFrames(3, 15, 9), 15, 9)).codec).toBe('vp9');
    await expect(encodeVideo(movingSquareFrames(3, 15, 9), 15, 9, { format: 'mp4' })).rejects.toThrow(/even width and height/);
  });

  it('scales the bitrate with size and frame rate, above a floor', () => {
    expect(videoBitrate(640, 480, 24)).toBe(2 * videoBitrate(640, 480, 12));
    expect(videoBitrate(1280, 480, 24)).toBe(2 * videoBitrate(640, 480, 24));
    expect(videoBitrate(832, 480, 16)).toBe(Math.round(0.15 * 832 * 480 * 16));
    expect(videoBitrate(16, 16, 1)).toBe(50_000);
    expect(videoBitrate(512, 512, 24, 0.5)).toBe(0.5 * 512 * 512 * 24);
  });

  it('refuses bad input clearly', async () => {
    await expect(encodeVideo([], 4, 4)).rejects.toThrow(/no frames/);
    await expect(encodeVideo([new Uint8ClampedArray(3)], 4, 4)).rejects.toThrow(/frame 0 has 3 bytes/);
    await expect(encodeVideo(movingSquareFrames(1, 4, 4), 4, 4, { scale: 1.5 })).rejects.toThrow(/scale must be a positive integer/);
    await expect(encodeVideo(movingSquareFrames(1, 4, 4), 4, 4, { fps: 0 })).rejects.toThrow(/fps must be a positive number/);
    expect(containerOfFileName('a/clip.MP4')).toBe('mp4');
    expect(containerOfFileName('clip.webm')).toBe('webm');
    expect(containerOfFileName('clip.mov')).toBeUndefined();
  });
});

describe('key-frame WebM', () => {
  it('writes an EBML/WebM file with one VP8 key frame per frame', async () => {
    await initNodeVideoEncoder();
    const webm = await encodeWebm(movingSquareFrames(5, 16, 12), 16, 12, { fps: 8, scale: 2 });
    expect([...webm.subarray(0, 4)]).toEqual([0x1a, 0x45, 0xdf, 0xa3]); // EBML magic
    const back = await readBack(webm);
    expect(back).toMatchObject({ codec: 'vp8', width: 32, height: 24, types: 'KKKKK' });
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
