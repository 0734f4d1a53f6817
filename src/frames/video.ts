// Frames → a video file people can share. Where a WebCodecs encoder exists (every browser that runs
// WebGPU; Node with @napi-rs/webcodecs, see node-video.ts), mediabunny drives it: MP4 with H.264, else
// WebM with VP9 or VP8, inter-frame coded at a bitrate scaled to the size and frame rate. Where none
// exists, WebM made of VP8 key frames: each frame a lossy WebP image (libwebp compiled to
// WebAssembly, @jsquash/webp), whose payload is a VP8 key frame, muxed by mediabunny.

import encodeWebp from '@jsquash/webp/encode.js';
import {
  BufferTarget,
  canEncodeVideo,
  EncodedPacket,
  EncodedVideoPacketSource,
  Mp4OutputFormat,
  Output,
  Quality,
  VideoSample,
  VideoSampleSource,
  WebMOutputFormat,
} from 'mediabunny';

export type VideoContainer = 'mp4' | 'webm';

/** The WebCodecs codecs webdit writes (mediabunny's names). Spelled out here so that the public types do
 * not pull in mediabunny's declarations, whose dom-webcodecs reference clashes with TypeScript's own DOM lib. */
export type VideoCodecName = 'avc' | 'vp9' | 'vp8';

/** What the caller asks for: a container, or `auto` (MP4 where H.264 encodes, else WebM). */
export type VideoFormatRequest = VideoContainer | 'auto';

export interface VideoOptions {
  fps?: number;
  /** Nearest-neighbour upscaling factor (small models make small frames). */
  scale?: number;
  /** WebP/VP8 quality 0–100 of the key-frame WebM. */
  quality?: number;
}

export interface EncodeVideoOptions {
  format?: VideoFormatRequest;
  fps?: number;
  /** Nearest-neighbour upscaling factor (small models make small frames). */
  scale?: number;
  /** Bits per pixel per frame; the bitrate is this × width × height × fps (default 0.15, at least 50 kb/s). */
  bitsPerPixel?: number;
  /** Seconds between key frames (default 2). */
  keyFrameInterval?: number;
  /** Loads libwebp's WebAssembly, called only when the key-frame WebM is the way out. */
  loadKeyFrameEncoder?: () => Promise<unknown>;
}

export interface EncodedVideo {
  bytes: Uint8Array;
  container: VideoContainer;
  /** `avc`, `vp9`, `vp8`, or `vp8-key-frames` for the key-frame WebM. */
  codec: VideoCodecName | 'vp8-key-frames';
  mimeType: 'video/mp4' | 'video/webm';
  /** The file name extension with its dot: `.mp4` or `.webm`. */
  extension: '.mp4' | '.webm';
  /** Encoded size (the frames upscaled by `scale`). */
  width: number;
  height: number;
  /** Target bitrate in bits per second (undefined for the key-frame WebM, which has none). */
  bitrate?: number;
}

/** The codecs tried for each container, best first. */
const CODECS: Record<VideoContainer, VideoCodecName[]> = { mp4: ['avc'], webm: ['vp9', 'vp8'] };

/**
 * Bits per pixel per frame. On the toy model's clips upscaled 8× (bench/video-sizes.ts), Chromium's
 * H.264 and VP9 at 0.15 are no larger than the key-frame WebM and better (worst frame 43.0 and 36.0 dB
 * against 36.1 on 8 frames); at 0.05 VP9's worst frame falls to 26.6 dB on 32 frames.
 */
const BITS_PER_PIXEL = 0.15;

/** Below this, rate control starves the first key frame of a short small clip. */
const MIN_BITRATE = 50_000;

export function videoBitrate(width: number, height: number, fps: number, bitsPerPixel = BITS_PER_PIXEL): number {
  return Math.max(MIN_BITRATE, Math.round(bitsPerPixel * width * height * fps));
}

