// Where checkpoint bytes come from: memory, a Blob (file picker, drag and drop) or an HTTP server
// (with Range requests, or reading whole-body answers in order where the server ignores Range).
// Every source reads a byte range on demand, so a multi-GB file is never held whole (browsers cap
// one ArrayBuffer at about 2 GB). Browser-safe: no Node imports here.

import { HttpError, NetworkError, causeText, networkError } from './http-error.ts';
import { WholeBodyReader, countBody, declaredLength, newTransferStats, type UrlTransferStats } from './whole-body.ts';

export { HttpError, NetworkError } from './http-error.ts';
export type { UrlTransferStats } from './whole-body.ts';

export interface ByteSource {
  /** For error messages: a file name or URL. */
  readonly name: string;
  /** Total bytes. */
  readonly size: number;
  /** Exactly `length` bytes from `offset`; rejects a range outside [0, size). */
  read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array>;
  /** HTTP validators of a URL source, when the server sends them (a download cache compares them). */
  readonly etag?: string;
  readonly lastModified?: string;
}

/** Throws a RangeError naming the source unless [offset, offset + length) lies inside it. */
export function checkRange(source: { name: string; size: number }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > source.size) {
    throw new RangeError(`${source.name}: cannot read ${length} bytes at offset ${offset}; the source holds ${source.size} bytes`);
  }
}

export function arrayBufferSource(data: ArrayBuffer | Uint8Array, name = 'memory'): ByteSource {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  return {
    name,
    size: bytes.byteLength,
    async read(offset, length, signal) {
      signal?.throwIfAborted();
      checkRange({ name, size: bytes.byteLength }, offset, length);
      // A copy, so a caller that writes into the result cannot corrupt the source.
      return bytes.slice(offset, offset + length);
    },
  };
}

export function blobSource(blob: Blob, name = typeof File !== 'undefined' && blob instanceof File ? blob.name : 'blob'): ByteSource {
  return {
    name,
    size: blob.size,
    async read(offset, length, signal) {
      signal?.throwIfAborted();
      checkRange({ name, size: blob.size }, offset, length);
      const buffer = await blob.slice(offset, offset + length).arrayBuffer();
      signal?.throwIfAborted();
      if (buffer.byteLength !== length) {
        throw new Error(`${name}: read ${buffer.byteLength} of ${length} bytes at offset ${offset} (did the file change?)`);
      }
      return new Uint8Array(buffer);
    },
  };
}

export interface UrlSourceOptions {
  fetch?: typeof fetch;
  /** Aborts the size probe and every later read. */
  signal?: AbortSignal;
}

/** `fetch` called as a method of globalThis: browsers throw "Illegal invocation" on a detached one. */
export function defaultFetch(): typeof fetch {
  if (typeof globalThis.fetch !== 'function') throw new Error('no fetch in this environment: pass options.fetch');
  return globalThis.fetch.bind(globalThis);
}

function combineSignals(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (!a) return b;
  if (!b) return a;
  return AbortSignal.any([a, b]);
}

function isAbort(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError');
}

/** Frees a response we will not read, so an ignored Range does not download the whole file. */
function discard(res: Response): void {
  res.body?.cancel().catch(() => {});
}

// Parses "bytes a-b/total" or "bytes */total"; total is undefined when the server wrote '*'.
function parseContentRange(header: string | null): { start?: number; end?: number; total?: number } | undefined {
  if (!header) return undefined;
  const m = /^\s*bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)\s*$/i.exec(header);
  if (!m) return undefined;
  return {
    start: m[1] === undefined ? undefined : Number(m[1]),
    end: m[2] === undefined ? undefined : Number(m[2]),
    total: m[3] === '*' ? undefined : Number(m[3]),
  };
}

