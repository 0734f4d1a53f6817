// Where the model cache keeps its bytes. One small interface, `FileStore`, with three backends behind
// it: the origin private file system (OPFS), the Cache API, and memory (tests; last-resort fallback).
// Browser-safe: no Node imports here.
//
// A stored file is a record (JSON: what it is, how far it got, its SHA-256) plus numbered segments
// of `segmentBytes` each (the last may be shorter). Segments, not one growing file, because a
// segment is committed as soon as it is written: OPFS's createWritable() writes into a swap file
// that only replaces the real file on close(), and reopening with keepExistingData copies the whole
// file, so appending chunk after chunk to one multi-GB file could neither be resumed after a closed
// tab nor grow without quadratic copying. The Cache API cannot append at all. Reads go through
// Blobs (OPFS File, a cached Response's blob, an in-memory Blob) sliced per range, so no stored
// file is ever read whole into one ArrayBuffer.

import type { Sha256State } from './store-sha256.ts';
import { sha256Hex } from './store-sha256.ts';

export const RECORD_FORMAT = 1;

/** What the store knows about one file; JSON-serialisable. */
export interface FileRecord {
  format: typeof RECORD_FORMAT;
  /** The file's identity: its URL (a folder's name followed by the path). */
  key: string;
  /** 'partial': an interrupted download that can resume; only 'complete' files are served. */
  status: 'partial' | 'complete';
  /** Bytes of the whole file, as the source reported it. */
  size: number;
  /** Bytes stored so far, from the start; equal to `size` when complete. */
  storedBytes: number;
  /** Bytes per segment (all but the last hold exactly this many). */
  segmentBytes: number;
  /** SHA-256 of the whole file, lowercase hex; set when complete. */
  sha256?: string;
  /** SHA-256 state after `storedBytes` bytes, so a resumed download needs not re-read them. */
  hashState?: Sha256State;
  /** The source's validators when it gave them (an HTTP ETag / Last-Modified). */
  etag?: string;
  lastModified?: string;
  /** When the record was last written (ms since 1970). */
  updatedAt: number;
}

/** Room left for this site, from navigator.storage.estimate() where the browser gives it. */
export interface StorageRoom {
  usageBytes?: number;
  quotaBytes?: number;
  /** quota - usage; undefined when unknown. */
  freeBytes?: number;
}

export interface FileStore {
  /** 'opfs', 'cache-api' or 'memory' (for messages and UIs). */
  readonly kind: string;
  /** Distinguishes stores of one kind, e.g. "opfs:webdit-models". */
  readonly name: string;
  /** Every record (complete and partial). */
  list(): Promise<FileRecord[]>;
  get(key: string): Promise<FileRecord | undefined>;
  /** Creates or replaces the record of `record.key`. */
  put(record: FileRecord): Promise<void>;
  /** Writes segment `index` of `key` whole (replacing it). Throws QuotaExceededError when full. */
  writeSegment(key: string, index: number, bytes: Uint8Array): Promise<void>;
  /** Segments 0..count-1 of `key`; undefined where one is missing. */
  readSegments(key: string, count: number): Promise<(Blob | undefined)[]>;
  /** Removes the record and the segments of `key` (no error when absent). */
  delete(key: string): Promise<void>;
  /** Removes everything this store holds, including leftovers without a record. */
  clear(): Promise<void>;
  estimate(): Promise<StorageRoom>;
}

export const DEFAULT_STORE_NAME = 'webdit-models';

/** True for the error a browser throws when a write would pass the site's storage quota. */
export function isQuotaError(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const { name, code } = e as { name?: unknown; code?: unknown };
  // 22: QUOTA_EXCEEDED_ERR, the legacy DOMException code.
  return name === 'QuotaExceededError' || code === 22;
}

function isNotFound(e: unknown): boolean {
  const name = (e as { name?: unknown } | null)?.name;
  return name === 'NotFoundError' || name === 'TypeMismatchError';
}

/** Stored data as an ArrayBuffer-backed view, copying only when it sits in a SharedArrayBuffer. */
function ownBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : bytes.slice();
}

/** A record read back from storage, or undefined if it is not one this code wrote. */
export function parseRecord(text: string, key?: string): FileRecord | undefined {
  let r: Partial<FileRecord>;
  try {
    r = JSON.parse(text) as Partial<FileRecord>;
  } catch {
    return undefined;
  }
  const count = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  const valid =
    typeof r === 'object' && r !== null && r.format === RECORD_FORMAT && typeof r.key === 'string' &&
    (r.status === 'partial' || r.status === 'complete') && count(r.size) && count(r.storedBytes) &&
    count(r.segmentBytes) && r.segmentBytes! > 0 && r.storedBytes! <= r.size! &&
    (r.status === 'partial' || (r.storedBytes === r.size && typeof r.sha256 === 'string'));
  if (!valid || (key !== undefined && r.key !== key)) return undefined;
  return r as FileRecord;
}

