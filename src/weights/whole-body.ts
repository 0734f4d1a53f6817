// Reading a file from a server that ignores HTTP Range (Python's http.server, CDNs that compress on
// the fly): every GET answers 200 with the whole body, so reads walk that body in order. Bytes before
// a read are downloaded and dropped; a read behind the position starts a new GET. The reader holds
// one read's bytes plus the rest of one network chunk, never the file. Browser-safe.

import { HttpError, NetworkError, causeText } from './http-error.ts';

/** How a URL source has been reading; a live object, for tests and for pages that want to know. */
export interface UrlTransferStats {
  /** 'range': each read is one Range request; 'stream': the server sends whole bodies, read in order. */
  mode: 'range' | 'stream';
  /** GET requests sent for reads (the first size probe not counted). */
  requests: number;
  /** Whole-body GETs started again because a read went behind the body's position or a stream broke. */
  restarts: number;
  /** Body bytes downloaded and dropped to reach a later offset. */
  skippedBytes: number;
  /** Bytes the source holds right now: the read being filled and the unread rest of a network chunk. */
  bufferedBytes: number;
  /** The most `bufferedBytes` ever reached. */
  peakBufferedBytes: number;
}

export function newTransferStats(mode: UrlTransferStats['mode']): UrlTransferStats {
  return { mode, requests: 0, restarts: 0, skippedBytes: 0, bufferedBytes: 0, peakBufferedBytes: 0 };
}

/**
 * Whole-body answers left open between reads keep a connection each; browsers allow about six per
 * host, so more than a few would stall every other request of the page. Past this many, the least recently
 * used idle body is closed (a later read of it starts a new GET).
 */
const MAX_OPEN_BODIES = 3;
const openBodies: WholeBodyReader[] = [];

/** How many whole-body answers are open now (tests check the cap). */
export function openWholeBodyCount(): number {
  return openBodies.length;
}

function touch(body: WholeBodyReader): void {
  const at = openBodies.indexOf(body);
  if (at >= 0) openBodies.splice(at, 1);
  openBodies.push(body);
  for (let i = 0; openBodies.length > MAX_OPEN_BODIES && i < openBodies.length; ) {
    const oldest = openBodies[i]!;
    if (oldest === body || oldest.busy) i++;
    else oldest.close();
  }
}

function untrack(body: WholeBodyReader): void {
  const at = openBodies.indexOf(body);
  if (at >= 0) openBodies.splice(at, 1);
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}

