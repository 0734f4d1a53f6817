import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, openAsBlob, rmSync } from 'node:fs';
import { appendFile, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/weights/checkpoint.ts';
import { urlFolder, type ModelFolder } from '../../src/weights/folder.ts';
import { encodeSafetensors, openSafetensors, readTensor } from '../../src/weights/safetensors.ts';
import type { ByteSource } from '../../src/weights/source.ts';
import {
  cacheApiStore,
  cacheSummary,
  cachedFolder,
  clearCache,
  defaultStore,
  DownloadError,
  formatBytes,
  memoryStore,
  opfsStore,
  StorageQuotaError,
  type CacheLike,
  type CacheStorageLike,
  type CachedFolderOptions,
  type DownloadEvent,
  type FileStore,
  type OpfsDirectory,
  type OpfsFileHandle,
  type OpfsWritable,
} from '../../src/weights/store.ts';

const CHUNK = 4096;
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

// ---------------------------------------------------------------------------------------------
// A fake origin private file system on Node's fs: a directory per handle, a file per file handle,
// writes into a ".crswap" file that replaces the real one on close() (as Chromium does), getFile()
// as a disk-backed Blob, and an optional quota over the bytes under the root.

async function bytesUnder(path: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const p = join(path, entry.name);
    total += entry.isDirectory() ? await bytesUnder(p) : (await stat(p)).size;
  }
  return total;
}

interface FsQuota {
  root: string;
  limit?: number;
}

class FsFileHandle implements OpfsFileHandle {
  constructor(
    private readonly path: string,
    private readonly quota: FsQuota,
  ) {}
  async getFile(): Promise<Blob> {
    return (await openAsBlob(this.path)) as Blob;
  }
  async createWritable(): Promise<OpfsWritable> {
    const swap = `${this.path}.crswap`;
    await writeFile(swap, '');
    return {
      write: async (data) => {
        const bytes = typeof data === 'string' ? Buffer.from(data) : data;
        if (this.quota.limit !== undefined && (await bytesUnder(this.quota.root)) + bytes.byteLength > this.quota.limit) {
          throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        }
        await appendFile(swap, bytes);
      },
      close: () => rename(swap, this.path),
      abort: () => rm(swap, { force: true }),
    };
  }
}

class FsDirectory implements OpfsDirectory {
  constructor(
    readonly path: string,
    private readonly quota: FsQuota,
  ) {}
  private async kind(name: string): Promise<'file' | 'directory' | undefined> {
    const info = await stat(join(this.path, name)).catch(() => undefined);
    return info === undefined ? undefined : info.isDirectory() ? 'directory' : 'file';
  }
  async getDirectoryHandle(name: string, options: { create?: boolean } = {}): Promise<OpfsDirectory> {
    const kind = await this.kind(name);
    if (kind === 'file') throw new DOMException(name, 'TypeMismatchError');
    if (!kind && !options.create) throw new DOMException(`${name} not found`, 'NotFoundError');
    if (!kind) await mkdir(join(this.path, name));
    return new FsDirectory(join(this.path, name), this.quota);
  }
  async getFileHandle(name: string, options: { create?: boolean } = {}): Promise<OpfsFileHandle> {
    const kind = await this.kind(name);
    if (kind === 'directory') throw new DOMException(name, 'TypeMismatchError');
    if (!kind && !options.create) throw new DOMException(`${name} not found`, 'NotFoundError');
    if (!kind) await writeFile(join(this.path, name), '');
    return new FsFileHandle(join(this.path, name), this.quota);
  }
  async removeEntry(name: string, options: { recursive?: boolean } = {}): Promise<void> {
    if (!(await this.kind(name))) throw new DOMException(`${name} not found`, 'NotFoundError');
    await rm(join(this.path, name), { recursive: options.recursive ?? false });
  }
  async *keys(): AsyncIterable<string> {
    for (const name of await readdir(this.path)) if (!name.endsWith('.crswap')) yield name;
  }
}

