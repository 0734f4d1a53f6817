// A generation's frames as a WebM the page can play and download. libwebp's WebAssembly is fetched
// by its own glue code (new URL('…wasm', import.meta.url)), which Vite serves in development, emits
// as an asset in the site build, and inlines into dist/webdit.js in the library build.

import { init } from '@jsquash/webp/encode.js';
import { framesToRgba8 } from '../frames/rgba.ts';
import { encodeWebm } from '../frames/video.ts';

let ready: Promise<unknown> | undefined;

/** Loads the encoder's WebAssembly once (a later encode would otherwise load it on first use). */
export function initVideoEncoder(): Promise<unknown> {
  ready ??= init().catch((e: unknown) => {
    ready = undefined;
    throw new Error(`could not load the video encoder (libwebp WebAssembly): ${e instanceof Error ? e.message : String(e)}`);
  });
  return ready;
}

export interface Clip {
  blob: Blob;
  /** Encoded size (the frames upscaled by `scale`). */
  width: number;
  height: number;
  scale: number;
  frameCount: number;
  fps: number;
}

/** Frames [F, 3, H, W] in [0, 1] → a looping WebM, upscaled by whole pixels to about `targetSide`. */
export async function encodeClip(
  frames: Float32Array,
  shape: readonly [number, number, number, number],
  options: { fps?: number; targetSide?: number } = {},
): Promise<Clip> {
  const [frameCount, , height, width] = shape;
  const fps = options.fps ?? 8;
  const scale = Math.max(1, Math.floor((options.targetSide ?? 256) / Math.max(width, height)));
  await initVideoEncoder();
  const bytes = await encodeWebm(framesToRgba8(frames, shape), width, height, { fps, scale });
  return {
    blob: new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'video/webm' }),
    width: width * scale,
    height: height * scale,
    scale,
    frameCount,
    fps,
  };
}
