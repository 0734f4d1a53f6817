// A persistent download cache for model files: `cachedFolder(folder, store)` is a ModelFolder that
// downloads each file once, in chunks, into a FileStore (OPFS, Cache API or memory; see
// store-backends.ts) and serves later opens from there without touching the network.
// Browser-safe: no Node imports here.
//
// Integrity, and what it costs:
// - The SHA-256 of the whole file (store-sha256.ts, incremental; the same value as `sha256sum` or a
//   Hugging Face LFS oid) is computed over the bytes as they arrive and recorded when the download
//   completes. The hash state is saved with every chunk, so a resumed download still ends with the
//   hash of the whole file.
// - Every open checks that each stored segment has the size the record says (cheap: no data read).
// - `verify: 'sha256'` also re-reads and re-hashes the stored copy on open. Off by default: hashing
//   runs in JS on the main thread at the order of 100 MB/s (60–95 MiB/s measured on a slow server
//   core), so tens of seconds for a multi-GB model on every visit, against a failure (storage
//   corrupting data it stored) that the browser's own storage already guards against.
//
// Only complete files are served. A download that fails keeps what it stored when the failure can
// pass (network error, abort, HTTP 5xx) and resumes from there with a Range read next time; it
// deletes it when the stored part cannot be trusted (HTTP 4xx, the file changed) or storage is full.

import { relativePathSegments, type ModelFolder } from './folder.ts';
import { HttpError, arrayBufferSource, checkRange, type ByteSource } from './source.ts';
import { isQuotaError, RECORD_FORMAT, type FileRecord, type FileStore, type StorageRoom } from './store-backends.ts';
import { Sha256 } from './store-sha256.ts';

export * from './store-backends.ts';
export { Sha256, sha256Hex, type Sha256State } from './store-sha256.ts';

interface DownloadEventBase {
  /** The path inside the folder, as given to open/readText. */
  path: string;
  /** The file's identity in the store: usually its URL. */
  key: string;
  /** Bytes of the file in the store (downloaded now or earlier). */
  loadedBytes: number;
  totalBytes: number;
}

/** What cachedFolder reports about each file it serves, in order: start, progress…, done; or cached; or error. */
export type DownloadEvent =
  | (DownloadEventBase & {
      type: 'start';
      /** `loadedBytes` were already stored by an earlier, interrupted download. */
      resumed: boolean;
      /** Why an earlier copy was dropped (the source changed, a segment was missing), if one was. */
      reason?: string;
    })
  | (DownloadEventBase & { type: 'progress' })
  | (DownloadEventBase & { type: 'done'; sha256: string })
  /** Served from the store; nothing downloaded. */
  | (DownloadEventBase & { type: 'cached'; sha256: string })
  | (DownloadEventBase & { type: 'error'; error: unknown });

export interface CachedFolderOptions {
  onProgress?: (event: DownloadEvent) => void;
  /** Stops a download promptly; what was stored is kept for the next attempt. */
  signal?: AbortSignal;
  /** Bytes per Range read and per stored segment; default 16 MiB, rounded down to a multiple of 64. */
  chunkBytes?: number;
  /** 'size' (default): check stored sizes on open. 'sha256': also re-hash the stored copy. */
  verify?: 'size' | 'sha256';
  /**
   * Compare a stored file with the source (size, ETag, Last-Modified; the text itself for readText)
   * on open, one small request per file, and download it again when it changed. Default false: a
   * stored file is served without any request, so a cached model also loads offline.
   */
  revalidate?: boolean;
  /** Prefix of the store keys; default the folder's name (its base URL for urlFolder). */
  keyPrefix?: string;
}

export const DEFAULT_CACHE_CHUNK_BYTES = 16 * 1024 * 1024;

/** Storage is full: `neededBytes` more were needed where `freeBytes` (if known) were free. */
export class StorageQuotaError extends Error {
  constructor(
    message: string,
    readonly path: string,
    readonly neededBytes: number,
    readonly freeBytes: number | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'StorageQuotaError';
  }
}

/** A download that failed; `keptBytes` stayed stored for the next attempt to resume from. */
export class DownloadError extends Error {
  constructor(
    message: string,
    readonly path: string,
    readonly url: string,
    readonly keptBytes: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'DownloadError';
  }
}