/** reader.read(), rejected as soon as `signal` aborts (the caller then drops the stream). */
function readOrAbort(reader: ReadableStreamDefaultReader<Uint8Array>, signal: AbortSignal | undefined): Promise<ReadableStreamReadResult<Uint8Array>> {
  if (!signal) return reader.read();
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    reader.read().then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export interface WholeBodyOptions {
  url: string;
  /** The file's size as the first answer gave it (or as counted from a whole body). */
  size: number;
  stats: UrlTransferStats;
  /** Sends one GET without Range for the whole body; `signal` ends that request and its body. */
  open(signal: AbortSignal): Promise<Response>;
  /** Aborts every request of the source. */
  signal?: AbortSignal;
}

/** Sequential reads over whole-body answers; reads are served one at a time, in call order. */
export class WholeBodyReader {
  private reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  /** Ends the current GET (its fetch and its body), whatever signal the read that started it had. */
  private request: AbortController | undefined;
  /** File offset of the next byte the body gives (the first byte of `rest`). */
  private position = 0;
  private rest: Uint8Array = new Uint8Array(0);
  private queue: Promise<unknown> = Promise.resolve();
  private opened = 0;
  /** A read is filling from this body: the cap never closes it then. */
  busy = false;

  constructor(private readonly options: WholeBodyOptions) {}

  read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    const run = this.queue.then(() => this.readNow(offset, length, signal));
    this.queue = run.catch(() => {});
    return run;
  }

  /** Drops the open body, if any (the next read starts a new GET). */
  close(): void {
    this.reader?.cancel().catch(() => {});
    this.reader = undefined;
    this.request?.abort();
    this.request = undefined;
    this.position = 0;
    this.setRest(new Uint8Array(0));
    untrack(this);
  }

  private attach(res: Response): void {
    if (!res.body) throw new HttpError(`GET ${this.options.url}: the answer has no body`, this.options.url, res.status);
    this.reader = res.body.getReader();
    this.position = 0;
    this.opened++;
    touch(this);
  }

  private setRest(rest: Uint8Array, filling = 0): void {
    this.rest = rest;
    const stats = this.options.stats;
    stats.bufferedBytes = rest.byteLength + filling;
    stats.peakBufferedBytes = Math.max(stats.peakBufferedBytes, stats.bufferedBytes);
  }

  private async start(signal: AbortSignal | undefined): Promise<void> {
    const { url, size, stats } = this.options;
    if (this.opened > 0) stats.restarts++;
    stats.requests++;
    // The body outlives this read, so its request ends only with the source or a close(); the
    // read's own signal stops just the wait for the answer.
    const request = new AbortController();
    this.request = request;
    const sourceSignal = this.options.signal;
    const ends = sourceSignal ? AbortSignal.any([request.signal, sourceSignal]) : request.signal;
    const stop = () => request.abort(signal?.reason);
    signal?.addEventListener('abort', stop, { once: true });
    let res: Response;
    try {
      res = await this.options.open(ends);
    } finally {
      signal?.removeEventListener('abort', stop);
    }
    if (res.status !== 200) {
      res.body?.cancel().catch(() => {});
      throw new HttpError(`GET ${url}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''} (reading the whole file)`, url, res.status);
    }
    const length = declaredLength(res);
    if (length !== undefined && length !== size) {
      res.body?.cancel().catch(() => {});
      throw new HttpError(`GET ${url}: the file changed size from ${size} to ${length} bytes while being read`, url, res.status);
    }
    this.attach(res);
  }

  private async readNow(offset: number, length: number, signal: AbortSignal | undefined): Promise<Uint8Array> {
    const { url, size, stats } = this.options;
    const combined = signal && this.options.signal ? AbortSignal.any([signal, this.options.signal]) : (signal ?? this.options.signal);
    combined?.throwIfAborted();
    if (length === 0) return new Uint8Array(0);
    if (this.reader && offset < this.position) this.close();
    this.busy = true;
    try {
      if (!this.reader) await this.start(combined);
      touch(this);
      const out = new Uint8Array(length);
      let filled = 0;
      while (filled < length) {
        if (this.rest.byteLength === 0) {
          const next = await this.next(combined);
          this.setRest(next, filled);
        }
        if (this.position < offset) {
          const skip = Math.min(offset - this.position, this.rest.byteLength);
          this.position += skip;
          stats.skippedBytes += skip;
          this.setRest(this.rest.subarray(skip), filled);
          continue;
        }
        const take = Math.min(length - filled, this.rest.byteLength);
        out.set(this.rest.subarray(0, take), filled);
        filled += take;
        this.position += take;
        this.setRest(this.rest.subarray(take), filled);
      }
      if (this.position === size) await this.finish(combined);
      this.setRest(this.rest, 0);
      return out;
    } catch (e) {
      this.close();
      if (combined?.aborted) throw abortError(combined);
      throw e;
    } finally {
      this.busy = false;
    }
  }

  /** The next non-empty network chunk; an early end or a body longer than the file is an error. */
  private async next(signal: AbortSignal | undefined): Promise<Uint8Array> {
    const { url, size } = this.options;
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await readOrAbort(this.reader!, signal);
      } catch (e) {
        if (signal?.aborted) throw abortError(signal);
        throw new NetworkError(`GET ${url}: the connection broke after ${this.position} of ${size} bytes (${causeText(e)})`, url, { cause: e });
      }
      if (result.done) {
        throw new HttpError(
          `GET ${url}: the body ended after ${this.position} of ${size} bytes: a cut transfer, or a Content-Length that is not the file's ` +
            'size (a server that compresses on the fly without exposing Content-Encoding to this page: serve the file uncompressed)',
          url, 200,
        );
      }
      if (this.position + result.value.byteLength > size) throw this.tooLong();
      if (result.value.byteLength > 0) return result.value;
    }
  }

  /** At the end of the file the body must end too: more bytes mean the size was wrong. */
  private async finish(signal: AbortSignal | undefined): Promise<void> {
    if (this.rest.byteLength > 0) throw this.tooLong();
    for (;;) {
      const result = await readOrAbort(this.reader!, signal);
      if (result.done) break;
      if (result.value.byteLength > 0) throw this.tooLong();
    }
    this.reader = undefined;
    this.request = undefined;
    this.position = 0;
    untrack(this);
  }

  private tooLong(): HttpError {
    const { url, size } = this.options;
    return new HttpError(
      `GET ${url}: the body is longer than the ${size} bytes its Content-Length announced; the server probably compresses it ` +
        'on the fly (Content-Encoding) without exposing that header to this page: serve the file uncompressed, or expose Content-Encoding (CORS)',
      url, 200,
    );
  }
}

/**
 * The body's length when the headers state it: Content-Length of an uncompressed answer. A
 * compressed answer's Content-Length counts the compressed bytes, so it says nothing of the file.
 */
export function declaredLength(res: Response): number | undefined {
  const encoding = res.headers.get('Content-Encoding');
  if (encoding && encoding.trim().toLowerCase() !== 'identity') return undefined;
  const length = res.headers.get('Content-Length');
  return length !== null && /^\s*\d+\s*$/.test(length) ? Number(length) : undefined;
}

/** Counts a whole body's bytes, dropping each chunk: the size of a file sent compressed or without a length. */
export async function countBody(url: string, res: Response, signal: AbortSignal | undefined): Promise<number> {
  if (!res.body) return 0;
  const reader = res.body.getReader();
  let count = 0;
  try {
    for (;;) {
      const { done, value } = await readOrAbort(reader, signal);
      if (done) return count;
      count += value.byteLength;
    }
  } catch (e) {
    reader.cancel().catch(() => {});
    if (signal?.aborted) throw abortError(signal);
    throw new NetworkError(`GET ${url}: the connection broke after ${count} bytes while learning the file's size (${causeText(e)})`, url, { cause: e });
  }
}
