// Errors of HTTP sources, worded for the author of the page that loads the model: which URL, which
// request, and why (as far as the browser lets a page know). Browser-safe.

/** An HTTP answer that was not what a read needed; `status` lets callers treat 404 as "absent". */
export class HttpError extends Error {
  constructor(
    message: string,
    readonly url: string,
    readonly status: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'HttpError';
  }
}

/**
 * No answer, or a connection that broke mid-body: worth trying again later, unlike an HttpError
 * (a download cache keeps what it stored; a page may still have the file stored from a visit).
 */
export class NetworkError extends Error {
  constructor(
    message: string,
    readonly url: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'NetworkError';
  }
}

/** An error's message with its causes (Node's fetch says only "fetch failed"; its cause says why). */
export function causeText(e: unknown): string {
  const parts: string[] = [];
  for (let at: unknown = e, depth = 0; at !== undefined && at !== null && depth < 4; depth++) {
    const text = at instanceof Error ? at.message : String(at);
    if (text && !parts.includes(text)) parts.push(text);
    at = at instanceof Error ? at.cause : undefined;
  }
  return parts.join(': ') || 'no reason given';
}

function inBrowser(): boolean {
  return typeof (globalThis as { document?: unknown }).document !== 'undefined';
}

/**
 * A fetch that failed without an answer. Browsers give every such failure the same message, so
 * the likely causes are listed; a URL http:// from an https:// page is named as mixed content.
 */
export function networkError(method: string, url: string, e: unknown, ranged = false): NetworkError {
  let text = `${method} ${url} failed: network error (${causeText(e)})`;
  if (inBrowser()) {
    const pageProtocol = (globalThis as { location?: { protocol?: string } }).location?.protocol;
    if (pageProtocol === 'https:' && url.startsWith('http:')) {
      text += '; this https page may not load http URLs (mixed content): serve the model over https';
    } else {
      text +=
        '; the browser does not say why: the server may be down or the URL wrong, or the server does not allow this page ' +
        `to read it (CORS: it must send Access-Control-Allow-Origin${ranged ? ' and allow the Range header in its answer to the preflight' : ''})`;
    }
  }
  return new NetworkError(text, url, { cause: e });
}
