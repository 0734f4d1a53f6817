// The safetensors format: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}}, then the
// tensors' bytes, row-major and little-endian, offsets relative to the end of the header.
// Only the header is read when a file is opened; tensors are read on demand.

import { floatToBf16, floatToHalf, halfToFloat } from '../gpu/context.ts';
import { fp8E4M3Table } from '../gpu/quantized.ts';
import type { ByteSource } from './source.ts';

/**
 * Float dtypes, fp8 e4m3fn (single-file fp8 checkpoints), and the integer codes of webdit's quantized
 * format (I8: int8; U8: int4 packed two per byte), which only `linear-weight.ts` gives meaning to.
 */
export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'F8_E4M3' | 'I8' | 'U8';

export const DTYPE_BYTES: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, I8: 1, U8: 1 };

const SUPPORTED_DTYPES = Object.keys(DTYPE_BYTES) as SafetensorsDType[];
/** Dtypes the format defines that webdit cannot use (named apart from typos in the messages). */
const OTHER_FORMAT_DTYPES = ['F64', 'I64', 'I32', 'I16', 'U64', 'U32', 'U16', 'BOOL', 'F8_E5M2'];

/** Headers above this are refused before anything is allocated (the reference reader's limit is 100 MB). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Absolute file offsets: the tensor's bytes are [begin, end). */
  begin: number;
  end: number;
}