/** A short, filename-safe id for a key (128 bits of its SHA-256). */
export async function entryId(key: string): Promise<string> {
  return (await sha256Hex(key)).slice(0, 32);
}

/** navigator.storage.estimate(), or nothing where the browser has none. */
export async function browserEstimate(): Promise<StorageRoom> {
  const storage = typeof navigator === 'undefined' ? undefined : navigator.storage;
  if (typeof storage?.estimate !== 'function') return {};
  const { usage, quota } = await storage.estimate();
  return {
    usageBytes: usage,
    quotaBytes: quota,
    freeBytes: usage === undefined || quota === undefined ? undefined : Math.max(0, quota - usage),
  };
}

/**
 * Asks the browser not to evict this site's storage under disk pressure (Chromium decides without a
 * prompt, from site engagement). Resolves false where it is refused or unsupported.
 */
export async function requestPersistentStorage(): Promise<boolean> {
  const storage = typeof navigator === 'undefined' ? undefined : navigator.storage;
  if (typeof storage?.persist !== 'function') return false;
  return (await storage.persisted()) || storage.persist();
}

// ---------------------------------------------------------------------------------------------
// Memory

export interface MemoryStoreOptions {
  name?: string;
  /** Writes that would pass this many stored bytes throw a QuotaExceededError DOMException. */
  quotaBytes?: number;
}

