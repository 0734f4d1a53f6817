// SHA-256 speed of the model store's incremental hasher: 64 MiB of random bytes in 4 MiB chunks, three
// rounds, JSON lines. `npx tsx bench/hash-speed.ts`
import { randomBytes } from 'node:crypto';
import { Sha256 } from '../src/weights/store-sha256.ts';

const MIB = 1 << 20;
const data = new Uint8Array(randomBytes(64 * MIB));
for (let round = 0; round < 3; round++) {
  const t0 = performance.now();
  const hasher = await Sha256.create();
  for (let at = 0; at < data.length; at += 4 * MIB) hasher.update(data.subarray(at, at + 4 * MIB));
  hasher.digestHex();
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ round, ms: Math.round(ms), mibPerSecond: +(64 / (ms / 1000)).toFixed(1) }));
}
