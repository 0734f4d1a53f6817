// A checkpoint: one safetensors file or shards listed by an index.json, and the streaming upload
// of its tensors to the GPU. Bytes move tensor by tensor in chunks of at most `chunkBytes`, one read
// in flight, so host memory stays near one chunk however large the model is.

import type { GpuContext } from '../gpu/context.ts';
import { BYTES_PER_ELEMENT, elementCount, formatShape, type DType, type Tensor } from '../gpu/tensor.ts';
import type { ModelFolder } from './folder.ts';
import { DTYPE_BYTES, findFp8NaN, openSafetensors, tensorByteLength, widenToFloat32, type SafetensorsFile, type TensorInfo } from './safetensors.ts';
import type { ByteSource } from './source.ts';

export interface CheckpointTensor {
  file: SafetensorsFile;
  info: TensorInfo;
}

export interface Checkpoint {
  files: SafetensorsFile[];
  tensors: Map<string, CheckpointTensor>;
  /** Bytes of all tensors, as stored. */
  totalBytes: number;
}

function addFile(checkpoint: Checkpoint, file: SafetensorsFile): void {
  checkpoint.files.push(file);
  for (const [name, info] of file.tensors) {
    const already = checkpoint.tensors.get(name);
    if (already) {
      throw new Error(`tensor "${name}" is in two shards: ${already.file.source.name} and ${file.source.name}`);
    }
    checkpoint.tensors.set(name, { file, info });
    checkpoint.totalBytes += tensorByteLength(info);
  }
}

/** One safetensors file given directly (a single-file checkpoint). */
export async function openCheckpointFile(source: ByteSource): Promise<Checkpoint> {
  const checkpoint: Checkpoint = { files: [], tensors: new Map(), totalBytes: 0 };
  addFile(checkpoint, await openSafetensors(source));
  return checkpoint;
}

