// A local file as a ByteSource (Node only). Each read opens the file, reads, and closes it again,
// so a source needs no closing and holds no file descriptor between reads.

import { open, stat } from 'node:fs/promises';
import { checkRange, type ByteSource } from './source.ts';

export async function fileSource(path: string): Promise<ByteSource> {
  const info = await stat(path);
  if (!info.isFile()) throw new Error(`${path} is not a regular file`);
  const size = info.size;
  return {
    name: path,
    size,
    async read(offset, length, signal) {
      signal?.throwIfAborted();
      checkRange({ name: path, size }, offset, length);
      const out = new Uint8Array(length);
      const handle = await open(path, 'r');
      try {
        let done = 0;
        while (done < length) {
          const { bytesRead } = await handle.read(out, done, length - done, offset + done);
          if (bytesRead === 0) throw new Error(`${path}: file ended after ${offset + done} bytes, expected ${size} (did it change?)`);
          done += bytesRead;
        }
      } finally {
        await handle.close();
      }
      signal?.throwIfAborted();
      return out;
    },
  };
}
