// webdit's quantized weight format, and the streaming quantizer that writes it.
//
// The output is an ordinary safetensors file (it streams by URL like any other):
//   __metadata__["webdit.quantization"] = {"format": "int8" | "int4", "scheme": "symmetric",
//                                          "group_size": G, "scale_dtype": "F16", "version": 1}
//   <base>.weight              I8 [N, K] (int8), or U8 [N, K/2] (int4: two codes a byte, low nibble first)
//   <base>.weight_group_scale  F16 [N, ⌈K / G⌉]
// w[n, k] ≈ q[n, k] · scale[n, ⌊k / G⌋] with scale = max|w| over the group / qmax (127 or 7), rounded to
// f16, and q = round(w / scale) clamped to ±qmax. Symmetric: no zero point, so the kernel decodes a
// code with one multiply. Only 2-D Linear weights are quantized; every other tensor (embedding tables,
// the relative position bias, norms, biases) is copied unchanged, in its stored dtype.

import { floatToHalf, halfToFloat } from '../gpu/context.ts';
import { QMAX, isValidGroupSize } from '../gpu/quantized.ts';
import type { Checkpoint } from './checkpoint.ts';
import { DTYPE_BYTES, encodeSafetensorsHeader, tensorByteLength, widenToFloat32, type SafetensorsDType, type SafetensorsFile, type TensorInfo } from './safetensors.ts';

export type GroupFormat = 'int8' | 'int4';

export const QUANTIZATION_METADATA_KEY = 'webdit.quantization';
export const GROUP_SCALE_SUFFIX = '_group_scale';
export const DEFAULT_GROUP_SIZE = 64;

export interface QuantizationMetadata {
  format: GroupFormat;
  scheme: 'symmetric';
  group_size: number;
  scale_dtype: 'F16';
  version: 1;
}

/** The quantization a file's metadata declares, or undefined for a plain file; malformed metadata throws. */
export function readQuantizationMetadata(file: SafetensorsFile): QuantizationMetadata | undefined {
  const text = file.metadata[QUANTIZATION_METADATA_KEY];
  if (text === undefined) return undefined;
  let m: Partial<QuantizationMetadata>;
  try {
    m = JSON.parse(text);
  } catch {
    throw new Error(`${file.source.name}: __metadata__["${QUANTIZATION_METADATA_KEY}"] is not JSON`);
  }
  if ((m.format !== 'int8' && m.format !== 'int4') || m.scheme !== 'symmetric' || m.scale_dtype !== 'F16' || m.version !== 1) {
    throw new Error(`${file.source.name}: unsupported quantization ${text} (webdit reads version 1: int8 or int4, symmetric, F16 scales)`);
  }
  checkGroupSize(m.group_size);
  return m as QuantizationMetadata;
}

function checkGroupSize(groupSize: unknown): asserts groupSize is number {
  if (!isValidGroupSize(groupSize)) throw new Error(`quantization group size must be a power of two ≥ 8, got ${groupSize}`);
}

/** Tables of vectors indexed by token or bucket: read by row, never multiplied, so never quantized. */
const EMBEDDING = /(^|\.)(shared|embed_tokens|token_embedding|relative_attention_bias|pos_embedding|embedding)(\.|$)/;

/** Why a tensor stays as it is, or undefined when it is a Linear weight this format quantizes. */
export function keepReason(info: TensorInfo, format: GroupFormat): string | undefined {
  if (!info.name.endsWith('.weight') || info.shape.length !== 2) return 'not a 2-D weight';
  if (EMBEDDING.test(info.name)) return 'embedding table';
  if (info.dtype === 'F8_E4M3' || info.dtype === 'I8' || info.dtype === 'U8') return `already ${info.dtype}: quantize from the F32/F16/BF16 checkpoint`;
  if (format === 'int4' && info.shape[1] % 2 !== 0) return `odd K (${info.shape[1]}) cannot pack two int4 codes a byte`;
  if (info.shape[0] * info.shape[1] === 0) return 'empty';
  return undefined;
}

