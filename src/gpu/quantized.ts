// Quantized Linear weights as the matmul reads them, and their host-side codecs (the CPU reference).
//  - int8 / int4, group-wise symmetric: w[n, k] = q[n, k] · scale[n, ⌊k / groupSize⌋], q in [−127, 127]
//    (int8) or [−7, 7] (int4), scales f16 [N, ⌈K / groupSize⌉].
//  - fp8 e4m3fn with one f32 scale for the whole tensor: w[n, k] = fp8(q[n, k]) · scale.
// Codes are stored flat in element order: int8 and fp8 one per byte, int4 two per byte (low nibble first,
// two's complement), so a row of K codes starts at byte n·K (n·K/2 for int4: K must be even).

import { formatShape, type Tensor } from './tensor.ts';

export type QuantizedFormat = 'int8' | 'int4' | 'fp8';

/** Largest code magnitude of each group-wise format (symmetric, so −8 of int4 and −128 of int8 go unused). */
export const QMAX = { int8: 127, int4: 7 } as const;

/**
 * A group size the kernel takes: a power of two (the kernel finds a column's group with a shift), at least
 * 8 (the 8 codes it decodes at once share one scale).
 */
export function isValidGroupSize(groupSize: unknown): groupSize is number {
  return typeof groupSize === 'number' && Number.isInteger(groupSize) && groupSize >= 8 && (groupSize & (groupSize - 1)) === 0 && groupSize <= 2 ** 30;
}

const FORMAT_OF_DTYPE: Partial<Record<Tensor['dtype'], QuantizedFormat>> = { i8: 'int8', i4: 'int4', f8e4m3: 'fp8' };

/**
 * A quantized [N, K] weight: its codes, and its scales (f16 [N, ⌈K / groupSize⌉] for int8/int4; f32 [1]
 * for fp8, groupSize 0). Owns both tensors: release() frees them.
 */
export class QuantizedWeight {
  readonly format: QuantizedFormat;

  constructor(
    readonly codes: Tensor,
    readonly scales: Tensor,
    readonly groupSize: number,
  ) {
    const format = FORMAT_OF_DTYPE[codes.dtype];
    if (!format) throw new Error(`quantized weight: codes must be i8, i4 or f8e4m3, got ${codes.dtype}`);
    this.format = format;
    if (codes.shape.length !== 2) throw new Error(`quantized weight: codes must be [N, K], got ${formatShape(codes.shape)}`);
    const [N, K] = codes.shape;
    if (format === 'fp8') {
      if (groupSize !== 0) throw new Error(`quantized weight: fp8 has one scale per tensor (groupSize 0), got groupSize ${groupSize}`);
      if (scales.dtype !== 'f32' || scales.size !== 1) throw new Error(`quantized weight: an fp8 scale must be one f32, got ${scales.dtype} ${formatShape(scales.shape)}`);
      return;
    }
    if (!isValidGroupSize(groupSize)) throw new Error(`quantized weight: groupSize must be a power of two ≥ 8, got ${groupSize}`);
    if (format === 'int4' && K % 2 !== 0) throw new Error(`quantized weight: int4 rows must hold an even K, got [${N}, ${K}]`);
    const groups = Math.ceil(K / groupSize);
    if (scales.dtype !== 'f16' || scales.shape.length !== 2 || scales.shape[0] !== N || scales.shape[1] !== groups) {
      throw new Error(`quantized weight: scales must be f16 [${N}, ${groups}] for [${N}, ${K}] in groups of ${groupSize}, got ${scales.dtype} ${formatShape(scales.shape)}`);
    }
  }

  get shape(): readonly number[] {
    return this.codes.shape;
  }

  release(): void {
    this.codes.release();
    this.scales.release();
  }
}

/** fp8 e4m3fn (1 sign, 4 exponent bits with bias 7, 3 mantissa bits; no infinities, 0x7f/0xff NaN) to a number. */
export function fp8E4M3ToFloat(byte: number): number {
  const sign = byte & 0x80 ? -1 : 1;
  const exponent = (byte >> 3) & 15;
  const mantissa = byte & 7;
  if (exponent === 15 && mantissa === 7) return NaN;
  if (exponent === 0) return sign * mantissa * 2 ** -9;
  return sign * (1 + mantissa / 8) * 2 ** (exponent - 7);
}

/** Largest finite fp8 e4m3fn value. */
export const FP8_E4M3_MAX = 448;

/**
 * The fp8 e4m3fn code nearest to v (ties to even, as torch casts), saturated to ±448: casting a weight
 * divided by a per-tensor scale. NaN has no code here: it throws.
 */
export function floatToFp8E4M3(v: number): number {
  if (Number.isNaN(v)) throw new Error('floatToFp8E4M3: NaN has no code webdit accepts');
  const sign = v < 0 || Object.is(v, -0) ? 0x80 : 0;
  const a = Math.min(Math.abs(v), FP8_E4M3_MAX);
  // Subnormals are multiples of 2⁻⁹; from 2⁻⁶ on, a binade of 8 steps of 2^(e − 3).
  let exponent = a < 2 ** -6 ? -6 : Math.floor(Math.log2(a));
  if (exponent > -6 && a < 2 ** exponent) exponent--; // log2 rounded up just below a power of two
  if (a >= 2 ** (exponent + 1)) exponent++;
  const step = 2 ** (exponent - 3);
  let units = a / step;
  const floor = Math.floor(units);
  units = units - floor > 0.5 || (units - floor === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
  // units·step with units in [0, 16]: 8..15 sit in this binade, 16 is the next binade's first value.
  const biased = exponent + 7;
  if (exponent === -6 && units < 8) return sign | units;
  if (units === 16) return sign | ((biased + 1) << 3);
  return sign | (biased << 3) | (units - 8);
}

let fp8Table: Float32Array | undefined;

/** All 256 fp8 e4m3fn values. */
export function fp8E4M3Table(): Float32Array {
  if (!fp8Table) fp8Table = Float32Array.from({ length: 256 }, (_, b) => fp8E4M3ToFloat(b));
  return fp8Table;
}

/** Code e of a flat int4 byte array (two's complement nibble, low nibble first). */
export function int4At(bytes: Uint8Array, e: number): number {
  const nibble = (bytes[e >> 1] >> ((e & 1) * 4)) & 15;
  return nibble >= 8 ? nibble - 16 : nibble;
}

/**
 * The weights a quantized [N, K] tensor stands for, in float64 (the matmul's reference): codes as stored,
 * scales as numbers (already widened from f16 for int8/int4; one value for fp8).
 */
export function dequantize(format: QuantizedFormat, codes: Uint8Array, scales: ArrayLike<number>, N: number, K: number, groupSize = 0): Float64Array {
  const out = new Float64Array(N * K);
  const groups = format === 'fp8' ? 1 : Math.ceil(K / groupSize);
  const table = fp8E4M3Table();
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const e = n * K + k;
      if (format === 'fp8') out[e] = table[codes[e]] * scales[0];
      else {
        const q = format === 'int8' ? (codes[e] << 24) >> 24 : int4At(codes, e);
        out[e] = q * scales[n * groups + Math.floor(k / groupSize)];
      }
    }
  }
  return out;
}