/** The MIME type and extension of a container. */
export function containerInfo(container: VideoContainer): Pick<EncodedVideo, 'mimeType' | 'extension'> {
  return container === 'mp4' ? { mimeType: 'video/mp4', extension: '.mp4' } : { mimeType: 'video/webm', extension: '.webm' };
}

/** The container a file name asks for (`.mp4`, `.webm`), or undefined. */
export function containerOfFileName(name: string): VideoContainer | undefined {
  const match = /\.(mp4|webm)$/i.exec(name);
  return match ? (match[1].toLowerCase() as VideoContainer) : undefined;
}

/**
 * The container and codec this runtime can encode for a request (width × height is the encoded size),
 * or undefined when no WebCodecs encoder fits: then only the key-frame WebM can be written.
 */
export async function chooseVideoCodec(
  request: VideoFormatRequest,
  width: number,
  height: number,
  fps = 8,
): Promise<{ container: VideoContainer; codec: VideoCodecName } | undefined> {
  const containers: VideoContainer[] = request === 'auto' ? ['mp4', 'webm'] : [request];
  for (const container of containers) {
    for (const codec of CODECS[container]) {
      // H.264 needs even sizes; mediabunny's check says so only for the browser's own encoder.
      if (codec === 'avc' && (width % 2 === 1 || height % 2 === 1)) continue;
      const bitrate = videoBitrate(width, height, fps);
      if (await canEncodeVideo(codec, { width, height, bitrate: new Quality({ bitrate }), frameRate: fps })) return { container, codec };
    }
  }
  return undefined;
}

function checkFrames(frames: Uint8ClampedArray[], width: number, height: number, scale: number): void {
  if (frames.length === 0) throw new Error('no frames to encode');
  if (!Number.isInteger(scale) || scale < 1) throw new Error(`scale must be a positive integer, got ${scale}`);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new Error(`bad frame size ${width}×${height}`);
  frames.forEach((frame, i) => {
    if (frame.length !== width * height * 4) throw new Error(`frame ${i} has ${frame.length} bytes, expected ${width}×${height}×4`);
  });
}

/**
 * Encodes RGBA frames (all width × height) as MP4 or WebM through WebCodecs, or, for `auto` and `webm`
 * where no encoder exists, as the key-frame WebM (which needs libwebp's WebAssembly loaded first).
 * Asking for `mp4` where H.264 cannot be encoded is an error that says so.
 */