/** Codes and f16 scale bits of `rows` rows of K values (row-major). */
export function quantizeRows(values: Float32Array, rows: number, K: number, format: GroupFormat, groupSize: number): { codes: Uint8Array; scales: Uint16Array } {
  checkGroupSize(groupSize);
  if (values.length !== rows * K) throw new Error(`quantizeRows: ${values.length} values for ${rows} rows of ${K}`);
  if (format === 'int4' && K % 2 !== 0) throw new Error(`quantizeRows: int4 needs an even K, got ${K}`);
  const qmax = QMAX[format];
  const groups = Math.ceil(K / groupSize);
  const codes = new Uint8Array(format === 'int4' ? (rows * K) / 2 : rows * K);
  const scales = new Uint16Array(rows * groups);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const begin = r * K + g * groupSize;
      const end = r * K + Math.min(K, (g + 1) * groupSize);
      let amax = 0;
      for (let e = begin; e < end; e++) {
        const a = Math.abs(values[e]);
        if (!(a <= 3.4e38)) throw new Error(`quantizeRows: non-finite weight ${values[e]} at row ${r}, column ${e - r * K}`);
        if (a > amax) amax = a;
      }
      const bits = floatToHalf(amax / qmax);
      const scale = halfToFloat(bits);
      if (!Number.isFinite(scale)) throw new Error(`quantizeRows: a group's scale ${amax / qmax} (row ${r}) is over f16's range`);
      scales[r * groups + g] = bits;
      for (let e = begin; e < end; e++) {
        const q = scale === 0 ? 0 : Math.max(-qmax, Math.min(qmax, Math.round(values[e] / scale)));
        if (format === 'int8') codes[e] = q & 0xff;
        else codes[e >> 1] |= (q & 15) << ((e & 1) * 4);
      }
    }
  }
  return { codes, scales };
}

/** Where output bytes go: positioned writes (a file handle in Node, memory in tests). */
export interface ByteSink {
  write(bytes: Uint8Array, position: number): Promise<void>;
}

interface OutputEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

interface PlannedTensor {
  input: TensorInfo;
  file: SafetensorsFile;
  /** Copied tensors have one output; quantized ones their codes and their scales. */
  outputs: OutputEntry[];
  quantized: boolean;
}

export interface QuantizeOptions {
  format: GroupFormat;
  groupSize?: number;
  /** Input bytes read at once (whole rows, at least one); default 16 MiB. */
  chunkBytes?: number;
  /** Output bytes written so far, of the total. */
  onProgress?: (written: number, total: number) => void;
}

export interface QuantizeReport {
  quantized: string[];
  kept: { name: string; reason: string }[];
  inputBytes: number;
  outputBytes: number;
}

/** The output's entries from the input headers alone, so the header is written before any data. */
function plan(checkpoint: Checkpoint, format: GroupFormat, groupSize: number): { tensors: PlannedTensor[]; kept: QuantizeReport['kept'] } {
  const fileOrder = new Map(checkpoint.files.map((f, i) => [f, i]));
  const inputs = [...checkpoint.tensors.values()].sort((a, b) => fileOrder.get(a.file)! - fileOrder.get(b.file)! || a.info.begin - b.info.begin);
  const tensors: PlannedTensor[] = [];
  const kept: QuantizeReport['kept'] = [];
  let offset = 0;
  const add = (name: string, dtype: SafetensorsDType, shape: number[]): OutputEntry => {
    const bytes = shape.reduce((n, d) => n * d, 1) * DTYPE_BYTES[dtype];
    const entry = { name, dtype, shape, begin: offset, end: offset + bytes };
    offset += bytes;
    return entry;
  };
  for (const { file, info } of inputs) {
    const reason = keepReason(info, format);
    if (reason) {
      if (info.shape.length === 2) kept.push({ name: info.name, reason });
      tensors.push({ input: info, file, outputs: [add(info.name, info.dtype, info.shape)], quantized: false });
      continue;
    }
    const [N, K] = info.shape;
    const scaleName = info.name + GROUP_SCALE_SUFFIX;
    if (checkpoint.tensors.has(scaleName)) throw new Error(`the input already has a tensor "${scaleName}": is it quantized already?`);
    const codes = format === 'int8' ? add(info.name, 'I8', [N, K]) : add(info.name, 'U8', [N, K / 2]);
    const scales = add(scaleName, 'F16', [N, Math.ceil(K / groupSize)]);
    tensors.push({ input: info, file, outputs: [codes, scales], quantized: true });
  }
  return { tensors, kept };
}