/** The shard files named by an index.json's weight_map, in first-mention order. */
function parseIndex(text: string, indexName: string): { shards: string[]; weightMap: Map<string, string> } {
  let index: unknown;
  try {
    index = JSON.parse(text);
  } catch (e) {
    throw new Error(`${indexName} is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new Error(`${indexName} has no "weight_map" object`);
  }
  const map = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string') throw new Error(`${indexName}: weight_map["${tensor}"] is ${JSON.stringify(shard)}, not a file name`);
    map.set(tensor, shard);
  }
  return { shards: [...new Set(map.values())], weightMap: map };
}

/**
 * A checkpoint in a model folder: `${baseName}.safetensors.index.json` and the shards its weight_map
 * names when the index exists, else `${baseName}.safetensors`.
 */
export async function openCheckpoint(folder: ModelFolder, baseName = 'diffusion_pytorch_model'): Promise<Checkpoint> {
  const indexPath = `${baseName}.safetensors.index.json`;
  const singlePath = `${baseName}.safetensors`;
  const indexText = await folder.readText(indexPath);
  if (indexText === undefined) {
    const source = await folder.open(singlePath);
    if (!source) throw new Error(`no checkpoint in ${folder.name}: looked for ${indexPath} and ${singlePath}`);
    return openCheckpointFile(source);
  }

  const indexName = `${folder.name} ${indexPath}`;
  const { shards, weightMap } = parseIndex(indexText, indexName);
  if (shards.length === 0) throw new Error(`${indexName}: weight_map lists no tensors`);
  const checkpoint: Checkpoint = { files: [], tensors: new Map(), totalBytes: 0 };
  const fileByShard = new Map<string, SafetensorsFile>();
  // One shard at a time: the headers are small, and it keeps one read in flight.
  for (const shard of shards) {
    const source = await folder.open(shard);
    if (!source) throw new Error(`${indexName} names shard ${shard}, which is not in ${folder.name}`);
    const file = await openSafetensors(source);
    addFile(checkpoint, file);
    fileByShard.set(shard, file);
  }
  for (const [tensor, shard] of weightMap) {
    if (!fileByShard.get(shard)?.tensors.has(tensor)) throw new Error(`${indexName} puts tensor "${tensor}" in ${shard}, which does not hold it`);
  }
  return checkpoint;
}

export interface LoadOptions {
  /** Tensors to widen to f32 on the host while streaming (e.g. biases and norm weights). */
  widenToF32?: (name: string, info: TensorInfo) => boolean;
  /** Largest single read, rounded down to a multiple of 4 bytes; default 16 MiB. */
  chunkBytes?: number;
  /** Stored bytes loaded so far, of the total of the tensors requested. */
  onProgress?: (loadedBytes: number, totalBytes: number) => void;
  signal?: AbortSignal;
}

export const DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024;

/**
 * Writes queue up in the GPU process until the queue runs them; waiting for the queue this often
 * bounds that staging memory (and surfaces out-of-memory errors near their cause).
 */
const SYNC_EVERY_BYTES = 64 * 1024 * 1024;

/** GPU dtype of each stored dtype uploaded as is; U8 (packed int4 codes) only as a Linear weight says. */
const GPU_DTYPE: Partial<Record<TensorInfo['dtype'], DType>> = { F32: 'f32', F16: 'f16', BF16: 'bf16', F8_E4M3: 'f8e4m3', I8: 'i8' };

/** How a tensor lands on the GPU when its stored bytes are uploaded unchanged under another reading. */
export interface GpuLayout {
  dtype: DType;
  shape: readonly number[];
}

function chunkSize(options: LoadOptions): number {
  const requested = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!Number.isFinite(requested) || requested < 4) throw new Error(`chunkBytes must be at least 4, got ${requested}`);
  // writeBuffer needs offsets that are multiples of 4, which also keeps every chunk whole elements.
  return Math.floor(requested / 4) * 4;
}

/** GPU bytes written since the queue was last waited for, shared by the tensors of one load. */
interface WritePacer {
  unsynced: number;
}

/** Streams one tensor; `onChunk` gets the stored bytes of each chunk once it is written. */
async function streamTensor(
  ctx: GpuContext,
  file: SafetensorsFile,
  info: TensorInfo,
  options: LoadOptions,
  pacer: WritePacer,
  onChunk: (bytes: number) => void,
  layout?: GpuLayout,
): Promise<Tensor> {
  const chunk = chunkSize(options);
  const signal = options.signal;
  signal?.throwIfAborted();
  const widen = !layout && info.dtype !== 'F32' && (options.widenToF32?.(info.name, info) ?? false);
  const dtype = widen ? 'f32' : (layout?.dtype ?? GPU_DTYPE[info.dtype]);
  if (!dtype) throw new Error(`${file.source.name}: tensor "${info.name}" holds ${info.dtype} codes, which only a quantized Linear weight can use`);
  const total = tensorByteLength(info);
  if (layout && Math.ceil(elementCount(layout.shape) * BYTES_PER_ELEMENT[layout.dtype]) !== total) {
    throw new Error(`${file.source.name}: tensor "${info.name}" (${total} bytes) cannot be read as ${layout.dtype} ${formatShape(layout.shape)}`);
  }
  const tensor = ctx.keep(ctx.empty(layout?.shape ?? info.shape, dtype, info.name)); // a weight outlives any run
  // A 16-bit element becomes 4 bytes when widened (an 8-bit one 4): GPU offsets advance faster.
  const gpuBytesPerStored = widen ? 4 / DTYPE_BYTES[info.dtype] : 1;
  try {
    for (let offset = 0; offset < total; offset += chunk) {
      signal?.throwIfAborted();
      const length = Math.min(chunk, total - offset);
      const bytes = await file.source.read(info.begin + offset, length, signal);
      if (bytes.byteLength !== length) {
        throw new Error(`${file.source.name}: tensor "${info.name}": read ${bytes.byteLength} of ${length} bytes at ${info.begin + offset}`);
      }
      signal?.throwIfAborted();
      if (info.dtype === 'F8_E4M3') {
        const at = findFp8NaN(bytes);
        if (at >= 0) throw new Error(`${file.source.name}: tensor "${info.name}" holds an fp8 NaN (byte ${offset + at}); refusing to load it`);
      }
      if (widen) {
        ctx.writeTensor(tensor, widenToFloat32(bytes, info.dtype), offset * gpuBytesPerStored);
      } else if (length % 4 !== 0) {
        // Only the last chunk of an odd count of 16-bit elements: pad it to whole 4-byte words.
        const padded = new Uint8Array(Math.ceil(length / 4) * 4);
        padded.set(bytes);
        ctx.writeTensor(tensor, padded, offset);
      } else {
        ctx.writeTensor(tensor, bytes, offset);
      }
      pacer.unsynced += length * gpuBytesPerStored;
      if (pacer.unsynced >= SYNC_EVERY_BYTES) {
        pacer.unsynced = 0;
        await ctx.sync();
      }
      onChunk(length);
    }
  } catch (e) {
    tensor.release();
    throw e;
  }
  return tensor;
}

/**
 * One tensor of a file to a new GPU tensor; progress counts this tensor's bytes. `layout` uploads the
 * bytes unchanged under another dtype and shape (quantized codes: U8 [N, K/2] as i4 [N, K]).
 */
export async function uploadTensor(ctx: GpuContext, file: SafetensorsFile, info: TensorInfo, options: LoadOptions = {}, layout?: GpuLayout): Promise<Tensor> {
  const total = tensorByteLength(info);
  let loaded = 0;
  options.onProgress?.(0, total);
  const tensor = await streamTensor(
    ctx,
    file,
    info,
    options,
    { unsynced: 0 },
    (bytes) => {
      loaded += bytes;
      options.onProgress?.(loaded, total);
    },
    layout,
  );
  try {
    await ctx.sync();
  } catch (e) {
    tensor.release();
    throw e;
  }
  return tensor;
}

/**
 * The named tensors to the GPU, read in file order. On an error or abort every tensor this call
 * uploaded is released before the error is rethrown. The map keeps the order of `names`.
 */
export async function loadTensors(
  ctx: GpuContext,
  checkpoint: Checkpoint,
  names: Iterable<string>,
  options: LoadOptions = {},
): Promise<Map<string, Tensor>> {
  const wanted = [...new Set(names)];
  const missing = wanted.filter((n) => !checkpoint.tensors.has(n));
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).map((n) => `"${n}"`).join(', ');
    throw new Error(`checkpoint has no tensor ${shown}${missing.length > 5 ? ` (and ${missing.length - 5} more missing)` : ''}`);
  }
  const entries = wanted.map((name) => ({ name, ...checkpoint.tensors.get(name)! }));
  const fileOrder = new Map(checkpoint.files.map((f, i) => [f, i]));
  entries.sort((a, b) => fileOrder.get(a.file)! - fileOrder.get(b.file)! || a.info.begin - b.info.begin);

  const totalBytes = entries.reduce((sum, e) => sum + tensorByteLength(e.info), 0);
  let loaded = 0;
  options.onProgress?.(0, totalBytes);
  const uploaded = new Map<string, Tensor>();
  const pacer: WritePacer = { unsynced: 0 };
  try {
    for (const { name, file, info } of entries) {
      const tensor = await streamTensor(ctx, file, info, options, pacer, (bytes) => {
        loaded += bytes;
        options.onProgress?.(loaded, totalBytes);
      });
      uploaded.set(name, tensor);
    }
    await ctx.sync();
  } catch (e) {
    for (const t of uploaded.values()) t.release();
    throw e;
  }
  return new Map(wanted.map((name) => [name, uploaded.get(name)!]));
}
