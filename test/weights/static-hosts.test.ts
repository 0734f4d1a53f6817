// URL sources against the static hosts people actually use: a local server (127.0.0.1) that ignores
// Range, omits Content-Length, gzips on the fly, cuts the body off, or answers 404/500. Every read
// must return the file's exact bytes, and the source must hold one read plus one network chunk.

import { randomBytes } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadTensors, openCheckpoint } from '../../src/weights/checkpoint.ts';
import { urlFolder } from '../../src/weights/folder.ts';
import { encodeSafetensors, openSafetensors, readTensor } from '../../src/weights/safetensors.ts';
import { HttpError, NetworkError, urlSource, type UrlByteSource } from '../../src/weights/source.ts';
import { DownloadError, cachedFolder, memoryStore } from '../../src/weights/store.ts';
import { openWholeBodyCount } from '../../src/weights/whole-body.ts';
import { testContext } from '../helpers/gpu.ts';

/** Bytes the server writes at a time; a read's source may hold one such network chunk beyond the read. */
const PIECE = 16 * 1024;
/** What Node's fetch may gather from the socket into one chunk (several pieces arriving together). */
const NETWORK_CHUNK_BOUND = 256 * 1024;

const big = new Uint8Array(randomBytes(3 * 1024 * 1024 + 777));
const weights = {
  'a.weight': { dtype: 'F32' as const, shape: [300, 257], data: Float32Array.from({ length: 300 * 257 }, (_, i) => Math.sin(i)) },
  'b.bias': { dtype: 'F16' as const, shape: [1001], data: Float32Array.from({ length: 1001 }, (_, i) => i / 8) },
  'c.weight': { dtype: 'F32' as const, shape: [129, 65], data: Float32Array.from({ length: 129 * 65 }, (_, i) => Math.cos(i)) },
};
const model = encodeSafetensors(weights);
const pattern = Uint8Array.from({ length: 200_000 }, (_, i) => i % 7);

const gzipCache = new Map<Uint8Array, Uint8Array>();
/** The gzip of a body, compressed once per body (it is sent many times). */
function gzipped(body: Uint8Array): Uint8Array {
  let packed = gzipCache.get(body);
  if (!packed) gzipCache.set(body, (packed = gzipSync(body)));
  return packed;
}

type Mode = 'ranged' | 'ignore' | 'nolength' | 'gzip' | 'cut' | 'status404' | 'status500';

/** Writes `body` in PIECE-sized writes, then ends (or drops the connection halfway for 'cut'). */
function sendPieces(res: ServerResponse, body: Uint8Array, cutAt = body.byteLength): void {
  for (let at = 0; at < cutAt; at += PIECE) res.write(body.subarray(at, Math.min(at + PIECE, cutAt)));
  if (cutAt < body.byteLength) res.write(new Uint8Array(0), () => res.destroy());
  else res.end();
}

function startServer(files: Map<string, Uint8Array>, log: string[]): Promise<{ server: Server; base: string }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const [, mode, ...rest] = url.pathname.split('/') as [string, Mode, ...string[]];
    const body = files.get(decodeURIComponent(rest.join('/')));
    log.push(`${req.method} /${mode}/${rest.join('/')} ${req.headers.range ?? ''}`.trim());
    if (!body || mode === 'status404') return void res.writeHead(404, 'Not Found').end('not found');
    if (mode === 'status500') return void res.writeHead(500, 'Internal Server Error').end('oops');
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (mode === 'ranged' && range) {
      const start = Number(range[1]);
      const end = Math.min(Number(range[2]), body.byteLength - 1);
      res.writeHead(206, { 'Content-Length': end - start + 1, 'Content-Range': `bytes ${start}-${end}/${body.byteLength}` });
      return void res.end(body.subarray(start, end + 1));
    }
    if (mode === 'gzip') {
      // On-the-fly compression: Content-Length counts the compressed bytes, and Range is ignored.
      const packed = gzipped(body);
      res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Length': packed.byteLength, ETag: '"g1"' });
      return void sendPieces(res, packed);
    }
    if (mode === 'nolength') {
      res.writeHead(200, { 'Transfer-Encoding': 'chunked' });
      return void sendPieces(res, body);
    }
    res.writeHead(200, { 'Content-Length': body.byteLength, ETag: '"v1"' });
    sendPieces(res, body, mode === 'cut' ? Math.floor(body.byteLength / 2) : body.byteLength);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
  });
}