export interface SafetensorsFile {
  source: ByteSource;
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

export function tensorByteLength(info: TensorInfo): number {
  return info.end - info.begin;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNonNegativeInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function parseEntry(fileName: string, name: string, entry: unknown, dataStart: number, fileSize: number): TensorInfo {
  const where = `${fileName}: tensor "${name}"`;
  if (!isPlainObject(entry) || !('dtype' in entry) || !('shape' in entry) || !('data_offsets' in entry)) {
    throw new SafetensorsError(`${where}: header entry is not {dtype, shape, data_offsets}: ${JSON.stringify(entry)?.slice(0, 200)}`);
  }
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== 'string' || !(SUPPORTED_DTYPES as string[]).includes(dtype)) {
    const known = typeof dtype === 'string' && OTHER_FORMAT_DTYPES.includes(dtype);
    throw new SafetensorsError(
      `${where}: ${known ? 'unsupported' : 'unknown'} dtype ${JSON.stringify(dtype)}; supported: ${SUPPORTED_DTYPES.join(', ')}`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
    throw new SafetensorsError(`${where}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger) || offsets[0] > offsets[1]) {
    throw new SafetensorsError(`${where}: data_offsets must be [begin, end] integers with begin ≤ end, got ${JSON.stringify(offsets)}`);
  }
  const [relBegin, relEnd] = offsets as [number, number];
  const dataBytes = fileSize - dataStart;
  if (relEnd > dataBytes) {
    throw new SafetensorsError(
      `${where}: data_offsets [${relBegin}, ${relEnd}] run past the end of the file (${dataBytes} data bytes after the header)`,
    );
  }
  const count = shape.reduce((n: number, d: number) => n * d, 1);
  const expected = count * DTYPE_BYTES[dtype as SafetensorsDType];
  if (relEnd - relBegin !== expected) {
    throw new SafetensorsError(
      `${where}: ${relEnd - relBegin} bytes for shape [${shape.join(', ')}] ${dtype}, which needs ${expected}`,
    );
  }
  return { name, dtype: dtype as SafetensorsDType, shape: shape as number[], begin: dataStart + relBegin, end: dataStart + relEnd };
}

function parseMetadata(fileName: string, value: unknown): Record<string, string> {
  if (value === null) return {};
  if (!isPlainObject(value)) throw new SafetensorsError(`${fileName}: __metadata__ must be an object of strings`);
  const metadata: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new SafetensorsError(`${fileName}: __metadata__ value "${key}" is ${JSON.stringify(v)}, not a string`);
    metadata[key] = v;
  }
  return metadata;
}

function checkNoOverlap(fileName: string, tensors: Iterable<TensorInfo>): void {
  const sorted = [...tensors].filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    const cur = sorted[i];
    if (cur.begin < prev.end) {
      throw new SafetensorsError(
        `${fileName}: tensors "${prev.name}" (bytes ${prev.begin}-${prev.end}) and "${cur.name}" (bytes ${cur.begin}-${cur.end}) overlap`,
      );
    }
  }
}

/** Reads and validates the header; tensor data stays in the source. */
export async function openSafetensors(source: ByteSource): Promise<SafetensorsFile> {
  const fileName = source.name;
  if (source.size < 8) {
    throw new SafetensorsError(`${fileName}: ${source.size} bytes, too short for a safetensors file (it starts with an 8-byte header length)`);
  }
  const lengthBytes = await source.read(0, 8);
  const headerLength = new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength === 0n) throw new SafetensorsError(`${fileName}: header length is 0`);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(`${fileName}: header length ${headerLength} bytes is over the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file, or corrupt)`);
  }
  const headerBytes = Number(headerLength);
  if (8 + headerBytes > source.size) {
    throw new SafetensorsError(`${fileName}: header of ${headerBytes} bytes runs past the end of the file (${source.size} bytes)`);
  }

  const raw = await source.read(8, headerBytes);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new SafetensorsError(`${fileName}: header is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(`${fileName}: header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isPlainObject(header)) throw new SafetensorsError(`${fileName}: header is not a JSON object`);

  const dataStart = 8 + headerBytes;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') metadata = parseMetadata(fileName, entry);
    else tensors.set(name, parseEntry(fileName, name, entry, dataStart, source.size));
  }
  checkNoOverlap(fileName, tensors.values());
  return { source, tensors, metadata };
}

let halfTable: Float32Array | undefined;

/** All 65,536 f16 values as f32: widening by lookup is far faster than decoding each one. */
function halfToFloatTable(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  }
  return halfTable;
}

/** fp8 e4m3fn codes 0x7f and 0xff are NaN; a weight file holding one is refused rather than passed on. */
export function findFp8NaN(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) if ((bytes[i] & 0x7f) === 0x7f) return i;
  return -1;
}

/**
 * Little-endian tensor bytes as f32 values. `bytes` must hold whole elements. F8_E4M3 widens to the
 * stored values (a scale kept beside the tensor is not applied here); integer codes do not widen.
 */
export function widenToFloat32(bytes: Uint8Array, dtype: SafetensorsDType): Float32Array {
  if (dtype === 'I8' || dtype === 'U8') throw new Error(`${dtype} tensors are quantized codes, not values: load them as a Linear weight`);
  if (dtype === 'F8_E4M3') {
    const table = fp8E4M3Table();
    return Float32Array.from(bytes, (b) => table[b]);
  }
  const width = DTYPE_BYTES[dtype];
  if (bytes.byteLength % width !== 0) throw new Error(`${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  // Typed-array views need aligned offsets; copy the rare unaligned chunk.
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const count = aligned.byteLength / width;
  if (dtype === 'F32') return new Float32Array(aligned.buffer, aligned.byteOffset, count).slice();
  const halves = new Uint16Array(aligned.buffer, aligned.byteOffset, count);
  if (dtype === 'F16') {
    const table = halfToFloatTable();
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = table[halves[i]];
    return out;
  }
  const words = new Uint32Array(count);
  for (let i = 0; i < count; i++) words[i] = halves[i] << 16;
  return new Float32Array(words.buffer);
}

export function getTensorInfo(file: SafetensorsFile, name: string): TensorInfo {
  const info = file.tensors.get(name);
  if (!info) throw new SafetensorsError(`${file.source.name}: no tensor named "${name}" (the file has ${file.tensors.size})`);
  return info;
}

/** One tensor read whole into host memory, widened to f32: for small files such as inputs. */
export async function readTensor(file: SafetensorsFile, name: string): Promise<Float32Array> {
  const info = getTensorInfo(file, name);
  const bytes = await file.source.read(info.begin, tensorByteLength(info));
  return widenToFloat32(bytes, info.dtype);
}

export interface EncodableTensor {
  dtype: SafetensorsDType;
  shape: number[];
  /** Values (rounded to the dtype), or for F16/BF16 the raw 16-bit words, or for 1-byte dtypes the raw bytes. */
  data: Float32Array | Uint16Array | Uint8Array;
}

function encodeData(name: string, t: EncodableTensor): Uint8Array {
  if ((t.data instanceof Uint8Array) !== (DTYPE_BYTES[t.dtype] === 1)) {
    throw new SafetensorsError(`tensor "${name}": ${t.dtype} data must ${t.data instanceof Uint8Array ? 'not ' : ''}be raw bytes`);
  }
  if (t.data instanceof Uint8Array) return t.data;
  if (t.data instanceof Uint16Array) {
    if (t.dtype === 'F32') throw new SafetensorsError(`tensor "${name}": F32 data must be a Float32Array, got raw 16-bit words`);
    return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  }
  if (t.dtype === 'F32') return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const round = t.dtype === 'F16' ? floatToHalf : floatToBf16;
  const words = new Uint16Array(t.data.length);
  for (let i = 0; i < words.length; i++) words[i] = round(t.data[i]);
  return new Uint8Array(words.buffer);
}

/**
 * The start of a safetensors file: the header's byte length (u64, little-endian), then the header JSON
 * (`{name: {dtype, shape, data_offsets}, __metadata__?}`) padded with spaces to a multiple of 8, as the
 * reference writer does, so the data that follows stays aligned.
 */
export function encodeSafetensorsHeader(header: Record<string, unknown>): Uint8Array<ArrayBuffer> {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + Math.ceil(json.byteLength / 8) * 8).fill(0x20);
  new DataView(out.buffer).setBigUint64(0, BigInt(out.byteLength - 8), true);
  out.set(json, 8);
  return out;
}

/** A safetensors file in memory (tests, small outputs). Tensors are laid out in the given order. */
export function encodeSafetensors(tensors: Record<string, EncodableTensor>, metadata?: Record<string, string>): Uint8Array<ArrayBuffer> {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '__metadata__') throw new SafetensorsError('"__metadata__" is reserved and cannot name a tensor');
    const count = t.shape.reduce((n, d) => n * d, 1);
    if (!t.shape.every((d) => isNonNegativeInteger(d))) throw new SafetensorsError(`tensor "${name}": invalid shape [${t.shape.join(', ')}]`);
    if (t.data.length !== count) throw new SafetensorsError(`tensor "${name}": ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    const bytes = encodeData(name, t);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    blobs.push(bytes);
    offset += bytes.byteLength;
  }
  const head = encodeSafetensorsHeader(header);
  const out = new Uint8Array(head.byteLength + offset);
  out.set(head);
  let at = head.byteLength;
  for (const b of blobs) {
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}