function encodeHeader(tensors: PlannedTensor[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  for (const t of tensors) {
    for (const o of t.outputs) header[o.name] = { dtype: o.dtype, shape: o.shape, data_offsets: [o.begin, o.end] };
  }
  return encodeSafetensorsHeader(header);
}

/**
 * Quantizes a checkpoint's Linear weights into one safetensors file written to `sink`: the header first,
 * then each tensor in input order, read, quantized and written a chunk of rows at a time, so memory
 * stays near one chunk however large the model is.
 */
export async function quantizeCheckpoint(checkpoint: Checkpoint, sink: ByteSink, options: QuantizeOptions): Promise<QuantizeReport> {
  const { format } = options;
  if (format !== 'int8' && format !== 'int4') throw new Error(`unknown quantization format "${format}" (int8 or int4)`);
  const groupSize = options.groupSize ?? DEFAULT_GROUP_SIZE;
  checkGroupSize(groupSize);
  const chunkBytes = options.chunkBytes ?? 16 * 1024 * 1024;
  const { tensors, kept } = plan(checkpoint, format, groupSize);
  const metadata: Record<string, string> = {};
  for (const f of checkpoint.files) Object.assign(metadata, f.metadata);
  const declared: QuantizationMetadata = { format, scheme: 'symmetric', group_size: groupSize, scale_dtype: 'F16', version: 1 };
  metadata[QUANTIZATION_METADATA_KEY] = JSON.stringify(declared);

  const header = encodeHeader(tensors, metadata);
  const dataStart = header.byteLength;
  const last = tensors.at(-1)?.outputs.at(-1);
  const outputBytes = dataStart + (last?.end ?? 0);
  let written = 0;
  const put = async (bytes: Uint8Array, position: number): Promise<void> => {
    await sink.write(bytes, position);
    written += bytes.byteLength;
    options.onProgress?.(written, outputBytes);
  };
  await put(header, 0);
  for (const t of tensors) {
    const { input, file } = t;
    const total = tensorByteLength(input);
    if (!t.quantized) {
      for (let at = 0; at < total; at += chunkBytes) {
        const length = Math.min(chunkBytes, total - at);
        await put(await file.source.read(input.begin + at, length), dataStart + t.outputs[0].begin + at);
      }
      continue;
    }
    const [N, K] = input.shape;
    const rowBytes = K * DTYPE_BYTES[input.dtype];
    const rowsPerChunk = Math.max(1, Math.floor(chunkBytes / rowBytes));
    const groups = Math.ceil(K / groupSize);
    const [codesOut, scalesOut] = t.outputs;
    const codeRowBytes = format === 'int8' ? K : K / 2;
    for (let row = 0; row < N; row += rowsPerChunk) {
      const rows = Math.min(rowsPerChunk, N - row);
      const values = widenToFloat32(await file.source.read(input.begin + row * rowBytes, rows * rowBytes), input.dtype);
      let q;
      try {
        q = quantizeRows(values, rows, K, format, groupSize);
      } catch (e) {
        throw new Error(`${file.source.name}: tensor "${input.name}": ${(e as Error).message}`);
      }
      await put(q.codes, dataStart + codesOut.begin + row * codeRowBytes);
      await put(new Uint8Array(q.scales.buffer), dataStart + scalesOut.begin + row * groups * 2);
    }
  }
  const quantized = tensors.filter((t) => t.quantized).map((t) => t.input.name);
  return { quantized, kept, inputBytes: checkpoint.totalBytes, outputBytes };
}