/** "12.3 MB": decimal units, as browsers show download and storage sizes. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Validators a source may carry (an HTTP source could expose its response's ETag and Last-Modified). */
export interface SourceValidators {
  etag?: string;
  lastModified?: string;
}

function validatorsOf(source: ByteSource): SourceValidators {
  const s = source as ByteSource & { etag?: unknown; lastModified?: unknown };
  return {
    etag: typeof s.etag === 'string' && s.etag !== '' ? s.etag : undefined,
    lastModified: typeof s.lastModified === 'string' && s.lastModified !== '' ? s.lastModified : undefined,
  };
}

/** How the source differs from what was stored, or undefined when it looks the same. */
function describeChange(record: FileRecord, size: number, v: SourceValidators): string | undefined {
  if (record.size !== size) return `the source changed size from ${record.size} to ${size} bytes`;
  if (record.etag && v.etag && record.etag !== v.etag) return `the source's ETag changed from ${record.etag} to ${v.etag}`;
  if (record.lastModified && v.lastModified && record.lastModified !== v.lastModified) {
    return `the source's Last-Modified changed from ${record.lastModified} to ${v.lastModified}`;
  }
  return undefined;
}

function segmentCount(size: number, segmentBytes: number): number {
  return Math.ceil(size / segmentBytes);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Whether the bytes stored before this error can still be trusted and resumed from. */
function keepsPartial(e: unknown): boolean {
  if (e instanceof HttpError) return e.status >= 500 || e.status === 408 || e.status === 429;
  return !(e instanceof CorruptReadError);
}

/** A source answered a read with the wrong number of bytes. */
class CorruptReadError extends Error {}

/** Blob bytes [start, end), naming the stored copy when the read fails. */
async function readBlob(blob: Blob, start: number, end: number, name: string): Promise<Uint8Array> {
  let buffer: ArrayBuffer;
  try {
    buffer = await blob.slice(start, end).arrayBuffer();
  } catch (e) {
    throw new Error(`${name}: reading the stored copy failed (${errorText(e)}); was the cache cleared meanwhile? Reload to download it again`, { cause: e });
  }
  if (buffer.byteLength !== end - start) {
    throw new Error(`${name}: the stored copy gave ${buffer.byteLength} of ${end - start} bytes; was the cache cleared meanwhile? Reload to download it again`);
  }
  return new Uint8Array(buffer);
}

/** A ByteSource over stored segments (each but the last `segmentBytes` long; checked by the caller). */
function segmentSource(blobs: Blob[], segmentBytes: number, size: number, name: string): ByteSource {
  return {
    name,
    size,
    async read(offset, length, signal) {
      signal?.throwIfAborted();
      checkRange({ name, size }, offset, length);
      if (length === 0) return new Uint8Array(0);
      const first = Math.floor(offset / segmentBytes);
      const last = Math.floor((offset + length - 1) / segmentBytes);
      if (first === last) {
        const start = offset - first * segmentBytes;
        return readBlob(blobs[first], start, start + length, name);
      }
      const out = new Uint8Array(length);
      for (let i = first; i <= last; i++) {
        const segmentStart = i * segmentBytes;
        const start = Math.max(offset, segmentStart);
        const end = Math.min(offset + length, segmentStart + segmentBytes);
        out.set(await readBlob(blobs[i], start - segmentStart, end - segmentStart, name), start - offset);
        signal?.throwIfAborted();
      }
      return out;
    },
  };
}

/** Runs `fn` holding a Web Lock on `name` where the browser has them, so two tabs never write one file. */
async function withLock<T>(name: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  const locks = typeof navigator === 'undefined' ? undefined : navigator.locks;
  if (typeof locks?.request !== 'function') return fn();
  return locks.request(name, signal ? { signal } : {}, fn);
}

interface StoredCopy {
  record: FileRecord;
  source: ByteSource;
}

/**
 * A folder that serves `folder`'s files from `store`, downloading each on first use. open() returns
 * once the whole file is stored; readText() stores the text it reads. Paths the folder does not
 * have are answered undefined and not remembered.
 */
export function cachedFolder(folder: ModelFolder, store: FileStore, options: CachedFolderOptions = {}): ModelFolder {
  const requested = options.chunkBytes ?? DEFAULT_CACHE_CHUNK_BYTES;
  if (!Number.isFinite(requested) || requested < 64) throw new Error(`chunkBytes must be at least 64, got ${requested}`);
  // Whole 64-byte SHA-256 blocks per chunk keep the saved hash state free of a partial block.
  const chunkBytes = Math.floor(requested / 64) * 64;
  const prefix = options.keyPrefix ?? (folder.name.endsWith('/') ? folder.name : `${folder.name}/`);
  const keyOf = (path: string) => prefix + relativePathSegments(path, folder.name).join('/');
  const emit = (event: DownloadEvent) => options.onProgress?.(event);
  const inflight = new Map<string, Promise<StoredCopy | undefined>>();

  /** The stored copy of a complete record, or why it cannot be served. */
  async function storedCopy(record: FileRecord): Promise<StoredCopy | string> {
    const count = segmentCount(record.size, record.segmentBytes);
    const blobs = await store.readSegments(record.key, count);
    for (let i = 0; i < count; i++) {
      const expected = i < count - 1 ? record.segmentBytes : record.size - i * record.segmentBytes;
      const blob = blobs[i];
      if (!blob) return `stored segment ${i} of ${count} is missing`;
      if (blob.size !== expected) return `stored segment ${i} holds ${blob.size} bytes instead of ${expected}`;
    }
    const source = segmentSource(blobs as Blob[], record.segmentBytes, record.size, `${record.key} (stored copy)`);
    if (options.verify === 'sha256') {
      const hasher = new Sha256();
      for (let at = 0; at < record.size; at += record.segmentBytes) {
        options.signal?.throwIfAborted();
        hasher.update(await source.read(at, Math.min(record.segmentBytes, record.size - at)));
      }
      const actual = hasher.digestHex();
      if (actual !== record.sha256) return `the stored copy's SHA-256 is ${actual}, not the ${record.sha256} recorded when it was downloaded`;
    }
    return { record, source };
  }

  /** Where an interrupted download can go on from: the stored prefix and its hash state. */
  async function resumePoint(record: FileRecord): Promise<{ offset: number; hasher: Sha256 }> {
    const whole = Math.floor(record.storedBytes / record.segmentBytes);
    const blobs = await store.readSegments(record.key, whole);
    let valid = 0;
    while (valid < whole && blobs[valid]?.size === record.segmentBytes) valid++;
    const offset = valid * record.segmentBytes;
    if (offset === record.storedBytes && record.hashState?.length === offset) {
      try {
        return { offset, hasher: new Sha256(record.hashState) };
      } catch {
        // An unreadable state: hash the stored bytes again below.
      }
    }
    const hasher = new Sha256();
    for (let i = 0; i < valid; i++) hasher.update(await readBlob(blobs[i]!, 0, record.segmentBytes, record.key));
    return { offset, hasher };
  }

  /** Downloads `source` into the store (resuming `prior` if it is a partial of the same file). */
  async function download(path: string, key: string, source: ByteSource, prior: FileRecord | undefined, why?: string): Promise<FileRecord> {
    const size = source.size;
    const validators = validatorsOf(source);
    let reason = why;
    let record: FileRecord | undefined;
    let hasher = new Sha256();
    let offset = 0;
    if (prior?.status === 'partial' && prior.segmentBytes % 64 === 0) {
      reason = describeChange(prior, size, validators);
      if (!reason) {
        ({ offset, hasher } = await resumePoint(prior));
        if (offset === 0) hasher = new Sha256();
        record = { ...prior, storedBytes: offset, hashState: hasher.state() };
      }
    }
    if (!record) {
      if (prior) await store.delete(key);
      record = { format: RECORD_FORMAT, key, status: 'partial', size, storedBytes: 0, segmentBytes: chunkBytes, ...validators, updatedAt: Date.now() };
    }
    const { segmentBytes } = record;
    const counts = () => ({ path, key, loadedBytes: offset, totalBytes: size });

    const fail = async (error: unknown): Promise<never> => {
      let thrown = error;
      if (isQuotaError(error) || error instanceof StorageQuotaError) {
        await store.delete(key).catch(() => {});
        thrown = error instanceof StorageQuotaError ? error : await quotaError(path, size - offset, error);
      } else if (options.signal?.aborted) {
        // Aborted: keep what was stored for the next attempt (a record of nothing is not worth keeping).
        if (offset === 0) await store.delete(key).catch(() => {});
      } else {
        const keep = keepsPartial(error) && offset > 0;
        if (!keep) await store.delete(key).catch(() => {});
        const kept = keep
          ? `the ${formatBytes(offset)} downloaded so far stay stored, and the next attempt resumes from there`
          : 'nothing of it is stored';
        thrown = new DownloadError(
          `could not download ${path} from ${source.name} (stopped at ${formatBytes(offset)} of ${formatBytes(size)}; ${kept}): ${errorText(error)}`,
          path, source.name, keep ? offset : 0, { cause: error },
        );
      }
      emit({ type: 'error', path, key, loadedBytes: offset, totalBytes: size, error: thrown });
      throw thrown;
    };

    const room = await store.estimate().catch((): StorageRoom => ({}));
    if (room.freeBytes !== undefined && room.freeBytes < size - offset) {
      await fail(await quotaError(path, size - offset, undefined, room));
    }
    emit({ type: 'start', ...counts(), resumed: offset > 0, reason });

    // One read ahead, so the network keeps going while a chunk is hashed and written. Aborting
    // `reads` cancels it when we stop early; the caller's signal aborts it too.
    const reads = new AbortController();
    const forward = () => reads.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', forward, { once: true });
    const readChunk = (at: number) => {
      const length = Math.min(segmentBytes, size - at);
      const pending = source.read(at, length, reads.signal).then((bytes) => {
        if (bytes.byteLength !== length) throw new CorruptReadError(`${source.name}: read ${bytes.byteLength} of ${length} bytes at offset ${at}`);
        return bytes;
      });
      pending.catch(() => {}); // awaited below; this only marks a read abandoned by an error as handled
      return pending;
    };
    try {
      options.signal?.throwIfAborted();
      await store.put(record);
      let next = offset < size ? readChunk(offset) : undefined;
      while (next) {
        const bytes = await next;
        const end = offset + bytes.byteLength;
        next = end < size ? readChunk(end) : undefined;
        hasher.update(bytes);
        await store.writeSegment(key, offset / segmentBytes, bytes);
        offset = end;
        record.storedBytes = offset;
        record.hashState = hasher.state();
        record.updatedAt = Date.now();
        await store.put(record);
        emit({ type: 'progress', ...counts() });
        options.signal?.throwIfAborted();
      }
      const sha256 = hasher.digestHex();
      record = { ...record, status: 'complete', sha256, hashState: undefined, updatedAt: Date.now() };
      await store.put(record);
      emit({ type: 'done', path, key, loadedBytes: size, totalBytes: size, sha256 });
      return record;
    } catch (e) {
      return await fail(e);
    } finally {
      reads.abort();
      options.signal?.removeEventListener('abort', forward);
    }
  }

  async function quotaError(path: string, needed: number, cause: unknown, known?: StorageRoom): Promise<StorageQuotaError> {
    const room = known ?? (await store.estimate().catch((): StorageRoom => ({})));
    const free = room.freeBytes;
    const refused = cause === undefined ? '' : ' (the browser refused a write: QuotaExceededError)';
    const message =
      `not enough storage to keep ${path} in the browser's ${store.kind} cache${refused}: it needs ${formatBytes(needed)} more, ` +
      `${free === undefined ? 'and the browser does not say how much is free' : `but only ${formatBytes(free)} are free for this site`}` +
      `${room.quotaBytes === undefined ? '' : ` (quota ${formatBytes(room.quotaBytes)})`}. ` +
      `Free space by clearing cached models here or this site's data in the browser's site settings, or load the model without caching.`;
    return new StorageQuotaError(message, path, needed, free, cause === undefined ? undefined : { cause });
  }

  /** The source for `path`: its bytes, or its text as UTF-8 for readText. */
  async function rawSource(path: string, key: string, mode: 'bytes' | 'text'): Promise<ByteSource | undefined> {
    if (mode === 'bytes') return folder.open(path);
    const text = await folder.readText(path);
    return text === undefined ? undefined : arrayBufferSource(new TextEncoder().encode(text), key);
  }

  /** rawSource, with a failure reported and named by path. */
  async function openSource(path: string, key: string, mode: 'bytes' | 'text'): Promise<ByteSource | undefined> {
    try {
      return await rawSource(path, key, mode);
    } catch (e) {
      if (options.signal?.aborted) throw e;
      const error = new DownloadError(`could not download ${path} from ${folder.name}: ${errorText(e)}`, path, key, 0, { cause: e });
      emit({ type: 'error', path, key, loadedBytes: 0, totalBytes: 0, error });
      throw error;
    }
  }

  async function fetchFile(path: string, key: string, mode: 'bytes' | 'text'): Promise<StoredCopy | undefined> {
    options.signal?.throwIfAborted();
    const record = await store.get(key);
    let reason: string | undefined;
    let source: ByteSource | undefined;
    if (record?.status === 'complete') {
      const copy = await storedCopy(record);
      if (typeof copy === 'string') {
        reason = copy;
      } else {
        const cached = () => {
          emit({ type: 'cached', path, key, loadedBytes: record.size, totalBytes: record.size, sha256: record.sha256! });
          return copy;
        };
        if (!options.revalidate) return cached();
        // Revalidation is best effort: offline, or with the file gone from the source, the stored copy is served.
        try {
          source = await rawSource(path, key, mode);
        } catch {
          return cached();
        }
        if (!source) return cached();
        reason = describeChange(record, source.size, validatorsOf(source));
        if (!reason && mode === 'text') {
          const text = new Sha256().update(await source.read(0, source.size)).digestHex();
          if (text !== record.sha256) reason = 'the source text changed';
        }
        if (!reason) return cached();
      }
    }
    source ??= await openSource(path, key, mode);
    if (!source) return undefined;
    // Text is small and has no validators: never resume it.
    const prior = mode === 'text' && record?.status === 'partial' ? undefined : record;
    if (record && !prior) await store.delete(key);
    const done = await download(path, key, source, prior, reason);
    const copy = await storedCopy(done);
    if (typeof copy === 'string') {
      await store.delete(key);
      throw new Error(`${path}: the ${store.kind} cache lost the file just downloaded (${copy})`);
    }
    return copy;
  }

  const get = (path: string, mode: 'bytes' | 'text') => {
    const key = keyOf(path);
    let pending = inflight.get(key);
    if (!pending) {
      pending = withLock(`webdit-store ${key}`, options.signal, () => fetchFile(path, key, mode)).finally(() => inflight.delete(key));
      inflight.set(key, pending);
    }
    return pending;
  };

  return {
    name: folder.name,
    async open(path) {
      return (await get(path, 'bytes'))?.source;
    },
    async readText(path) {
      const copy = await get(path, 'text');
      if (!copy) return undefined;
      return new TextDecoder().decode(await copy.source.read(0, copy.source.size, options.signal));
    },
  };
}

export interface CacheSummary {
  /** Complete files and their bytes. */
  files: number;
  bytes: number;
  /** Interrupted downloads kept for resuming, and the bytes they hold. */
  partialFiles: number;
  partialBytes: number;
  records: FileRecord[];
  room: StorageRoom;
  /** For a UI: "3 files, 12.3 MB stored" (plus partial downloads and free space when known). */
  text: string;
}

export async function cacheSummary(store: FileStore): Promise<CacheSummary> {
  const records = (await store.list()).sort((a, b) => a.key.localeCompare(b.key));
  const complete = records.filter((r) => r.status === 'complete');
  const partial = records.filter((r) => r.status === 'partial');
  const bytes = complete.reduce((s, r) => s + r.size, 0);
  const partialBytes = partial.reduce((s, r) => s + r.storedBytes, 0);
  const room = await store.estimate().catch((): StorageRoom => ({}));
  let text = `${complete.length} ${complete.length === 1 ? 'file' : 'files'}, ${formatBytes(bytes)} stored`;
  if (partial.length > 0) {
    text += `, ${partial.length} partial ${partial.length === 1 ? 'download' : 'downloads'} (${formatBytes(partialBytes)})`;
  }
  if (room.freeBytes !== undefined) text += `; ${formatBytes(room.freeBytes)} free`;
  return { files: complete.length, bytes, partialFiles: partial.length, partialBytes, records, room, text };
}

/** Deletes every stored file, complete or partial. */
export async function clearCache(store: FileStore): Promise<void> {
  await store.clear();
}