/** Reads a source the way the loaders do: the header, then the rest in `chunk`-sized reads in order. */
async function readInOrder(source: UrlByteSource, chunk: number): Promise<Uint8Array> {
  const out = new Uint8Array(source.size);
  out.set(await source.read(0, 8), 0);
  for (let at = 8; at < source.size; at += chunk) out.set(await source.read(at, Math.min(chunk, source.size - at)), at);
  return out;
}

describe('URL sources on static hosts', () => {
  const log: string[] = [];
  let server: Server;
  let base = '';
  const files = new Map<string, Uint8Array>([
    ['big.bin', big],
    ['pattern.bin', pattern],
    ['model/diffusion_pytorch_model.safetensors', model],
    ['model/config.json', new TextEncoder().encode('{"dim": 48}')],
  ]);
  beforeAll(async () => ({ server, base } = await startServer(files, log)));
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it.each(['ignore', 'nolength', 'gzip'] as const)('a server that answers 200 (%s) is read in order: same bytes, one read plus one network chunk held', async (mode) => {
    log.length = 0;
    const source = await urlSource(`${base}/${mode}/big.bin`);
    expect(source.size).toBe(big.byteLength);
    expect(source.transfer.mode).toBe('stream');
    const chunk = 100_000;
    const bytes = await readInOrder(source, chunk);
    expect(Buffer.compare(bytes, big)).toBe(0);
    expect(source.transfer.peakBufferedBytes).toBeGreaterThanOrEqual(chunk);
    expect(source.transfer.peakBufferedBytes).toBeLessThanOrEqual(chunk + NETWORK_CHUNK_BOUND);
    expect(source.transfer.bufferedBytes).toBe(0);
    expect(source.transfer.restarts).toBe(0);
    // The probe (its body counted where no usable length came with it), then one whole body read in order.
    expect(log).toEqual([`GET /${mode}/big.bin bytes=0-0`, `GET /${mode}/big.bin`]);
    expect(source.transfer.requests).toBe(1);
  });

  it('skips forward without a new request, and restarts the body for a read behind its position', async () => {
    log.length = 0;
    const source = await urlSource(`${base}/ignore/big.bin`);
    expect(Array.from(await source.read(2_000_000, 50))).toEqual(Array.from(big.subarray(2_000_000, 2_000_050)));
    expect(source.transfer.skippedBytes).toBe(2_000_000);
    expect(Array.from(await source.read(10, 20))).toEqual(Array.from(big.subarray(10, 30)));
    expect(Array.from(await source.read(big.byteLength - 5, 5))).toEqual(Array.from(big.subarray(big.byteLength - 5)));
    expect(source.transfer).toMatchObject({ requests: 2, restarts: 1, bufferedBytes: 0 });
    expect(log).toEqual(['GET /ignore/big.bin bytes=0-0', 'GET /ignore/big.bin', 'GET /ignore/big.bin']);
    // Concurrent reads are served one at a time, each with its own bytes.
    const [a, b] = await Promise.all([source.read(300, 4), source.read(100, 4)]);
    expect(Array.from(a)).toEqual(Array.from(big.subarray(300, 304)));
    expect(Array.from(b)).toEqual(Array.from(big.subarray(100, 104)));
  });

  it('the safetensors reader and the GPU loader read a checkpoint from a server that ignores Range', async () => {
    const ctx = await testContext();
    for (const mode of ['ignore', 'gzip', 'ranged'] as const) {
      const folder = urlFolder(`${base}/${mode}/model`);
      expect(await folder.readText('config.json')).toBe('{"dim": 48}');
      const checkpoint = await openCheckpoint(folder);
      const tensors = await loadTensors(ctx, checkpoint, ['c.weight', 'a.weight', 'b.bias'], { chunkBytes: 64 * 1024 });
      expect(Array.from(await ctx.read(tensors.get('a.weight')!)), mode).toEqual(Array.from(weights['a.weight'].data, Math.fround));
      expect(Array.from(await ctx.read(tensors.get('c.weight')!)), mode).toEqual(Array.from(weights['c.weight'].data, Math.fround));
      for (const t of tensors.values()) t.release();
      const source = checkpoint.files[0]!.source as UrlByteSource;
      expect(source.transfer.mode).toBe(mode === 'ranged' ? 'range' : 'stream');
      // Header then tensors in file order: one whole body, never restarted.
      if (mode !== 'ranged') expect(source.transfer.restarts, mode).toBe(0);
      expect(source.transfer.peakBufferedBytes).toBeLessThanOrEqual(64 * 1024 + NETWORK_CHUNK_BOUND);
      // Out of file order (bias before weight) restarts the body and still reads the right values.
      const file = await openSafetensors(source);
      expect(Array.from(await readTensor(file, 'b.bias'))).toEqual(Array.from(weights['b.bias'].data));
      expect(Array.from(await readTensor(file, 'a.weight')).slice(0, 3)).toEqual(Array.from(weights['a.weight'].data.slice(0, 3), Math.fround));
    }
  });

  it('keeps at most three whole bodies open (browsers allow about six connections per host)', async () => {
    // A source that is only opened (a download cache comparing validators) holds no connection.
    const before = openWholeBodyCount();
    const unread = await urlSource(`${base}/ignore/big.bin`);
    expect(unread.transfer.mode).toBe('stream');
    expect(openWholeBodyCount()).toBe(before);
    // As a sharded checkpoint is opened: each file's header is read, then the next file is opened.
    const sources: UrlByteSource[] = [];
    for (let i = 0; i < 5; i++) {
      sources.push(await urlSource(`${base}/ignore/big.bin`));
      expect(Array.from(await sources[i]!.read(0, 8))).toEqual(Array.from(big.subarray(0, 8)));
    }
    expect(openWholeBodyCount()).toBe(3);
    // The first source's body was closed for the others: reading on from it starts a new GET.
    expect(Array.from(await sources[0]!.read(8, 8))).toEqual(Array.from(big.subarray(8, 16)));
    expect(sources[0]!.transfer.restarts).toBe(1);
    expect(sources[4]!.transfer.restarts).toBe(0);
    for (const source of sources) await source.read(big.byteLength - 1, 1);
    expect(openWholeBodyCount()).toBe(0);
  });

  it('the download cache stores a file from a server that ignores Range, byte for byte', async () => {
    log.length = 0;
    const store = memoryStore();
    const folder = cachedFolder(urlFolder(`${base}/ignore`), store, { chunkBytes: 256 * 1024 });
    const stored = (await folder.open('big.bin'))!;
    expect(Buffer.compare(await stored.read(0, stored.size), big)).toBe(0);
    expect(log).toEqual(['GET /ignore/big.bin bytes=0-0', 'GET /ignore/big.bin']);

    // A body cut off midway: the chunks stored before the cut stay, for the next attempt to resume from.
    const cut = await cachedFolder(urlFolder(`${base}/cut`), store, { chunkBytes: 256 * 1024 }).open('big.bin').catch((e: unknown) => e);
    expect(cut).toBeInstanceOf(DownloadError);
    expect((cut as DownloadError).keptBytes).toBe(6 * 256 * 1024);
    expect((cut as Error).message).toMatch(/stay stored, and the next attempt resumes from there\): GET .*\/cut\/big\.bin: the connection broke after/);
  });

  it('a body cut off midway fails naming the URL and how far it got; the next read starts again', async () => {
    const source = await urlSource(`${base}/cut/big.bin`);
    const error = await readInOrder(source, 500_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as Error).message).toMatch(new RegExp(`^GET ${base}/cut/big\\.bin: the connection broke after \\d+ of ${big.byteLength} bytes`));
    expect(source.transfer.bufferedBytes).toBe(0);
    expect(Array.from(await source.read(0, 8))).toEqual(Array.from(big.subarray(0, 8)));
    expect(source.transfer.restarts).toBe(1);
  });

  it('404 and 500 name the URL and the status', async () => {
    const missing = await urlSource(`${base}/status404/big.bin`).catch((e: unknown) => e);
    expect((missing as HttpError).status).toBe(404);
    expect((missing as Error).message).toBe(`GET ${base}/status404/big.bin: HTTP 404 Not Found`);
    expect(await urlFolder(`${base}/status404/model`).open('diffusion_pytorch_model.safetensors')).toBeUndefined();
    await expect(urlSource(`${base}/status500/big.bin`)).rejects.toThrow(`GET ${base}/status500/big.bin: HTTP 500 Internal Server Error`);
    await expect(urlFolder(`${base}/status500/model`).readText('config.json')).rejects.toThrow(`GET ${base}/status500/model/config.json: HTTP 500`);
  });

  it('a compressed body whose Content-Encoding is hidden (CORS) fails clearly instead of reading wrong bytes', async () => {
    // What a page sees cross-origin: the decoded body, the compressed Content-Length, no Content-Encoding.
    const hiding: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      const headers = new Headers(res.headers);
      headers.delete('Content-Encoding');
      return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
    };
    const shrunk = await urlSource(`${base}/gzip/pattern.bin`, { fetch: hiding });
    expect(shrunk.size).toBe(gzipped(pattern).byteLength);
    await expect(readInOrder(shrunk, 1 << 20)).rejects.toThrow(/the body is longer than the \d+ bytes its Content-Length announced; the server probably compresses it on the fly/);
    // Random bytes grow a little when gzipped: the body then ends before the announced length.
    const grown = await urlSource(`${base}/gzip/big.bin`, { fetch: hiding });
    expect(grown.size).toBe(gzipped(big).byteLength);
    await expect(readInOrder(grown, 1 << 20)).rejects.toThrow(
      new RegExp(`the body ended after ${big.byteLength} of ${grown.size} bytes: .*compresses on the fly without exposing Content-Encoding`),
    );
  });

  it('a server that stops honouring Range after the probe (a cache in front of it) is read in order from then on', async () => {
    log.length = 0;
    const changing: typeof fetch = (input, init) => {
      const range = new Headers(init?.headers).get('Range');
      return fetch(range === 'bytes=0-0' ? input : String(input).replace('/ranged/', '/ignore/'), init);
    };
    const source = await urlSource(`${base}/ranged/big.bin`, { fetch: changing });
    expect(source.transfer.mode).toBe('range');
    expect(Array.from(await source.read(1000, 10))).toEqual(Array.from(big.subarray(1000, 1010)));
    expect(source.transfer.mode).toBe('stream');
    expect(Array.from(await source.read(5000, 10))).toEqual(Array.from(big.subarray(5000, 5010)));
    expect(log).toEqual(['GET /ranged/big.bin bytes=0-0', 'GET /ignore/big.bin bytes=1000-1009', 'GET /ignore/big.bin']);
  });

  it('a server that refuses the CORS preflight of a Range request is read with plain GETs', async () => {
    log.length = 0;
    // A browser fails a cross-origin Range request whose preflight the server does not answer,
    // with no answer and no reason; a plain GET needs no preflight.
    const noPreflight: typeof fetch = async (input, init) => {
      if (new Headers(init?.headers).has('Range')) throw new TypeError('Failed to fetch');
      return fetch(input, init);
    };
    const source = await urlSource(`${base}/ranged/big.bin`, { fetch: noPreflight });
    expect(source.transfer.mode).toBe('stream');
    expect(Buffer.compare(await readInOrder(source, 1 << 20), big)).toBe(0);
    expect(log).toEqual(['GET /ranged/big.bin', 'GET /ranged/big.bin']);
  });

  it('in a browser, a failure without an answer lists the likely causes (CORS, mixed content)', async () => {
    const failing: typeof fetch = async () => {
      throw new TypeError('Failed to fetch');
    };
    vi.stubGlobal('document', {});
    vi.stubGlobal('location', { protocol: 'http:' });
    try {
      const error = await urlSource('https://cdn.example/m/w.safetensors', { fetch: failing }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NetworkError);
      expect((error as Error).message).toBe(
        'GET https://cdn.example/m/w.safetensors failed: network error (Failed to fetch); the browser does not say why: the server may be ' +
          'down or the URL wrong, or the server does not allow this page to read it (CORS: it must send Access-Control-Allow-Origin)',
      );
      vi.stubGlobal('location', { protocol: 'https:' });
      await expect(urlFolder('http://models.example/m', { fetch: failing }).readText('config.json')).rejects.toThrow(
        'GET http://models.example/m/config.json failed: network error (Failed to fetch); this https page may not load http URLs (mixed content): serve the model over https',
      );
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('a refused connection names the URL and the reason; aborts pass through', async () => {
    // A port that was just free: nothing listens there, so the connection is refused.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(urlSource(`http://127.0.0.1:${port}/w.safetensors`)).rejects.toThrow(
      `GET http://127.0.0.1:${port}/w.safetensors failed: network error (fetch failed: connect ECONNREFUSED 127.0.0.1:${port})`,
    );
    await expect(urlFolder(`http://127.0.0.1:${port}/m`).readText('config.json')).rejects.toThrow(
      `GET http://127.0.0.1:${port}/m/config.json failed: network error (fetch failed: connect ECONNREFUSED 127.0.0.1:${port})`,
    );
    const source = await urlSource(`${base}/ignore/big.bin`);
    const controller = new AbortController();
    const pending = source.read(1_000_000, 100, controller.signal);
    controller.abort();
    expect(((await pending.catch((e: unknown) => e)) as Error).name).toBe('AbortError');
    expect(Array.from(await source.read(5, 3))).toEqual(Array.from(big.subarray(5, 8)));
  });
});
