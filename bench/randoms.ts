// Deterministic pseudo-random values for the bench scripts' random-weight models (xorshift32).

import { WAN21_VAE_CONFIG, decoderTensorShapes } from '../src/decoder/wan-vae-config.ts';
import type { EncodableTensor } from '../src/weights/safetensors.ts';

/** n values uniform in ±scale, the same for the same seed. */
export function randoms(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32 - 0.5) * 2 * scale;
  }
  return out;
}

/** Wan2.1-shaped VAE decoder weights (original key names), scaled like a trained network's (fan-in), gains near 1. */
export function randomWanVaeTensors(): Record<string, EncodableTensor> {
  const tensors: Record<string, EncodableTensor> = {};
  let seed = 1;
  for (const [name, shape] of decoderTensorShapes(WAN21_VAE_CONFIG)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length > 1 ? n / shape[0] : 1;
    const data = name.endsWith('gamma') ? randoms(n, seed++, 0.2).map((v) => 1 + v) : randoms(n, seed++, shape.length === 1 ? 0.05 : Math.sqrt(3 / fanIn));
    tensors[name] = { dtype: 'F32', shape, data };
  }
  return tensors;
}