export async function encodeVideo(frames: Uint8ClampedArray[], width: number, height: number, options: EncodeVideoOptions = {}): Promise<EncodedVideo> {
  const fps = options.fps ?? 8;
  const scale = options.scale ?? 1;
  const request = options.format ?? 'auto';
  if (!(fps > 0 && Number.isFinite(fps))) throw new Error(`fps must be a positive number, got ${fps}`);
  checkFrames(frames, width, height, scale);
  const w = width * scale;
  const h = height * scale;
  const choice = await chooseVideoCodec(request, w, h, fps);
  if (!choice) {
    if (request === 'mp4') {
      throw new Error(
        `cannot write MP4 here: no H.264 encoder for ${w}×${h}` +
          (w % 2 || h % 2 ? ' (H.264 needs an even width and height)' : ' (in Node, install @napi-rs/webcodecs and call useNodeWebCodecs() before encoding; or write .webm)'),
      );
    }
    await options.loadKeyFrameEncoder?.();
    const bytes = await encodeWebm(frames, width, height, { fps, scale });
    return { bytes, container: 'webm', codec: 'vp8-key-frames', ...containerInfo('webm'), width: w, height: h };
  }
  const { container, codec } = choice;
  const bitrate = videoBitrate(w, h, fps, options.bitsPerPixel);
  const format = container === 'mp4' ? new Mp4OutputFormat({ fastStart: 'in-memory' }) : new WebMOutputFormat();
  const output = new Output({ format, target: new BufferTarget() });
  const source = new VideoSampleSource({ codec, bitrate: new Quality({ bitrate }), keyFrameInterval: options.keyFrameInterval ?? 2 });
  output.addVideoTrack(source, { frameRate: fps });
  try {
    await output.start();
    for (let i = 0; i < frames.length; i++) {
      const rgba = upscaleRgba(frames[i], width, height, scale);
      const sample = new VideoSample(rgba, { format: 'RGBA', codedWidth: w, codedHeight: h, timestamp: i / fps, duration: 1 / fps });
      try {
        await source.add(sample);
      } finally {
        sample.close();
      }
    }
    await output.finalize();
  } catch (e) {
    // Frees the encoder; the first error is the one worth reporting.
    await output.cancel().catch(() => undefined);
    throw new Error(`${codec} encoding into ${container} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const buffer = output.target.buffer;
  if (!buffer) throw new Error(`the ${container} muxer produced no output`);
  return { bytes: new Uint8Array(buffer), container, codec, ...containerInfo(container), width: w, height: h, bitrate };
}

/** Nearest-neighbour upscale of one RGBA image. */
export function upscaleRgba(rgba: Uint8ClampedArray, width: number, height: number, scale: number): Uint8ClampedArray {
  if (scale === 1) return rgba;
  const w = width * scale;
  const out = new Uint8ClampedArray(w * height * scale * 4);
  for (let y = 0; y < height * scale; y++) {
    const sy = Math.floor(y / scale);
    for (let x = 0; x < w; x++) {
      const s = (sy * width + Math.floor(x / scale)) * 4;
      const d = (y * w + x) * 4;
      out[d] = rgba[s];
      out[d + 1] = rgba[s + 1];
      out[d + 2] = rgba[s + 2];
      out[d + 3] = 255;
    }
  }
  return out;
}

/** The VP8 key frame inside a simple lossy WebP file (RIFF, 'WEBP', chunk 'VP8 '). */
export function vp8FromWebp(webp: Uint8Array): Uint8Array {
  const tag = (at: number) => String.fromCharCode(webp[at], webp[at + 1], webp[at + 2], webp[at + 3]);
  if (tag(0) !== 'RIFF' || tag(8) !== 'WEBP' || tag(12) !== 'VP8 ') throw new Error(`the WebP encoder did not produce a simple lossy file (chunk "${tag(12)}")`);
  const size = webp[16] | (webp[17] << 8) | (webp[18] << 16) | (webp[19] << 24);
  if (20 + size > webp.length) throw new Error('truncated WebP from the encoder');
  return webp.subarray(20, 20 + size);
}

/** Encodes RGBA frames (all width × height) as a WebM of VP8 key frames (no WebCodecs needed). */
export async function encodeWebm(frames: Uint8ClampedArray[], width: number, height: number, options: VideoOptions = {}): Promise<Uint8Array> {
  const fps = options.fps ?? 8;
  const scale = options.scale ?? 1;
  checkFrames(frames, width, height, scale);
  const w = width * scale;
  const h = height * scale;
  const output = new Output({ format: new WebMOutputFormat(), target: new BufferTarget() });
  const track = new EncodedVideoPacketSource('vp8');
  output.addVideoTrack(track, { frameRate: fps });
  await output.start();
  for (let i = 0; i < frames.length; i++) {
    const rgba = upscaleRgba(frames[i], width, height, scale);
    const webp = new Uint8Array(await encodeWebp(new ImageDataLike(rgba, w, h) as unknown as ImageData, { quality: options.quality ?? 90 }));
    const packet = new EncodedPacket(vp8FromWebp(webp), 'key', i / fps, 1 / fps);
    await track.add(packet, i === 0 ? { decoderConfig: { codec: 'vp8', codedWidth: w, codedHeight: h } } : undefined);
  }
  await output.finalize();
  const buffer = output.target.buffer;
  if (!buffer) throw new Error('the WebM muxer produced no output');
  return new Uint8Array(buffer);
}

/** The encoder only reads data/width/height; Node has no ImageData class. */
class ImageDataLike {
  readonly colorSpace = 'srgb' as const;
  constructor(
    readonly data: Uint8ClampedArray,
    readonly width: number,
    readonly height: number,
  ) {}
}