/** Records and segments in memory (segments as Blobs, which a browser may page to disk). */
export function memoryStore(options: MemoryStoreOptions = {}): FileStore {
  const records = new Map<string, string>();
  const segments = new Map<string, Blob[]>();
  const usage = () => [...segments.values()].reduce((sum, list) => sum + list.reduce((s, b) => s + (b?.size ?? 0), 0), 0);
  return {
    kind: 'memory',
    name: `memory:${options.name ?? DEFAULT_STORE_NAME}`,
    async list() {
      return [...records.values()].map((text) => parseRecord(text)).filter((r): r is FileRecord => r !== undefined);
    },
    async get(key) {
      const text = records.get(key);
      return text === undefined ? undefined : parseRecord(text, key);
    },
    async put(record) {
      records.set(record.key, JSON.stringify(record));
    },
    async writeSegment(key, index, bytes) {
      const list = segments.get(key) ?? [];
      const grows = bytes.byteLength - (list[index]?.size ?? 0);
      if (options.quotaBytes !== undefined && usage() + grows > options.quotaBytes) {
        throw new DOMException(`memory store: ${bytes.byteLength} more bytes would pass its quota of ${options.quotaBytes}`, 'QuotaExceededError');
      }
      list[index] = new Blob([ownBytes(bytes)]);
      segments.set(key, list);
    },
    async readSegments(key, count) {
      const list = segments.get(key) ?? [];
      return Array.from({ length: count }, (_, i) => list[i]);
    },
    async delete(key) {
      records.delete(key);
      segments.delete(key);
    },
    async clear() {
      records.clear();
      segments.clear();
    },
    async estimate() {
      const used = usage();
      if (options.quotaBytes === undefined) return { usageBytes: used };
      return { usageBytes: used, quotaBytes: options.quotaBytes, freeBytes: Math.max(0, options.quotaBytes - used) };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// OPFS: <root>/<dirName>/<entry id>/record.json and <entry id>/<index>.seg

/** The part of FileSystemWritableFileStream this store uses. */
export interface OpfsWritable {
  write(data: Uint8Array<ArrayBuffer> | string): Promise<void>;
  close(): Promise<void>;
  abort(reason?: unknown): Promise<void>;
}

/** The part of FileSystemFileHandle this store uses. */
export interface OpfsFileHandle {
  getFile(): Promise<Blob>;
  createWritable(): Promise<OpfsWritable>;
}

/**
 * The part of FileSystemDirectoryHandle this store uses. `keys()` is in Chromium but only in
 * TypeScript's DOM.AsyncIterable lib, hence this interface rather than the lib.dom type.
 */
export interface OpfsDirectory {
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<OpfsDirectory>;
  getFileHandle(name: string, options?: { create?: boolean }): Promise<OpfsFileHandle>;
  removeEntry(name: string, options?: { recursive?: boolean }): Promise<void>;
  keys(): AsyncIterable<string>;
}

export interface OpfsStoreOptions {
  /** The root directory; default navigator.storage.getDirectory(). Tests pass a fake. */
  root?: () => Promise<OpfsDirectory>;
  /** Default navigator.storage.estimate(). */
  estimate?: () => Promise<StorageRoom>;
}

async function opfsRoot(): Promise<OpfsDirectory> {
  if (typeof navigator === 'undefined' || typeof navigator.storage?.getDirectory !== 'function') {
    throw new Error('this browser has no origin private file system (navigator.storage.getDirectory)');
  }
  return (await navigator.storage.getDirectory()) as unknown as OpfsDirectory;
}

/** Writes a whole file: it replaces the old one only when close() succeeds. */
async function writeOpfsFile(dir: OpfsDirectory, name: string, data: Uint8Array<ArrayBuffer> | string): Promise<void> {
  const handle = await dir.getFileHandle(name, { create: true });
  const writable = await handle.createWritable();
  try {
    await writable.write(data);
    await writable.close();
  } catch (e) {
    // Discards the swap file; after a failed close() the stream is already errored.
    await writable.abort().catch(() => {});
    throw e;
  }
}

async function readOpfsFile(dir: OpfsDirectory, name: string): Promise<Blob | undefined> {
  try {
    return await (await dir.getFileHandle(name)).getFile();
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

const OPFS_RECORD = 'record.json';
const segmentFileName = (index: number) => `${String(index).padStart(6, '0')}.seg`;

/** Files in the origin private file system under `dirName`; Chromium, Firefox, Safari 26+. */
export function opfsStore(dirName = DEFAULT_STORE_NAME, options: OpfsStoreOptions = {}): FileStore {
  const root = options.root ?? opfsRoot;
  let base: Promise<OpfsDirectory> | undefined;
  const baseDir = () => {
    base ??= root()
      .then((r) => r.getDirectoryHandle(dirName, { create: true }))
      .catch((e: unknown) => {
        base = undefined;
        throw e;
      });
    return base;
  };
  const entryDir = async (key: string, create: boolean): Promise<OpfsDirectory | undefined> => {
    try {
      return await (await baseDir()).getDirectoryHandle(await entryId(key), { create });
    } catch (e) {
      if (!create && isNotFound(e)) return undefined;
      throw e;
    }
  };
  const readRecord = async (dir: OpfsDirectory, key?: string) => {
    const blob = await readOpfsFile(dir, OPFS_RECORD);
    return blob && parseRecord(await blob.text(), key);
  };

  return {
    kind: 'opfs',
    name: `opfs:${dirName}`,
    async list() {
      const dir = await baseDir();
      const records: FileRecord[] = [];
      for await (const name of dir.keys()) {
        if (!/^[0-9a-f]{32}$/.test(name)) continue;
        try {
          const record = await readRecord(await dir.getDirectoryHandle(name));
          if (record) records.push(record);
        } catch (e) {
          if (!isNotFound(e)) throw e; // removed while listing
        }
      }
      return records;
    },
    async get(key) {
      const dir = await entryDir(key, false);
      return dir && readRecord(dir, key);
    },
    async put(record) {
      await writeOpfsFile((await entryDir(record.key, true))!, OPFS_RECORD, JSON.stringify(record));
    },
    async writeSegment(key, index, bytes) {
      await writeOpfsFile((await entryDir(key, true))!, segmentFileName(index), ownBytes(bytes));
    },
    async readSegments(key, count) {
      const dir = await entryDir(key, false);
      if (!dir) return new Array<undefined>(count).fill(undefined);
      return Promise.all(Array.from({ length: count }, (_, i) => readOpfsFile(dir, segmentFileName(i))));
    },
    async delete(key) {
      try {
        await (await baseDir()).removeEntry(await entryId(key), { recursive: true });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    },
    async clear() {
      try {
        await (await root()).removeEntry(dirName, { recursive: true });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      base = undefined;
    },
    estimate: options.estimate ?? browserEstimate,
  };
}

// ---------------------------------------------------------------------------------------------
// Cache API: <origin-free URL>/<entry id>/record.json and /<entry id>/<index>

/** The part of Cache this store uses. */
export interface CacheLike {
  match(request: string): Promise<Response | undefined>;
  put(request: string, response: Response): Promise<void>;
  delete(request: string): Promise<boolean>;
  keys(): Promise<readonly Request[]>;
}

/** The part of CacheStorage this store uses. */
export interface CacheStorageLike {
  open(cacheName: string): Promise<CacheLike>;
  delete(cacheName: string): Promise<boolean>;
}

export interface CacheApiStoreOptions {
  /** Default globalThis.caches. Tests pass a fake. */
  caches?: CacheStorageLike;
  /** Default navigator.storage.estimate(). */
  estimate?: () => Promise<StorageRoom>;
}

/**
 * Cache keys must be http(s) URLs; these name no server (.invalid is reserved) and never reach the
 * network: the Cache API only stores and matches them.
 */
const CACHE_URL_BASE = 'https://webdit-store.invalid/';

/** Responses in a Cache API cache named `cacheName`; every current browser, secure contexts only. */
export function cacheApiStore(cacheName = DEFAULT_STORE_NAME, options: CacheApiStoreOptions = {}): FileStore {
  const storage = (): CacheStorageLike => {
    const found = options.caches ?? (typeof caches === 'undefined' ? undefined : caches);
    if (!found) throw new Error('this browser has no Cache API here (it needs a secure context: https or localhost)');
    return found;
  };
  let opened: Promise<CacheLike> | undefined;
  const cache = () => {
    opened ??= storage()
      .open(cacheName)
      .catch((e: unknown) => {
        opened = undefined;
        throw e;
      });
    return opened;
  };
  const recordUrl = async (key: string) => `${CACHE_URL_BASE}${await entryId(key)}/record.json`;
  const segmentUrl = async (key: string, index: number) => `${CACHE_URL_BASE}${await entryId(key)}/${index}`;
  const readRecord = async (url: string, key?: string) => {
    const res = await (await cache()).match(url);
    return res && parseRecord(await res.text(), key);
  };

  return {
    kind: 'cache-api',
    name: `cache-api:${cacheName}`,
    async list() {
      const urls = (await (await cache()).keys()).map((r) => r.url).filter((u) => u.startsWith(CACHE_URL_BASE) && u.endsWith('/record.json'));
      const records = await Promise.all(urls.map((u) => readRecord(u)));
      return records.filter((r): r is FileRecord => r !== undefined);
    },
    get: async (key) => readRecord(await recordUrl(key), key),
    async put(record) {
      const body = JSON.stringify(record);
      await (await cache()).put(await recordUrl(record.key), new Response(body, { headers: { 'Content-Type': 'application/json' } }));
    },
    async writeSegment(key, index, bytes) {
      const headers = { 'Content-Type': 'application/octet-stream' };
      await (await cache()).put(await segmentUrl(key, index), new Response(ownBytes(bytes), { headers }));
    },
    async readSegments(key, count) {
      const c = await cache();
      return Promise.all(
        Array.from({ length: count }, async (_, i) => {
          const res = await c.match(await segmentUrl(key, i));
          return res?.blob();
        }),
      );
    },
    async delete(key) {
      const c = await cache();
      // The record first, so a half-deleted entry is never mistaken for a stored file.
      await c.delete(await recordUrl(key));
      const prefix = `${CACHE_URL_BASE}${await entryId(key)}/`;
      const urls = (await c.keys()).map((r) => r.url).filter((u) => u.startsWith(prefix));
      await Promise.all(urls.map((u) => c.delete(u)));
    },
    async clear() {
      opened = undefined;
      await storage().delete(cacheName);
    },
    estimate: options.estimate ?? browserEstimate,
  };
}

// ---------------------------------------------------------------------------------------------
// Default

function hasOpfsWrites(): boolean {
  return (
    typeof navigator !== 'undefined' &&
    typeof navigator.storage?.getDirectory === 'function' &&
    typeof FileSystemFileHandle !== 'undefined' &&
    typeof FileSystemFileHandle.prototype.createWritable === 'function'
  );
}

/** The first backend that works here; each is tried with one list() (which creates its folder/cache). */
async function chooseStore(name: string): Promise<FileStore> {
  const candidates: (() => FileStore)[] = [];
  if (hasOpfsWrites()) candidates.push(() => opfsStore(name));
  if (typeof caches !== 'undefined') candidates.push(() => cacheApiStore(name));
  for (const make of candidates) {
    const store = make();
    try {
      await store.list();
      return store;
    } catch {
      // e.g. a SecurityError in a private window: try the next backend.
    }
  }
  return memoryStore({ name });
}

/**
 * OPFS where the browser can write it from the page (createWritable), else the Cache API, else
 * memory. The choice is made on first use (a private window can refuse OPFS at run time); until then
 * `kind` reads 'pending'.
 */
export function defaultStore(name = DEFAULT_STORE_NAME): FileStore {
  let chosen: FileStore | undefined;
  let choosing: Promise<FileStore> | undefined;
  const store = async () => {
    choosing ??= chooseStore(name).then((s) => (chosen = s));
    return choosing;
  };
  return {
    get kind() {
      return chosen?.kind ?? 'pending';
    },
    get name() {
      return chosen?.name ?? `pending:${name}`;
    },
    list: async () => (await store()).list(),
    get: async (key) => (await store()).get(key),
    put: async (record) => (await store()).put(record),
    writeSegment: async (key, index, bytes) => (await store()).writeSegment(key, index, bytes),
    readSegments: async (key, count) => (await store()).readSegments(key, count),
    delete: async (key) => (await store()).delete(key),
    clear: async () => (await store()).clear(),
    estimate: async () => (await store()).estimate(),
  };
}
