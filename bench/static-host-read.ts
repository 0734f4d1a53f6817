// Reads a 64 MiB file from a local server (127.0.0.1) three ways, in the loaders' 16 MiB reads: with
// Range requests, from a server that ignores Range (200, whole body), and from one that gzips on the
// fly. Checks the bytes and prints time and what the source held (its transfer stats).
//
//   npx tsx bench/static-host-read.ts

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { DEFAULT_CHUNK_BYTES } from '../src/weights/checkpoint.ts';
import { urlSource } from '../src/weights/source.ts';

const file = new Uint8Array(randomBytes(64 * 1024 * 1024));
const gzipped = gzipSync(file, { level: 1 });

const server = createServer((req, res) => {
  const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
  if (req.url === '/ranged' && range) {
    const [start, end] = [Number(range[1]), Number(range[2])];
    res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${file.byteLength}`, 'Content-Length': end - start + 1 });
    res.end(file.subarray(start, end + 1));
  } else if (req.url === '/gzip') {
    res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Length': gzipped.byteLength }).end(gzipped);
  } else {
    res.writeHead(200, { 'Content-Length': file.byteLength }).end(file);
  }
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;

const rows = [];
for (const host of ['ranged', 'ignore', 'gzip']) {
  const started = performance.now();
  const source = await urlSource(`http://127.0.0.1:${port}/${host}`);
  let identical = true;
  for (let at = 0; at < source.size; at += DEFAULT_CHUNK_BYTES) {
    const bytes = await source.read(at, Math.min(DEFAULT_CHUNK_BYTES, source.size - at));
    identical &&= Buffer.compare(bytes, file.subarray(at, at + bytes.byteLength)) === 0;
  }
  const ms = performance.now() - started;
  rows.push({ host, identical, ms: Math.round(ms), mibPerS: Math.round(64 / (ms / 1000)), ...source.transfer });
}
server.close();
console.log(JSON.stringify(rows, null, 1));
