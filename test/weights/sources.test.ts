import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpError, arrayBufferSource, blobSource, urlSource } from '../../src/weights/source.ts';
import { fileMapFolder, urlFolder } from '../../src/weights/folder.ts';
import { fileSource } from '../../src/weights/node-source.ts';
import { directoryFolder } from '../../src/weights/node-folder.ts';
import { encodeSafetensors, openSafetensors, readTensor } from '../../src/weights/safetensors.ts';

const payload = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7 + 3) & 0xff);

/**
 * Serves `files` under three behaviours chosen by the first path segment:
 * /ranged/ honours Range; /plain/ ignores it (200, whole file); /hidden/ honours it but sends no
 * Content-Range (as a cross-origin response that does not expose it). Unknown paths are 404.
 */
function startServer(files: Map<string, Uint8Array>, log: string[]): Promise<{ server: Server; base: string }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const [, mode, ...rest] = url.pathname.split('/');
    const body = files.get(decodeURIComponent(rest.join('/')));
    log.push(`${req.method} ${url.pathname} ${req.headers.range ?? ''}`.trim());
    if (!body || !['ranged', 'plain', 'hidden'].includes(mode)) {
      res.writeHead(404, 'Not Found').end('not found');
      return;
    }
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'Content-Length': body.byteLength }).end();
    } else if (range && mode !== 'plain') {
      const start = Number(range[1]);
      const end = Math.min(Number(range[2]), body.byteLength - 1);
      if (start >= body.byteLength) {
        res.writeHead(416, { 'Content-Range': `bytes */${body.byteLength}` }).end();
        return;
      }
      const headers: Record<string, string | number> = { 'Content-Length': end - start + 1 };
      if (mode === 'ranged') headers['Content-Range'] = `bytes ${start}-${end}/${body.byteLength}`;
      res.writeHead(206, headers).end(body.subarray(start, end + 1));
    } else {
      res.writeHead(200, { 'Content-Length': body.byteLength }).end(body);
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, base: `http://127.0.0.1:${port}` });
    });
  });
}

const model = encodeSafetensors({
  'blocks.0.attn.weight': { dtype: 'F16', shape: [3, 5], data: Float32Array.from({ length: 15 }, (_, i) => i / 4) },
  'blocks.0.attn.bias': { dtype: 'F32', shape: [3], data: Float32Array.of(1, 2, 3) },
});

