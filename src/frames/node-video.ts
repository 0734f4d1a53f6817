// Node only: libwebp's WebAssembly is loaded from the package's file (Node's fetch cannot read file URLs).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { init } from '@jsquash/webp/encode.js';

let ready: Promise<unknown> | undefined;

export function initNodeVideoEncoder(): Promise<unknown> {
  const require = createRequire(import.meta.url);
  ready ??= readFile(require.resolve('@jsquash/webp/codec/enc/webp_enc_simd.wasm'))
    .then((bytes) => WebAssembly.compile(bytes))
    .then((module) => init(module));
  return ready;
}
