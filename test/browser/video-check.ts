// Runs in the browser (served by Vite with test/browser/video-check.html): encodes synthetic clips
// through the browser's WebCodecs (src/frames/video.ts), plays files in <video>, and decodes them back
// with mediabunny to measure PSNR against the frames that went in.
import { ALL_FORMATS, BlobSource, Input, VideoSampleSink } from 'mediabunny';
import { encodeVideo, upscaleRgba, type EncodedVideo, type VideoFormatRequest } from '../../src/frames/video.ts';
import { movingSquareFrames } from '../helpers/clips.ts';

export interface EncodeRequest {
  format: VideoFormatRequest;
  frames: number;
  width: number;
  height: number;
  scale: number;
  /** Frames to encode (RGBA, base64 each) instead of the synthetic clip. */
  rgba?: string[];
  bitsPerPixel?: number;
}

export interface EncodeReport {
  id: string;
  container: EncodedVideo['container'];
  codec: EncodedVideo['codec'];
  mimeType: string;
  bytes: number;
  bitrate?: number;
  width: number;
  height: number;
}

export interface PlayReport {
  readyState: number;
  duration: number;
  width: number;
  height: number;
  error: string | null;
}

export interface DecodeReport {
  frames: number;
  /** PSNR in dB of each decoded frame against its source frame (RGB). */
  psnr: number[];
}

const clips = new Map<string, { blob: Blob; source: Uint8ClampedArray[] }>();

/** Which WebCodecs encoders this browser has, asked the way the spec says. */
async function support(): Promise<Record<'avc' | 'vp9' | 'vp8', boolean>> {
  const ask = async (codec: string) => {
    if (typeof VideoEncoder === 'undefined') return false;
    return (await VideoEncoder.isConfigSupported({ codec, width: 256, height: 256, bitrate: 200_000, framerate: 8 })).supported === true;
  };
  return { avc: await ask('avc1.42001f'), vp9: await ask('vp09.00.10.08'), vp8: await ask('vp8') };
}

async function encode(request: EncodeRequest): Promise<EncodeReport> {
  const frames = request.rgba
    ? request.rgba.map(fromBase64)
    : movingSquareFrames(request.frames, request.width, request.height);
  const video = await encodeVideo(frames, request.width, request.height, { format: request.format, fps: 8, scale: request.scale, bitsPerPixel: request.bitsPerPixel });
  const id = `clip${clips.size}`;
  const source = frames.map((f) => upscaleRgba(f, request.width, request.height, request.scale));
  clips.set(id, { blob: new Blob([video.bytes as Uint8Array<ArrayBuffer>], { type: video.mimeType }), source });
  return { id, container: video.container, codec: video.codec, mimeType: video.mimeType, bytes: video.bytes.length, bitrate: video.bitrate, width: video.width, height: video.height };
}

const fromBase64 = (b64: string) => Uint8ClampedArray.from(atob(b64), (c) => c.charCodeAt(0));

/** Stores a file made elsewhere (by Node) for play(), and for decode() with its source frames. */
function store(base64: string, mimeType: string, source?: { rgba: string[]; width: number; height: number; scale: number }): string {
  const id = `clip${clips.size}`;
  const frames = source?.rgba.map((b64) => upscaleRgba(fromBase64(b64), source.width, source.height, source.scale)) ?? [];
  clips.set(id, { blob: new Blob([fromBase64(base64)], { type: mimeType }), source: frames });
  return id;
}

/** Plays a stored clip in a fresh <video> until it has a decoded frame (readyState ≥ 2) or fails. */
async function play(id: string): Promise<PlayReport> {
  const clip = clips.get(id);
  if (!clip) throw new Error(`no clip ${id}`);
  const video = document.createElement('video');
  video.muted = true;
  document.body.append(video);
  const url = URL.createObjectURL(clip.blob);
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 15_000);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      video.addEventListener('loadeddata', done, { once: true });
      video.addEventListener('error', done, { once: true });
      video.src = url;
    });
    return { readyState: video.readyState, duration: video.duration, width: video.videoWidth, height: video.videoHeight, error: video.error?.message ?? (video.error ? 'media error' : null) };
  } finally {
    video.remove();
    URL.revokeObjectURL(url);
  }
}

/** Decodes every frame of a stored clip (mediabunny over WebCodecs) and compares it with its source. */
async function decode(id: string): Promise<DecodeReport> {
  const clip = clips.get(id);
  if (!clip) throw new Error(`no clip ${id}`);
  const input = new Input({ source: new BlobSource(clip.blob), formats: ALL_FORMATS });
  const track = await input.getPrimaryVideoTrack();
  if (!track) throw new Error('no video track');
  const psnr: number[] = [];
  let frames = 0;
  for await (const sample of new VideoSampleSink(track).samples()) {
    const rgba = new Uint8ClampedArray(sample.allocationSize({ format: 'RGBA' }));
    await sample.copyTo(rgba, { format: 'RGBA' });
    sample.close();
    const source = clip.source[frames++];
    if (!source) continue;
    let squared = 0;
    for (let i = 0; i < rgba.length; i += 4) {
      for (let c = 0; c < 3; c++) squared += (rgba[i + c] - source[i + c]) ** 2;
    }
    const mse = squared / ((rgba.length / 4) * 3);
    psnr.push(mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse));
  }
  return { frames, psnr };
}

const videoCheck = { support, encode, store, play, decode };
export type VideoCheck = typeof videoCheck;
(window as unknown as { videoCheck: VideoCheck }).videoCheck = videoCheck;
