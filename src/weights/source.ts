// Where checkpoint bytes come from: memory, a Blob (file picker, drag and drop) or an HTTP server
// answering Range requests. Every source reads a byte range on demand, so a multi-GB file is never
// held whole (browsers cap one ArrayBuffer at about 2 GB). Browser-safe: no Node imports here.

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

/** An HTTP answer that was not what a read needed; `status` lets callers treat 404 as "absent". */
export class HttpError extends Error {
  constructor(
    message: string,
    readonly url: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'HttpError';
  }
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

/** fetch, with a network failure turned into an error naming the URL (aborts pass through as they are). */
async function fetchOrExplain(fetchFn: typeof fetch, url: string, init: RequestInit, what: string): Promise<Response> {
  try {
    return await fetchFn(url, init);
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new Error(`${what} ${url} failed: network error (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
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

const IGNORES_RANGE =
  'the server ignores HTTP Range requests (answered 200 with the whole file instead of 206), so the file cannot be streamed';

/**
 * A file on an HTTP server, read with Range requests. The size comes from the Content-Range of a
 * `bytes=0-0` request, or from a HEAD request's Content-Length where Content-Range is hidden (CORS).
 */
export async function urlSource(url: string, options: UrlSourceOptions = {}): Promise<ByteSource> {
  const fetchFn = options.fetch ?? defaultFetch();
  const sourceSignal = options.signal;

  const probe = await fetchOrExplain(fetchFn, url, { headers: { Range: 'bytes=0-0' }, signal: sourceSignal }, 'GET');
  discard(probe);
  let size: number | undefined;
  if (probe.status === 206) {
    size = parseContentRange(probe.headers.get('Content-Range'))?.total;
  } else if (probe.status === 416) {
    // An empty file: no byte 0 to return, but Content-Range still gives the total.
    size = parseContentRange(probe.headers.get('Content-Range'))?.total;
    if (size === undefined) throw new HttpError(`GET ${url}: ${statusText(probe)} for bytes=0-0 and no file size given`, url, probe.status);
  } else if (probe.status === 200) {
    throw new HttpError(`GET ${url}: ${IGNORES_RANGE}`, url, probe.status);
  } else {
    throw new HttpError(`GET ${url}: ${statusText(probe)}`, url, probe.status);
  }
  if (size === undefined) {
    const head = await fetchOrExplain(fetchFn, url, { method: 'HEAD', signal: sourceSignal }, 'HEAD');
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

  return {
    name: url,
    size: fileSize,
    etag,
    lastModified,
    async read(offset, length, signal) {
      const combined = combineSignals(sourceSignal, signal);
      combined?.throwIfAborted();
      checkRange({ name: url, size: fileSize }, offset, length);
      if (length === 0) return new Uint8Array(0);
      const range = `bytes=${offset}-${offset + length - 1}`;
      const res = await fetchOrExplain(fetchFn, url, { headers: { Range: range }, signal: combined }, 'GET');
      if (res.status === 200) {
        discard(res);
        throw new HttpError(`GET ${url} (${range}): ${IGNORES_RANGE}`, url, res.status);
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
      const body = new Uint8Array(await res.arrayBuffer());
      if (body.byteLength !== length) {
        throw new HttpError(`GET ${url} (${range}): got ${body.byteLength} bytes, expected ${length}`, url, res.status);
      }
      return body;
    },
  };
}
