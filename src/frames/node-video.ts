// Node only: libwebp's WebAssembly is loaded from the package's file (Node's fetch cannot read file URLs).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { init } from '@jsquash/webp/encode.js';
import { encodeWebm } from './video.ts';

let ready: Promise<unknown> | undefined;

export function initNodeVideoEncoder(): Promise<unknown> {
  const require = createRequire(import.meta.url);
  ready ??= readFile(require.resolve('@jsquash/webp/codec/enc/webp_enc_simd.wasm'))
    .then((bytes) => WebAssembly.compile(bytes))
    .then((module) => init(module));
  return ready;
}

/** encodeWebm for Node: loads libwebp's WebAssembly from the installed package first. */
export async function encodeNodeWebm(...args: Parameters<typeof encodeWebm>): Promise<Uint8Array> {
  await initNodeVideoEncoder();
  return encodeWebm(...args);
}