function statusText(res: Response): string {
  return `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
}


/** fetch, with a failure without an answer turned into an error naming the URL (aborts pass through). */
async function fetchOrExplain(fetchFn: typeof fetch, url: string, init: RequestInit, method: string, ranged: boolean): Promise<Response> {
  try {
    return await fetchFn(url, init);
  } catch (e) {
    if (isAbort(e)) throw e;
    throw networkError(method, url, e, ranged);
  }
}

/** A URL source, with how it has been reading (Range requests or whole bodies in order). */
export interface UrlByteSource extends ByteSource {
  readonly transfer: UrlTransferStats;
}

/**
 * A file on an HTTP server. Where the server honours Range, each read is one Range request; the size
 * comes from the Content-Range of a `bytes=0-0` probe, or from a HEAD request's Content-Length where
 * Content-Range is hidden (CORS). Where it answers 200 with the whole file (static hosts that ignore
 * Range or compress on the fly), reads walk that body in order (see whole-body.ts); the size is its
 * Content-Length, or where that is absent or counts compressed bytes, the body is counted once.
 */
export async function urlSource(url: string, options: UrlSourceOptions = {}): Promise<UrlByteSource> {
  const fetchFn = options.fetch ?? defaultFetch();
  const sourceSignal = options.signal;

  let probe: Response;
  try {
    probe = await fetchFn(url, { headers: { Range: 'bytes=0-0' }, signal: sourceSignal });
  } catch (e) {
    if (isAbort(e)) throw e;
    // A cross-origin Range request needs a CORS preflight that some servers refuse; a plain GET does not.
    probe = await fetchOrExplain(fetchFn, url, { signal: sourceSignal }, 'GET', false);
  }
  let size: number | undefined;
  if (probe.status === 206) {
    size = parseContentRange(probe.headers.get('Content-Range'))?.total;
  } else if (probe.status === 416) {
    // An empty file: no byte 0 to return, but Content-Range still gives the total.
    size = parseContentRange(probe.headers.get('Content-Range'))?.total;
    if (size === undefined) throw new HttpError(`GET ${url}: ${statusText(probe)} for bytes=0-0 and no file size given`, url, probe.status);
  } else if (probe.status === 200) {
    size = declaredLength(probe);
    if (size === undefined) size = await countBody(url, probe, sourceSignal);
  } else {
    discard(probe);
    throw new HttpError(`GET ${url}: ${statusText(probe)}`, url, probe.status);
  }
  // Freed at once even where it is the whole file: a source may never be read (a download cache only
  // compares validators), and an open body would hold a connection. The first read sends a new GET.
  discard(probe);
  if (size === undefined) {
    const head = await fetchOrExplain(fetchFn, url, { method: 'HEAD', signal: sourceSignal }, 'HEAD', false);
    discard(head);
    const length = head.headers.get('Content-Length');
    if (!head.ok || length === null || !/^\d+$/.test(length.trim())) {
      throw new HttpError(`HEAD ${url}: ${statusText(head)}; cannot learn the file size (no readable Content-Range or Content-Length)`, url, head.status);
    }
    size = Number(length);
  }
  const fileSize = size;
  const etag = probe.headers.get('ETag') ?? undefined;
  const lastModified = probe.headers.get('Last-Modified') ?? undefined;
  const transfer = newTransferStats(probe.status === 200 ? 'stream' : 'range');
  const whole = new WholeBodyReader({
    url,
    size: fileSize,
    stats: transfer,
    signal: sourceSignal,
    open: (signal) => fetchOrExplain(fetchFn, url, { signal }, 'GET', false),
  });

  return {
    name: url,
    size: fileSize,
    etag,
    lastModified,
    transfer,
    async read(offset, length, signal) {
      const combined = combineSignals(sourceSignal, signal);
      combined?.throwIfAborted();
      checkRange({ name: url, size: fileSize }, offset, length);
      if (length === 0) return new Uint8Array(0);
      if (transfer.mode === 'stream') return whole.read(offset, length, signal);
      const range = `bytes=${offset}-${offset + length - 1}`;
      transfer.requests++;
      const res = await fetchOrExplain(fetchFn, url, { headers: { Range: range }, signal: combined }, 'GET', true);
      if (res.status === 200) {
        // The server (or a cache in front of it) stopped honouring Range: read whole bodies from now on.
        discard(res);
        const declared = declaredLength(res);
        if (declared !== undefined && declared !== fileSize) {
          throw new HttpError(`GET ${url}: the file changed size from ${fileSize} to ${declared} bytes while being read`, url, res.status);
        }
        transfer.mode = 'stream';
        return whole.read(offset, length, signal);
      }
      if (res.status !== 206) {
        discard(res);
        throw new HttpError(`GET ${url} (${range}): ${statusText(res)}`, url, res.status);
      }
      const answered = parseContentRange(res.headers.get('Content-Range'));
      if (answered?.start !== undefined && answered.start !== offset) {
        discard(res);
        throw new HttpError(`GET ${url} (${range}): the server answered ${res.headers.get('Content-Range')}`, url, res.status);
      }
      if (answered?.total !== undefined && answered.total !== fileSize) {
        discard(res);
        throw new HttpError(`GET ${url}: the file changed size from ${fileSize} to ${answered.total} bytes while being read`, url, res.status);
      }
      transfer.peakBufferedBytes = Math.max(transfer.peakBufferedBytes, length);
      let body: Uint8Array;
      try {
        body = new Uint8Array(await res.arrayBuffer());
      } catch (e) {
        if (isAbort(e) || combined?.aborted) throw e;
        throw new NetworkError(`GET ${url} (${range}): the connection broke (${causeText(e)})`, url, { cause: e });
      }
      if (body.byteLength !== length) {
        const encoding = res.headers.get('Content-Encoding');
        const why = encoding ? ` (the answer was compressed with ${encoding}: serve the file uncompressed)` : '';
        throw new HttpError(`GET ${url} (${range}): got ${body.byteLength} bytes, expected ${length}${why}`, url, res.status);
      }
      return body;
    },
  };
}
