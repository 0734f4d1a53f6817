// A generation's frames as a video file the page can play and download: MP4 (H.264) where the
// browser's WebCodecs encodes it, else WebM (VP9, VP8), else (no WebCodecs) WebM of VP8 key frames
// from libwebp. libwebp's WebAssembly is fetched by its own glue code (new URL('…wasm',
// import.meta.url)), which Vite serves in development, emits as an asset in the site build, and
// inlines into dist/webdit.js in the library build; it is loaded only where it is needed.

import { init } from '@jsquash/webp/encode.js';
import { framesToRgba8 } from '../frames/rgba.ts';
import { chooseVideoCodec, encodeVideo, type EncodedVideo, type VideoFormatRequest } from '../frames/video.ts';

let webpReady: Promise<unknown> | undefined;

function loadKeyFrameEncoder(): Promise<unknown> {
  webpReady ??= init().catch((e: unknown) => {
    webpReady = undefined;
    throw new Error(`could not load the video encoder (libwebp WebAssembly): ${e instanceof Error ? e.message : String(e)}`);
  });
  return webpReady;
}

/**
 * Makes the encoder ready before the first clip: nothing to load where the browser's WebCodecs
 * encodes (the answer is the container it will write); libwebp's WebAssembly where it does not.
 */
export async function initVideoEncoder(): Promise<EncodedVideo['container']> {
  const choice = await chooseVideoCodec('auto', 256, 256);
  if (choice) return choice.container;
  await loadKeyFrameEncoder();
  return 'webm';
}

export interface Clip {
  blob: Blob;
  /** Encoded size (the frames upscaled by `scale`). */
  width: number;
  height: number;
  scale: number;
  frameCount: number;
  fps: number;
  container: EncodedVideo['container'];
  codec: EncodedVideo['codec'];
  mimeType: EncodedVideo['mimeType'];
  /** For a download's file name: `.mp4` or `.webm`. */
  extension: EncodedVideo['extension'];
  /** Target bits per second (absent for key-frame WebM). */
  bitrate?: number;
}

/** Frames [F, 3, H, W] in [0, 1] → a looping video, upscaled by whole pixels to about `targetSide`. */
export async function encodeClip(
  frames: Float32Array,
  shape: readonly [number, number, number, number],
  options: { fps?: number; targetSide?: number; format?: VideoFormatRequest } = {},
): Promise<Clip> {
  const [frameCount, , height, width] = shape;
  const fps = options.fps ?? 8;
  const scale = Math.max(1, Math.floor((options.targetSide ?? 256) / Math.max(width, height)));
  const video = await encodeVideo(framesToRgba8(frames, shape), width, height, { fps, scale, format: options.format ?? 'auto', loadKeyFrameEncoder });
  return {
    blob: new Blob([video.bytes as Uint8Array<ArrayBuffer>], { type: video.mimeType }),
    width: video.width,
    height: video.height,
    scale,
    frameCount,
    fps,
    container: video.container,
    codec: video.codec,
    mimeType: video.mimeType,
    extension: video.extension,
    bitrate: video.bitrate,
  };
}