describe('byte sources', () => {
  it('arrayBufferSource reads ranges, copies, and refuses reads outside the data', async () => {
    const source = arrayBufferSource(payload.buffer, 'mem');
    expect(source.size).toBe(1000);
    const part = await source.read(10, 5);
    expect(Array.from(part)).toEqual(Array.from(payload.subarray(10, 15)));
    part[0] = 99;
    expect((await source.read(10, 1))[0]).toBe(payload[10]);
    await expect(source.read(998, 5)).rejects.toThrow(/mem: cannot read 5 bytes at offset 998; the source holds 1000 bytes/);
    await expect(source.read(-1, 1)).rejects.toThrow(RangeError);
    const aborted = AbortSignal.abort();
    await expect(source.read(0, 1, aborted)).rejects.toThrow(/abort/i);
  });

  it('blobSource reads slices of a Blob or File', async () => {
    const file = new File([payload], 'weights.safetensors');
    const source = blobSource(file);
    expect(source.name).toBe('weights.safetensors');
    expect(Array.from(await source.read(995, 5))).toEqual(Array.from(payload.subarray(995)));
    await expect(source.read(1000, 1)).rejects.toThrow(/weights\.safetensors: cannot read 1 bytes at offset 1000/);
    expect(blobSource(new Blob([payload])).name).toBe('blob');
  });

  describe('files and directories', () => {
    let dir = '';
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'webdit-sources-'));
      writeFileSync(join(dir, 'data.bin'), payload);
      mkdirSync(join(dir, 'transformer'));
      writeFileSync(join(dir, 'transformer', 'config.json'), '{"num_layers": 2}');
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('fileSource reads ranges of a file', async () => {
      const source = await fileSource(join(dir, 'data.bin'));
      expect(source.size).toBe(1000);
      expect(Array.from(await source.read(500, 300))).toEqual(Array.from(payload.subarray(500, 800)));
      await expect(source.read(900, 200)).rejects.toThrow(/data\.bin: cannot read 200 bytes at offset 900/);
      await expect(fileSource(join(dir, 'missing.bin'))).rejects.toThrow(/ENOENT/);
      await expect(fileSource(dir)).rejects.toThrow(/not a regular file/);
    });

    it('directoryFolder opens relative paths, answers undefined for missing ones, and stays inside', async () => {
      const folder = directoryFolder(dir);
      expect(await folder.readText('transformer/config.json')).toBe('{"num_layers": 2}');
      expect((await folder.open('data.bin'))?.size).toBe(1000);
      expect(await folder.open('nothing.safetensors')).toBeUndefined();
      expect(await folder.readText('transformer/none.json')).toBeUndefined();
      expect(await folder.readText('data.bin/under-a-file')).toBeUndefined();
      await expect(folder.open('../etc/passwd')).rejects.toThrow(/not a path inside the folder/);
      await expect(folder.readText('/etc/passwd')).rejects.toThrow(/not a path inside the folder/);
    });
  });

  it('fileMapFolder serves Blobs by relative path, also under a picked folder name', async () => {
    const folder = fileMapFolder(
      new Map<string, Blob>([
        ['Wan2.1/transformer/config.json', new Blob(['{"dim": 48}'])],
        ['Wan2.1/transformer/diffusion_pytorch_model.safetensors', new Blob([model])],
      ]),
      'Wan2.1',
    );
    expect(folder.name).toBe('Wan2.1');
    expect(await folder.readText('transformer/config.json')).toBe('{"dim": 48}');
    expect(await folder.readText('Wan2.1/transformer/config.json')).toBe('{"dim": 48}');
    expect(await folder.readText('config.json')).toBeUndefined();
    const source = await folder.open('transformer/diffusion_pytorch_model.safetensors');
    const file = await openSafetensors(source!);
    expect(Array.from(await readTensor(file, 'blocks.0.attn.bias'))).toEqual([1, 2, 3]);
    expect(await folder.open('transformer/other.safetensors')).toBeUndefined();

    const flat = fileMapFolder(new Map([['config.json', new Blob(['{}'])]]));
    expect(await flat.readText('./config.json')).toBe('{}');
    await expect(flat.open('../config.json')).rejects.toThrow(/selected files: "..\/config.json" is not a path inside the folder/);
  });

  describe('over HTTP', () => {
    const log: string[] = [];
    let server: Server;
    let base = '';
    const files = new Map<string, Uint8Array>([
      ['data.bin', payload],
      ['model dir/diffusion_pytorch_model.safetensors', model],
      ['model dir/config.json', new TextEncoder().encode('{"dim": 48}')],
      ['empty.bin', new Uint8Array(0)],
    ]);
    beforeAll(async () => ({ server, base } = await startServer(files, log)));
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('urlSource learns the size from Content-Range and reads with Range requests', async () => {
      log.length = 0;
      const source = await urlSource(`${base}/ranged/data.bin`);
      expect(source.size).toBe(1000);
      expect(source.name).toBe(`${base}/ranged/data.bin`);
      expect(Array.from(await source.read(100, 400))).toEqual(Array.from(payload.subarray(100, 500)));
      expect(await source.read(5, 0)).toHaveLength(0);
      await expect(source.read(999, 2)).rejects.toThrow(RangeError);
      expect(log).toEqual(['GET /ranged/data.bin bytes=0-0', 'GET /ranged/data.bin bytes=100-499']);
    });

    it('urlSource exposes the ETag and Last-Modified validators of the first answer', async () => {
      const fakeFetch = (async (_url: string, init?: RequestInit) => {
        const range = new Headers(init?.headers).get('Range');
        expect(range).toBe('bytes=0-0');
        return new Response(new Uint8Array([7]), {
          status: 206,
          headers: { 'Content-Range': 'bytes 0-0/10', ETag: '"v2"', 'Last-Modified': 'Wed, 25 Nov 2026 10:00:00 GMT' },
        });
      }) as typeof fetch;
      const source = await urlSource('http://example.invalid/w.safetensors', { fetch: fakeFetch });
      expect(source.size).toBe(10);
      expect(source.etag).toBe('"v2"');
      expect(source.lastModified).toBe('Wed, 25 Nov 2026 10:00:00 GMT');
    });

    it('urlSource falls back to HEAD when Content-Range is hidden, and handles an empty file', async () => {
      log.length = 0;
      const source = await urlSource(`${base}/hidden/data.bin`);
      expect(source.size).toBe(1000);
      expect(Array.from(await source.read(990, 10))).toEqual(Array.from(payload.subarray(990)));
      expect(log).toEqual(['GET /hidden/data.bin bytes=0-0', 'HEAD /hidden/data.bin', 'GET /hidden/data.bin bytes=990-999']);
      expect((await urlSource(`${base}/ranged/empty.bin`)).size).toBe(0);
    });

    it('urlSource names the URL and status on a 404 and a network failure, and reads from a server that ignores Range', async () => {
      const missing = await urlSource(`${base}/ranged/absent.bin`).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(HttpError);
      expect((missing as HttpError).status).toBe(404);
      expect((missing as Error).message).toBe(`GET ${base}/ranged/absent.bin: HTTP 404 Not Found`);

      log.length = 0;
      const plain = await urlSource(`${base}/plain/data.bin`);
      expect(plain.transfer.mode).toBe('stream');
      expect(Array.from(await plain.read(100, 400))).toEqual(Array.from(payload.subarray(100, 500)));
      expect(log).toEqual(['GET /plain/data.bin bytes=0-0', 'GET /plain/data.bin']);

      // Port 9 (discard) is one fetch refuses to connect to.
      await expect(urlSource('http://127.0.0.1:9/data.bin')).rejects.toThrow(/GET http:\/\/127\.0\.0\.1:9\/data\.bin failed: network error \(fetch failed: bad port\)/);
    });

    it('urlSource passes aborts through unchanged', async () => {
      const source = await urlSource(`${base}/ranged/data.bin`);
      const controller = new AbortController();
      controller.abort();
      const error = await source.read(0, 10, controller.signal).catch((e: unknown) => e);
      expect((error as Error).name).toBe('AbortError');
      const whole = new AbortController();
      const bound = await urlSource(`${base}/ranged/data.bin`, { signal: whole.signal });
      whole.abort();
      await expect(bound.read(0, 10)).rejects.toThrow(/abort/i);
    });

    it('urlSource uses the fetch it is given', async () => {
      const seen: string[] = [];
      const counting: typeof fetch = (input, init) => {
        seen.push(String(input));
        return fetch(input, init);
      };
      const source = await urlSource(`${base}/ranged/data.bin`, { fetch: counting });
      await source.read(0, 4);
      expect(seen).toEqual([`${base}/ranged/data.bin`, `${base}/ranged/data.bin`]);
    });

    it('urlFolder opens files under a base URL and answers undefined for a 404', async () => {
      const folder = urlFolder(`${base}/ranged/model dir`);
      expect(folder.name).toBe(`${base}/ranged/model dir/`);
      expect(await folder.readText('config.json')).toBe('{"dim": 48}');
      expect(await folder.readText('missing.json')).toBeUndefined();
      expect(await folder.open('missing.safetensors')).toBeUndefined();
      const file = await openSafetensors((await folder.open('diffusion_pytorch_model.safetensors'))!);
      expect(Array.from(await readTensor(file, 'blocks.0.attn.bias'))).toEqual([1, 2, 3]);
      await expect(folder.open('../data.bin')).rejects.toThrow(/not a path inside the folder/);

      const ignoring = urlFolder(`${base}/plain/model dir/`);
      const streamed = await openSafetensors((await ignoring.open('diffusion_pytorch_model.safetensors'))!);
      expect(Array.from(await readTensor(streamed, 'blocks.0.attn.bias'))).toEqual([1, 2, 3]);
    });
  });
});
