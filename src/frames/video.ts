// Frames → a playable WebM (VP8). Each frame is encoded as a lossy WebP image, whose payload is a VP8
// key frame, by libwebp compiled to WebAssembly (@jsquash/webp); mediabunny muxes the key frames into
// WebM. The same path runs in the browser and in Node (which has no WebCodecs).

import encodeWebp from '@jsquash/webp/encode.js';
import { BufferTarget, EncodedPacket, EncodedVideoPacketSource, Output, WebMOutputFormat } from 'mediabunny';

export interface VideoOptions {
  fps?: number;
  /** Nearest-neighbour upscaling factor (small models make small frames). */
  scale?: number;
  /** WebP/VP8 quality 0–100. */
  quality?: number;
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

/** Encodes RGBA frames (all width × height) as a WebM file. */
export async function encodeWebm(frames: Uint8ClampedArray[], width: number, height: number, options: VideoOptions = {}): Promise<Uint8Array> {
  const fps = options.fps ?? 8;
  const scale = options.scale ?? 1;
  if (frames.length === 0) throw new Error('no frames to encode');
  if (!Number.isInteger(scale) || scale < 1) throw new Error(`scale must be a positive integer, got ${scale}`);
  const w = width * scale;
  const h = height * scale;
  // VP8 in WebM wants even dimensions in practice; libwebp handles any, so this only guards 0.
  if (w < 1 || h < 1) throw new Error(`bad frame size ${w}×${h}`);
  const output = new Output({ format: new WebMOutputFormat(), target: new BufferTarget() });
  const track = new EncodedVideoPacketSource('vp8');
  output.addVideoTrack(track, { frameRate: fps });
  await output.start();
  for (let i = 0; i < frames.length; i++) {
    if (frames[i].length !== width * height * 4) throw new Error(`frame ${i} has ${frames[i].length} bytes, expected ${width}×${height}×4`);
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
