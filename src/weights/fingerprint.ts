// A checkpoint's fingerprint: SHA-256 over what identifies its weights without reading them all (an
// 11 GB text encoder must not be read to decide whether a stored prompt embedding is still its
// output). Per file: its size, the header (every tensor's name, dtype, shape and offsets) and the
// tensor bytes themselves when they total at most FULL_HASH_BYTES, else SAMPLE_COUNT evenly spaced
// samples of SAMPLE_BYTES. Two checkpoints with equal headers and equal samples count as one; weights
// fine-tuned from one another differ nearly everywhere, so their samples differ. Browser-safe.

import type { Checkpoint } from './checkpoint.ts';
import { Sha256 } from './store-sha256.ts';

const FULL_HASH_BYTES = 1024 * 1024;
const SAMPLE_COUNT = 16;
const SAMPLE_BYTES = 64 * 1024;

/** The byte ranges of [begin, end) that are hashed: all of it when small, else evenly spaced samples. */
export function fingerprintRanges(begin: number, end: number): [number, number][] {
  const length = end - begin;
  if (length <= FULL_HASH_BYTES) return length > 0 ? [[begin, length]] : [];
  const stride = (length - SAMPLE_BYTES) / (SAMPLE_COUNT - 1);
  return Array.from({ length: SAMPLE_COUNT }, (_, i) => [begin + Math.floor(i * stride), SAMPLE_BYTES] as [number, number]);
}

/** Lowercase hex SHA-256 identifying a checkpoint's tensors (see the file comment for what is read). */
export async function checkpointFingerprint(checkpoint: Checkpoint, signal?: AbortSignal): Promise<string> {
  const hash = await Sha256.create();
  const utf8 = new TextEncoder();
  for (const file of checkpoint.files) {
    const tensors = [...file.tensors.values()].sort((a, b) => a.begin - b.begin);
    const header = tensors.map((t) => [t.name, t.dtype, t.shape, t.begin, t.end]);
    hash.update(utf8.encode(JSON.stringify({ size: file.source.size, header })));
    if (tensors.length === 0) continue;
    const begin = tensors[0].begin;
    const end = Math.max(...tensors.map((t) => t.end));
    for (const [offset, length] of fingerprintRanges(begin, end)) {
      signal?.throwIfAborted();
      hash.update(await file.source.read(offset, length, signal));
    }
  }
  return hash.digestHex();
}