// A fake CacheStorage: responses kept as bytes, keys checked to be http(s) as browsers do.
function fakeCaches(quotaBytes?: number): CacheStorageLike & { names(): string[] } {
  const all = new Map<string, Map<string, { body: Uint8Array<ArrayBuffer>; type: string }>>();
  const used = () => [...all.values()].reduce((s, c) => s + [...c.values()].reduce((t, e) => t + e.body.byteLength, 0), 0);
  return {
    names: () => [...all.keys()],
    async open(name) {
      let entries = all.get(name);
      if (!entries) all.set(name, (entries = new Map()));
      const cache: CacheLike = {
        async match(url) {
          const e = entries.get(url);
          return e && new Response(e.body.slice(), { headers: { 'Content-Type': e.type } });
        },
        async put(url, res) {
          if (!/^https?:\/\//.test(url)) throw new TypeError(`Request scheme '${url.split(':')[0]}' is unsupported`);
          const body = new Uint8Array(await res.arrayBuffer());
          if (quotaBytes !== undefined && used() - (entries.get(url)?.body.byteLength ?? 0) + body.byteLength > quotaBytes) {
            throw new DOMException('Quota exceeded.', 'QuotaExceededError');
          }
          entries.set(url, { body, type: res.headers.get('Content-Type') ?? '' });
        },
        async delete(url) {
          return entries.delete(url);
        },
        async keys() {
          return [...entries.keys()].map((u) => new Request(u));
        },
      };
      return cache;
    },
    async delete(name) {
      return all.delete(name);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// A Range-honouring HTTP server whose files, ETags and failures the tests change.

type Failure = 'drop' | number | undefined;

interface TestServer {
  base: string;
  files: Map<string, Uint8Array>;
  etags: Map<string, string>;
  /** Every request: "METHOD /path range". */
  log: string[];
  /** Decides a failure for a ranged GET starting at `start`. */
  fail?: (path: string, start: number) => Failure;
  close(): Promise<void>;
}

async function startServer(): Promise<TestServer> {
  const state: Omit<TestServer, 'base' | 'close'> = { files: new Map(), etags: new Map(), log: [] };
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.slice(1));
    const body = state.files.get(path);
    state.log.push(`${req.method} /${path} ${req.headers.range ?? ''}`.trim());
    if (!body) {
      res.writeHead(404, 'Not Found').end('not found');
      return;
    }
    const etag = state.etags.get(path);
    const common: Record<string, string | number> = etag ? { ETag: etag } : {};
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...common, 'Content-Length': body.byteLength }).end();
    } else if (range) {
      const start = Number(range[1]);
      const end = Math.min(Number(range[2]), body.byteLength - 1);
      if (start >= body.byteLength) {
        res.writeHead(416, { 'Content-Range': `bytes */${body.byteLength}` }).end();
        return;
      }
      const failure = start > 0 ? state.fail?.(path, start) : undefined;
      if (typeof failure === 'number') {
        res.writeHead(failure).end('failure');
        return;
      }
      res.writeHead(206, { ...common, 'Content-Length': end - start + 1, 'Content-Range': `bytes ${start}-${end}/${body.byteLength}` });
      if (failure === 'drop') {
        // Half the body, then the connection goes away.
        res.write(body.subarray(start, start + Math.floor((end - start + 1) / 2)), () => res.destroy());
        return;
      }
      res.end(body.subarray(start, end + 1));
    } else {
      res.writeHead(200, { ...common, 'Content-Length': body.byteLength }).end(body);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    ...state,
    get fail() {
      return state.fail;
    },
    set fail(f) {
      state.fail = f;
    },
    base: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** urlFolder, with each opened source carrying the file's ETag from a HEAD request. */
function etagFolder(base: string): ModelFolder {
  const inner = urlFolder(base);
  return {
    ...inner,
    async open(path) {
      const source = await inner.open(path);
      if (!source) return undefined;
      const etag = (await fetch(base + path, { method: 'HEAD' })).headers.get('ETag') ?? undefined;
      return { name: source.name, size: source.size, read: source.read.bind(source), etag } as ByteSource;
    },
  };
}

function recorder() {
  const events: DownloadEvent[] = [];
  const summary = () => events.map((e) => `${e.type} ${e.path} ${e.loadedBytes}/${e.totalBytes}`);
  return { events, summary, onProgress: (e: DownloadEvent) => events.push(e) };
}

const dataRequests = (log: string[]) => log.filter((l) => /bytes=/.test(l) && !/bytes=0-0$/.test(l));

function model(values: number): Uint8Array<ArrayBuffer> {
  return encodeSafetensors({
    'blocks.0.attn.weight': { dtype: 'F32', shape: [values], data: Float32Array.from({ length: values }, (_, i) => Math.sin(i)) },
    'blocks.0.attn.bias': { dtype: 'F32', shape: [3], data: Float32Array.of(1, 2, 3) },
  });
}

// ---------------------------------------------------------------------------------------------

interface Backend {
  name: string;
  make(): { store: FileStore; cleanup(): void };
}

const backends: Backend[] = [
  { name: 'memory', make: () => ({ store: memoryStore(), cleanup: () => {} }) },
  {
    name: 'OPFS (fake on fs)',
    make: () => {
      const dir = mkdtempSync(join(tmpdir(), 'webdit-store-'));
      const root = new FsDirectory(dir, { root: dir });
      return { store: opfsStore('models', { root: async () => root, estimate: async () => ({}) }), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'Cache API (fake)',
    make: () => ({ store: cacheApiStore('models', { caches: fakeCaches(), estimate: async () => ({}) }), cleanup: () => {} }),
  },
];

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());
beforeEach(() => {
  server.files.clear();
  server.etags.clear();
  server.log.length = 0;
  server.fail = undefined;
});

describe.each(backends)('cachedFolder over the $name store', (backend) => {
  let store: FileStore;
  let cleanup = () => {};
  beforeEach(() => ({ store, cleanup } = backend.make()));
  afterEach(() => cleanup());

  const open = (options: CachedFolderOptions = {}) => cachedFolder(urlFolder(`${server.base}m`), store, { chunkBytes: CHUNK, ...options });

  it('downloads a file once in chunks, records its SHA-256, and serves it from the store with no requests', async () => {
    const file = model(4000); // 16 kB of tensor data plus the header: 4 full chunks and a short one
    server.files.set('m/transformer/model.safetensors', file);
    server.files.set('m/transformer/config.json', new TextEncoder().encode('{"dim": 48}'));

    const first = recorder();
    const folder = open({ onProgress: first.onProgress });
    const source = (await folder.open('transformer/model.safetensors'))!;
    expect(source.size).toBe(file.byteLength);
    const chunks = Math.ceil(file.byteLength / CHUNK);
    expect(server.log).toEqual([
      'GET /m/transformer/model.safetensors bytes=0-0',
      ...Array.from({ length: chunks }, (_, i) => `GET /m/transformer/model.safetensors bytes=${i * CHUNK}-${Math.min((i + 1) * CHUNK, file.byteLength) - 1}`),
    ]);
    const path = 'transformer/model.safetensors';
    expect(first.summary()).toEqual([
      `start ${path} 0/${file.byteLength}`,
      ...Array.from({ length: chunks }, (_, i) => `progress ${path} ${Math.min((i + 1) * CHUNK, file.byteLength)}/${file.byteLength}`),
      `done ${path} ${file.byteLength}/${file.byteLength}`,
    ]);
    const done = first.events.at(-1) as Extract<DownloadEvent, { type: 'done' }>;
    expect(done.sha256).toBe(sha256(file));
    expect(done.key).toBe(`${server.base}m/transformer/model.safetensors`);

    const record = await store.get(done.key);
    expect(record).toMatchObject({ status: 'complete', size: file.byteLength, storedBytes: file.byteLength, sha256: sha256(file), segmentBytes: CHUNK });
    expect(record?.hashState).toBeUndefined();

    // The stored copy reads like the file, across segment boundaries too.
    expect(Buffer.from(await source.read(0, file.byteLength)).equals(file)).toBe(true);
    expect(Buffer.from(await source.read(CHUNK - 5, 10)).equals(file.subarray(CHUNK - 5, CHUNK + 5))).toBe(true);
    expect(Buffer.from(await source.read(CHUNK - 5, 2 * CHUNK + 10)).equals(file.subarray(CHUNK - 5, 3 * CHUNK + 5))).toBe(true);
    await expect(source.read(file.byteLength - 1, 2)).rejects.toThrow(RangeError);
    expect(await folder.readText('transformer/config.json')).toBe('{"dim": 48}');

    // A later visit: a new folder over the same store, no request at all.
    server.log.length = 0;
    const second = recorder();
    const again = open({ onProgress: second.onProgress });
    const cached = (await again.open('transformer/model.safetensors'))!;
    const safetensors = await openSafetensors(cached);
    expect(Array.from(await readTensor(safetensors, 'blocks.0.attn.bias'))).toEqual([1, 2, 3]);
    expect((await readTensor(safetensors, 'blocks.0.attn.weight'))[3999]).toBeCloseTo(Math.sin(3999), 6);
    expect(await again.readText('transformer/config.json')).toBe('{"dim": 48}');
    expect(server.log).toEqual([]);
    expect(second.summary()).toEqual([
      `cached ${path} ${file.byteLength}/${file.byteLength}`,
      `cached transformer/config.json 11/11`,
    ]);

    const summary = await cacheSummary(store);
    expect(summary).toMatchObject({ files: 2, bytes: file.byteLength + 11, partialFiles: 0 });
    expect(summary.text).toBe(`2 files, ${formatBytes(file.byteLength + 11)} stored`);
    await clearCache(store);
    expect((await cacheSummary(store)).text).toBe('0 files, 0 B stored');
    expect(await store.get(done.key)).toBeUndefined();
  });

  it('resumes a download the server cut off with a Range request from the stored offset', async () => {
    const file = new Uint8Array(randomBytes(5 * CHUNK + 1234));
    server.files.set('m/big.bin', file);
    server.fail = (_, start) => (start === 3 * CHUNK ? 'drop' : undefined);

    const first = recorder();
    const error = await open({ onProgress: first.onProgress }).open('big.bin').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadError);
    expect((error as DownloadError).keptBytes).toBe(3 * CHUNK);
    expect((error as Error).message).toContain(`could not download big.bin from ${server.base}m/big.bin (stopped at`);
    expect((error as Error).message).toContain('stay stored, and the next attempt resumes from there');
    expect(first.events.at(-1)).toMatchObject({ type: 'error', loadedBytes: 3 * CHUNK });
    expect(await store.get(`${server.base}m/big.bin`)).toMatchObject({ status: 'partial', storedBytes: 3 * CHUNK });
    expect((await cacheSummary(store)).text).toBe(`0 files, 0 B stored, 1 partial download (${formatBytes(3 * CHUNK)})`);

    server.fail = undefined;
    server.log.length = 0;
    const second = recorder();
    const source = (await open({ onProgress: second.onProgress }).open('big.bin'))!;
    expect(server.log).toEqual([
      'GET /m/big.bin bytes=0-0',
      `GET /m/big.bin bytes=${3 * CHUNK}-${4 * CHUNK - 1}`,
      `GET /m/big.bin bytes=${4 * CHUNK}-${5 * CHUNK - 1}`,
      `GET /m/big.bin bytes=${5 * CHUNK}-${file.byteLength - 1}`,
    ]);
    expect(second.events[0]).toMatchObject({ type: 'start', resumed: true, loadedBytes: 3 * CHUNK });
    expect(second.events.at(-1)).toMatchObject({ type: 'done', sha256: sha256(file) });
    expect(Buffer.from(await source.read(0, file.byteLength)).equals(file)).toBe(true);
  });

  it('resumes from the stored bytes it can trust: re-hashes them without a saved state, stops at a short segment', async () => {
    const interrupted = async (name: string) => {
      const file = new Uint8Array(randomBytes(5 * CHUNK + 99));
      server.files.set(`m/${name}`, file);
      server.fail = (_, start) => (start === 3 * CHUNK ? 'drop' : undefined);
      await expect(open().open(name)).rejects.toThrow(DownloadError);
      server.fail = undefined;
      server.log.length = 0;
      return { file, key: `${server.base}m/${name}` };
    };
    const resume = async (name: string, file: Uint8Array, from: number) => {
      const events = recorder();
      const source = (await open({ onProgress: events.onProgress }).open(name))!;
      expect(dataRequests(server.log)[0]).toBe(`GET /m/${name} bytes=${from}-${from + CHUNK - 1}`);
      expect(events.events[0]).toMatchObject({ type: 'start', resumed: true, loadedBytes: from });
      expect(events.events.at(-1)).toMatchObject({ type: 'done', sha256: sha256(file) });
      expect(sha256(await source.read(0, file.byteLength))).toBe(sha256(file));
    };

    // No saved hash state: the three stored segments are hashed again, not downloaded again.
    const a = await interrupted('a.bin');
    const partial = (await store.get(a.key))!;
    await store.put({ ...partial, hashState: undefined });
    await resume('a.bin', a.file, 3 * CHUNK);

    // Segment 1 comes back short: only segment 0 is trusted, the rest is downloaded again.
    const b = await interrupted('b.bin');
    await store.writeSegment(b.key, 1, b.file.subarray(CHUNK, 2 * CHUNK - 3));
    await resume('b.bin', b.file, CHUNK);
  });

  it('stops promptly on abort, keeps the stored part, and resumes from it', async () => {
    const file = new Uint8Array(randomBytes(8 * CHUNK));
    server.files.set('m/big.bin', file);
    const controller = new AbortController();
    let progress = 0;
    const onProgress = (e: DownloadEvent) => {
      if (e.type === 'progress' && ++progress === 2) controller.abort();
    };
    const error = await open({ onProgress, signal: controller.signal }).open('big.bin').catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
    // Two chunks stored, the third (read ahead) cancelled, nothing after it requested.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(dataRequests(server.log).length).toBeLessThanOrEqual(3);
    expect(await store.get(`${server.base}m/big.bin`)).toMatchObject({ status: 'partial', storedBytes: 2 * CHUNK });

    server.log.length = 0;
    const resumed = recorder();
    const source = (await open({ onProgress: resumed.onProgress }).open('big.bin'))!;
    // The cancelled read of the first attempt may reach the server late: look after the new probe.
    const afterProbe = server.log.slice(server.log.indexOf('GET /m/big.bin bytes=0-0') + 1);
    expect(afterProbe[0]).toBe(`GET /m/big.bin bytes=${2 * CHUNK}-${3 * CHUNK - 1}`);
    expect(resumed.events.at(-1)).toMatchObject({ type: 'done', sha256: sha256(file) });
    expect(sha256(await source.read(0, file.byteLength))).toBe(sha256(file));
  });

  it('restarts from zero when the file changed size since the interrupted download', async () => {
    server.files.set('m/big.bin', new Uint8Array(randomBytes(4 * CHUNK)));
    server.fail = (_, start) => (start === 2 * CHUNK ? 'drop' : undefined);
    await expect(open().open('big.bin')).rejects.toThrow(DownloadError);

    const changed = new Uint8Array(randomBytes(4 * CHUNK + 100));
    server.files.set('m/big.bin', changed);
    server.fail = undefined;
    server.log.length = 0;
    const events = recorder();
    await open({ onProgress: events.onProgress }).open('big.bin');
    expect(dataRequests(server.log)[0]).toBe(`GET /m/big.bin bytes=0-${CHUNK - 1}`);
    expect(events.events[0]).toMatchObject({ type: 'start', resumed: false, loadedBytes: 0, reason: `the source changed size from ${4 * CHUNK} to ${4 * CHUNK + 100} bytes` });
    expect(events.events.at(-1)).toMatchObject({ type: 'done', sha256: sha256(changed) });
  });

  it('restarts when the ETag changed at the same size', async () => {
    server.files.set('m/big.bin', new Uint8Array(randomBytes(4 * CHUNK)));
    server.etags.set('m/big.bin', '"v1"');
    server.fail = (_, start) => (start === 2 * CHUNK ? 'drop' : undefined);
    const folder = () => cachedFolder(etagFolder(`${server.base}m/`), store, { chunkBytes: CHUNK, onProgress: events.onProgress });
    let events = recorder();
    await expect(folder().open('big.bin')).rejects.toThrow(DownloadError);
    expect(await store.get(`${server.base}m/big.bin`)).toMatchObject({ status: 'partial', etag: '"v1"' });

    const changed = new Uint8Array(randomBytes(4 * CHUNK));
    server.files.set('m/big.bin', changed);
    server.etags.set('m/big.bin', '"v2"');
    server.fail = undefined;
    events = recorder();
    await folder().open('big.bin');
    expect(events.events[0]).toMatchObject({ type: 'start', resumed: false, reason: `the source's ETag changed from "v1" to "v2"` });
    expect(await store.get(`${server.base}m/big.bin`)).toMatchObject({ status: 'complete', etag: '"v2"', sha256: sha256(changed) });
  });

  it('serves a stored file without asking, and with revalidate downloads it again once it changed', async () => {
    const v1 = new Uint8Array(randomBytes(CHUNK + 10));
    server.files.set('m/w.bin', v1);
    server.files.set('m/c.json', new TextEncoder().encode('{"v": 1}'));
    await open().open('w.bin');
    await open().readText('c.json');
    const v2 = new Uint8Array(randomBytes(CHUNK + 20));
    server.files.set('m/w.bin', v2);
    server.files.set('m/c.json', new TextEncoder().encode('{"v": 2}'));

    server.log.length = 0;
    expect(sha256(await (await open().open('w.bin'))!.read(0, v1.byteLength))).toBe(sha256(v1));
    expect(await open().readText('c.json')).toBe('{"v": 1}');
    expect(server.log).toEqual([]);

    const fresh = recorder();
    const revalidating = open({ revalidate: true, onProgress: fresh.onProgress });
    expect(sha256(await (await revalidating.open('w.bin'))!.read(0, v2.byteLength))).toBe(sha256(v2));
    expect(await revalidating.readText('c.json')).toBe('{"v": 2}');
    expect(fresh.events.filter((e) => e.type === 'start').map((e) => (e as { reason?: string }).reason)).toEqual([
      `the source changed size from ${CHUNK + 10} to ${CHUNK + 20} bytes`,
      'the source text changed',
    ]);
    server.log.length = 0;
    const same = recorder();
    await open({ revalidate: true, onProgress: same.onProgress }).open('w.bin');
    expect(server.log).toEqual(['GET /m/w.bin bytes=0-0']);
    expect(same.summary()).toEqual([`cached w.bin ${CHUNK + 20}/${CHUNK + 20}`]);
  });

  it('answers undefined for a missing file and stores nothing', async () => {
    const events = recorder();
    const folder = open({ onProgress: events.onProgress });
    expect(await folder.open('absent.safetensors')).toBeUndefined();
    expect(await folder.readText('absent.json')).toBeUndefined();
    expect(await store.list()).toEqual([]);
    expect(events.events).toEqual([]);
  });

  it('names the URL and path on an HTTP error mid-download and keeps nothing of a 4xx', async () => {
    server.files.set('m/big.bin', new Uint8Array(randomBytes(4 * CHUNK)));
    server.fail = (_, start) => (start === 2 * CHUNK ? 404 : undefined);
    const events = recorder();
    const error = await open({ onProgress: events.onProgress }).open('big.bin').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadError);
    expect((error as Error).message).toBe(
      `could not download big.bin from ${server.base}m/big.bin (stopped at ${formatBytes(2 * CHUNK)} of ${formatBytes(4 * CHUNK)}; nothing of it is stored): ` +
        `GET ${server.base}m/big.bin (bytes=${2 * CHUNK}-${3 * CHUNK - 1}): HTTP 404 Not Found`,
    );
    expect(events.events.at(-1)).toMatchObject({ type: 'error', error });
    expect(await store.list()).toEqual([]);

    // A 5xx may pass: what was stored stays for the next attempt.
    server.fail = (_, start) => (start === 2 * CHUNK ? 503 : undefined);
    await expect(open().open('big.bin')).rejects.toThrow(/HTTP 503/);
    expect(await store.list()).toMatchObject([{ status: 'partial', storedBytes: 2 * CHUNK }]);
  });

  it('names the path when the server cannot be reached, and stores nothing', async () => {
    const folder = cachedFolder(urlFolder('http://127.0.0.1:9/m/'), store, { chunkBytes: CHUNK });
    await expect(folder.open('model.safetensors')).rejects.toThrow(
      'could not download model.safetensors from http://127.0.0.1:9/m/: GET http://127.0.0.1:9/m/model.safetensors failed: network error',
    );
    await expect(folder.readText('config.json')).rejects.toThrow(/could not download config\.json from http:\/\/127\.0\.0\.1:9\/m\/: GET .* network error/);
    expect(await store.list()).toEqual([]);
  });

  it('downloads again when a stored segment is missing or short', async () => {
    const file = new Uint8Array(randomBytes(3 * CHUNK));
    server.files.set('m/w.bin', file);
    await open().open('w.bin');
    await store.writeSegment(`${server.base}m/w.bin`, 1, file.subarray(CHUNK, 2 * CHUNK - 1));
    const events = recorder();
    const source = (await open({ onProgress: events.onProgress }).open('w.bin'))!;
    expect(events.events[0]).toMatchObject({ type: 'start', resumed: false, reason: `stored segment 1 holds ${CHUNK - 1} bytes instead of ${CHUNK}` });
    expect(sha256(await source.read(0, file.byteLength))).toBe(sha256(file));
  });

  it("with verify: 'sha256', re-hashes the stored copy and downloads again when it differs", async () => {
    const file = new Uint8Array(randomBytes(2 * CHUNK + 7));
    server.files.set('m/w.bin', file);
    await open().open('w.bin');
    const damaged = file.slice(CHUNK, 2 * CHUNK);
    damaged[100] ^= 1;
    await store.writeSegment(`${server.base}m/w.bin`, 1, damaged);

    server.log.length = 0;
    const trusting = recorder();
    await open({ onProgress: trusting.onProgress }).open('w.bin');
    expect(trusting.events.map((e) => e.type)).toEqual(['cached']); // sizes match: served as it is

    const verifying = recorder();
    const source = (await open({ verify: 'sha256', onProgress: verifying.onProgress }).open('w.bin'))!;
    expect((verifying.events[0] as { reason?: string }).reason).toMatch(/^the stored copy's SHA-256 is [0-9a-f]{64}, not the [0-9a-f]{64} recorded/);
    expect(sha256(await source.read(0, file.byteLength))).toBe(sha256(file));
    const rechecked = recorder();
    await open({ verify: 'sha256', onProgress: rechecked.onProgress }).open('w.bin');
    expect(rechecked.events.map((e) => e.type)).toEqual(['cached']);
  });

  it('shares one download between concurrent opens of a path', async () => {
    const file = new Uint8Array(randomBytes(3 * CHUNK));
    server.files.set('m/w.bin', file);
    const folder = open();
    const [a, b] = await Promise.all([folder.open('w.bin'), folder.open('./w.bin')]);
    expect(a).toBe(b);
    expect(dataRequests(server.log)).toHaveLength(3);
  });

  it('loads a checkpoint through the cache: index probe answered 404, shards stored, then no requests', async () => {
    server.files.set('m/transformer/diffusion_pytorch_model.safetensors', model(300));
    const first = await openCheckpoint(open(), 'transformer/diffusion_pytorch_model');
    expect(first.tensors.size).toBe(2);
    server.log.length = 0;
    const second = await openCheckpoint(open(), 'transformer/diffusion_pytorch_model');
    expect([...second.tensors.keys()].sort()).toEqual(['blocks.0.attn.bias', 'blocks.0.attn.weight']);
    // Only the absent index is asked for again (absence is not stored); no data is requested.
    expect(server.log).toEqual(['GET /m/transformer/diffusion_pytorch_model.safetensors.index.json']);
  });

  it('stores an empty file', async () => {
    server.files.set('m/empty.bin', new Uint8Array(0));
    const events = recorder();
    const source = (await open({ onProgress: events.onProgress }).open('empty.bin'))!;
    expect(source.size).toBe(0);
    expect(events.events.at(-1)).toMatchObject({ type: 'done', sha256: sha256(new Uint8Array(0)) });
    expect((await open({ onProgress: events.onProgress }).open('empty.bin'))!.size).toBe(0);
    expect(events.events.at(-1)?.type).toBe('cached');
  });
});

describe('a full store', () => {
  const key = () => `${server.base}m/big.bin`;

  it('refuses before downloading when estimate() shows too little room', async () => {
    const file = new Uint8Array(randomBytes(4 * CHUNK));
    server.files.set('m/big.bin', file);
    const store = memoryStore({ quotaBytes: 2 * CHUNK });
    const events = recorder();
    const error = await cachedFolder(urlFolder(`${server.base}m`), store, { chunkBytes: CHUNK, onProgress: events.onProgress })
      .open('big.bin')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageQuotaError);
    expect(error).toMatchObject({ neededBytes: 4 * CHUNK, freeBytes: 2 * CHUNK, path: 'big.bin' });
    expect((error as Error).message).toBe(
      `not enough storage to keep big.bin in the browser's memory cache: it needs ${formatBytes(4 * CHUNK)} more, ` +
        `but only ${formatBytes(2 * CHUNK)} are free for this site (quota ${formatBytes(2 * CHUNK)}). ` +
        "Free space by clearing cached models here or this site's data in the browser's site settings, or load the model without caching.",
    );
    expect(events.summary()).toEqual([`error big.bin 0/${4 * CHUNK}`]);
    expect(dataRequests(server.log)).toEqual([]);
    expect(await store.list()).toEqual([]);
  });

  const quotaStores: { name: string; make(): { store: FileStore; cleanup(): void } }[] = [
    {
      name: 'memory',
      // estimate() says nothing, so only the write finds out.
      make: () => ({ store: { ...memoryStore({ quotaBytes: 2 * CHUNK + 100 }), estimate: async () => ({}) }, cleanup: () => {} }),
    },
    {
      name: 'OPFS (fake on fs)',
      make: () => {
        const dir = mkdtempSync(join(tmpdir(), 'webdit-store-'));
        const root = new FsDirectory(dir, { root: dir, limit: 2 * CHUNK + 2000 });
        return { store: opfsStore('models', { root: async () => root, estimate: async () => ({}) }), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
      },
    },
    {
      name: 'Cache API (fake)',
      make: () => ({ store: cacheApiStore('models', { caches: fakeCaches(2 * CHUNK + 2000), estimate: async () => ({}) }), cleanup: () => {} }),
    },
  ];

  it.each(quotaStores)('turns a QuotaExceededError on write ($name) into a clear error and deletes the partial file', async ({ make }) => {
    const { store, cleanup } = make();
    try {
      server.files.set('m/big.bin', new Uint8Array(randomBytes(4 * CHUNK)));
      const events = recorder();
      const error = await cachedFolder(urlFolder(`${server.base}m`), store, { chunkBytes: CHUNK, onProgress: events.onProgress })
        .open('big.bin')
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageQuotaError);
      expect((error as Error).message).toMatch(
        /^not enough storage to keep big\.bin in the browser's [a-z-]+ cache \(the browser refused a write: QuotaExceededError\): it needs 8\.\d kB more, and the browser does not say how much is free\. Free space .* or load the model without caching\.$/,
      );
      expect((error as StorageQuotaError).cause).toMatchObject({ name: 'QuotaExceededError' });
      expect(events.events.at(-1)).toMatchObject({ type: 'error', error });
      expect(await store.list()).toEqual([]);
      expect(await store.get(key())).toBeUndefined();
      expect((await store.readSegments(key(), 2)).filter(Boolean)).toEqual([]);
      // Nothing is served later: the next attempt starts over.
      const retry = recorder();
      await cachedFolder(urlFolder(`${server.base}m`), store, { chunkBytes: CHUNK, onProgress: retry.onProgress }).open('big.bin').catch(() => {});
      expect(retry.events[0]).toMatchObject({ type: 'start', loadedBytes: 0, resumed: false });
    } finally {
      cleanup();
    }
  });
});

describe('stores', () => {
  it.each(backends)('$name: records, segments, list, delete and clear', async ({ make }) => {
    const { store, cleanup } = make();
    try {
      const record = { format: 1 as const, key: 'https://x/a.bin', status: 'partial' as const, size: 10, storedBytes: 4, segmentBytes: 4, updatedAt: 1 };
      expect(await store.get(record.key)).toBeUndefined();
      await store.put(record);
      await store.put({ ...record, key: 'https://x/b.bin' });
      expect(await store.get(record.key)).toEqual(record);
      await store.writeSegment(record.key, 0, Uint8Array.of(1, 2, 3, 4));
      await store.writeSegment(record.key, 2, Uint8Array.of(9, 9));
      const [s0, s1, s2] = await store.readSegments(record.key, 3);
      expect(Array.from(new Uint8Array(await s0!.arrayBuffer()))).toEqual([1, 2, 3, 4]);
      expect(s1).toBeUndefined();
      expect(s2?.size).toBe(2);
      expect((await store.list()).map((r) => r.key).sort()).toEqual(['https://x/a.bin', 'https://x/b.bin']);
      await store.delete(record.key);
      await store.delete(record.key);
      expect(await store.get(record.key)).toBeUndefined();
      expect((await store.readSegments(record.key, 1))[0]).toBeUndefined();
      expect((await store.list()).map((r) => r.key)).toEqual(['https://x/b.bin']);
      await store.clear();
      expect(await store.list()).toEqual([]);
      await store.put(record);
      expect(await store.get(record.key)).toEqual(record);
    } finally {
      cleanup();
    }
  });

  it('memoryStore reports usage and room, and throws QuotaExceededError past its quota', async () => {
    const store = memoryStore({ quotaBytes: 10 });
    await store.writeSegment('k', 0, new Uint8Array(6));
    expect(await store.estimate()).toEqual({ usageBytes: 6, quotaBytes: 10, freeBytes: 4 });
    await store.writeSegment('k', 0, new Uint8Array(10)); // replacing a segment frees its old bytes
    const error = await store.writeSegment('k', 1, new Uint8Array(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe('QuotaExceededError');
  });

  it('defaultStore falls back to memory where there is neither OPFS nor the Cache API (Node)', async () => {
    const store = defaultStore();
    expect(store.kind).toBe('pending');
    expect(await store.list()).toEqual([]);
    expect(store.kind).toBe('memory');
    expect(store.name).toBe('memory:webdit-models');
  });

  it('the Cache API store keys entries by http(s) URLs and clear() deletes its cache', async () => {
    const caches = fakeCaches();
    const store = cacheApiStore('weights', { caches });
    await store.put({ format: 1, key: 'blob:whatever', status: 'partial', size: 1, storedBytes: 0, segmentBytes: 64, updatedAt: 0 });
    expect(caches.names()).toEqual(['weights']);
    await store.clear();
    expect(caches.names()).toEqual([]);
  });
});

it('formatBytes uses decimal units', () => {
  expect([0, 999, 1000, 12_345_678, 14.2e9].map(formatBytes)).toEqual(['0 B', '999 B', '1.0 kB', '12.3 MB', '14.2 GB']);
});
